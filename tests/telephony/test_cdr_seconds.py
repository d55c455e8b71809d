"""Call durations counted the way Asterisk's CDR counts them (issue 14, item 8).

Asterisk main/cdr.c: ``cdr_object_get_duration()`` = ``ast_tvdiff_ms(end, start) / 1000``
and ``cdr_object_get_billsec()`` = ``ast_tvdiff_ms(end, answer) / 1000`` (rounded up only
with ``initiatedseconds=yes``, off by default); include/asterisk/time.h
``ast_tvdiff_ms()`` floors to the millisecond. Both truncate: a call answered for 6.6 s
is billed 6 s and must count as a short call (<= 6 s), in the call record of the PBX
link and in the dialer's attempt alike.
"""

from __future__ import annotations

import pytest

from central.dialer.core import SHORT_CALL_SECONDS, CallTracker
from central.telephony.ami.protocol import AMIParser
from central.telephony.cdr import CdrBuilder, cdr_seconds

from .fixtures import stream_bytes

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free

T0 = 1_795_445_850.0


def _tv(sec: int, usec: int) -> float:
    return sec + usec / 1_000_000


def _ast_tvdiff_ms(end: tuple[int, int], start: tuple[int, int]) -> int:
    """include/asterisk/time.h, transcribed: the +1,000,000 keeps the divisor positive."""
    sec_dif = (end[0] - start[0]) * 1000
    usec_dif = (1_000_000 + end[1] - start[1]) // 1000 - 1000
    return sec_dif + usec_dif


@pytest.mark.parametrize(("start", "end"), [
    ((100, 900_000), (106, 899_999)),  # 5.999999 s
    ((100, 900_000), (106, 900_000)),  # exactly 6
    ((100, 0), (106, 600_000)),  # 6.6 s: Asterisk 6, rounding said 7
    ((100, 500_000), (107, 499_000)),  # 6.999 s
    ((1_795_445_850, 999_999), (1_795_445_857, 0)),  # 6.000001 s across a second boundary
    ((100, 0), (100, 0)),
])
def test_cdr_seconds_is_asterisks_truncation(start, end):
    expected = int(_ast_tvdiff_ms(end, start) / 1000)  # C long division, non-negative here
    assert cdr_seconds(_tv(*start), _tv(*end)) == expected


def test_float_noise_does_not_lose_a_second():
    # 0.1 + 7.0 - 0.1 is 6.999999999999999 in binary floating point.
    assert cdr_seconds(0.1, 0.1 + 7.0) == 7


def _replay_customer_hangup(talk: float):
    """ami-event-stream-customer-hangup.txt with a clock: every event before the customer
    answers at T0, from the answer on T0 + 0.2, from the first Hangup on T0 + 0.2 + talk.
    The same bytes go through the PBX link's CdrBuilder and the dialer's CallTracker."""
    msgs = AMIParser().receive_data(stream_bytes("ami-event-stream-customer-hangup.txt"))
    uid, other = "dialer-chu-a", "dialer-chu-b"
    builder = CdrBuilder("pbx1")
    tracker = CallTracker()
    tracker.track(uid, 1, 7, T0, other_uid=other, abandon_after=30.0)
    now, records, outcomes = T0, [], []
    for msg in msgs:
        if msg.name == "Newstate" and msg.get("ChannelState") == "6" and msg.get("Uniqueid") in (uid, other):
            now = max(now, T0 + 0.2)
        if msg.name == "Hangup":
            now = T0 + 0.2 + talk
        records += builder.feed(msg, now)
        steps = tracker.on_event(msg, now)
        if msg.name == "OriginateResponse" and msg.get("Uniqueid") == uid:
            steps += tracker.originate_result(uid, int(msg.get("Reason")), now, uniqueid=uid)
        outcomes += [s.data["outcome"] for s in steps if s.kind == "outcome"]
    assert len(records) == 1 and len(outcomes) == 1
    return records[0], outcomes[0]


def test_call_answered_for_6_6_s_is_billed_6_and_is_a_short_call():
    """Before: the record said billsec 7 (rounded) and the dialer measured 6.6 s > 6, so
    the attempt was not counted by the Anatel guard; Asterisk's CDR bills it 6 s."""
    record, outcome = _replay_customer_hangup(6.6)
    assert record.disposition == "answered" and outcome.result == "answered"
    assert record.billsec == 6 and record.duration == 6
    assert outcome.billsec == 6 == record.billsec
    assert outcome.short_call is True


def test_call_answered_for_7_s_is_not_short():
    record, outcome = _replay_customer_hangup(7.0)
    assert record.billsec == 7 == outcome.billsec
    assert outcome.billsec > SHORT_CALL_SECONDS and outcome.short_call is False
