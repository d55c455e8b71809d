"""``central up``: start the PBX simulator when no real Asterisk is configured.

A new user runs ``central up`` with nothing else and must see the ramais panel and the
calls page move within a minute. So, unless ``CENTRAL_AMI_URL`` is set or the database
has an enabled, non-simulated ``AsteriskServer`` (or ``--no-simulator`` was given), this
starts the simulator on a free local port with the real clock and

* extensions 1001-1012 whose state changes every few seconds (``churn_interval``),
* a trickle of demo calls (the simulator's background calls, ``DEMO_CALLS_PER_MINUTE``):
  outbound calls to random numbers that ring, are answered by the queue's agents or end
  busy / unanswered, so live calls and call records appear. ``CENTRAL_DEMO_CALLS=0``
  turns it off (e.g. when the dialer's campaigns should be the only traffic),
* the concierge's return context ``portaria-retorno`` (:func:`with_concierge_dialplan`)
  and demo visitors at the gate, ``CENTRAL_DEMO_VISITS`` per minute (central.voice.embedded).

It publishes ``context["ami"] = {"host", "port", "username", "secret"}`` (the PBX link
and the dialer connect there) and ``context["simulator"]`` = the running
:class:`~central.simulator.Simulator`. The AMI secret is random per run: nothing outside
this process needs it, so no fixed password listens on the port.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
from collections.abc import Awaitable

log = logging.getLogger("central.simulator.embedded")

#: The simulator this process runs (``central up``) and its event loop, for callers in
#: other threads of the same process (the voice page's test call: central.voice.testcall).
RUNNING: tuple | None = None

DEMO_USER = "central"
DEMO_CALLS_PER_MINUTE = 8.0


def _real_asterisk_configured() -> bool:
    from central.telephony.models import AsteriskServer

    return AsteriskServer.objects.filter(enabled=True, use_simulator=False).exists()


# Evidence: none for the demo settings below (rates and times chosen so that a visitor
# sees calls within a minute); the events they produce are the captured ones.
def demo_simulator_config(secret: str, seed: int | None = None, calls_per_minute: float = DEMO_CALLS_PER_MINUTE,
                          visits_per_minute: float = 0.0):
    from central.simulator.scenarios import DemoSettings, demo_config

    settings = DemoSettings(agents=4, churn_interval=10.0, background_calls_per_minute=calls_per_minute)
    cfg = demo_config(settings, clock="real",
                      seed=seed if seed is not None else random.randrange(1 << 30))
    cfg.users = {DEMO_USER: secret}
    # Short calls so a visitor sees records within a minute.
    cfg.world.answer_rate = 0.55
    cfg.world.busy_rate = 0.15
    cfg.world.congestion_rate = 0.05
    cfg.world.ring_time_mean = 5.0
    cfg.world.talk_time_mean = 20.0
    cfg.world.wrapup_time = 3.0
    with_concierge_dialplan(cfg)
    # MixMonitor writes where Central's recordings indexer looks (docs/recordings.md).
    from django.conf import settings as django_settings

    cfg.monitor_dir = str(django_settings.RECORDINGS_SPOOL)
    # Demo visitors at the gate (target and units come from the voice process once it
    # listens: central.voice.embedded).
    cfg.visitors.per_minute = visits_per_minute
    return cfg


def with_concierge_dialplan(cfg):
    """The demo PBX has the concierge's return context as docs/telephony.md section 6
    writes it (``[portaria-retorno]``: ``Answer()``, ``AudioSocket(${AS_UUID},...)``,
    ``Hangup()``), so a visit's call to the resident rings per the world model (answer,
    busy, no answer) and an answered resident hears the prompt and presses 1, 2 or
    nothing (``WorldConfig.resident_*``) on a real AudioSocket connection to the voice
    process's return port. The target is ``${CENTRAL_RETURN}`` (the Originate sets it:
    the return listener's address *now*, docs/telephony.md notes)."""
    from central.simulator.config import AudioSocketApp
    from central.voice.telephony import RETURN_CONTEXT

    if RETURN_CONTEXT not in cfg.contexts:
        cfg.contexts = (*cfg.contexts, RETURN_CONTEXT)
    cfg.audiosocket = {**cfg.audiosocket, RETURN_CONTEXT: AudioSocketApp()}
    return cfg


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
    # A restart (central.core.supervisor) listens where the first run did, with the same
    # secret: the PBX link and the dialer reconnect to the address they were given.
    previous = context.get("ami") if isinstance(context.get("simulator"), Simulator) else None
    secret = previous["secret"] if previous else secrets.token_urlsafe(16)
    rate = 0.0 if os.environ.get("CENTRAL_DEMO_CALLS", "1") == "0" else DEMO_CALLS_PER_MINUTE
    from central.voice.embedded import demo_visits_per_minute

    sim = Simulator(demo_simulator_config(secret, calls_per_minute=rate,
                                          visits_per_minute=demo_visits_per_minute()))
    await sim.start("127.0.0.1", previous["port"] if previous else 0)
    ami = {"host": sim.host, "port": sim.port, "username": DEMO_USER, "secret": secret}
    context["ami"] = ami
    context["simulator"] = sim
    global RUNNING
    RUNNING = (sim, asyncio.get_running_loop())
    log.info("PBX simulator (demo) listening on %s:%s", sim.host, sim.port)

    async def keep() -> None:
        global RUNNING
        try:
            await asyncio.Event().wait()
        finally:
            if RUNNING is not None and RUNNING[0] is sim:
                RUNNING = None
            await sim.stop()

    return [keep()]
