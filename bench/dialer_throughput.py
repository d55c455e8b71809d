"""Bench: Originate throughput of the dialer engine, with its database writes.

The real engine (leases, claims with attempt rows written before each Originate,
outcomes and retries written back) runs against the PBX simulator over TCP on the real
clock, for SECONDS of wall time, in one process (the simulator's CPU counts against the
engine: a conservative figure). Prints calls per minute sustained (after a warm-up) and
the p50/p95/p99 time from the pacing decision to the Originate written on the socket
(claim transaction included), plus outcomes written per minute.

    .venv/bin/python bench/dialer_throughput.py [seconds=60] [max_cps=25] [agents=200]

Database: SQLite in a temporary data dir, or DATABASE_URL (PostgreSQL) if set (a fresh
schema is migrated into it: use a scratch database).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time

ALL_DAY = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def setup_django() -> None:
    os.environ.setdefault("CENTRAL_DATA_DIR", tempfile.mkdtemp(prefix="dialer-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
    import logging

    import django

    django.setup()
    logging.getLogger("central").setLevel(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(contacts: int, max_cps: float) -> int:
    from central.core.models import Organization
    from central.dialer.models import Campaign, Contact

    org = Organization.objects.create(name="Bench", slug=f"bench-{int(time.time())}")
    c = Campaign.objects.create(
        organization=org, name="Throughput", status="active", queue="sales", dial_context="discador-out",
        pacing_mode="ratio", dial_ratio=4.0, working_hours=ALL_DAY, respect_holidays=False,
        max_channels=2000, max_cps=max_cps, ring_timeout_s=15, max_attempts=5,
        retry_policy={"busy": 3600, "no_answer": 3600, "congestion": 3600, "failed": 3600, "abandoned": 3600})
    batch = [Contact(organization=org, campaign=c, phone=f"+55119{i:08d}") for i in range(contacts)]
    Contact.objects.bulk_create(batch, batch_size=2000)
    return c.id


async def run(seconds: float, max_cps: float, agents: int) -> None:
    from asgiref.sync import sync_to_async

    from central.dialer.engine import Engine, EngineOptions
    from central.dialer.models import Attempt, Campaign
    from central.simulator import Simulator, SimulatorConfig
    from central.simulator.world import WorldConfig
    from central.telephony.ami.client import AMIClient

    expected = int(max_cps * seconds * 1.2) + 1000
    campaign_id = await sync_to_async(seed)(expected, max_cps)
    world = WorldConfig(agents=agents, answer_rate=0.3, busy_rate=0.15, ring_time_mean=6.0,
                        talk_time_mean=20.0, wrapup_time=0.0, no_answer_timeout=12.0)
    sim = await Simulator(SimulatorConfig(clock="real", world=world, seed=1, max_calls=5000)).start()
    client = AMIClient(sim.host, sim.port, "central", "central-demo", name="bench", ping_interval=None)
    await client.start()
    org_id = await sync_to_async(lambda: Campaign.objects.get(pk=campaign_id).organization_id)()
    engine = Engine(client, name="bench", options=EngineOptions(campaign_ids=(campaign_id,),
                                                                default_organization_ids=(org_id,)))
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run(stop))
    warmup = 10.0
    print(f"warming up {warmup:.0f} s, then measuring {seconds:.0f} s ...", file=sys.stderr, flush=True)
    await asyncio.sleep(warmup)
    print(f"warm: {engine.stats}", file=sys.stderr, flush=True)
    n0, t0 = engine.stats["originates"], time.perf_counter()
    lat0 = len(engine.latencies)
    out0 = engine.stats["outcomes"]
    await asyncio.sleep(seconds)
    n1, t1 = engine.stats["originates"], time.perf_counter()
    out1 = engine.stats["outcomes"]
    lat = sorted(list(engine.latencies)[lat0:])
    minutes = (t1 - t0) / 60.0
    rows = await sync_to_async(lambda: Attempt.objects.filter(campaign_id=campaign_id).count())()

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

    from django.db import connection

    print(f"database: {connection.vendor}; simulator: real clock, {agents} agents; max_cps {max_cps:g}")
    print(f"window: {t1 - t0:.1f} s after {warmup:.0f} s warm-up")
    print(f"originates: {n1 - n0} -> {(n1 - n0) / minutes:.0f} calls/min sustained")
    print(f"outcomes written: {out1 - out0} -> {(out1 - out0) / minutes:.0f}/min; attempt rows total {rows}")
    print(f"decision -> Originate written: p50 {pct(0.50):.1f} ms  p95 {pct(0.95):.1f} ms  "
          f"p99 {pct(0.99):.1f} ms  (n={len(lat)}, mean {statistics.fmean(lat) * 1000 if lat else 0:.1f} ms)")
    print(f"engine stats: {engine.stats}")
    stop.set()
    for step in (task, client.close(), sim.stop()):
        with contextlib.suppress(Exception):
            await asyncio.wait_for(step, 10)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    max_cps = float(sys.argv[2]) if len(sys.argv) > 2 else 25.0
    agents = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    setup_django()
    asyncio.run(run(seconds, max_cps, agents))


if __name__ == "__main__":
    main()
