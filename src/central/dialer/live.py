"""Pushing the engine's live view of each campaign to dashboards.

The engine (any process) leaves its latest view of a campaign (agents, calls in
progress, the pacing reason) in the cache for ``STATE_TTL`` seconds, where the API and
the campaign page read it, and publishes it to the organization's live group so open
dashboards update without polling (``Central.on("dialer", ...)`` in ``_live.html``).
Production shares both through Redis; ``central up`` through its in-process cache and
channel layer.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache

from central.core.live import apublish, org_group, publish

STATE_TTL = 30


def _key(campaign_id: int) -> str:
    return f"dialer:live:{campaign_id}"


def engine_state(campaign_id: int) -> dict[str, Any]:
    return cache.get(_key(campaign_id)) or {}


def store_state(campaign_id: int, state: dict[str, Any]) -> None:
    cache.set(_key(campaign_id), state, STATE_TTL)


def push(org_id: int, campaign_id: int, state: dict[str, Any]) -> None:
    store_state(campaign_id, state)
    publish(org_group(org_id), {"type": "dialer", "campaign": campaign_id, **state})


async def apush(org_id: int, campaign_id: int, state: dict[str, Any]) -> None:
    await apublish(org_group(org_id), {"type": "dialer", "campaign": campaign_id, **state})
