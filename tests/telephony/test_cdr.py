"""Call detail records from replaying each captured call, field by field.

Events carry no time, so the replay clock is T0 + the event's index in the stream; each
timestamp is checked against the index of the event that must set it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from central.telephony import chanvars
from central.telephony.ami.protocol import AMIParser, Message
from central.telephony.cdr import CallRecord, CdrBuilder

from .fixtures import server_bytes, stream_bytes

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free

T0 = 1_795_445_700.0


class Replay:
    def __init__(self, name: str) -> None:
        self.msgs = AMIParser().receive_data(stream_bytes(name))
        self.builder = CdrBuilder("pbx1")
        self.records: list[tuple[int, CallRecord]] = []
        for i, msg in enumerate(self.msgs):
            for rec in self.builder.feed(msg, T0 + i):
                self.records.append((i, rec))

    def at(self, event: str, **fields: str) -> datetime:
        """Time of the first event with that name and field values."""
        for i, m in enumerate(self.msgs):
            if m.name == event and all(m.get(k) == v for k, v in fields.items()):
                return datetime.fromtimestamp(T0 + i, UTC)
        raise AssertionError(f"no {event} {fields}")

    def last(self, event: str, **fields: str) -> datetime:
        for i in range(len(self.msgs) - 1, -1, -1):
            m = self.msgs[i]
            if m.name == event and all(m.get(k) == v for k, v in fields.items()):
                return datetime.fromtimestamp(T0 + i, UTC)
        raise AssertionError(f"no {event} {fields}")

    def only(self) -> CallRecord:
        assert len(self.records) == 1, self.records
        assert self.builder.active_calls == 0
        return self.records[0][1]


def secs(a: datetime, b: datetime) -> int:
    return int((b - a).total_seconds())


def check_times(r: Replay, rec: CallRecord, first_chan: str, ring: bool, answer: bool):
    assert rec.started_at == r.at("Newchannel", Channel=first_chan)
    assert rec.ended_at == r.last("Hangup")
    if ring:
        assert rec.ringing_at == r.at("Newstate", Channel=first_chan, ChannelState="5")
    else:
        assert rec.ringing_at is None
    if answer:
        # the customer answered when either half of its Local pair went Up (the ;2 goes
        # first in the customer-hangup and ami-hangup captures)
        partner = first_chan[:-1] + "2"
        assert rec.answered_at == min(r.at("Newstate", Channel=first_chan, ChannelState="6"),
                                      r.at("Newstate", Channel=partner, ChannelState="6"))
        assert rec.billsec == secs(rec.answered_at, rec.ended_at) > 0
    else:
        assert rec.answered_at is None and rec.billsec == 0
    assert rec.duration == secs(rec.started_at, rec.ended_at)


def test_answered_queue_agent_hangup_by_agent():
    r = Replay("ami-event-stream-answered-queue-agent.txt")
    rec = r.only()
    check_times(r, rec, "Local/5511999990001@customers-00000009;1", ring=True, answer=True)
    assert rec.to_dict() | {"started_at": None, "ringing_at": None, "answered_at": None,
                            "ended_at": None, "billsec": None, "duration": None} == {
        "server": "pbx1", "linkedid": "dialer-ans-a", "direction": "outbound",
        "from_number": "1100", "to_number": "5511999990001", "disposition": "answered",
        "started_at": None, "ringing_at": None, "answered_at": None, "ended_at": None,
        "billsec": None, "duration": None,
        "hangup_cause": 16, "hangup_cause_text": "Normal Clearing", "hangup_by": "agent",
        "attempt_id": None, "queue": "sales", "agent": "Agent Three",
        "agent_interface": "Local/agent3@agent-phones", "queue_wait": 1, "talk_time": 12,
        "originate_reason": 4, "originate_action_id": "ev-answered", "variables": {},
        # every channel of the capture, in creation order, with its own Hangup cause
        "legs": [{"channel": f"Local/{name};{half}", "cause": 16, "cause_text": "Normal Clearing"}
                 for name in ("5511999990001@customers-00000009", "agent3@agent-phones-0000000a")
                 for half in (1, 2)],
        "adopted": False,
    }


def test_customer_hangup():
    r = Replay("ami-event-stream-customer-hangup.txt")
    rec = r.only()
    check_times(r, rec, "Local/5511999990005@customers-0000000d;1", ring=True, answer=True)
    assert (rec.linkedid, rec.disposition, rec.hangup_by) == ("dialer-chu-a", "answered",
                                                              "customer")
    assert (rec.from_number, rec.to_number) == ("1100", "5511999990005")
    assert (rec.queue, rec.agent, rec.queue_wait, rec.talk_time) == ("sales", "Agent One", 3, 3)
    assert (rec.hangup_cause, rec.hangup_cause_text) == (16, "Normal Clearing")


def test_ami_hangup_with_attempt_id():
    # The dialer's Originate set CENTRAL_ATTEMPT_ID=att-123 and ChannelId att-123-leg1;
    # the AgentComplete of this capture has no Channel/Linkedid (matched by interface).
    r = Replay("ami-event-stream-ami-hangup.txt")
    rec = r.only()
    check_times(r, rec, "Local/5511999990001@customers-00000000;1", ring=True, answer=True)
    assert rec.linkedid == "att-123-leg1" and rec.attempt_id == "att-123"
    assert rec.variables == {chanvars.ATTEMPT_ID: "att-123"}  # the capture spells our constant
    assert (rec.disposition, rec.hangup_by, rec.talk_time, rec.queue_wait) == (
        "answered", "customer", 2, 2)
    assert (rec.from_number, rec.to_number, rec.agent) == ("1000", "5511999990001", "Agent One")
    assert (rec.hangup_cause, rec.originate_reason) == (16, 4)


@pytest.mark.parametrize(
    ("name", "first", "number", "disposition", "cause", "cause_text", "reason", "ring"),
    [
        # ;1 hangs up with cause 0 "Unknown", the real cause 17 is on ;2
        ("ami-event-stream-busy.txt", "Local/5511999990002@customers-0000000b;1",
         "5511999990002", "busy", 17, "User busy", 5, False),
        # rings into the Originate Timeout: Reason 3 and no DialEnd at all
        ("ami-event-stream-noanswer-timeout.txt", "Local/5511999990003@customers-0000000c;1",
         "5511999990003", "no_answer", 19, "User alerting, no answer", 3, True),
        # network hangs up with cause 19: OriginateResponse says Reason 0 (failure)
        ("ami-event-stream-noanswer-cause19.txt", "Local/5511999990000@customers-0000000f;1",
         "5511999990000", "no_answer", 19, "User alerting, no answer", 0, True),
        ("ami-event-stream-congestion.txt", "Local/5511999990004@customers-00000010;1",
         "5511999990004", "congestion", 34, "Circuit/channel congestion", 8, False),
    ],
)
def test_unanswered_outcomes(name, first, number, disposition, cause, cause_text, reason, ring):
    r = Replay(name)
    rec = r.only()
    check_times(r, rec, first, ring=ring, answer=False)
    assert rec.direction == "outbound"
    assert (rec.from_number, rec.to_number) == ("1100", number)
    assert (rec.disposition, rec.hangup_cause, rec.hangup_cause_text) == (
        disposition, cause, cause_text)
    assert rec.originate_reason == reason
    assert rec.queue is None and rec.agent is None and rec.hangup_by is None


def test_no_dialend_in_timeout_capture():
    # The rule the timeout case relies on: there really is no DialEnd in that capture.
    r = Replay("ami-event-stream-noanswer-timeout.txt")
    assert not any(m.name == "DialEnd" for m in r.msgs)


def test_audiosocket_call():
    r = Replay("ami-event-stream-audiosocket.txt")
    rec = r.only()
    assert (rec.disposition, rec.to_number, rec.from_number) == ("answered", "1001", "2000")
    assert rec.hangup_cause == 16 and rec.ringing_at is None


def test_record_maps_to_json_and_is_slotted():
    rec = Replay("ami-event-stream-busy.txt").only()
    d = rec.to_dict()
    assert d["ended_at"].endswith("+00:00") and d["answered_at"] is None
    assert not hasattr(rec, "__dict__")


def ev(**fields: str) -> Message:
    return Message([("Event", fields.pop("Event"))] + list(fields.items()))


def test_inbound_abandoned_in_queue():
    b = CdrBuilder()
    out = []
    chan = "PJSIP/trunk-00000001"
    out += b.feed(ev(Event="Newchannel", Channel=chan, ChannelState="4", CallerIDNum="5511988887777",
                     Exten="1133334444", Uniqueid="in.1", Linkedid="in.1"), 10)
    out += b.feed(ev(Event="Newstate", Channel=chan, ChannelState="6", Uniqueid="in.1",
                     Linkedid="in.1"), 11)
    out += b.feed(ev(Event="QueueCallerJoin", Channel=chan, Uniqueid="in.1", Linkedid="in.1",
                     Queue="sales"), 12)
    out += b.feed(ev(Event="QueueCallerAbandon", Channel=chan, Uniqueid="in.1",
                     Linkedid="in.1", Queue="sales"), 40)
    out += b.feed(ev(Event="Hangup", Channel=chan, Uniqueid="in.1", Linkedid="in.1",
                     Cause="16", **{"Cause-txt": "Normal Clearing"}), 40)
    (rec,) = out
    assert (rec.direction, rec.from_number, rec.to_number) == ("inbound", "5511988887777",
                                                               "1133334444")
    assert (rec.disposition, rec.queue, rec.billsec, rec.duration) == ("abandoned", "sales", 29, 30)


def test_flush_ends_calls_in_progress():
    b = CdrBuilder()
    b.feed(ev(Event="Newchannel", Channel="Local/1@x-1;1", ChannelState="0", Uniqueid="u1",
              Linkedid="u1"), 0)
    (rec,) = b.flush(5)
    assert rec.duration == 5 and rec.disposition == "failed" and b.active_calls == 0


def test_event_timestamp_header_wins_over_now():
    # manager.conf timestampevents=yes: "Timestamp:" follows Event and Privilege
    b = CdrBuilder()
    b.feed(ev(Event="Newchannel", Privilege="call,all", Timestamp="100.5",
              Channel="Local/1@x-1;1", ChannelState="0", Uniqueid="u1", Linkedid="u1"), 999)
    (rec,) = b.feed(ev(Event="Hangup", Privilege="call,all", Timestamp="110.5",
                       Channel="Local/1@x-1;1", Uniqueid="u1", Linkedid="u1", Cause="16"), 999)
    assert rec.duration == 10
    assert rec.started_at.timestamp() == 100.5


def test_end_calls_not_in_after_reconnect():
    # Two calls in progress; after a reconnect CoreShowChannels lists only the second.
    b = CdrBuilder()
    for n in ("1", "2"):
        b.feed(ev(Event="Newchannel", Channel=f"Local/{n}@x-{n};1", ChannelState="0",
                  Uniqueid=f"u{n}", Linkedid=f"u{n}"), 0)
    assert b.active_linkedids == {"u1", "u2"}
    (rec,) = b.end_calls_not_in({"u2"}, 30)
    assert rec.linkedid == "u1" and rec.duration == 30
    assert b.active_linkedids == {"u2"}
    assert b.feed(ev(Event="Hangup", Uniqueid="u1", Cause="16"), 31) == []  # late, ignored


# --- calls in progress when the link connects (adopted from CoreShowChannels) -------------

def _server_events(name: str, action_id: str, event: str) -> list[Message]:
    """The ``event`` list items answering ``action_id`` in a transcript (real bytes)."""
    return [m for m in AMIParser().receive_data(server_bytes(name))
            if m.name == event and m.action_id == action_id]


LISTING = _server_events("ami-core-show-channels.txt", "csc-1", "CoreShowChannel")
MEMBERS = _server_events("ami-queue-actions.txt", "qstatus-1", "QueueMember")
# The same call's live stream (README: listener stream for ami-core-show-channels.txt),
# from the AMI Hangup on: what a link that connected mid-call sees next.
HANGUP_STREAM = AMIParser().receive_data(stream_bytes("ami-event-stream-ami-hangup.txt"))
HANGUP_FROM = next(i for i, m in enumerate(HANGUP_STREAM) if m.name == "SoftHangupRequest")
GETVAR = next(m for m in AMIParser().receive_data(server_bytes("ami-core-show-channels.txt"))
              if m.action_id == "getvar-1")


def test_call_in_progress_at_connect_is_adopted_from_the_listing():
    b = CdrBuilder("pbx1")
    for m in MEMBERS:  # the resync's QueueStatus comes before CoreShowChannels
        b.feed(m, T0)
    assert len(LISTING) == 4
    for m in LISTING:
        assert b.feed(m, T0 + 100) == []
    assert b.active_linkedids == {"att-123-leg1"}
    # Getvar on the call's first channel (Uniqueid = Linkedid: the dialer's ChannelId).
    assert b.take_adopted() == [("att-123-leg1", "att-123-leg1")]
    assert b.take_adopted() == []
    assert (GETVAR.get("Response"), GETVAR.get("Variable")) == ("Success", chanvars.ATTEMPT_ID)
    assert b.set_variables("att-123-leg1", {GETVAR["Variable"]: GETVAR["Value"]}) == []
    out = []
    for i, m in enumerate(HANGUP_STREAM[HANGUP_FROM:]):
        out += b.feed(m, T0 + 110 + i)
    (rec,) = out
    assert b.active_calls == 0
    assert rec.adopted is True and rec.attempt_id == "att-123"
    assert (rec.linkedid, rec.direction, rec.from_number, rec.to_number) == (
        "att-123-leg1", "outbound", "1000", "5511999990001")
    # Duration 00:00:06 of the oldest channel; answered: the customer leg is Up (the
    # listing time: when it was answered is unknown).
    assert rec.started_at == datetime.fromtimestamp(T0 + 100 - 6, UTC)
    assert rec.answered_at == datetime.fromtimestamp(T0 + 100, UTC) and rec.ringing_at is None
    # In Queue(sales) and bridged to app_queue's member leg: an agent, named by QueueStatus;
    # the AgentComplete (no Linkedid) then finds the call by queue + interface.
    assert (rec.disposition, rec.queue, rec.agent, rec.agent_interface) == (
        "answered", "sales", "Agent One", "Local/agent1@agent-phones")
    assert (rec.hangup_by, rec.talk_time, rec.queue_wait) == ("customer", 2, None)
    assert (rec.hangup_cause, rec.hangup_cause_text) == (16, "Normal Clearing")
    assert sorted(leg["channel"] for leg in rec.legs) == sorted(m["Channel"] for m in LISTING)


def test_listing_does_not_alter_a_call_the_builder_follows():
    plain = Replay("ami-event-stream-ami-hangup.txt").only()
    b = CdrBuilder("pbx1")
    out = []
    for i, m in enumerate(HANGUP_STREAM):
        if i == HANGUP_FROM:  # a reconnect's listing arrives mid-call
            for listed in LISTING:
                out += b.feed(listed, T0 + i)
        out += b.feed(m, T0 + i)
    assert b.take_adopted() == []
    (rec,) = out
    assert rec == plain and rec.adopted is False


def test_listing_skips_channels_hung_up_after_it_was_taken():
    # The listing is fed once complete; a Hangup read meanwhile must not be undone by it.
    b = CdrBuilder("pbx1")
    assert b.feed(ev(Event="Hangup", Uniqueid="att-123-leg2", Linkedid="att-123-leg1",
                     Cause="16"), T0) == []
    for m in LISTING:
        b.feed(m, T0)
    (rec,) = b.flush(T0 + 1)
    assert "Local/5511999990001@customers-00000000;2" not in [leg["channel"] for leg in rec.legs]
    assert len(rec.legs) == 3


def test_getvar_answer_after_the_call_ended_updates_its_record():
    b = CdrBuilder("pbx1")
    for m in LISTING:
        b.feed(m, T0)
    assert b.take_adopted() == [("att-123-leg1", "att-123-leg1")]
    (rec,) = b.flush(T0 + 1)  # ended before the Getvar answer was read
    assert rec.attempt_id is None
    (again,) = b.set_variables("att-123-leg1", {chanvars.ATTEMPT_ID: "att-123"})
    assert again.linkedid == "att-123-leg1" and again.attempt_id == "att-123"
    assert b.set_variables("att-123-leg1", {chanvars.ATTEMPT_ID: "att-123"}) == []  # once


def test_channel_joining_an_unknown_call_is_completed_by_the_listing():
    # Connected just before the queue called the agent: the agent leg's Newchannel is the
    # first event of the call seen live; the listing then supplies the customer leg.
    b = CdrBuilder("pbx1")
    agent_leg = next(m for m in LISTING if m["Uniqueid"] == "1795451915.2")
    b.feed(ev(Event="Newchannel", Channel=agent_leg["Channel"], ChannelState="0",
              Uniqueid="1795451915.2", Linkedid="att-123-leg1"), T0 + 99)
    for m in LISTING:
        b.feed(m, T0 + 100)
    assert b.take_adopted() == [("att-123-leg1", "att-123-leg1")]
    (rec,) = b.flush(T0 + 101)
    assert rec.adopted and rec.to_number == "5511999990001" and len(rec.legs) == 4
    assert rec.started_at == datetime.fromtimestamp(T0 + 100 - 6, UTC)
    assert rec.legs[0]["channel"] == agent_leg["Channel"]
    assert (rec.queue, rec.agent_interface, rec.disposition) == ("sales", "Local/agent1@agent-phones", "answered")
