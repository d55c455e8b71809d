"""After the PBX drops the connection the link reconnects and reloads what it missed."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from central.core.live import org_group
from central.simulator.scenarios import fixture_config
from central.telephony.models import AsteriskServer, CallRecord, Extension, LiveCall
from tests.telephony.pbxkit import linked, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _get(model, **filters):
    return model.objects.filter(**filters).first()


def _count(model, **filters) -> int:
    return model.objects.filter(**filters).count()


async def test_reconnect_resyncs_extensions_and_closes_calls_that_ended_meanwhile():
    cfg = fixture_config(clock="manual")
    cfg.world.talk_time_mean = 600.0  # still talking when the connection drops
    async with linked(cfg) as kit:
        link, sim = kit.link, kit.sim
        dialer = await kit.dialer()
        number = "5511999990001"  # answers and is bridged to an agent
        call = asyncio.create_task(dialer.originate(
            f"Local/{number}@customers", context="discador-out", exten=number,
            caller_id="1100", channel_id="att-9-1"))
        await wait_until(lambda: sim.pbx.stats["originates"] == 1, what="originate")
        for _ in range(120):
            await sim.advance(1)
            if call.done():
                break
        assert (await call).answered
        await kit.flushed()
        assert await sync_to_async(_count)(LiveCall, server_id=kit.server.pk) == 1
        server = await sync_to_async(_get)(AsteriskServer, pk=kit.server.pk)
        assert server.status == "connected"

        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(org_group(kit.org.pk), channel)

        # The PBX drops both connections (an Asterisk restart, a firewall...).
        link.resynced.clear()
        link.client.backoff_initial = link.client.backoff_max = 0.6  # reconnect in 0.3-0.6 s
        assert sim.drop_connections() == 2
        # While nobody listens, a ramal changes and the call ends: those events are lost.
        sim.pbx.set_device_state("Custom:1003", "BUSY")
        await sim.advance(20_000)
        assert not sim.pbx.renderer.calls
        await wait_until(lambda: not link.connected, what="disconnect")
        assert link.resyncs == 1  # it saw none of it
        await kit.flushed()
        server = await sync_to_async(_get)(AsteriskServer, pk=kit.server.pk)
        assert server.status == "disconnected"

        await asyncio.wait_for(link.resynced.wait(), 5)
        assert link.resyncs == 2
        await kit.flushed()
        ext = await sync_to_async(_get)(Extension, server_id=kit.server.pk, exten="1003")
        assert ext.state == "busy"
        assert await sync_to_async(_count)(LiveCall, server_id=kit.server.pk) == 0
        record = await sync_to_async(_get)(CallRecord, server_id=kit.server.pk)
        assert record is not None and record.to_number == number
        assert record.disposition == "answered" and record.queue == "sales"
        server = await sync_to_async(_get)(AsteriskServer, pk=kit.server.pk)
        assert server.status == "connected"
        # Dashboards were told both transitions, in order.
        statuses = []
        while len(statuses) < 2:
            message = await asyncio.wait_for(layer.receive(channel), 5)
            if message["payload"]["type"] == "pbx_status":
                statuses.append(message["payload"]["status"])
        assert statuses == ["disconnected", "connected"]
        await layer.group_discard(org_group(kit.org.pk), channel)

        # And the link follows live events again on the new connection.
        await dialer.close()
        dialer = await kit.dialer()
        await dialer.send_action("Setvar", {"Variable": "DEVICE_STATE(Custom:1002)", "Value": "ONHOLD"})
        await wait_until(lambda: link.state.extensions["1002@ramais"].state == "onhold", what="live event")
        await kit.flushed()
        ext = await sync_to_async(_get)(Extension, server_id=kit.server.pk, exten="1002")
        assert ext.state == "onhold"
        await dialer.close()
