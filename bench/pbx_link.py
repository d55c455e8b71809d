"""Bench: how many AMI events per second the PBX link turns into rows.

The simulator runs a call center on its virtual clock (background calls at RATE per
minute, AGENTS agents, extensions churning) for MINUTES of virtual time; one PBXLink
reads it over real TCP, feeds the live state and the CDR builder and writes extensions,
live calls and call records in batches to a fresh SQLite database (no dashboard push).
Prints events/s, records written and the batching figures. Then a cold start against a
PBX with EXTENSIONS ramais: login, resync (ExtensionStateList...) and the first write of
every extension row, timed.

    .venv/bin/python bench/pbx_link.py [minutes] [calls_per_minute] [agents] [extensions]
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time


def setup_django() -> None:
    os.environ["CENTRAL_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-pbx-link-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def make_rows(port: int):
    from central.core.models import Organization
    from central.telephony.models import AsteriskServer

    org = Organization.objects.create(name="Bench", slug="bench")
    return org, AsteriskServer.objects.create(organization=org, name="bench", host="127.0.0.1",
                                              port=port, username="central", secret_env="UNUSED")


async def run(minutes: float, rate: float, agents: int) -> None:
    from channels.db import database_sync_to_async

    from central.simulator import Simulator, SimulatorConfig, WorldConfig
    from central.simulator.config import ExtensionConfig
    from central.telephony.link import LinkTarget, PBXLink
    from central.telephony.models import CallRecord
    from central.telephony.store import ServerRef

    cfg = SimulatorConfig(clock="virtual", world=WorldConfig(agents=agents, talk_time_mean=90.0),
                          extensions=ExtensionConfig(extensions=[str(n) for n in range(1001, 1101)],
                                                     churn_interval=60.0),
                          background_calls_per_minute=rate)
    sim = Simulator(cfg)
    # Pause the clock until the link has logged in and resynced.
    sim.config.clock = "virtual"
    await sim.start("127.0.0.1", 0)
    org, server = await database_sync_to_async(make_rows)(sim.port)
    link = PBXLink(LinkTarget(ServerRef(server.pk, org.pk, server.name), sim.host, sim.port,
                              "central", "central-demo"),
                   clock=sim.clock.epoch, flush_interval=0.2, publish=False,
                   client_options={"ping_interval": None})
    task = asyncio.create_task(link.run())
    await asyncio.wait_for(link.resynced.wait(), 10)
    t0 = time.perf_counter()
    v0 = sim.clock.now()
    until = v0 + minutes * 60
    while sim.clock.now() < until:
        await asyncio.sleep(0.05)
    wall = time.perf_counter() - t0
    events = link.stats["events"]
    await link.flush()
    wall_flushed = time.perf_counter() - t0
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await sim.stop()
    records = await database_sync_to_async(CallRecord.objects.count)()
    print(f"virtual time      {minutes:.0f} min, {rate:.0f} calls/min, {agents} agents, 100 ramais")
    print(f"wall time         {wall:.2f} s (incl. final flush {wall_flushed:.2f} s)")
    print(f"AMI events fed    {events} ({events / wall:,.0f} events/s through the link)")
    print(f"call records      {records} written ({link.stats['records']} by the link)")
    print(f"extension writes  {link.stats['extension_writes']}, flushes {link.stats['flushes']}, "
          f"bad events {link.stats['bad_events']}, store errors {link.stats['store_errors']}")


async def cold_start(n: int) -> None:
    from channels.db import database_sync_to_async

    from central.simulator import Simulator, SimulatorConfig
    from central.simulator.config import ExtensionConfig
    from central.telephony.link import LinkTarget, PBXLink
    from central.telephony.models import AsteriskServer, Extension
    from central.telephony.store import ServerRef

    cfg = SimulatorConfig(clock="manual", extensions=ExtensionConfig(
        extensions=[str(100000 + i) for i in range(n)]))
    async with Simulator(cfg) as sim:
        def rows():
            from central.core.models import Organization

            org = Organization.objects.get(slug="bench")
            return org, AsteriskServer.objects.create(organization=org, name=f"cold-{n}", host=sim.host,
                                                      port=sim.port, username="central", secret_env="UNUSED")

        org, server = await database_sync_to_async(rows)()
        link = PBXLink(LinkTarget(ServerRef(server.pk, org.pk, server.name), sim.host, sim.port,
                                  "central", "central-demo"), flush_interval=0.05, publish=True,
                       client_options={"ping_interval": None})
        t0 = time.perf_counter()
        task = asyncio.create_task(link.run())
        await asyncio.wait_for(link.resynced.wait(), 120)
        t_resync = time.perf_counter() - t0
        count = lambda: Extension.objects.filter(server_id=server.pk).count()  # noqa: E731
        while await database_sync_to_async(count)() < n:
            await asyncio.sleep(0.05)
        t_rows = time.perf_counter() - t0
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    print(f"cold start        {n} ramais: logged in + resynced in {t_resync:.2f} s, "
          f"all rows written and pushed in {t_rows:.2f} s")


def main() -> None:
    args = sys.argv[1:]
    minutes = float(args[0]) if args else 30.0
    rate = float(args[1]) if len(args) > 1 else 120.0
    agents = int(args[2]) if len(args) > 2 else 30
    extensions = int(args[3]) if len(args) > 3 else 10_000
    setup_django()
    asyncio.run(run(minutes, rate, agents))
    asyncio.run(cold_start(extensions))


if __name__ == "__main__":
    main()
