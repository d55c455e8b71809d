"""Reconcile's pure parts: matching PBX channels to attempts, adopting calls."""

from __future__ import annotations

import pytest

from central.dialer.core import CallTracker
from central.dialer.reconcile import match_channels
from central.telephony.ami.protocol import Message

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free


def test_match_channels_by_ids_and_getvar():
    chans = [
        Message([("Event", "CoreShowChannel"), ("Channel", "Local/+5511@discador-out-00000001;1"),
                 ("ChannelState", "6"), ("Uniqueid", "u1"), ("Linkedid", "u1")]),
        Message([("Event", "CoreShowChannel"), ("Channel", "Local/+5511@discador-out-00000001;2"),
                 ("ChannelState", "6"), ("Uniqueid", "u1-2"), ("Linkedid", "u1")]),
        Message([("Event", "CoreShowChannel"), ("Channel", "Local/agent2@agent-phones-00000002;1"),
                 ("ChannelState", "6"), ("Uniqueid", "1795.5"), ("Linkedid", "u1")]),
        Message([("Event", "CoreShowChannel"), ("Channel", "PJSIP/operadora-0000002a"),
                 ("ChannelState", "5"), ("Uniqueid", "1795.9"), ("Linkedid", "1795.9")]),
        Message([("Event", "CoreShowChannel"), ("Channel", "Local/+5512@discador-out-00000003;1"),
                 ("ChannelState", "6"), ("Uniqueid", "u3"), ("Linkedid", "u3")]),
    ]
    found = match_channels(chans, {"u1", "u2", "u3", "u4"}, extra={"1795.9": "u2"})
    assert found["u1"].state == "connected" and found["u1"].agent == "Local/agent2@agent-phones"
    assert found["u2"].state == "ringing"
    assert found["u3"].state == "queued"
    assert "u4" not in found


def test_tracker_finalises_an_adopted_call_that_hung_up_before_adoption():
    t = CallTracker()
    t.on_event(Message([("Event", "Hangup"), ("Uniqueid", "u9"), ("Linkedid", "u9"), ("Cause", "16")]), 10.0)
    steps = t.adopt("u9", 1, 5, dialed_at=0.0, now=11.0, state="queued", answered_at=4.0)
    outcome = [s for s in steps if s.kind == "outcome"][0].data["outcome"]
    assert outcome.result == "abandoned" and outcome.ended_at == 10.0
    assert not t.live()
