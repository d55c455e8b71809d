"""The engine against the PBX simulator over real TCP, on a manual clock."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from central.simulator.world import WorldConfig
from tests.dialer.engine_support import BASE_EPOCH, make_campaign, make_contacts, phones, start_rig
from tests.dialer.engine_support import sync_to_async as _sync

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.asyncio,
    pytest.mark.usefixtures("give_back_connections"),
]




async def test_places_calls_and_records_each_outcome(org):
    nums = phones(5)
    forced = dict(zip(nums, ["answer", "busy", "noanswer", "congestion", "fail"], strict=True))
    campaign = await _sync(make_campaign)(org, retry_policy={"busy": 600, "no_answer": 1800, "congestion": 300,
                                                              "failed": 900, "abandoned": 300})
    await _sync(make_contacts)(campaign, nums)
    rig = await start_rig(WorldConfig(agents=5, numbers=forced, talk_time_mean=20, wrapup_time=0))
    try:
        await rig.run(120)
        await rig.engine.flush()
    finally:
        await rig.close()

    from central.dialer.models import Attempt, Contact

    def check():
        results = {a.phone: a for a in Attempt.objects.filter(campaign=campaign)}
        assert {p: results[p].result for p in nums} == {
            nums[0]: "answered", nums[1]: "busy", nums[2]: "no_answer", nums[3]: "congestion", nums[4]: "failed"}
        assert all(a.state == "completed" for a in results.values())
        answered = results[nums[0]]
        assert answered.agent.startswith("Local/agent") and answered.talk_seconds > 0
        assert answered.connected_at >= answered.answered_at >= answered.created_at
        contacts = {c.phone: c for c in Contact.objects.filter(campaign=campaign)}
        assert contacts[nums[0]].status == "done"
        busy = contacts[nums[1]]
        assert busy.status == "pending" and busy.last_result == "busy" and busy.attempts == 1
        gap = busy.next_attempt_at - results[nums[1]].ended_at
        assert timedelta(seconds=599) <= gap <= timedelta(seconds=601)
        noans = contacts[nums[2]]
        assert noans.next_attempt_at - results[nums[2]].ended_at == timedelta(seconds=1800)
        assert contacts[nums[3]].next_attempt_at - results[nums[3]].ended_at == timedelta(seconds=300)

    await _sync(check)()
    # each contact dialed once, with its attempt uid as ChannelId
    assert Counter(rig.spy.numbers()) == Counter(nums)
    assert len(set(rig.spy.ids)) == 5


async def test_progressive_never_has_more_calls_than_free_agents(org):
    campaign = await _sync(make_campaign)(org, pacing_mode="progressive")
    await _sync(make_contacts)(campaign, phones(150))
    rig = await start_rig(WorldConfig(agents=4, answer_rate=0.6, busy_rate=0.1, talk_time_mean=15,
                                      wrapup_time=3, ring_time_mean=5), wrapup_s=3)
    worst = []

    def check(r):
        w = r.world
        free = sum(1 for _, st, _ in w.agent_states() if st == "free")
        pending = len(w.calls_in_flight()) + w.queue_length()
        worst.append(pending - free)
        assert pending <= free, f"{pending} calls waiting for {free} free agents"

    try:
        await rig.run(200, check)
    finally:
        await rig.close()
    counts = rig.world.counts
    assert counts["dialing"] > 25  # it did dial, agent after agent
    assert counts["abandoned"] == 0  # progressive: an agent is waiting for every call
    assert max(worst) == 0  # and it used the free agents


async def test_dnc_numbers_are_never_dialed(org):
    from central.dialer.models import Contact, DoNotCall

    campaign = await _sync(make_campaign)(org)
    nums = phones(12)
    await _sync(make_contacts)(campaign, nums)

    def block():
        DoNotCall.objects.create(organization=org, phone=nums[0])  # org-wide
        DoNotCall.objects.create(organization=org, phone=nums[1], campaign=campaign)
        other = make_campaign(org, name="Outra", status="draft")
        DoNotCall.objects.create(organization=org, phone=nums[2], campaign=other)  # other campaign: dial

    await _sync(block)()
    rig = await start_rig(WorldConfig(agents=6, answer_rate=0.0, busy_rate=1.0, congestion_rate=0.0))
    try:
        await rig.run(40)
    finally:
        await rig.close()
    dialed = set(rig.spy.numbers())
    assert nums[0] not in dialed and nums[1] not in dialed
    assert nums[2] in dialed
    statuses = await _sync(lambda: dict(Contact.objects.filter(campaign=campaign).values_list("phone", "status")))()
    assert statuses[nums[0]] == statuses[nums[1]] == "dnc"


async def test_outside_hours_nothing_is_dialed(org):
    from central.dialer import live

    closed = {d: [] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    campaign = await _sync(make_campaign)(org, working_hours=closed)
    await _sync(make_contacts)(campaign, phones(5))
    rig = await start_rig()
    try:
        await rig.run(10)
        state = rig.engine.campaign_state(rig.engine.runners[campaign.id], rig.engine.clock())
    finally:
        await rig.close()
    assert rig.spy.seen == []
    assert state["reason"] == "outside_hours"
    assert "Fora do horário" in state["message"]
    assert live.STATE_TTL > 0


async def test_busy_contact_is_retried_per_policy_until_max_attempts(org):
    from central.dialer.models import Attempt, Contact

    num = phones(1)[0]
    campaign = await _sync(make_campaign)(org, max_attempts=3, retry_policy={"busy": 30})
    await _sync(make_contacts)(campaign, [num])
    rig = await start_rig(WorldConfig(agents=2, numbers={num: "busy"}))
    try:
        await rig.run(150)
        await rig.engine.flush()
    finally:
        await rig.close()
    assert rig.spy.numbers() == [num, num, num]  # three attempts, then no more
    rows = await _sync(lambda: list(Attempt.objects.filter(campaign=campaign).order_by("created_at")))()
    assert [a.result for a in rows] == ["busy", "busy", "busy"]
    assert len({a.uid for a in rows}) == 3
    for prev, nxt in zip(rows, rows[1:], strict=False):
        assert nxt.created_at - prev.ended_at >= timedelta(seconds=30)
    contact = await _sync(lambda: Contact.objects.get(campaign=campaign))()
    assert contact.status == "failed" and contact.attempts == 3


async def test_callbacks_due_are_dialed_first(org):
    from central.dialer.claims import ts
    from central.dialer.models import Callback

    campaign = await _sync(make_campaign)(org)
    nums = phones(10)
    contacts = await _sync(make_contacts)(campaign, nums)
    # Due a minute before the engine's clock (simulated, starting at BASE_EPOCH), not
    # before the wall clock: once the wall clock passed BASE_EPOCH the callback was
    # in the engine's future and contacts were dialed in id order.
    await _sync(lambda: Callback.objects.create(organization=org, campaign=campaign, contact=contacts[-1],
                                               scheduled_for=ts(BASE_EPOCH) - timedelta(minutes=1)))()
    rig = await start_rig(WorldConfig(agents=1, answer_rate=0.0, busy_rate=1.0, congestion_rate=0.0))
    try:
        await rig.run(3)
    finally:
        await rig.close()
    assert rig.spy.numbers()[0] == nums[-1]
    cb = await _sync(lambda: Callback.objects.get(campaign=campaign))()
    assert cb.done_at is not None


async def test_a_stop_ends_the_run_at_once_not_after_the_tick(org):
    """``central dialer`` sets ``stop`` on SIGTERM. The run loop used to notice it only
    after sleeping out its tick (1 s by default), so every stop took that long; here the
    tick is 60 s and the run must end well within it."""
    import asyncio
    import time

    rig = await start_rig()
    rig.engine.opts.tick_s = 60.0
    stepped, stop = asyncio.Event(), asyncio.Event()
    step = rig.engine.step

    async def step_and_tell() -> None:
        await step()
        stepped.set()

    rig.engine.step = step_and_tell
    try:
        run = asyncio.create_task(rig.engine.run(stop))
        await asyncio.wait_for(stepped.wait(), 30)  # the first tick is done: the loop now waits
        stop.set()
        asked = time.monotonic()
        await asyncio.wait_for(run, 30)
        assert time.monotonic() - asked < 10
    finally:
        await rig.close()
