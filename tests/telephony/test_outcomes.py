"""One rule for how an Originate ended (central.telephony.outcomes), used by the dialer and
by the concierge's return leg alike.

Issue 14 item 2: the concierge mapped every OriginateResponse Reason 0 to "system failure"
while the dialer read a carrier's no-answer (Reason 0, then DialEnd NOANSWER and Hangup
cause 19, ami-event-stream-noanswer-cause19.txt) as no answer. The captured streams are
fed here, unchanged, to both callers: they must agree, and agree with the table.
"""

from __future__ import annotations

import pytest

from central.dialer.core import CallTracker
from central.telephony.ami.protocol import AMIParser
from central.telephony.outcomes import originate_outcome
from central.voice.telephony import LegWatch
from tests.telephony.fixtures import stream_bytes

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free


@pytest.mark.parametrize(("reason", "dial_status", "causes", "expected", "evidence"), [
    (4, "ANSWER", (), "answered", "ami-event-stream-ami-hangup.txt: DialEnd ANSWER, Reason 4"),
    (5, "BUSY", (17,), "busy", "ami-event-stream-busy.txt: Reason 5, DialEnd BUSY, cause 17"),
    (8, "CONGESTION", (34,), "congestion", "ami-event-stream-congestion.txt: Reason 8, cause 34"),
    (3, "", (19,), "no_answer", "ami-event-stream-noanswer-timeout.txt: Reason 3, no DialEnd"),
    (0, "NOANSWER", (19,), "no_answer", "ami-event-stream-noanswer-cause19.txt: Reason 0 first"),
    (0, "", (19,), "no_answer", "cause19 fixture when the DialEnd was missed: the cause says it"),
    (0, "", (), "failed", "ami-login-and-actions.txt orig-fail-async: Reason 0, no channel"),
    (None, "", (), "failed", "ami-login-and-actions.txt orig-fail-target: Response: Error"),
    (0, "CHANUNAVAIL", (), "failed", "main/dial.c / app_dial DIALSTATUS CHANUNAVAIL"),
    (1, "", (16,), "no_answer", "main/pbx.c pbx_dial_reason: AST_DIAL_RESULT_HANGUP while ringing"),
    (1, "", (21,), "failed", "main/causes.h 21 AST_CAUSE_CALL_REJECTED"),
    (1, "BUSY", (17,), "busy", "the DialEnd status wins over the generic Reason 1"),
    (0, "", (None, 17), "busy", "the dialer's ;2 cause unknown, the ;1 cause 17"),
])
def test_the_table(reason, dial_status, causes, expected, evidence):
    assert originate_outcome(reason, dial_status, causes) == expected, evidence


STREAMS = {
    "ami-event-stream-noanswer-cause19.txt": "no_answer",
    "ami-event-stream-noanswer-timeout.txt": "no_answer",
    "ami-event-stream-busy.txt": "busy",
    "ami-event-stream-congestion.txt": "congestion",
}


def _events(name: str):
    return [m for m in AMIParser().receive_data(stream_bytes(name)) if m.kind == "event"]


def _dialer_result(events) -> str:
    """The dialer's core fed the capture as its engine feeds it (the OriginateResponse
    through ``originate_result``, as ``AMIClient.originate`` returns it)."""
    first = next(m for m in events if m.name == "Newchannel")
    second = [m for m in events if m.name == "Newchannel"][1]
    tracker = CallTracker()
    tracker.track(first["Uniqueid"], 1, 1, 0.0, other_uid=second["Uniqueid"])
    out = []
    for i, msg in enumerate(events, 1):
        if msg.name == "OriginateResponse":
            out += tracker.originate_result(first["Uniqueid"], int(msg["Reason"]), float(i))
        else:
            out += tracker.on_event(msg, float(i))
    (outcome,) = [e.data["outcome"] for e in out if e.kind == "outcome"]
    return outcome.result


def _voice_result(events) -> str:
    """The concierge's return leg fed the same capture (its AMI filter passes the dialled
    channel's events and the OriginateResponse)."""
    first = next(m for m in events if m.name == "Newchannel")
    watch = LegWatch(first["Uniqueid"])
    reason = None
    for msg in events:
        if msg.name == "OriginateResponse":
            reason = int(msg["Reason"])
        watch.feed(msg)
    assert watch.seen
    return watch.outcome(reason)


@pytest.mark.parametrize("fixture", sorted(STREAMS))
def test_dialer_and_concierge_read_the_captures_alike(fixture):
    events = _events(fixture)
    # Before: the concierge mapped the cause-19 capture (Reason 0) to "failed".
    assert _dialer_result(events) == _voice_result(events) == STREAMS[fixture]
