"""Bench: agents table update delay, AMI event (simulator) -> the supervisor's WebSocket.

One process, like ``central up``: the PBX simulator (real clock, ``--agents`` queue members
``Local/agentN@agent-phones`` and demo calls), the real PBX link writing
``telephony.QueueMember`` and publishing to the tenant's group, the ASGI application
(uvicorn) serving ``/ws/live/`` and ``--clients`` authenticated supervisor sockets (the
agents table page's socket). A driver connection pauses and unpauses random agents
(``--rate`` pauses per second, each with a unique reason, unpaused a second later). The
simulator's ``QueueMemberPause`` write time is noted per reason; the delay is the time each
socket receives the ``queue_members`` push carrying that member paused with that reason.

Baseline, measured in the same run on the same sockets: a ping -> pong round trip of
each socket (what any message through the page's socket costs under this load), and the
link's own batching interval (``PBXLink.flush_interval``), which bounds the delay from below.

    .venv/bin/python bench/agents_board.py [--agents 200] [--clients 20] [--seconds 30] [--rate 10]

Database: SQLite in a temporary data dir, or DATABASE_URL (a scratch PostgreSQL database:
a fresh schema is migrated into it); channel layer: in-memory, or Redis with REDIS_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def setup_django() -> None:
    os.environ.setdefault("CENTRAL_DATA_DIR", tempfile.mkdtemp(prefix="agents-board-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
    import logging

    import django

    django.setup()
    logging.getLogger("central").setLevel(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(agents: int, host: str, port: int):
    """(organization, server ref, supervisor session key) with one named agent per member."""
    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore

    from central.agents.models import Agent, AgentInterface
    from central.core.models import Membership, Organization
    from central.telephony.models import AsteriskServer
    from central.telephony.store import server_ref

    org = Organization.objects.create(name="Bench", slug=f"bench-{int(time.time())}")
    server = AsteriskServer.objects.create(organization=org, name="sim", host=host, port=port, username="central",
                                           secret_env="CENTRAL_TENANT_SECRET_BENCH", use_simulator=True)
    User = get_user_model()
    boss = User.objects.create(username="supervisora", password="!")
    Membership.objects.create(user=boss, organization=org, role="supervisor")
    for n in range(1, agents + 1):
        user = User.objects.create(username=f"agente{n}", password="!")
        Membership.objects.create(user=user, organization=org, role="agent")
        agent = Agent.objects.create(organization=org, user=user, name=f"Agente {n}")
        AgentInterface.objects.create(organization=org, agent=agent, interface=f"Local/agent{n}@agent-phones")
    session = SessionStore()
    session[SESSION_KEY] = str(boss.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = boss.get_session_auth_hash()
    session.save()
    return org.pk, server_ref(server), session.session_key


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p * len(s)))] * 1000 if s else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Supervisor:
    """One agents-table socket: the pauses it saw (reason -> receive time) and pings."""

    def __init__(self, session_key: str) -> None:
        self.session_key = session_key
        self.seen: dict[str, float] = {}
        self.rtts: list[float] = []
        self.ws = None
        self.ready = asyncio.Event()

    async def run(self, url: str) -> None:
        import websockets
        from django.conf import settings

        cookie = f"{settings.SESSION_COOKIE_NAME}={self.session_key}"
        async with websockets.connect(url, additional_headers={"Cookie": cookie, "Origin": "http://127.0.0.1"},
                                      max_size=2**23, open_timeout=60) as ws:
            self.ws = ws
            self.ready.set()
            async for raw in ws:
                t = time.time()
                msg = json.loads(raw)
                kind = msg.get("type")
                if kind == "queue_members":
                    for m in msg.get("members") or ():
                        if m.get("availability") == "paused" and m.get("paused_reason", "").startswith("b"):
                            self.seen.setdefault(m["paused_reason"], t)
                elif kind == "pong":
                    self.rtts.append(t - self.sent)

    async def ping(self) -> None:
        if self.ws is not None:
            self.sent = time.time()
            with contextlib.suppress(Exception):
                await self.ws.send(json.dumps({"type": "ping"}))


async def run(args) -> None:
    import uvicorn

    from central.asgi import application
    from central.simulator import Simulator, SimulatorConfig
    from central.simulator.config import DEMO_USERS
    from central.simulator.world import WorldConfig
    from central.telephony.ami.client import AMIClient
    from central.telephony.link import LinkTarget, PBXLink

    world = WorldConfig(agents=args.agents, answer_rate=0.5, ring_time_mean=4.0, talk_time_mean=30.0, wrapup_time=2.0)
    sim = await Simulator(SimulatorConfig(clock="real", world=world, seed=1, max_calls=20000,
                                          background_calls_per_minute=args.calls)).start()
    secret = DEMO_USERS["central"]
    from asgiref.sync import sync_to_async

    org_id, ref, session_key = await sync_to_async(seed)(args.agents, sim.host, sim.port)
    emitted: dict[str, float] = {}
    original = sim._broadcast

    def broadcast(events):
        events = list(events)
        now = time.time()
        for ev in events:
            fields = dict(ev)
            if fields.get("Event") == "QueueMemberPause" and fields.get("Paused") == "1":
                emitted.setdefault(fields.get("PausedReason") or "", now)
        return original(events)

    sim._broadcast = broadcast
    link = PBXLink(LinkTarget(ref, sim.host, sim.port, "central", secret))
    link_task = asyncio.create_task(link.run())
    await asyncio.wait_for(link.resynced.wait(), 30)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning", ws="websockets-sansio"))
    web = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    clients = [Supervisor(session_key) for _ in range(args.clients)]
    tasks = [asyncio.create_task(c.run(f"ws://127.0.0.1:{port}/ws/live/")) for c in clients]
    await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in clients)), 60)
    driver = AMIClient(sim.host, sim.port, "central", secret, name="driver", ping_interval=None, events=False)
    await driver.start()
    stop = asyncio.Event()
    rng = random.Random(7)

    paused: set[str] = set()  # never pause an agent twice within a second: one state per batch

    async def unpause(iface: str) -> None:
        await asyncio.sleep(1.0)
        await driver.send_action("QueuePause", {"Queue": "sales", "Interface": iface, "Paused": "false"})
        paused.discard(iface)

    async def pauses() -> None:
        seq = 0
        while not stop.is_set():
            seq += 1
            iface = f"Local/agent{rng.randint(1, args.agents)}@agent-phones"
            if iface in paused:
                continue
            paused.add(iface)
            await driver.send_action("QueuePause", {"Queue": "sales", "Interface": iface, "Paused": "true",
                                                    "Reason": f"b{seq}"})
            asyncio.ensure_future(unpause(iface))
            await asyncio.sleep(1.0 / args.rate)

    async def pinger() -> None:
        while not stop.is_set():
            for c in clients:
                await c.ping()
                await asyncio.sleep(1.0 / len(clients))

    load = [asyncio.create_task(pauses()), asyncio.create_task(pinger())]
    print(f"{args.clients} supervisor sockets, {args.agents} agents; warming up {args.warmup:.0f} s, "
          f"measuring {args.seconds:.0f} s ...", file=sys.stderr, flush=True)
    await asyncio.sleep(args.warmup)
    t0 = time.time()
    rtt_marks = [len(c.rtts) for c in clients]
    await asyncio.sleep(args.seconds)
    t1 = time.time()
    stop.set()
    await asyncio.sleep(2.0)  # let the last pushes of the window arrive
    delays, missing, rtts = [], 0, []
    window = {r: t for r, t in emitted.items() if t0 <= t <= t1}
    for c, mark in zip(clients, rtt_marks, strict=True):
        rtts += c.rtts[mark:]
        for reason, sent in window.items():
            got = c.seen.get(reason)
            if got is None:
                missing += 1
            else:
                delays.append(got - sent)
    from django.conf import settings
    from django.db import connection

    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    print(f"database: {connection.vendor}; channel layer: {layer}; simulator: real clock, {args.agents} agents, "
          f"{args.calls:g} demo calls/min; {args.clients} supervisor sockets; {args.rate:g} pauses/s")
    print(f"window {t1 - t0:.1f} s: {len(window)} pauses, {len(delays)} deliveries measured, {missing} missed; "
          f"link flushes {link.stats['flushes']}, events {link.stats['events']}; load average {os.getloadavg()[0]:.1f}")
    print(f"QueueMemberPause -> queue_members push at the supervisor's socket: p50 {pct(delays, .5):.1f} ms  "
          f"p95 {pct(delays, .95):.1f} ms  max {max(delays) * 1000 if delays else float('nan'):.1f} ms  "
          f"(mean {statistics.fmean(delays) * 1000 if delays else 0:.1f} ms)")
    print(f"baseline, same sockets same run: ping -> pong p50 {pct(rtts, .5):.1f} ms  p95 {pct(rtts, .95):.1f} ms "
          f"(n={len(rtts)}); the link batches writes every {link.flush_interval * 1000:.0f} ms")
    for task in load + tasks:
        task.cancel()
    server.should_exit = True
    link_task.cancel()
    for step in (web, driver.close(), sim.stop()):
        with contextlib.suppress(Exception):
            await asyncio.wait_for(step, 10)
    with contextlib.suppress(BaseException):
        await link_task


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=200)
    ap.add_argument("--clients", type=int, default=20, help="supervisor sockets (agents table pages)")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--rate", type=float, default=10.0, help="pauses per second")
    ap.add_argument("--calls", type=float, default=120.0, help="demo calls per minute")
    args = ap.parse_args()
    setup_django()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
