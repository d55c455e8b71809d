"""``central up``: with the demo PBX simulator running, its queue agents get names
(:func:`central.agents.demo.ensure_demo_agents`). No long-running task."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

log = logging.getLogger("central.agents.embedded")


async def start(context: dict) -> list[Awaitable]:
    from channels.db import database_sync_to_async

    sim = context.get("simulator")
    config = getattr(sim, "config", None)
    if config is None:
        return []

    def demo() -> int:
        from central.telephony.embedded import SIMULATOR_SERVER
        from central.telephony.models import AsteriskServer

        from .demo import ensure_demo_agents

        server = AsteriskServer.objects.filter(name=SIMULATOR_SERVER, use_simulator=True).first()
        return ensure_demo_agents(config.world.agents, server.pk if server else None)

    made = await database_sync_to_async(demo)()
    if made:
        log.info("agents: %d demo agents created for the simulator's queue", made)
    return []
