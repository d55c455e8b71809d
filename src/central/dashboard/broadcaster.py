"""Pushes the system status to every dashboard every few seconds (runs in the web process)."""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async

from central.core.live import SYSTEM_GROUP, apublish

from .status import snapshot

log = logging.getLogger(__name__)


async def broadcast_forever(interval: float = 2.0) -> None:
    while True:
        try:
            await apublish(SYSTEM_GROUP, await database_sync_to_async(snapshot)())
        except Exception:
            log.warning("status broadcast failed", exc_info=True)
        await asyncio.sleep(interval)
