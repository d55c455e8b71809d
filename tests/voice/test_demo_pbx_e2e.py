"""Visits against the demo PBX (``central up``'s embedded simulator config) over real
sockets: the voice process's AMI client originates the resident's leg into
``portaria-retorno``, and the simulator plays Asterisk running docs/telephony.md section 6:
it rings the resident per its world model and, on answer, opens the AudioSocket return
leg with the visit's UUID and plays the resident (prompt heard, 1 / 2 / silence).

Before: the demo simulator had no ``portaria-retorno`` and no AudioSocket leg, so every
demo visit ended "Falha do sistema" (Extension does not exist).
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import pytest

from central.simulator import Simulator
from central.simulator.embedded import DEMO_USER, demo_simulator_config
from central.voice.runner import run_voice
from central.voice.telephony import AMIOriginator, voice_ami_client
from tests.voice.helpers import in_thread
from tests.voice.test_visit_outcomes_e2e import call_302, events, free_port, seed, visit_of

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "demo-test-secret"


@asynccontextmanager
async def demo_voice(org, tmp_path, *, resident: str, ring: str, authorize=0.0, deny=0.0):
    cfg = demo_simulator_config(SECRET, seed=7, calls_per_minute=0.0)
    cfg.extensions.churn_interval = 0.0
    cfg.world.numbers = {resident: ring}  # the resident's phone: answer / busy / noanswer
    cfg.world.ring_time_mean = 0.5
    cfg.world.resident_authorize_rate, cfg.world.resident_deny_rate = authorize, deny
    cfg.world.resident_think_mean = 0.3
    sim = await Simulator(cfg).start()
    await in_thread(seed, org, resident)
    client = voice_ami_client(sim.host, sim.port, DEMO_USER, SECRET, ping_interval=None)
    await client.start()
    ready, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_voice(
        api_port=free_port(), token="t", snapshot_path=str(tmp_path / "voice.json"),
        originator=AMIOriginator(client, ring_ms=3000), ready=ready, stop=stop,
    ))
    await asyncio.wait_for(ready.wait(), 30)
    from central.voice.models import AIExtension

    ext = await in_thread(lambda: AIExtension.objects.get(number="1903"))
    try:
        yield sim, ext.port
    finally:
        stop.set()
        await task
        await client.close()
        await sim.stop()


@pytest.mark.parametrize(("ring", "authorize", "deny", "outcome", "audit"), [
    ("answer", 1.0, 0.0, "authorized", "resident_decided"),
    ("answer", 0.0, 1.0, "denied", "resident_decided"),
    ("busy", 0.0, 0.0, "no_answer", "resident_not_answered"),
    ("noanswer", 0.0, 0.0, "no_answer", "resident_not_answered"),
])
async def test_demo_pbx_rings_and_plays_the_resident(tenants, tmp_path, ring, authorize, deny, outcome, audit):
    async with demo_voice(tenants["a"], tmp_path, resident="1101", ring=ring,
                          authorize=authorize, deny=deny) as (sim, port):
        visitor = await call_302(port)
        await visitor.wait_closed(timeout=30)
        row = await visit_of(visitor, timeout=15)
        assert row.outcome == outcome, row.audit
        assert audit in events(row) and "originate_failed" not in events(row)
        if ring == "answer":
            (leg,) = sim.legs  # the return leg, with the visit's UUID, pressed one key
            assert str(leg.uuid) == str(row.visit_id)
            assert leg.record.dtmf_sent == ["1" if outcome == "authorized" else "2"]
            assert leg.record.hangup_received  # the voice process ended the leg
        else:
            assert not sim.legs


async def test_visitor_hangs_up_while_the_demo_resident_listens(tenants, tmp_path):
    async with demo_voice(tenants["a"], tmp_path, resident="1101", ring="answer") as (sim, port):
        visitor = await call_302(port)
        await visitor.wait_for(lambda: sim.legs, timeout=15)
        (leg,) = sim.legs
        await visitor.wait_for(lambda: bytes(leg.record.received_audio).strip(b"\0"), timeout=15)
        await visitor.close()
        row = await visit_of(visitor, timeout=15)
        assert row.outcome == "abandoned" and "visitor_hung_up" in events(row)
        await asyncio.wait_for(leg.closed.wait(), 15)  # "o visitante desligou", then hung up
        assert leg.record.hangup_received


async def test_silent_demo_resident_is_did_not_answer(tenants, tmp_path, monkeypatch):
    # The resident's silences are timed by NO_INPUT_TIMEOUT (10 s each in production, so
    # ~40 s here); the flow and what it concludes are the same with 2 s.
    from central.voice import calls

    monkeypatch.setattr(calls, "NO_INPUT_TIMEOUT", 2.0)
    async with demo_voice(tenants["a"], tmp_path, resident="1101", ring="answer") as (sim, port):
        visitor = await call_302(port)
        await visitor.wait_closed(timeout=90)
        row = await visit_of(visitor, timeout=15)
        assert row.outcome == "no_answer", row.audit
        (leg,) = sim.legs
        assert leg.record.dtmf_sent == []
