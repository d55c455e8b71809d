"""Virtual clock: hours of traffic in seconds, with a client reacting over real TCP."""

from __future__ import annotations

import asyncio
import time

import pytest

from central.simulator import Simulator, SimulatorConfig, WorldConfig
from central.simulator.clock import VirtualClock
from tests.simulator.amiclient import RawAMI

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free


async def keep_dialing(sim: Simulator, conn: RawAMI, in_flight: int, until: float) -> dict:
    """A tiny progressive dialer: keeps ``in_flight`` originates pending, replacing each
    one when its OriginateResponse arrives."""
    seq = 0
    counts: dict[str, int] = {}

    def dial() -> None:
        nonlocal seq
        seq += 1
        conn.send("Originate", {
            "Channel": f"Local/55119{seq:08d}@customers", "Context": "discador-out",
            "Exten": f"55119{seq:08d}", "Priority": "1", "Timeout": "30000", "Async": "true",
        }, f"o{seq}")

    for _ in range(in_flight):
        dial()
    while sim.clock.now() < until:
        await conn.pump(0.5)
        batch, conn.inbox = conn.inbox, []
        for m in batch:
            if m.kind == "event":
                counts[m.name] = counts.get(m.name, 0) + 1
                if m.name == "OriginateResponse" and sim.clock.now() < until:
                    dial()
    return counts


async def test_one_hour_of_traffic_runs_on_the_virtual_clock() -> None:
    """Speed is measured by bench/pbx_simulator.py; here only that time is virtual."""
    cfg = SimulatorConfig(clock="virtual", world=WorldConfig(agents=5, talk_time_mean=60.0))
    async with Simulator(cfg) as sim:
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login()
        # The dialer only needs OriginateResponse; the simulator still renders every
        # event of every call (counted in sim.stats / world.counts below).
        conn.send("Filter", {"Operation": "Add", "Filter": "Event: OriginateResponse"}, "f")
        await conn.response("f")
        t0 = time.perf_counter()
        counts = await keep_dialing(sim, conn, in_flight=5, until=3600.0)
        elapsed = time.perf_counter() - t0
        await conn.close()
    assert sim.clock.now() >= 3600.0
    # Virtual, not slept through: an hour of traffic in (far) less than a real hour.
    assert elapsed < 600, f"1 h of virtual traffic took {elapsed:.2f} s of real time"
    # The traffic was real: hundreds of calls, answered ones reached agents.
    assert counts["OriginateResponse"] > 300
    assert sim.pbx.world.counts["connected"] > 50
    assert sim.pbx.renderer.processed_calls >= counts["OriginateResponse"]


async def test_virtual_clock_waits_for_clients_when_nothing_is_scheduled() -> None:
    cfg = SimulatorConfig(clock="virtual", world=WorldConfig(agents=2))
    async with Simulator(cfg) as sim:
        await asyncio.sleep(0.05)
        assert sim.clock.now() == 0.0  # no happening, no jump
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login()
        conn.send("Originate", {"Channel": "Local/5511999990003@customers", "Context": "discador-out",
                                "Exten": "s", "Priority": "1", "Timeout": "20000", "Async": "true"}, "o")
        await conn.wait_for(lambda m: m.name == "OriginateResponse", 10.0)
        # the unanswered call resolves at its 20 s timeout at the latest, virtually
        assert 0 < sim.clock.now() <= 20.0 + 1e-6
        await conn.close()


async def test_manual_advance_moves_time_only_when_asked() -> None:
    cfg = SimulatorConfig(clock="manual", world=WorldConfig(agents=1, numbers={"5511999990003": "noanswer"}))
    async with Simulator(cfg) as sim:
        assert isinstance(sim.clock, VirtualClock)
        conn = await RawAMI.connect(sim.host, sim.port)
        await conn.login()
        conn.send("Originate", {"Channel": "Local/5511999990003@customers", "Context": "discador-out",
                                "Exten": "s", "Priority": "1", "Timeout": "15000", "Async": "true"}, "o")
        await conn.response("o")
        await asyncio.sleep(0.1)
        await conn.pump(0.05)
        assert not [m for m in conn.inbox if m.name == "OriginateResponse"]
        await sim.advance(14.0)
        await conn.pump(0.05)
        assert not [m for m in conn.inbox if m.name == "OriginateResponse"]
        await sim.advance(1.0)
        resp = await conn.wait_for(lambda m: m.name == "OriginateResponse", 10.0)
        assert resp["Reason"] == "3" and sim.clock.now() == 15.0
        await conn.close()
