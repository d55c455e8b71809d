"""``central up``: start the PBX simulator when no real Asterisk is configured.

A new user runs ``central up`` with nothing else and must see the ramais panel and the
calls page move within a minute. So, unless ``CENTRAL_AMI_URL`` is set or the database
has an enabled, non-simulated ``AsteriskServer`` (or ``--no-simulator`` was given), this
starts the simulator on a free local port with the real clock and

* extensions 1001-1012 whose state changes every few seconds (``churn_interval``),
* a trickle of demo calls: an AMI client originates a call to a random number every few
  seconds (at most a few at once), so calls ring, are answered by the queue's agents or
  end busy / unanswered, and call records appear. ``CENTRAL_DEMO_CALLS=0`` turns it off
  (e.g. when the dialer's own campaigns should be the only traffic).

It publishes ``context["ami"] = {"host", "port", "username", "secret"}`` (the PBX link
and the dialer connect there) and ``context["simulator"]`` = the running
:class:`~central.simulator.Simulator`. The AMI secret is random per run: nothing outside
this process needs it, so no fixed password listens on the port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
from collections.abc import Awaitable

log = logging.getLogger("central.simulator.embedded")

DEMO_USER = "central"
DEMO_CALL_INTERVAL = (3.0, 9.0)  # seconds between two demo calls (uniform)
DEMO_MAX_CALLS = 3


def _real_asterisk_configured() -> bool:
    from central.telephony.models import AsteriskServer

    return AsteriskServer.objects.filter(enabled=True, use_simulator=False).exists()


def demo_simulator_config(secret: str, seed: int | None = None):
    from central.simulator.scenarios import DemoSettings, demo_config

    cfg = demo_config(DemoSettings(agents=4, churn_interval=10.0), clock="real",
                      seed=seed if seed is not None else random.randrange(1 << 30))
    cfg.users = {DEMO_USER: secret}
    # Short calls so a visitor sees records within a minute.
    cfg.world.answer_rate = 0.55
    cfg.world.busy_rate = 0.15
    cfg.world.congestion_rate = 0.05
    cfg.world.ring_time_mean = 5.0
    cfg.world.talk_time_mean = 20.0
    cfg.world.wrapup_time = 3.0
    return cfg


async def demo_calls(ami: dict, interval: tuple[float, float] = DEMO_CALL_INTERVAL,
                     max_calls: int = DEMO_MAX_CALLS, rng: random.Random | None = None) -> None:
    """Originate demo calls through the simulator's AMI, forever."""
    from central.telephony.ami.client import AMIClient
    from central.telephony.ami.errors import AMIError

    rng = rng or random.Random()
    client = AMIClient(ami["host"], ami["port"], ami["username"], ami["secret"],
                       name="demo-calls", events=False, ping_interval=None)
    in_flight: set[asyncio.Task] = set()

    async def one(number: str) -> None:
        with contextlib.suppress(AMIError, TimeoutError):
            await client.originate(f"Local/{number}@customers", context="discador-out",
                                   exten=number, caller_id='"Central Demo" <1100>',
                                   timeout_ms=20_000)

    try:
        await client.start()
        while True:
            await asyncio.sleep(rng.uniform(*interval))
            if len(in_flight) >= max_calls or not client.connected.is_set():
                continue
            number = "55" + rng.choice(["11", "21", "31", "41", "51", "61", "71", "81"]) \
                + "9" + "".join(rng.choice("0123456789") for _ in range(8))
            task = asyncio.create_task(one(number))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
    finally:
        for task in list(in_flight):
            task.cancel()
        await client.close()


async def start(context: dict) -> list[Awaitable]:
    from channels.db import database_sync_to_async

    from central.simulator import Simulator

    wanted = context.get("simulator")
    if wanted is False or wanted is None:
        return []
    if os.environ.get("CENTRAL_AMI_URL", "").strip():
        log.info("simulator not started: CENTRAL_AMI_URL is set")
        context["simulator"] = None
        return []
    if await database_sync_to_async(_real_asterisk_configured)():
        log.info("simulator not started: an Asterisk server is configured")
        context["simulator"] = None
        return []
    secret = secrets.token_urlsafe(16)
    sim = Simulator(demo_simulator_config(secret))
    await sim.start("127.0.0.1", 0)
    ami = {"host": sim.host, "port": sim.port, "username": DEMO_USER, "secret": secret}
    context["ami"] = ami
    context["simulator"] = sim
    log.info("PBX simulator (demo) listening on %s:%s", sim.host, sim.port)

    async def keep() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await sim.stop()

    tasks: list[Awaitable] = [keep()]
    if os.environ.get("CENTRAL_DEMO_CALLS", "1") != "0":
        tasks.append(demo_calls(ami))
    return tasks
