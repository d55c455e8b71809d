"""``central up``'s dialer: a demo campaign appears and calls flow through the simulator."""

from __future__ import annotations

import asyncio

import pytest

from central.dialer import embedded
from central.simulator import Simulator, SimulatorConfig
from central.simulator.world import WorldConfig
from tests.dialer.engine_support import close_test_connections

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_embedded_dialer_creates_demo_campaign_and_dials():
    from asgiref.sync import sync_to_async

    from central.core.models import Organization
    from central.dialer.models import Attempt, Campaign

    await sync_to_async(lambda: Organization.objects.create(name="Central Demonstração", slug="demo"))()
    sim = await Simulator(SimulatorConfig(clock="real", world=WorldConfig(agents=3, ring_time_mean=1.0))).start()
    context = {"ami": {"host": sim.host, "port": sim.port, "username": "central", "secret": "central-demo"},
               "simulator": sim}
    tasks = [asyncio.ensure_future(t) for t in await embedded.start(context)]
    try:
        # Both counts: the engine counts an Originate once written, the PBX once it has
        # read and executed it, a few loop turns later. 60 s: a real clock on a loaded
        # machine (the engine ticks once a second).
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while not (context["dialer"].stats["originates"] >= 3 and sim.pbx.stats["originates"] >= 3):
            assert loop.time() < deadline, (context["dialer"].stats, sim.pbx.stats)
            await asyncio.sleep(0.1)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await sim.stop()
    campaign = await sync_to_async(lambda: Campaign.objects.get(name=embedded.DEMO_CAMPAIGN))()
    assert campaign.status == "active" and campaign.pacing_mode == "predictive"
    assert await sync_to_async(lambda: Attempt.objects.filter(campaign=campaign).count())() >= 3
    # a second start does not create another campaign
    assert await sync_to_async(embedded.ensure_demo_campaign)("sales") is None
    await close_test_connections()
