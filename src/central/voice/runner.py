"""``run_voice``: the voice process (``central voice``).

Loads AI extensions from the database (snapshot fallback), starts their AudioSocket
listeners, the management API, and the PBX link used to call residents.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import urllib.parse
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from central.voice.calls import Originator, VisitRecord, VoiceRuntime
from central.voice.config import COMPAT_PORT, COMPAT_RETURN_PORT
from central.voice.mgmt_api import ManagementAPI
from central.voice.service import VoiceService

log = logging.getLogger(__name__)

SNAPSHOT_NAME = "voice-config.json"


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run the voice process's event loop: uvloop when installed, asyncio otherwise.

    uvloop comes with ``uvicorn[standard]``.  Every call costs one socket read and one
    write per 20 ms, and uvloop's C loop does that bookkeeping for less: at 700 calls on
    one core bench/audiosocket_load.py measured 0.093 % of a core per call against 0.098 %
    with asyncio's loop, and p99 lateness 0.1 ms against 1.2 ms (README, "Capacity").
    """
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it on Linux
        asyncio.run(main)
    else:
        uvloop.run(main)


def freeze_startup_heap() -> None:
    """Move everything alive once the voice process is up (Django, the app registry,
    providers, phrase caches) to the garbage collector's permanent generation.

    A full collection walks every tracked object while the event loop, and so every
    call's audio, waits.  bench/audiosocket_load.py timed one at 1,000 calls: 120 ms with
    the startup heap (185,000 objects) against 42 ms without it (74,000, the calls' own),
    and a stall past ``MAX_CATCH_UP`` periods (100 ms) drops frames on every call.  The
    startup objects live as long as the process, so the collector gains nothing by
    walking them.
    """
    gc.collect()
    gc.freeze()


def default_snapshot_path() -> str:
    base = os.environ.get("CENTRAL_DATA_DIR") or str(Path.cwd() / "data")
    return str(Path(base) / SNAPSHOT_NAME)


def poll_interval() -> float:
    """Seconds between two reads of the config version (``CENTRAL_VOICE_POLL_SECONDS``)."""
    try:
        return max(0.2, float(os.environ.get("CENTRAL_VOICE_POLL_SECONDS", "2")))
    except ValueError:
        return 2.0


def _ami_originator() -> Originator | None:
    """An AMIOriginator from CENTRAL_AMI_URL (ami://user@host:5038) + CENTRAL_AMI_SECRET."""
    url = os.environ.get("CENTRAL_AMI_URL", "")
    if not url:
        return None
    from central.voice.telephony import AMIOriginator, voice_ami_client

    parsed = urllib.parse.urlparse(url)
    client = voice_ami_client(
        parsed.hostname or "127.0.0.1", parsed.port or 5038, parsed.username or "",
        os.environ.get("CENTRAL_AMI_SECRET", ""),
    )
    return AMIOriginator(client)


def _db_visit_sink():
    from central.voice.loader import save_visit

    loop = asyncio.get_running_loop()

    def sink(record: VisitRecord) -> None:
        fut = loop.run_in_executor(None, save_visit, record)
        fut.add_done_callback(
            lambda f: f.exception() and log.error("cannot save visit %s: %s", record.visit_id, f.exception())
        )

    return sink


async def run_voice(
    *,
    api_host: str = "127.0.0.1",
    api_port: int = 8090,
    snapshot_path: str | None = None,
    token: str | None = None,
    originator: Originator | None = None,
    use_database: bool = True,
    loader=None,
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    compat_ports: tuple[int, int] = (COMPAT_PORT, COMPAT_RETURN_PORT),
) -> None:
    """Run until ``stop`` is set (or forever).  Django must be set up when
    ``use_database`` is true (the CLI's ``_setup`` does it)."""
    version_probe = None
    if loader is None and use_database:
        from central.voice.loader import config_version, load_from_database

        loader, version_probe = load_from_database, config_version
    own_client = None
    if originator is None:
        originator = _ami_originator()
        own_client = getattr(originator, "client", None)
    runtime = VoiceRuntime(originator, _db_visit_sink() if use_database else None)
    service = VoiceService(loader=loader, snapshot_path=snapshot_path or default_snapshot_path(), runtime=runtime,
                           compat_ports=compat_ports)
    api = ManagementAPI(service, token)
    watcher: asyncio.Task | None = None
    publisher: asyncio.Task | None = None
    # Everything opened from here on is closed in the finally, whatever fails: a start
    # that raised half way (the management API's port taken by another Central) used to
    # leave the AudioSocket listeners bound and the config watcher running, so every
    # restart of the component by `central up`'s supervisor took two more ports of
    # 8080-8099 for good, and the watcher task kept the event loop from closing.
    try:
        if own_client is not None:
            await own_client.start()
        version = None
        if version_probe is not None:
            # Read before the first load: a change made while it loads is seen as a change.
            try:
                version = await asyncio.to_thread(version_probe)
            except Exception as exc:  # database down: the snapshot serves, the watcher retries
                log.warning("voice config version unavailable: %s", exc)
        await service.start()
        if version_probe is not None:
            watcher = asyncio.create_task(service.watch(version_probe, poll_interval(), seen=version),
                                          name="voice-config-watch")
        try:
            await api.start(api_host, api_port)
        except OSError as exc:
            raise OSError(exc.errno, f"voice management API cannot listen on {api_host}:{api_port} "
                                     f"({exc.strerror or exc}); another voice process may hold it: "
                                     "set CENTRAL_VOICE_API_PORT (central voice --api-port)") from exc
        for ext in service.status()["extensions"]:
            log.info("ramal %s: port %s (configured %s), return %s (configured %s)", ext["ramal"],
                     ext["port"], ext["port_configured"], ext["return_port"], ext["return_port_configured"])
        if use_database:  # Django is set up: its channel layer reaches the dashboards
            from central.voice.live import publish_forever

            publisher = asyncio.create_task(publish_forever(service), name="voice-live-push")
        freeze_startup_heap()
        if ready is not None:
            ready.set()
        await (stop.wait() if stop is not None else asyncio.Event().wait())
    finally:
        for task in (watcher, publisher):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await api.stop()
        await service.stop()
        client = getattr(originator, "client", None)
        if client is not None:
            await client.close()
