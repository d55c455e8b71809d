"""Extension state changes from the PBX land in the database and reach the tenant's group."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from central.core.live import org_group
from central.simulator.scenarios import fixture_config
from central.telephony.models import Extension
from tests.telephony.pbxkit import linked, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SIM_STATE = {"NOT_INUSE": "free", "INUSE": "busy", "BUSY": "busy", "RINGING": "ringing",
             "RINGINUSE": "ringing", "ONHOLD": "onhold", "UNAVAILABLE": "unavailable"}


def _states(server_id: int) -> dict[str, str]:
    return dict(Extension.objects.filter(server_id=server_id).values_list("exten", "state"))


async def _drain(layer, channel: str) -> None:
    while True:
        try:
            await asyncio.wait_for(layer.receive(channel), 0.1)
        except TimeoutError:
            return


async def test_a_state_change_is_written_and_pushed_to_the_org_group():
    layer = get_channel_layer()
    async with linked(fixture_config(clock="manual")) as kit:
        channel = await layer.new_channel()
        await layer.group_add(org_group(kit.org.pk), channel)
        await kit.flushed()
        await _drain(layer, channel)  # the first full write after login
        # The resync after login wrote every hinted extension as it is now.
        assert await sync_to_async(_states)(kit.server.pk) == {"1001": "free", "1002": "free", "1003": "free"}

        dialer = await kit.dialer()
        # ami-extension-state.txt: Setvar DEVICE_STATE(Custom:1001)=... moves the hint.
        await dialer.send_action("Setvar", {"Variable": "DEVICE_STATE(Custom:1001)", "Value": "INUSE"})
        message = await asyncio.wait_for(layer.receive(channel), 5)
        assert message["type"] == "live.update"
        push = message["payload"]
        assert (push["type"], push["server"]) == ("extensions", kit.server.name)
        assert [(e["exten"], e["state"], e["status_text"]) for e in push["extensions"]] == [("1001", "busy", "InUse")]
        assert push["extensions"][0]["last_activity"]

        await dialer.send_action("Setvar", {"Variable": "DEVICE_STATE(Custom:1002)", "Value": "RINGING"})
        push = (await asyncio.wait_for(layer.receive(channel), 5))["payload"]
        assert [(e["exten"], e["state"]) for e in push["extensions"]] == [("1002", "ringing")]
        await dialer.close()

        row = await sync_to_async(Extension.objects.get)(server_id=kit.server.pk, exten="1001")
        assert (row.state, row.organization_id, row.device) == ("busy", kit.org.pk, "Custom:1001")
        assert row.last_activity is not None
        await layer.group_discard(org_group(kit.org.pk), channel)


async def test_extension_churn_over_an_hour_matches_the_pbx():
    cfg = fixture_config(clock="manual")
    cfg.extensions.extensions = [str(n) for n in range(2001, 2021)]
    cfg.extensions.churn_interval = 30.0
    async with linked(cfg, publish=False) as kit:
        for _ in range(12):  # one simulated hour in 5-minute steps
            await kit.sim.advance(300)
        await kit.flushed()
        expected = {dev.split(":", 1)[1]: SIM_STATE[state] for dev, state in kit.sim.pbx.devices.items()
                    if dev.split(":", 1)[1] in cfg.extensions.extensions}
        await wait_until(lambda: sync_to_async(_states)(kit.server.pk), what="rows")
        assert await sync_to_async(_states)(kit.server.pk) == expected
        assert len(set(expected.values())) > 2  # it really moved
        assert kit.link.stats["extension_writes"] > len(expected)
