"""``central up``: the agenda has no long-running task of its own (its periodic jobs run in
the shared scheduler, ``schedules.py``); on start it fills the demo clinic's agenda once."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

log = logging.getLogger("central.scheduling.embedded")


async def start(context: dict) -> list[Awaitable]:
    from channels.db import database_sync_to_async

    from .demo import ensure_demo_agenda

    if await database_sync_to_async(ensure_demo_agenda)():
        log.info("scheduling: demo clinic agenda created")
    return []
