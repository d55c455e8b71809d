"""Bench: screen-pop delay, AMI ``AgentConnect`` -> the contact at the agent's page socket.

One process, like ``central up``: the PBX simulator (real clock, ``--agents`` queue
members ``Local/agentN@agent-phones``), the real dialer engine running a predictive
campaign against it over TCP, the ASGI application (uvicorn) serving ``/ws/desk/``, and
one authenticated WebSocket per agent (200 by default), each a real client with the
agent's session cookie. For every ``AgentConnect`` the simulator writes, the bench notes
the wall time; the delay is the time the agent's socket then receives the pop with the
contact card (``/ws/desk/`` loads it from the database for that socket's user), p50/p95.

Baseline, measured in the same run on the same sockets: a ping -> pong round trip of
each desk socket (what any message through the page's socket costs under this load).
With ``--browser``, one Chromium page is opened as agent 1 and the delay it reports
(AgentConnect -> contact rendered, ``body[data-pop-delay]``) is printed too.

    .venv/bin/python bench/screen_pop.py [--agents 200] [--seconds 60] [--browser]

Database: SQLite in a temporary data dir, or DATABASE_URL (PostgreSQL) if set (a fresh
schema is migrated into it: use a scratch database); channel layer: in-memory, or Redis
with REDIS_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

ALL_DAY = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def setup_django() -> None:
    os.environ.setdefault("CENTRAL_DATA_DIR", tempfile.mkdtemp(prefix="screen-pop-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
    import logging

    import django

    django.setup()
    logging.getLogger("central").setLevel(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(agents: int, contacts: int) -> tuple[int, int, list[tuple[str, str]]]:
    """(organization, campaign, [(interface, session key)]) with one agent per member."""
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
    from central.dialer.models import Campaign, Contact

    org = Organization.objects.create(name="Bench", slug=f"bench-{int(time.time())}")
    camp = Campaign.objects.create(
        organization=org, name="Preditiva", status="active", queue="sales", dial_context="discador-out",
        pacing_mode="predictive", working_hours=ALL_DAY, respect_holidays=False, max_channels=1000, max_cps=50,
        ring_timeout_s=15, script="Olá {nome}, de {cidade}!",
        retry_policy={"busy": 3600, "no_answer": 3600, "congestion": 3600, "failed": 3600, "abandoned": 3600})
    Contact.objects.bulk_create([
        Contact(organization=org, campaign=camp, name=f"Cliente {i}", phone=f"+55119{i:08d}",
                custom_fields={"cidade": "Campinas", "plano": "Família"}) for i in range(contacts)],
        batch_size=2000)
    User = get_user_model()
    out = []
    for n in range(1, agents + 1):
        user = User.objects.create(username=f"agente{n}", password="!")  # unusable: sessions only
        Membership.objects.create(user=user, organization=org, role="agent")
        agent = Agent.objects.create(organization=org, user=user, name=f"Agente {n}")
        interface = f"Local/agent{n}@agent-phones"
        AgentInterface.objects.create(organization=org, agent=agent, interface=interface)
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()
        out.append((interface, session.session_key))
    return org.pk, camp.pk, out


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p * len(s)))] * 1000 if s else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Agent:
    """One agent's page socket: pops (with their receive time) and ping round trips."""

    def __init__(self, interface: str, session_key: str) -> None:
        self.interface = interface
        self.session_key = session_key
        self.pops: list[tuple[str, float]] = []
        self.rtts: list[float] = []
        self.ready = asyncio.Event()
        self.ws = None

    async def run(self, url: str, stop: asyncio.Event) -> None:
        import websockets
        from django.conf import settings

        cookie = f"{settings.SESSION_COOKIE_NAME}={self.session_key}"
        async with websockets.connect(url, additional_headers={"Cookie": cookie, "Origin": "http://127.0.0.1"},
                                      max_size=2**22, open_timeout=60) as ws:
            self.ws = ws
            async for raw in ws:
                t = time.time()
                msg = json.loads(raw)
                if msg.get("type") == "hello":
                    self.ready.set()
                elif msg.get("type") == "pop":
                    self.pops.append((msg["card"].get("attempt") or "", t))
                elif msg.get("type") == "pong":
                    self.rtts.append(t - float(msg.get("t") or t))
                if stop.is_set():
                    return

    async def ping(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.send(json.dumps({"type": "ping", "t": time.time()}))


async def run(args) -> None:
    import uvicorn
    from asgiref.sync import sync_to_async

    from central.asgi import application
    from central.dialer.engine import Engine, EngineOptions
    from central.simulator import Simulator, SimulatorConfig
    from central.simulator.world import WorldConfig
    from central.telephony.ami.client import AMIClient

    org_id, campaign_id, agents_seed = await sync_to_async(seed)(args.agents, args.contacts)
    world = WorldConfig(agents=args.agents, answer_rate=0.3, busy_rate=0.1, ring_time_mean=6.0,
                        talk_time_mean=args.talk, wrapup_time=2.0, no_answer_timeout=15.0, abandon_after=2.0)
    sim = await Simulator(SimulatorConfig(clock="real", world=world, seed=1, max_calls=20000)).start()
    emitted: dict[str, float] = {}
    original = sim._broadcast

    def broadcast(events):
        events = list(events)
        now = time.time()
        for ev in events:
            fields = dict(ev) if not isinstance(ev, dict) else ev
            if fields.get("Event") == "AgentConnect":
                emitted.setdefault(fields.get("Linkedid") or "", now)
        return original(events)

    sim._broadcast = broadcast
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning", ws="websockets-sansio"))
    web = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    stop = asyncio.Event()
    agents = [Agent(i, k) for i, k in agents_seed]
    url = f"ws://127.0.0.1:{port}/ws/desk/"
    tasks = []
    for a in agents:  # connect in small batches: 200 handshakes at once starve the loop
        tasks.append(asyncio.create_task(a.run(url, stop)))
        if len(tasks) % 20 == 0:
            await asyncio.sleep(0.1)
    await asyncio.wait_for(asyncio.gather(*(a.ready.wait() for a in agents)), 120)
    print(f"{len(agents)} agent sockets connected", file=sys.stderr, flush=True)

    browser_delays: list[float] = []
    browser_task = None
    if args.browser:
        browser_task = asyncio.create_task(asyncio.to_thread(_browser, port, agents_seed[0][1], browser_delays,
                                                             args.seconds + args.warmup))
    client = AMIClient(sim.host, sim.port, "central", "central-demo", name="bench", ping_interval=None)
    await client.start()
    engine = Engine(client, name="bench", options=EngineOptions(campaign_ids=(campaign_id,),
                                                                default_organization_ids=(org_id,)))
    engine_task = asyncio.create_task(engine.run(stop))

    async def pinger() -> None:  # each socket every 10 s, spread over the 10 s
        while not stop.is_set():
            for a in agents:
                await a.ping()
                await asyncio.sleep(10.0 / len(agents))

    ping_task = asyncio.create_task(pinger())
    print(f"warming up {args.warmup:.0f} s, then measuring {args.seconds:.0f} s ...", file=sys.stderr, flush=True)
    await asyncio.sleep(args.warmup)
    t0 = time.time()
    marks = {id(a): (len(a.pops), len(a.rtts)) for a in agents}
    await asyncio.sleep(args.seconds)
    t1 = time.time()
    delays, rtts, wrong = [], [], 0
    for a in agents:
        p0, r0 = marks[id(a)]
        for uid, t in a.pops[p0:]:
            sent = emitted.get(uid)
            if sent is None or sent < t0:
                continue
            delays.append(t - sent)
        rtts += a.rtts[r0:]
    # Each pop went to the agent the simulator connected the call to (the engine's own record).
    by_uid = {uid: agent for uid, agent, _t in engine.pops}
    for a in agents:
        wrong += sum(1 for uid, _t in a.pops if by_uid.get(uid, a.interface) != a.interface)
    stop.set()
    from django.conf import settings
    from django.db import connection

    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    print(f"database: {connection.vendor}; channel layer: {layer}; simulator: real clock, {args.agents} agents, "
          f"talk {args.talk:g} s; predictive campaign")
    connects = sum(1 for t in emitted.values() if t0 <= t <= t1)
    print(f"window: {t1 - t0:.1f} s after {args.warmup:.0f} s warm-up; {engine.stats['originates']} originates, "
          f"{connects} AgentConnects, {len(delays)} pops measured, {wrong} to a wrong agent")
    print(f"AgentConnect -> pop with the contact at the agent's socket: p50 {pct(delays, .5):.1f} ms  "
          f"p95 {pct(delays, .95):.1f} ms  max {max(delays) * 1000 if delays else float('nan'):.1f} ms  "
          f"(mean {statistics.fmean(delays) * 1000 if delays else 0:.1f} ms)")
    print(f"baseline, same sockets same run: ping -> pong p50 {pct(rtts, .5):.1f} ms  p95 {pct(rtts, .95):.1f} ms "
          f"(n={len(rtts)})")
    if args.browser:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(browser_task, 30)
        print("browser (Chromium, agent 1): AgentConnect -> contact rendered: "
              + (", ".join(f"{d * 1000:.0f} ms" for d in browser_delays) or "no pop in the window"))
    ping_task.cancel()
    for task in tasks:
        task.cancel()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(engine_task, 10)
    server.should_exit = True
    for step in (web, client.close(), sim.stop()):
        with contextlib.suppress(Exception):
            await asyncio.wait_for(step, 10)


def _browser(port: int, session_key: str, out: list[float], seconds: float) -> None:
    """One real page as agent 1: the delays it reports between AgentConnect and render."""
    import re
    import shutil

    from django.conf import settings
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"),
                                     args=["--headless=new", "--no-sandbox", "--disable-gpu"])
        ctx = browser.new_context(locale="pt-BR")
        ctx.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session_key, "domain": "127.0.0.1",
                          "path": "/"}])
        page = ctx.new_page()
        page.goto(f"http://127.0.0.1:{port}/agents/desk/")
        deadline = time.time() + seconds
        seen = ""
        from playwright.sync_api import expect

        while time.time() < deadline:
            with contextlib.suppress(Exception):
                expect(page.locator("body")).not_to_have_attribute("data-pop-attempt", re.compile(
                    "^" + re.escape(seen) + "$") if seen else re.compile("^$"), timeout=5000)
            attempt = page.locator("body").get_attribute("data-pop-attempt") or ""
            if attempt and attempt != seen:
                seen = attempt
                out.append(float(page.locator("body").get_attribute("data-pop-delay") or "nan"))
        browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--warmup", type=float, default=15.0)
    ap.add_argument("--talk", type=float, default=30.0, help="mean talk time, s (shorter: more pops)")
    ap.add_argument("--contacts", type=int, default=20000)
    ap.add_argument("--browser", action="store_true", help="also one Chromium page as agent 1")
    args = ap.parse_args()
    setup_django()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
