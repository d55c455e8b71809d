"""The voice process's live state, cut per tenant, pushed to the dashboards.

One voice process serves every organization, so whatever leaves it for a tenant goes
through :func:`for_organization` (the REST ``live/status`` view and the WebSocket push
alike): that tenant's extensions by organization id, their calls in progress, and the
turn latencies of those extensions only.

:func:`publish_forever` runs in the voice process (``run_voice``) and sends a ``voice``
message to ``org-<id>`` when that organization's cut changed, at most once a second, so
the voice page shows sessions, ports and a test call's trail without polling.
"""

from __future__ import annotations

import asyncio
import json
import logging

from central.core.live import apublish, org_group

log = logging.getLogger(__name__)

#: The live message's ``type`` (``Central.on(VOICE_EVENT, ...)`` on the voice page).
VOICE_EVENT = "voice"
PUBLISH_INTERVAL = 1.0


def for_organization(status: dict, organization_id: int) -> dict:
    """The part of a voice status (``VoiceService.status()``) that belongs to one tenant."""
    mine = [e for e in status.get("extensions", []) if e.get("organization_id") == organization_id]
    numbers = {e.get("ramal") for e in mine}
    failed = status.get("failed_extensions") or {}
    return {
        "config_source": status.get("config_source"),
        "uptime_s": status.get("uptime_s"),
        "extensions": mine,
        "turns": [t for t in status.get("turns", []) if t.get("ramal") in numbers],
        "turn_latency_ms": _latency([t for t in status.get("turns", []) if t.get("ramal") in numbers]),
        # Failures are keyed by number; only numbers this tenant runs are shown.
        "failed": {n: why for n, why in failed.items() if n in numbers},
    }


def _latency(turns: list[dict]) -> dict:
    totals = sorted(t["total_ms"] for t in turns if t.get("total_ms"))
    if not totals:
        return {"p50": 0.0, "p95": 0.0, "count": 0}

    def pct(p: float) -> float:
        return totals[min(len(totals) - 1, int(len(totals) * p / 100))]

    return {"p50": pct(50), "p95": pct(95), "count": len(totals)}


async def publish_once(service, last: dict[int, str]) -> None:
    """Push each organization's cut when it differs from the one pushed before."""
    status = service.status()
    orgs = {rt.config.organization_id for rt in service.extensions.values() if rt.config.organization_id}
    for org in orgs:
        cut = for_organization(status, org)
        cut.pop("uptime_s", None)  # changes every time; the page counts it by itself
        key = json.dumps(cut, sort_keys=True, default=str)
        if last.get(org) == key:
            continue
        last[org] = key
        await apublish(org_group(org), {"type": VOICE_EVENT, **cut})
    for org in [o for o in last if o not in orgs]:
        del last[org]


async def publish_forever(service, interval: float = PUBLISH_INTERVAL) -> None:
    last: dict[int, str] = {}
    while True:
        try:
            await publish_once(service, last)
        except Exception:  # a dashboard push never stops the voice process
            log.warning("voice live push failed", exc_info=True)
        await asyncio.sleep(interval)
