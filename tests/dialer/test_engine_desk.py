"""The engine and the agent's page: the screen pop on AgentConnect goes to the connected
agent's own group, and real wrap-up keeps an agent out of the pacing until their
disposition is saved (the simulator over real TCP, on a manual clock)."""

from __future__ import annotations

import pytest
from channels.layers import get_channel_layer

from central.core.live import AGENT_EVENT, agent_group
from central.simulator.world import WorldConfig
from tests.dialer.engine_support import make_campaign, make_contacts, phones, start_rig
from tests.dialer.engine_support import sync_to_async as _sync

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.asyncio,
    pytest.mark.usefixtures("give_back_connections"),
]

AGENT1, AGENT2 = "Local/agent1@agent-phones", "Local/agent2@agent-phones"


async def _first(layer, channel: str) -> dict:
    return await layer.receive(channel)


async def test_agent_connect_pops_on_the_connected_agents_group_only(org, tenants):
    nums = phones(1)
    campaign = await _sync(make_campaign)(org, pacing_mode="progressive")
    await _sync(make_contacts)(campaign, nums)
    layer = get_channel_layer()
    channels = {}
    for key, group in (("a1", agent_group(org.pk, AGENT1)), ("a2", agent_group(org.pk, AGENT2)),
                       ("b1", agent_group(tenants["b"].pk, AGENT1))):
        channels[key] = await layer.new_channel()
        await layer.group_add(group, channels[key])
    rig = await start_rig(WorldConfig(agents=1, numbers={nums[0]: "answer"}, talk_time_mean=30, wrapup_time=0))
    try:
        for _ in range(60):
            await rig.engine.step()
            await rig.sim.advance(1.0)
            if rig.engine.pops:
                break
        assert rig.engine.pops, "no AgentConnect in 60 simulated seconds"
        uid, agent, _t = rig.engine.pops[0]
        assert agent == AGENT1
        message = await _first(layer, channels["a1"])
        assert message["type"] == AGENT_EVENT
        payload = message["payload"]
        assert (payload["kind"], payload["attempt"], payload["interface"]) == ("pop", uid, AGENT1)
        assert payload["campaign_id"] == campaign.pk
        # Nothing for the other agent of the tenant, nor for another tenant's same interface:
        # a marker sent now to each is the first thing each receives.
        for key, group in (("a2", agent_group(org.pk, AGENT2)), ("b1", agent_group(tenants["b"].pk, AGENT1))):
            await layer.group_send(group, {"type": AGENT_EVENT, "payload": {"kind": "marker"}})
            assert (await _first(layer, channels[key]))["payload"] == {"kind": "marker"}, key
    finally:
        await rig.close()


async def test_real_wrapup_lasts_until_the_disposition(org):
    from central.dialer.models import Attempt, Contact, Disposition

    nums = phones(2)
    campaign = await _sync(make_campaign)(org, pacing_mode="progressive", wrapup_limit_s=300)
    await _sync(make_contacts)(campaign, nums)
    # One agent; the simulated world frees them 1 s after each call, as a queue would.
    rig = await start_rig(WorldConfig(agents=1, numbers={n: "answer" for n in nums}, talk_time_mean=5,
                                      wrapup_time=1.0))
    try:
        def ended() -> int:
            return Attempt.objects.filter(campaign=campaign, state="completed").count()

        for _ in range(120):  # the first call: dialed, connected, hung up
            await rig.engine.step()
            await rig.sim.advance(1.0)
            if await _sync(ended)() == 1:
                break
        assert await _sync(ended)() == 1
        dialed = rig.engine.stats["originates"]
        for _ in range(30):  # free in Asterisk's eyes, still typing in the pacing's
            await rig.engine.step()
            await rig.sim.advance(1.0)
        assert rig.engine.stats["originates"] == dialed
        assert [s for s, _since in rig.engine.board.views(campaign.queue, rig.engine.clock())] == ["wrapup"]

        def dispose() -> None:
            attempt = Attempt.objects.filter(campaign=campaign, state="completed").get()
            Disposition.objects.create(organization=org, campaign=campaign, contact=attempt.contact, attempt=attempt,
                                       code="venda", label="Venda", effect="done", agent_interface=AGENT1)

        await _sync(dispose)()
        for _ in range(5):
            await rig.engine.step()
            await rig.sim.advance(1.0)
        assert rig.engine.stats["originates"] == dialed + 1  # the next contact, at once
        assert await _sync(lambda: Contact.objects.filter(campaign=campaign, status="pending").count())() == 0
    finally:
        await rig.close()
