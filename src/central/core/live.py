"""Publishing live updates to dashboards through the channel layer.

Group names are the contract between producers (API views, PBX link, dialer) and the
dashboard consumer: ``org-<id>`` for one tenant, ``system`` for operators (platform-wide
data: only superusers' sockets join it), and ``status`` for the periodic status snapshot,
which every socket receives *through* ``central.dashboard.status.for_viewer`` (the
consumer cuts it to what its user may see before sending).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)


def org_group(org_id: int) -> str:
    return f"org-{org_id}"


def agent_group(org_id: int, interface: str) -> str:
    """The group of one agent's page: one organization *and* one queue interface
    (``PJSIP/2001``, ``Local/agent2@agent-phones``; unique per organization). Channels
    group names allow only ``[A-Za-z0-9._-]``, so the interface is hashed: a pop for
    tenant A's ``PJSIP/2001`` can never reach tenant B's agent of the same interface."""
    import hashlib

    digest = hashlib.sha256(f"{org_id}\x00{interface}".encode()).hexdigest()[:32]
    return f"agent-{org_id}-{digest}"


#: Channel-layer message type of the agent's page events (screen pop, call end, member
#: state): handled by ``desk_event`` of ``central.agents.consumers.DeskConsumer``.
AGENT_EVENT = "desk.event"


async def apublish_agent(org_id: int, interface: str, payload: dict[str, Any]) -> None:
    """One event to the page of the agent on ``interface`` in organization ``org_id``."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(agent_group(org_id, interface), {"type": AGENT_EVENT, "payload": payload})
    except Exception:  # a page push must never break the dialer or the link
        log.warning("agent page update failed", exc_info=True)


SYSTEM_GROUP = "system"
STATUS_GROUP = "status"
#: Channel-layer message type of the status snapshot (handled by ``status_update``).
STATUS_EVENT = "status.update"


async def apublish(group: str, payload: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(group, {"type": "live.update", "payload": payload})
    except Exception:  # a dashboard push must never break the action that caused it
        log.warning("live update to %s failed", group, exc_info=True)


def publish(group: str, payload: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "live.update", "payload": payload})
    except RuntimeError:
        # Called from inside a running event loop thread (async view): schedule instead.
        import asyncio

        try:
            asyncio.get_running_loop().create_task(apublish(group, payload))
        except RuntimeError:
            log.warning("live update to %s dropped: no loop", group)
    except Exception:
        log.warning("live update to %s failed", group, exc_info=True)


def publish_org_event(org_id: int | None, payload: dict[str, Any]) -> None:
    if org_id:
        publish(org_group(org_id), payload)


# --- Redis outages (issue 16) ----------------------------------------------------------------


def layer_errors() -> tuple[type[BaseException], ...]:
    """What the Redis channel layer raises while Redis is unreachable."""
    import redis

    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ConnectionError, TimeoutError)


#: WebSocket close code for "try again later" (RFC 6455 registry: 1013).
TRY_AGAIN_LATER = 1013
#: Seconds between a socket's re-joins of its groups (see GROUP_EXPIRY's use below).
GROUP_REFRESH_SECONDS = 30.0


class LayerOutageMixin:
    """For consumers (put it first in the bases): a channel layer that cannot be reached
    degrades the socket instead of crashing the handshake with a 500.

    Before the handshake completes the client gets ``503`` with the API's error body
    (``live_unavailable``, ``Retry-After``) through the ASGI WebSocket denial response
    (uvicorn supports it), or a plain close where the server does not; an open socket is
    closed with 1013 "try again later" so the page reconnects when Redis is back."""

    async def __call__(self, scope, receive, send):
        accepted = False

        async def tracking_send(message):
            nonlocal accepted
            if message.get("type") == "websocket.accept":
                accepted = True
            await send(message)

        try:
            await super().__call__(scope, receive, tracking_send)
        except layer_errors() as exc:
            log.warning("channel layer unreachable (%s): WebSocket %s %s", exc, scope.get("path"),
                        "closed with 1013" if accepted else "refused with 503")
            if accepted:
                with contextlib.suppress(Exception):
                    await send({"type": "websocket.close", "code": TRY_AGAIN_LATER})
            else:
                await deny_handshake(scope, send)


async def deny_handshake(scope, send) -> None:
    """503 with the error body before the handshake (or a close where unsupported)."""
    import json

    from django.utils.translation import gettext as _

    if "websocket.http.response" not in (scope.get("extensions") or {}):
        with contextlib.suppress(Exception):
            await send({"type": "websocket.close", "code": TRY_AGAIN_LATER})
        return
    body = json.dumps({"error": {"code": "live_unavailable",
                                 "message": str(_("Atualizações ao vivo indisponíveis; tente de novo em instantes.")),
                                 "fields": {}}}).encode()
    with contextlib.suppress(Exception):
        await send({"type": "websocket.http.response.start", "status": 503,
                    "headers": [(b"content-type", b"application/json"), (b"retry-after", b"5"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "websocket.http.response.body", "body": body})


async def refresh_groups_forever(layer, groups: list[str], channel_name: str,
                                 interval: float = GROUP_REFRESH_SECONDS) -> None:
    """Re-join ``groups`` every ``interval`` s: a socket removed by :func:`trim_stale_members`
    while it was merely slow comes back, and its membership never ages out."""
    while True:
        await asyncio.sleep(interval)
        for group in groups:
            try:
                await layer.group_add(group, channel_name)
            except Exception:  # Redis away: the next round (or the reconnect) re-joins
                log.debug("group refresh of %s failed", group, exc_info=True)


async def trim_stale_members(layer, groups: list[str]) -> int:
    """Remove from the live groups the channels whose queue is full.

    A dashboard socket drains its channel within milliseconds; one with ``capacity``
    messages waiting belongs to a socket that is gone without leaving its groups (its
    ``group_discard`` failed while Redis was down, and Redis kept the group across the
    restart). Left there it made every ``group_send`` report "channels over capacity" for
    up to ``group_expiry`` (a day). Returns how many were removed."""
    if not hasattr(layer, "_group_key") or not hasattr(layer, "connection"):
        return 0  # the in-memory layer of the embedded default drops by itself
    removed = 0
    for group in groups:
        key = layer._group_key(group)
        connection = layer.connection(layer.consistent_hash(group))
        members = [m.decode() for m in await connection.zrange(key, 0, -1)]
        for channel in members:
            channel_key = layer.prefix + layer.non_local_name(channel)
            ch_conn = layer.connection(layer.consistent_hash(channel)) if "!" in channel else connection
            if await ch_conn.zcount(channel_key, "-inf", "+inf") >= layer.get_capacity(channel):
                await connection.zrem(key, channel)
                removed += 1
    if removed:
        log.info("removed %d stale channel(s) from the live groups", removed)
    return removed


async def trim_forever(interval: float = 15.0) -> None:
    """The web process' janitor of the live groups ``status``, ``system`` and every
    ``org-<id>`` (see :func:`trim_stale_members`)."""
    from channels.db import database_sync_to_async

    @database_sync_to_async
    def org_groups() -> list[str]:
        from central.core.db import release_connection
        from central.core.models import Organization

        try:
            return [org_group(pk) for pk in Organization.objects.values_list("pk", flat=True)]
        finally:
            release_connection()

    while True:
        try:
            layer = get_channel_layer()
            if layer is not None and hasattr(layer, "_group_key"):
                await trim_stale_members(layer, [STATUS_GROUP, SYSTEM_GROUP, *await org_groups()])
        except Exception:
            log.debug("live group trim failed", exc_info=True)
        await asyncio.sleep(interval)
