"""``central up``: every process of Central as tasks of one asyncio loop.

Capabilities plug in through an optional ``central.<app>.embedded`` module exposing
``async def start(context: dict) -> list[Awaitable]``. They are started in dependency
order (the simulator before the PBX link that connects to it, before the dialer that
originates through it) and share ``context`` to pass addresses along, e.g. the simulator
puts ``context["ami"] = {"host", "port", "username", "secret"}``.

Each one runs supervised (``central.core.supervisor``): a crash restarts that component
with backoff and leaves the others running, so ``start`` may be called again with the
same ``context`` and must then build fresh tasks. The process is driven through the
control socket (``central.core.control``: ``central status / restart / stop``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable
from importlib import import_module
from importlib.util import find_spec

from central.dashboard.broadcaster import broadcast_forever

from .periodic import run_forever as periodic_forever
from .runtime import heartbeat_forever, serve_web
from .supervisor import Component, Supervisor

log = logging.getLogger("central.embedded")

ORDER = ("simulator", "telephony", "agents", "dialer", "voice", "messaging", "scheduling")


def heartbeat_info(context: dict) -> dict:
    """What ``central status`` shows for this process: the components and their supervised
    state, and per Asterisk server the PBX link's and the dialer's AMI connection (same
    keys as the ``central pbx`` and ``central dialer`` heartbeats)."""
    supervisor = context.get("supervisor")
    states = supervisor.status() if supervisor is not None else {}
    info: dict = {"port": context["web"]["port"],
                  "components": [n for n, s in states.items() if s["state"] not in ("idle", "stopped")],
                  "supervised": states,
                  "restarts": sum(s["restarts"] for s in states.values())}
    links = context.get("pbx") or {}
    if links:
        info["servers"] = {name: link.info() for name, link in links.items()}
    dialers = context.get("dialers") or {}
    if dialers:
        info["dialers"] = {name: engine.info() for name, engine in dialers.items()}
    return info


def _capability(name: str):
    """The start function of ``central.<name>.embedded`` (imported when first started)."""
    async def start(context: dict) -> list[Awaitable]:
        return await import_module(f"central.{name}.embedded").start(context)

    return start


def components(host: str, port: int) -> list[Component]:
    """Every component of ``central up`` in start order (web last: it serves what the
    others set up)."""
    from .control import serve_control

    async def heartbeat(context: dict) -> list[Awaitable]:
        return [heartbeat_forever("up", lambda: heartbeat_info(context), wake=context["supervisor"].changed)]

    async def broadcast(context: dict) -> list[Awaitable]:
        return [broadcast_forever()]

    async def periodic(context: dict) -> list[Awaitable]:
        return [periodic_forever()]  # the apps' schedules.py jobs, which Celery beat runs in production

    async def control(context: dict) -> list[Awaitable]:
        return [serve_control(context["supervisor"])]

    async def web(context: dict) -> list[Awaitable]:
        return [serve_web(host, port, holder=context["web"], capture_signals=False)]

    parts = [Component("control", control), Component("heartbeat", heartbeat), Component("broadcast", broadcast),
             Component("periodic", periodic)]
    parts += [Component(name, _capability(name)) for name in ORDER if find_spec(f"central.{name}.embedded")]
    parts.append(Component("web", web, stops_process=True))
    return parts


async def run_embedded(host: str, port: int, simulator: bool = True) -> None:
    context: dict = {"simulator": simulator, "web": {"host": host, "port": port}}
    supervisor = Supervisor(components(host, port), context)
    context["supervisor"] = supervisor

    def stop_web() -> None:
        server = context["web"].get("server")
        if server is not None:
            server.should_exit = True  # uvicorn closes its connections gracefully

    supervisor.on_stop.append(stop_web)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, supervisor.stop)
    await supervisor.run()
