"""Pushes the system status to every dashboard every few seconds (runs in the web process).

The whole snapshot goes to the ``status`` group as a ``status.update`` event; each socket's
consumer cuts it with ``for_viewer`` before sending, so a tenant's page never receives
another tenant's servers or the installation's hosts."""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from central.core.live import STATUS_EVENT, STATUS_GROUP

from .status import snapshot

log = logging.getLogger(__name__)


async def broadcast_once() -> None:
    layer = get_channel_layer()
    if layer is not None:
        snap = await database_sync_to_async(snapshot)()
        await layer.group_send(STATUS_GROUP, {"type": STATUS_EVENT, "snapshot": snap})


async def broadcast_forever(interval: float = 2.0) -> None:
    while True:
        try:
            await broadcast_once()
        except Exception:
            log.warning("status broadcast failed", exc_info=True)
        await asyncio.sleep(interval)
