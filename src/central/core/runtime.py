"""Running Central processes: the web server, heartbeats and the embedded all-in-one.

Every process registers a heartbeat row so ``central status`` and the dashboard can show
what runs where; tasks of one process share one asyncio loop and stop together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable

from channels.db import database_sync_to_async
from django.utils import timezone

log = logging.getLogger("central.runtime")


def process_name(kind: str) -> str:
    return f"{kind}@{socket.gethostname()}:{os.getpid()}"


@database_sync_to_async
def _beat(kind: str, info: dict) -> None:
    from .models import ProcessHeartbeat

    ProcessHeartbeat.objects.update_or_create(
        name=process_name(kind),
        defaults={
            "kind": kind,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "last_seen": timezone.now(),
            "info": info,
        },
    )


@database_sync_to_async
def _forget(kind: str) -> None:
    from .models import ProcessHeartbeat

    ProcessHeartbeat.objects.filter(name=process_name(kind)).delete()


async def heartbeat_forever(kind: str, info: Callable[[], dict] | None = None, interval: float = 5.0) -> None:
    try:
        while True:
            try:
                await _beat(kind, info() if info else {})
            except Exception:
                log.warning("heartbeat failed", exc_info=True)
            await asyncio.sleep(interval)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(_forget(kind))


async def serve_web(host: str, port: int) -> None:
    import uvicorn

    from central.asgi import application

    config = uvicorn.Config(
        application,
        host=host,
        port=port,
        lifespan="off",
        log_config=None,
        access_log=False,
        ws="websockets-sansio",
        # uvicorn would otherwise rewrite the client address from X-Forwarded-For for any
        # loopback peer (its default FORWARDED_ALLOW_IPS), a second trust rule next to
        # CENTRAL_TRUSTED_PROXIES: REMOTE_ADDR stays the socket peer and
        # central.core.clientaddr alone decides what a forwarding header is worth.
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    await server.serve()


async def run_together(main: Awaitable[None], *background: Awaitable[None]) -> None:
    """Run ``main`` with background tasks; when main ends (e.g. Ctrl-C), stop the rest."""
    tasks = [asyncio.ensure_future(b) for b in background]
    try:
        await main
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
