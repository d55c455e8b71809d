"""A call already up when the PBX link starts (a restart of ``central pbx``: deploy, crash)
still gets exactly one call record when it ends, with the dialer's attempt id.

Real parts: the simulator on a real socket stands in for Asterisk (its CoreShowChannels
and Getvar answers follow ami-core-show-channels.txt), the link writes through the ORM.
Before the link adopted calls from its resync listing, the Hangup of such a call found no
call in the CDR builder and no record was ever written (the CI flake of
tests/dialer/test_crash_outcomes.py).
"""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from central.dialer.core import dial_request
from central.simulator.scenarios import fixture_config
from central.telephony.models import CallRecord
from tests.telephony.pbxkit import linked, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

ATTEMPT = "att-adopt-1"
NUMBER = "5511999990001"  # fixture number: answers, goes to queue sales, an agent takes it


def _records(server_id: int) -> list[CallRecord]:
    return list(CallRecord.objects.filter(server_id=server_id))


async def test_call_up_before_the_link_starts_gets_one_adopted_record_with_its_attempt():
    cfg = fixture_config(clock="manual")
    cfg.world.talk_time_mean = 600.0  # still talking when the link connects
    async with linked(cfg, start=False) as kit:
        sim = kit.sim
        dialer = await kit.dialer()
        request = dial_request(uid=ATTEMPT, phone=NUMBER, dial_context="discador-out", trunk="",
                               queue="sales", caller_id="1100", use_0303=False, ring_timeout_s=30,
                               abandon_after_s=30, campaign_id=42)
        call = asyncio.create_task(dialer.originate(**request))
        await wait_until(lambda: sim.pbx.stats["originates"] == 1, what="originate")

        def state() -> str:
            return sim.pbx.world.snapshot()["calls"].get(ATTEMPT, {}).get("state", "gone")

        for _ in range(60):  # simulated seconds until the customer talks to an agent
            if state() == "connected" and call.done():
                break
            await sim.advance(1)
            await asyncio.sleep(0)
        assert state() == "connected" and (await call).answered
        await sim.advance(5)  # up for a while: the listing's Duration says so

        connected_at = sim.clock.epoch()
        await kit.start()  # the link connects now: its resync lists the call
        link = kit.link
        assert link.cdr.active_linkedids == {ATTEMPT}
        await wait_until(lambda: link.stats["adopted_calls"] == 1, what="Getvar of the adopted call")

        await sim.advance(3)
        leg1 = sim.pbx.renderer.calls[ATTEMPT].leg1
        resp = await dialer.send_action("Hangup", {"Channel": leg1.name, "Cause": "16"})
        assert resp.get("Message") == "Channel Hungup"
        rows = await wait_until(lambda: sync_to_async(_records)(kit.server.pk), what="the call record")
        await dialer.close()

    (rec,) = rows
    assert (rec.linkedid, rec.attempt_id, rec.campaign_id) == (ATTEMPT, ATTEMPT, "42")
    assert rec.adopted is True
    assert (rec.disposition, rec.direction, rec.to_number, rec.queue) == (
        "answered", "outbound", NUMBER, "sales")
    assert rec.agent_interface.startswith("Local/agent")
    # Started before the connect (from the listing's Duration), answered "at" the connect
    # (when is unknown), ended at the Hangup.
    assert rec.started_at.timestamp() <= connected_at - 5
    assert abs(rec.answered_at.timestamp() - connected_at) < 0.001  # the manual clock stood still
    assert rec.billsec >= 3 and rec.duration >= rec.billsec + 5
