"""After a dialer dies, the next one settles its calls from what the platform knows (issue 14).

Dialer + PBX link + simulator over real sockets (``linked_rig``). Dialer A is stopped the
way SIGKILL stops it (nothing flushed, lease not released, its AMI connection gone);
dialer B takes the campaign when the lease expires and reconciles:

* a call still on the PBX is adopted and followed: a ringing call placed by an older
  dialer (no ``OtherChannelId``, so its ``;2`` half is ``<uid>;2``) stays a ringing call,
  not an "answered" one whose agent is the customer's own ``;2`` half;
* a call that ended while no dialer watched is settled from the PBX link's call record
  (``CallRecord.attempt_id``): bridged to an agent means answered, not abandoned;
* with no record and nothing else known the result is ``unknown`` with the reason.

The full crash table with real processes and SIGKILL is test_crash_outcomes.py.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from central.dialer.reconcile import RECORD_GRACE_S
from central.simulator.world import WorldConfig
from central.telephony import chanvars
from tests.dialer.engine_support import make_campaign, make_contacts
from tests.dialer.linked_rig import LinkedRig, start_linked
from tests.telephony.pbxkit import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("give_back_connections")]

NUMBER = "+5511922220001"
TTL = 6.0


def _attempt(campaign_id: int) -> dict:
    from central.dialer.models import Attempt

    return Attempt.objects.filter(campaign_id=campaign_id).values().get()


def _attempt_by_uid(uid: str) -> dict:
    from central.dialer.models import Attempt

    return Attempt.objects.filter(uid=uid).values().get()


def _contact_of(contact_id: int) -> dict:
    from central.dialer.models import Contact

    return Contact.objects.filter(pk=contact_id).values("status", "last_result").get()


def _contact(campaign_id: int) -> dict:
    from central.dialer.models import Contact

    return Contact.objects.filter(campaign_id=campaign_id).values("status", "last_result").get()


def _world_state(rig: LinkedRig, uid: str) -> str:
    return rig.sim.pbx.world.snapshot()["calls"].get(uid, {}).get("state", "")


async def _dial_until(rig: LinkedRig, engine, predicate, limit: int = 60) -> None:
    """Tick A and the PBX until ``predicate()``; stop right after that simulated second,
    before A's next tick, so A has not written what it just saw (a crash's timing)."""
    for _ in range(limit):
        await engine.step()
        await rig.sim.advance(1.0)
        if predicate():
            return
    raise AssertionError("the call never reached the state wanted")


async def _takeover(rig: LinkedRig, seconds: int = int(TTL) + 4):
    b = await rig.engine("B", lease_ttl=TTL, renew_every=1.0)
    await rig.run(seconds, b)
    assert b.stats["takeovers"] >= 1 or b.runners, "B never took the campaign"
    return b


async def _hangup_customer(rig: LinkedRig, uid: str) -> None:
    ami = await rig.ami()
    leg1 = rig.sim.pbx.renderer.calls[uid].leg1
    resp = await ami.send_action("Hangup", {"Channel": leg1.name, "Cause": "16"})
    assert resp.get("Message") == "Channel Hungup"


async def test_bridged_call_that_ended_before_the_takeover_is_answered_from_the_call_record(tenants):
    world = WorldConfig(agents=1, ring_time_mean=2.0, talk_time_mean=1e6, wrapup_time=0.0,
                        numbers={NUMBER: "answer"})
    campaign = await sync_to_async(make_campaign)(tenants["a"])
    await sync_to_async(make_contacts)(campaign, [NUMBER])
    rig = await start_linked(tenants["a"], world)
    try:
        a = await rig.engine("A", lease_ttl=TTL, renew_every=1.0)
        await _dial_until(rig, a, lambda: a.originated and _world_state(rig, a.originated[0]) == "connected")
        uid = a.originated[0]
        await rig.kill(a)
        before = await sync_to_async(_attempt)(campaign.id)
        assert before["connected_at"] is None  # A died before writing the agent connection
        await _hangup_customer(rig, uid)
        await wait_until(lambda: rig.link.stats["records"] >= 1, what="the link's call record")
        await rig.flushed()
        b = await _takeover(rig)
        await b.flush()
    finally:
        await rig.close()
    row = await sync_to_async(_attempt)(campaign.id)
    assert (row["state"], row["result"], row["reconciled"]) == ("completed", "answered", True), row
    assert row["connected_at"] is not None and row["agent"], row
    assert "call record" in row["note"]
    assert (await sync_to_async(_contact)(campaign.id))["status"] == "done"
    assert b.stats["reconciled_closed"] == 1


async def test_without_a_call_record_an_answered_call_is_unknown_not_abandoned(tenants):
    # One agent, two calls (ratio 2): the first to answer takes the agent, the other
    # waits in the queue (the dialer writes "answered"), then ends while no dialer
    # watches and no link records it.
    second = "+5511922220002"
    world = WorldConfig(agents=1, ring_time_mean=2.0, talk_time_mean=1e6, abandon_after=1e6,
                        numbers={NUMBER: "answer", second: "answer"})
    campaign = await sync_to_async(make_campaign)(tenants["a"], pacing_mode="ratio", dial_ratio=2.0)
    await sync_to_async(make_contacts)(campaign, [NUMBER, second])
    rig = await start_linked(tenants["a"], world)

    def waiting() -> str:
        return next((u for u in a.originated if _world_state(rig, u) == "queued"), "")

    try:
        a = await rig.engine("A", lease_ttl=TTL, renew_every=1.0)
        await _dial_until(rig, a, waiting)
        uid = waiting()
        await a.step()  # A writes "answered"
        await rig.kill(a)
        await rig.stop_link()
        await _hangup_customer(rig, uid)
        b = await _takeover(rig, int(TTL) + int(RECORD_GRACE_S) + 4)
        await b.flush()
    finally:
        await rig.close()
    row = await sync_to_async(_attempt_by_uid)(uid)
    assert row["answered_at"] is not None  # A saw the customer answer
    assert (row["state"], row["result"], row["reconciled"]) == ("completed", "unknown", True), row
    assert row["connected_at"] is None and row["ended_at"] is None
    assert "no call record" in row["note"] and "outcome unknown" in row["note"]
    contact = await sync_to_async(_contact_of)(row["contact_id"])
    assert contact == {"status": "pending", "last_result": "unknown"}  # retried per policy
    assert b.stats["reconciled_unknown"] == 1
    assert b.stats["reconciled_found"] == 1  # the other call, still bridged, was adopted


async def test_ringing_call_of_an_old_dialer_without_other_channel_id_stays_a_ringing_call(tenants):
    from django.utils import timezone

    from central.dialer.models import Attempt

    world = WorldConfig(agents=2, numbers={NUMBER.lstrip("+"): "noanswer"})
    campaign = await sync_to_async(make_campaign)(tenants["a"], trunk="Local/{number}@customers", ring_timeout_s=30)
    contact = (await sync_to_async(make_contacts)(campaign, [NUMBER], status="in_progress", attempts=1))[0]
    uid = "old-dialer-attempt-1"
    await sync_to_async(Attempt.objects.create)(
        organization=tenants["a"], campaign=campaign, contact=contact, phone=NUMBER, uid=uid, state="sent",
        created_at=timezone.now(), sent_at=timezone.now(), dialer="A-before-issue-14")
    rig = await start_linked(tenants["a"], world)
    try:
        # What a dialer before issue 14 sent for a campaign with a trunk: no OtherChannelId.
        old = await rig.ami("old-dialer")
        resp = await old.send_action("Originate", {
            "Channel": f"Local/{NUMBER.lstrip('+')}@customers", "Context": "discador-out", "Exten": "fila",
            "Priority": "1", "Timeout": "30000", "Async": "true", "ChannelId": uid,
            "Variable": f"{chanvars.ATTEMPT_ID}={uid}"})
        assert resp.get("Response") == "Success"
        await rig.sim.advance(3.0)
        names = {ch.uniqueid for ch in rig.sim.pbx.renderer.channels.values()}
        assert names == {uid, f"{uid};2"}  # main/core_unreal.c naming
        await old.close()
        b = await rig.engine("B", lease_ttl=TTL, renew_every=1.0)
        await rig.run(2, b)
        tracked = b.tracker.calls[uid]
        assert (tracked.state, tracked.agent, tracked.answered_at) == ("ringing", "", None)
        await rig.run(40, b)  # the Originate timeout: Reason 3, cause 19
        await b.flush()
    finally:
        await rig.close()
    row = await sync_to_async(_attempt)(campaign.id)
    assert (row["result"], row["agent"], row["answered_at"], row["hangup_cause"]) == ("no_answer", "", None, 19), row
    assert row["reconciled"] is True
    assert (await sync_to_async(_contact)(campaign.id))["status"] == "pending"
