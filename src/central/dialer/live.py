"""Sharing the engine's live view of each campaign with every web process.

The engine (any process: ``central up``, ``central dialer``) leaves its latest view of a
campaign (agents, calls in progress, the pacing reason) where every web process can read
it for ``STATE_TTL`` seconds, and publishes it to the organization's live group so open
dashboards update without polling (``Central.on("dialer", ...)`` in ``_live.html``).

Where the view is kept depends on the deployment, never on the process:

* with Redis (production), in the shared cache (``CACHES`` is Redis there);
* without Redis (embedded), in the database (``CampaignLiveState``): the in-process
  cache of ``central up`` is invisible to a ``central web`` or ``central dialer`` started
  beside it, which left the live panel blank (agents 0, no reason, no engine).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from central.core.live import apublish, org_group, publish

STATE_TTL = 30


def _key(campaign_id: int) -> str:
    return f"dialer:live:{campaign_id}"


def _shared_cache() -> bool:
    """True when the cache is Redis, i.e. shared by every process (settings.CACHES)."""
    return bool(settings.REDIS_URL)


def engine_state(campaign_id: int) -> dict[str, Any]:
    if _shared_cache():
        return cache.get(_key(campaign_id)) or {}
    from central.dialer.models import CampaignLiveState

    fresh = timezone.now() - timedelta(seconds=STATE_TTL)
    state = (CampaignLiveState.objects.filter(campaign_id=campaign_id, updated_at__gte=fresh)
             .values_list("state", flat=True).first())
    return state or {}


def store_state(campaign_id: int, state: dict[str, Any]) -> None:
    if _shared_cache():
        cache.set(_key(campaign_id), state, STATE_TTL)
        return
    from central.dialer.models import CampaignLiveState

    CampaignLiveState.objects.update_or_create(
        campaign_id=campaign_id, defaults={"state": state, "updated_at": timezone.now()})


def push(org_id: int, campaign_id: int, state: dict[str, Any]) -> None:
    store_state(campaign_id, state)
    publish(org_group(org_id), {"type": "dialer", "campaign": campaign_id, **state})


async def apush(org_id: int, campaign_id: int, state: dict[str, Any]) -> None:
    await apublish(org_group(org_id), {"type": "dialer", "campaign": campaign_id, **state})
