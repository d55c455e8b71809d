"""Short-call guard (Anatel): answered calls with no agent are abandoned calls that hear
the company message; calls of 6 s or less are counted per day against an alarm."""

from __future__ import annotations

import pytest

from central.dialer.core import CallTracker
from central.simulator.world import WorldConfig
from central.telephony.ami.protocol import Message
from tests.dialer.engine_support import (
    close_test_connections,
    make_campaign,
    make_contacts,
    phones,
    start_rig,
)


@pytest.fixture(autouse=True)
async def _give_back_connections():
    """Checks after the rig closed reopen a connection in the test's thread: return it."""
    yield
    await close_test_connections()


def ev(name, **fields):
    return Message([("Event", name), *((k, str(v)) for k, v in fields.items())])


def _outcome(steps):
    return [s for s in steps if s.kind == "outcome"][0].data["outcome"]


def _answered_call(t: CallTracker, uid="u1"):
    t.track(uid, 1, 7, 0.0, other_uid=f"{uid}-2", abandon_after=2.0)
    t.on_event(ev("Newchannel", Uniqueid=uid, Linkedid=uid), 0.0)
    t.on_event(ev("Newstate", Uniqueid=uid, Linkedid=uid, ChannelState=6), 5.0)
    t.originate_result(uid, 4, 5.0)
    t.on_event(ev("QueueCallerJoin", Uniqueid=uid, Linkedid=uid, Queue="sales"), 5.0)


def test_no_agent_is_abandoned_and_short():
    t = CallTracker()
    _answered_call(t)
    steps = t.on_event(ev("QueueCallerAbandon", Uniqueid="u1", Linkedid="u1"), 7.0)
    assert [s.kind for s in steps] == ["abandoned"]
    o = _outcome(t.on_event(ev("Hangup", Uniqueid="u1", Linkedid="u1", Cause=16), 7.0))
    assert o.result == "abandoned" and o.abandoned and o.short_call


def test_guard_message_makes_the_abandoned_call_longer_than_6_s():
    # With the dialplan's Playback after Queue() times out, the caller hangs up after
    # hearing the message: abandoned (no agent), but not a short call.
    t = CallTracker()
    _answered_call(t)
    o = _outcome(t.on_event(ev("Hangup", Uniqueid="u1", Linkedid="u1", Cause=16), 15.0))
    assert o.result == "abandoned" and not o.short_call


def test_connected_short_and_late_connections():
    t = CallTracker()
    _answered_call(t)
    t.on_event(ev("AgentConnect", Uniqueid="u1", Linkedid="u1", Interface="Local/agent1@agent-phones"), 6.0)
    o = _outcome(t.on_event(ev("Hangup", Uniqueid="u1", Linkedid="u1", Cause=16), 9.0))
    assert o.result == "answered" and o.short_call and not o.late and o.talk_seconds == 3.0
    t2 = CallTracker()
    _answered_call(t2, "u2")
    t2.on_event(ev("AgentConnect", Uniqueid="u2", Linkedid="u2", Interface="Local/agent1@agent-phones"), 8.5)
    o2 = _outcome(t2.on_event(ev("Hangup", Uniqueid="u2", Linkedid="u2", Cause=16), 60.0))
    assert o2.result == "answered" and o2.late and o2.abandoned and not o2.short_call


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_short_calls_counted_and_alarm_raised_on_the_dashboard():
    from asgiref.sync import sync_to_async

    from central.core.models import Organization
    from central.dialer import metrics
    from central.dialer.models import Attempt, Campaign

    def setup():
        org = Organization.objects.create(name="Anatel", slug="anatel")
        c = make_campaign(org, pacing_mode="ratio", dial_ratio=4.0, short_call_alarm=3)
        make_contacts(c, phones(60))
        return c

    campaign = await sync_to_async(setup, thread_sensitive=True)()
    before = metrics.GUARD_MESSAGES.labels(str(campaign.id))._value.get()
    # one agent, everyone answers, long talks: most answered calls find no agent
    rig = await start_rig(WorldConfig(agents=1, answer_rate=1.0, busy_rate=0.0, congestion_rate=0.0,
                                      talk_time_mean=60, ring_time_mean=3))
    try:
        await rig.run(40)
        await rig.engine.flush()
    finally:
        await rig.close()
    abandoned_world = rig.world.counts["abandoned"]
    assert abandoned_world >= 3

    def check():
        rows = Attempt.objects.filter(campaign=campaign, result="abandoned")
        assert rows.count() == abandoned_world
        assert all(r.short_call for r in rows)  # 2 s in the simulator's queue, then gone
        c = Campaign.objects.get(pk=campaign.pk)
        return metrics.campaign_live(c, rig.engine.now_dt())

    live = await sync_to_async(check, thread_sensitive=True)()
    assert live["short_calls_today"] >= abandoned_world
    assert live["short_call_alarm_on"] is True
    assert live["guard_messages_today"] == abandoned_world
    assert live["abandon_rate"]["1h"] > 0.5
    assert metrics.GUARD_MESSAGES.labels(str(campaign.id))._value.get() - before == abandoned_world
