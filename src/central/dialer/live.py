"""Sharing the engine's live view of each campaign with every web process.

The engine (any process: ``central up``, ``central dialer``) leaves its latest view of a
campaign (agents, calls in progress, the pacing reason) where every web process can read
it for ``STATE_TTL`` seconds, and publishes it to the organization's live group so open
dashboards update without polling (``Central.on("dialer", ...)`` in ``_live.html``). After it
changed attempt rows or contact statuses it also publishes the campaign's progress
(:func:`progress`: contacts by status, the recent attempts; ``PROGRESS_TYPE``), which the
campaign page's tiles and attempts table and the campaigns list's counts follow.

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


#: Message type of a campaign's progress (contacts by status, recent attempts).
PROGRESS_TYPE = "dialer_progress"

#: Rows of the campaign page's "recent attempts" table (server-rendered and live).
RECENT_ATTEMPTS = 25


def recent_attempts(campaign_id: int, limit: int = RECENT_ATTEMPTS) -> list[dict[str, Any]]:
    """The latest attempts as the campaign page shows them: codes, not labels (each page
    translates them in its own language), times in the organization's zone as the
    server-rendered table prints them (``core.tenancy`` activates that zone per request)."""
    from central.core.tenancy import organization_zone
    from central.dialer.models import Attempt, Campaign

    campaign = Campaign.objects.select_related("organization").filter(pk=campaign_id).first()
    zone = organization_zone(campaign.organization if campaign else None)
    rows = (Attempt.objects.filter(campaign_id=campaign_id).select_related("contact").order_by("-created_at")
            .only("created_at", "phone", "state", "result", "agent", "note", "contact__name")[:limit])
    return [{"when": timezone.localtime(a.created_at, zone).strftime("%d/%m %H:%M:%S"), "name": a.contact.name,
             "phone": a.phone, "state": a.state, "result": a.result, "agent": a.agent, "note": a.note}
            for a in rows]


def progress(campaign_id: int) -> dict[str, Any]:
    from central.dialer.services import counts_by_status

    counts = counts_by_status(campaign_id)
    return {"counts": counts, "total": sum(counts.values()), "attempts": recent_attempts(campaign_id)}


def publish_progress(org_id: int, campaign_id: int) -> None:
    """From synchronous code (an import that finished, a contact edited)."""
    publish(org_group(org_id), {"type": PROGRESS_TYPE, "campaign": campaign_id, **progress(campaign_id)})


async def apush_progress(org_id: int, campaign_id: int, payload: dict[str, Any]) -> None:
    await apublish(org_group(org_id), {"type": PROGRESS_TYPE, "campaign": campaign_id, **payload})
