"""Callers waiting in a queue: the PBX link writes when each joined (LiveCall.queued_at,
state "queued"), keeps it across a reconnect (QueueStatus' QueueEntry Wait) and clears it
when an agent takes the call. The wallboard's "waiting" and "longest wait" read these rows."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from central.simulator.scenarios import FIXTURE_NUMBERS, fixture_config
from central.simulator.world import WorldConfig
from central.telephony.models import LiveCall
from tests.telephony.pbxkit import linked, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

AGENTS = [f"Local/agent{n}@agent-phones" for n in (1, 2)]


def _queued(server_id):
    return [(c.state, c.queue, c.queued_at) for c in LiveCall.objects.filter(server_id=server_id)]


async def test_waiting_caller_join_time_survives_a_reconnect_and_clears_on_connect():
    # Callers stay up to 10 min in the queue (WorldConfig.abandon_after), agents paused.
    config = fixture_config(clock="manual", world=WorldConfig(agents=2, numbers=dict(FIXTURE_NUMBERS),
                                                              abandon_after=600.0))
    async with linked(config) as kit:
        dialer = await kit.dialer()
        for agent in AGENTS:
            await dialer.send_action("QueuePause", {"Queue": "sales", "Interface": agent, "Paused": "true",
                                                    "Reason": "treinamento"})
        call = asyncio.create_task(dialer.originate(
            "Local/5511999990001@customers", context="discador-out", exten="5511999990001",
            caller_id='"Discador" <1100>', timeout_ms=30_000))
        await wait_until(lambda: kit.sim.pbx.stats["originates"] == 1, what="originate")
        await kit.sim.advance(30)  # answered (ring ~12 s), then waiting in "sales"
        await kit.flushed()
        rows = await sync_to_async(_queued)(kit.server.pk)
        assert [(s, q) for s, q, _ in rows] == [("queued", "sales")]
        joined = rows[0][2]
        assert joined is not None

        # The link drops and comes back: the join time is rebuilt from QueueEntry's Wait
        # (whole seconds, like Asterisk's time(NULL) - qe->start).
        kit.link.resynced.clear()
        kit.sim.drop_connections()
        await kit.sim.advance(40)
        await asyncio.wait_for(kit.link.resynced.wait(), 10)
        await kit.flushed()
        ((state, queue, again),) = await sync_to_async(_queued)(kit.server.pk)
        assert (state, queue) == ("queued", "sales") and abs((again - joined).total_seconds()) <= 1.0

        # An agent comes back and takes the call: no longer waiting.
        dialer2 = await kit.dialer()
        await dialer2.send_action("QueuePause", {"Queue": "sales", "Interface": AGENTS[0], "Paused": "false"})
        await kit.sim.advance(1)
        await kit.flushed()
        ((state, queue, cleared),) = await sync_to_async(_queued)(kit.server.pk)
        assert state == "up" and cleared is None
        call.cancel()
        for client in (dialer, dialer2):
            await client.close()
