"""Running Central processes: the web server, heartbeats and the embedded all-in-one.

Every process registers a heartbeat row so ``central status`` and the dashboard can show
what runs where; tasks of one process share one asyncio loop and stop together.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import socket
import threading
from collections.abc import Awaitable, Callable

from channels.db import database_sync_to_async
from django.utils import timezone

log = logging.getLogger("central.runtime")


#: Seconds between two heartbeats of a process.
HEARTBEAT_INTERVAL = 5.0
#: A heartbeat older than this is late: the process is shown *stale* (one beat may be
#: missed under load; two are not), well before the 12 s the operators saw "alive" for.
STALE_AFTER = 2 * HEARTBEAT_INTERVAL + 1
#: Older still, the process is *gone* (killed without removing its row); ``central
#: maintenance`` deletes such rows after a day.
GONE_AFTER = 60.0


def raise_if_cancelling() -> None:
    """Honour a cancel that a library swallowed on its way to us: call it in a loop that
    catches ``Exception`` around a library call.

    E.g. in the PBX link, a cancel landing while the flush publishes to Redis can come out of redis-py as one
    of its own errors, which the push guard (``central.core.live.apublish``: a dashboard
    push never breaks the link) then catches: the task still says ``cancelling()`` but
    its loop went on, and ``PBXLink.run()``, waiting for it, never stopped (seen on PostgreSQL +
    Redis as a hung ``central pbx`` stop / test teardown, the flush task "cancelling"
    in ``_wake.wait()``)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait until ``event`` is set or ``timeout`` seconds pass; True if it was set.

    ``asyncio.timeout``, not ``wait_for``: on Python 3.11 ``wait_for`` swallows a cancel
    that lands in the loop turn its timeout expires in (bpo-42130), and a loop that waits
    this way on its wake-up or stop event must stop when cancelled."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await event.wait()
    return event.is_set()


def process_name(kind: str) -> str:
    return f"{kind}@{socket.gethostname()}:{os.getpid()}"


def beat_once(kind: str, info: dict) -> None:
    """Write this process's heartbeat row (one per process: the name carries the pid)."""
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


def forget(kind: str) -> None:
    """Remove the row: a process that stops cleanly is not shown stale or gone."""
    from .models import ProcessHeartbeat

    ProcessHeartbeat.objects.filter(name=process_name(kind)).delete()


_beat = database_sync_to_async(beat_once)
_forget = database_sync_to_async(forget)


def heartbeat_thread(kind: str, info: Callable[[], dict] | None = None,
                     interval: float = HEARTBEAT_INTERVAL) -> threading.Event:
    """The heartbeat of a process without an asyncio loop of ours (Celery worker, beat):
    a daemon thread; set the returned event (or exit the interpreter) to stop it and
    remove the row."""
    from django.db import connection

    from .logstream import set_process_kind

    set_process_kind(kind)
    stop = threading.Event()

    def run() -> None:
        try:
            while not stop.is_set():
                try:
                    beat_once(kind, info() if info else {})
                except Exception:
                    log.warning("heartbeat failed", exc_info=True)
                stop.wait(interval)
            with contextlib.suppress(Exception):
                forget(kind)
        finally:
            connection.close()

    thread = threading.Thread(target=run, name=f"heartbeat-{kind}", daemon=True)
    thread.start()

    def at_exit() -> None:
        stop.set()
        thread.join(5)

    atexit.register(at_exit)
    return stop


async def heartbeat_forever(kind: str, info: Callable[[], dict] | None = None,
                            interval: float = HEARTBEAT_INTERVAL, wake: asyncio.Event | None = None) -> None:
    """Beat every ``interval`` seconds, and at once when ``wake`` is set (what the row
    shows changed: ``central up``'s supervisor sets it when a component changes state)."""
    from .logstream import set_process_kind

    set_process_kind(kind)
    try:
        while True:
            if wake is not None:
                wake.clear()  # changes from here on are in this beat or wake the next one
            try:
                await _beat(kind, info() if info else {})
            except Exception:
                log.warning("heartbeat failed", exc_info=True)
            if wake is None:
                await asyncio.sleep(interval)
            else:
                await wait_event(wake, interval)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(_forget(kind))


async def serve_web(host: str, port: int, holder: dict | None = None, capture_signals: bool = True) -> None:
    """The ASGI server. ``holder["server"]`` receives the uvicorn server (``central up``
    sets its ``should_exit`` to stop gracefully); without ``capture_signals`` uvicorn
    leaves SIGTERM/SIGINT to the caller (``central up``'s supervisor handles them)."""
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
    server = uvicorn.Server(config) if capture_signals else _QuietServer(config)
    if holder is not None:
        holder["server"] = server
    try:
        await server.serve()
    finally:
        # Cancelled (a restart of the component): free the port for the next server.
        for listener in getattr(server, "servers", []):
            listener.close()


def _quiet_server_class():
    import uvicorn

    class QuietServer(uvicorn.Server):
        """A uvicorn server that leaves signal handling to its caller."""

        @contextlib.contextmanager
        def capture_signals(self):
            yield

    return QuietServer


def _QuietServer(config):  # noqa: N802 - builds the class lazily (uvicorn imported on use)
    return _quiet_server_class()(config)


async def run_together(main: Awaitable[None], *background: Awaitable[None]) -> None:
    """Run ``main`` with background tasks; when main ends (e.g. Ctrl-C), stop the rest."""
    tasks = [asyncio.ensure_future(b) for b in background]
    try:
        await main
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
