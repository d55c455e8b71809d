"""``central up``: every process of Central as tasks of one asyncio loop.

Capabilities plug in through an optional ``central.<app>.embedded`` module exposing
``async def start(context: dict) -> list[Awaitable]``. They are started in dependency
order (the simulator before the PBX link that connects to it, before the dialer that
originates through it) and share ``context`` to pass addresses along, e.g. the simulator
puts ``context["ami"] = {"host", "port", "username", "secret"}``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from importlib import import_module
from importlib.util import find_spec

from central.dashboard.broadcaster import broadcast_forever

from .periodic import run_forever as periodic_forever
from .runtime import heartbeat_forever, run_together, serve_web

log = logging.getLogger("central.embedded")

ORDER = ("simulator", "telephony", "dialer", "voice")


def heartbeat_info(context: dict) -> dict:
    """What ``central status`` shows for this process: the components that run, and per
    Asterisk server the PBX link's and the dialer's AMI connection (same keys as the
    ``central pbx`` and ``central dialer`` heartbeats)."""
    info: dict = {"port": context["web"]["port"], "components": list(context.get("components", []))}
    links = context.get("pbx") or {}
    if links:
        info["servers"] = {name: link.info() for name, link in links.items()}
    dialers = context.get("dialers") or {}
    if dialers:
        info["dialers"] = {name: engine.info() for name, engine in dialers.items()}
    return info


async def run_embedded(host: str, port: int, simulator: bool = True) -> None:
    context: dict = {"simulator": simulator, "web": {"host": host, "port": port}}
    background: list[Awaitable[None]] = [
        heartbeat_forever("up", lambda: heartbeat_info(context)),
        broadcast_forever(),
        periodic_forever(),  # the apps' schedules.py jobs, which Celery beat runs in production
    ]
    for name in ORDER:
        module_name = f"central.{name}.embedded"
        if find_spec(module_name) is None:
            continue
        try:
            tasks = await import_module(module_name).start(context)
        except Exception:
            # One capability failing to start must not take the others down with it.
            log.exception("component %s failed to start", name)
            continue
        if not tasks:
            continue  # nothing to run (e.g. no PBX configured): not listed as running
        context.setdefault("components", []).append(name)
        background.extend(tasks)
    await run_together(serve_web(host, port), *background)
