"""Publishing live updates to dashboards through the channel layer.

Group names are the contract between producers (API views, PBX link, dialer) and the
dashboard consumer: ``org-<id>`` for one tenant, ``system`` for operators (platform-wide
data: only superusers' sockets join it), and ``status`` for the periodic status snapshot,
which every socket receives *through* ``central.dashboard.status.for_viewer`` (the
consumer cuts it to what its user may see before sending).
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)


def org_group(org_id: int) -> str:
    return f"org-{org_id}"


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
