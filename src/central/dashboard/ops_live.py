"""The operations overview, live: recomputed when the tenant's telephony or dialer changes.

Pages that show the overview (home, wallboard) open ``/ws/live/?topics=ops``; their
consumer joins :func:`ops_group` and calls :func:`watch`. For each organization with at
least one such page in this web process, one task

* listens to the organization's live group (``org-<id>``) on its own channel: every
  ``calls``, ``queue_members``, ``pbx_status`` push of the PBX link and every ``dialer`` /
  ``dialer_progress`` push of the dialer marks the overview stale;
* recomputes it (``overview.overview`` in a worker thread) at most every
  :data:`MIN_INTERVAL` seconds while changes keep coming, and every :data:`REFRESH_S`
  seconds anyway (time-based alarms: a caller waiting too long, a dialer that went
  quiet). Agents, calls and links are read fresh each time; the aggregates over today's
  attempts and call records (``overview.slow_part``) are reused for :data:`SLOW_TTL`
  seconds, so a busy PBX costs three small queries per push, not a scan of the day. A
  push that reused them after a change is followed by one more when they expire, so an
  abandon shows within :data:`SLOW_TTL` seconds, not at the next refresh (it took up to
  :data:`REFRESH_S` when no other change came);
* sends it once to the group of this process' pages (one ``group_send``, whatever the
  number of open screens): no browser polls, and N screens cost one computation.

The group name carries a per-process token: with several web processes each one serves
its own pages, so no page receives the same overview twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from central.core.live import org_group, refresh_groups_forever

from .figures import OPS_TYPE  # noqa: F401  (the type the pages listen for: Central.on("ops"))

log = logging.getLogger(__name__)

#: Live message types that change the overview (PBX link, dialer engine, dialer progress).
TRIGGERS = frozenset({"calls", "queue_members", "pbx_status", "dialer", "dialer_progress"})
#: Channel-layer event carrying the encoded overview (handled by ``LiveConsumer.ops_update``).
OPS_EVENT = "ops.update"
#: Raw pushes an overview page does not draw (it draws the overview made from them): an
#: ops socket skips them instead of encoding every PBX-link batch for every wall screen.
RAW_TYPES = frozenset({"calls", "queue_members", "extensions", "dialer", "dialer_progress"})
#: Seconds between two computations while changes keep coming (a burst costs one).
MIN_INTERVAL = 0.25
#: Seconds between computations when nothing changes.
REFRESH_S = 5.0
#: Seconds the day's aggregates (campaign abandonment, call records) are reused.
SLOW_TTL = 2.0

_PROCESS = uuid.uuid4().hex[:12]
_tasks: dict[int, asyncio.Task] = {}
_viewers: dict[int, int] = {}
#: Computations done, per organization (tests and the bench read it).
stats: dict[str, int] = {"computed": 0, "failed": 0}


def ops_group(org_id: int) -> str:
    return f"ops-{org_id}-{_PROCESS}"


def watch(org_id: int) -> None:
    """A page of ``org_id`` opened (call from the consumer, on the server's loop)."""
    _viewers[org_id] = _viewers.get(org_id, 0) + 1
    task = _tasks.get(org_id)
    if task is None or task.done():
        _tasks[org_id] = asyncio.get_running_loop().create_task(_serve(org_id), name=f"ops-{org_id}")


def unwatch(org_id: int) -> None:
    left = _viewers.get(org_id, 0) - 1
    if left > 0:
        _viewers[org_id] = left
        return
    _viewers.pop(org_id, None)
    task = _tasks.pop(org_id, None)
    if task is not None:
        task.cancel()


def _compute(org_id: int, cache: dict) -> dict | None:
    """The overview; ``cache`` keeps the last slow part and when it was computed."""
    from central.core.db import release_connection
    from central.core.models import Organization

    from .overview import overview, slow_part

    try:
        org = Organization.objects.filter(pk=org_id).first()
        if org is None:
            return None
        fresh = cache.get("slow") is None or time.monotonic() - cache.get("at", 0.0) >= SLOW_TTL
        if fresh:
            cache["slow"], cache["at"] = slow_part(org), time.monotonic()
        # A change came, but the day's aggregates were reused: they may miss it (an abandon
        # that puts a campaign over its cap), so they are recomputed as soon as they expire.
        cache["behind"] = not fresh
        return overview(org, slow=cache["slow"])
    finally:
        release_connection()


#: Read-only queries in a pool thread of their own (``thread_sensitive=False``), not in the
#: one thread every ``database_sync_to_async`` call shares by default: there the overview
#: waited behind the PBX link's batch writes and the dialer's claims (a busy PBX measured
#: the push seconds behind the link's own; bench/live_fanout.py).
compute = database_sync_to_async(_compute, thread_sensitive=False)


async def _serve(org_id: int) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    channel = await layer.new_channel()
    group = org_group(org_id)
    await layer.group_add(group, channel)
    stale = asyncio.Event()
    cache: dict = {}

    async def listen() -> None:
        while True:
            message = await layer.receive(channel)
            payload = message.get("payload") if isinstance(message, dict) else None
            if isinstance(payload, dict) and payload.get("type") in TRIGGERS:
                stale.set()

    helpers = [asyncio.ensure_future(listen()),
               asyncio.ensure_future(refresh_groups_forever(layer, [group], channel))]
    try:
        while True:
            # asyncio.wait, not wait_for: on Python 3.11 a cancel landing while wait_for
            # completes is swallowed (CPython gh-86296) and this task outlived its pages
            # (a test's event loop waited for it forever at teardown).
            waiter = asyncio.ensure_future(stale.wait())
            timeout = REFRESH_S
            if cache.get("behind"):  # the last push reused aggregates older than the change
                timeout = min(timeout, max(0.0, cache["at"] + SLOW_TTL - time.monotonic()))
            try:
                await asyncio.wait([waiter], timeout=timeout)
            finally:
                waiter.cancel()
            stale.clear()
            started = time.monotonic()
            try:
                data = await compute(org_id, cache)
            except Exception:
                stats["failed"] += 1
                log.warning("operations overview of organization %s failed", org_id, exc_info=True)
                data = None
            if data is not None:
                stats["computed"] += 1
                # Encoded once here, not once per open screen (LiveConsumer.ops_update).
                text = json.dumps(data, separators=(",", ":"))
                with contextlib.suppress(Exception):  # Redis away: the next round retries
                    await layer.group_send(ops_group(org_id), {"type": OPS_EVENT, "text": text})
            await asyncio.sleep(max(0.0, MIN_INTERVAL - (time.monotonic() - started)))
    finally:
        for h in helpers:
            h.cancel()
        with contextlib.suppress(Exception):
            await layer.group_discard(group, channel)
