"""The operations overview of one organization (home page, wallboard, their live push).

Reads through the other apps' read-only service functions (the dialer's
``campaigns_overview``, telephony's ``live_overview`` / ``records_summary`` /
``queue_targets``) and lets :mod:`central.dashboard.figures` compute every figure and
alarm, so a page and its push never disagree. "Today" starts at midnight in the
organization's time zone, and every time shown says which zone it is in.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from . import figures


def slow_part(organization, now: datetime | None = None) -> dict:
    """The aggregates over today's rows (campaign attempts, call records) and the targets:
    the costly part, which the live push may reuse for a couple of seconds
    (``ops_live.SLOW_TTL``) while agents and calls change many times a second."""
    from central.core.tenancy import organization_zone
    from central.dialer.services import campaigns_overview
    from central.telephony import store

    now = now or timezone.now()
    local = now.astimezone(organization_zone(organization))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    service_level_s, max_wait_s = store.queue_targets(organization.pk)
    return {"campaigns": campaigns_overview(organization.pk, now), "service_level_s": service_level_s,
            "max_wait_s": max_wait_s, "records": store.records_summary(organization.pk, midnight, service_level_s)}


def overview(organization, now: datetime | None = None, slow: dict | None = None) -> dict:
    """The overview now; ``slow`` is a recent :func:`slow_part` to reuse (else computed)."""
    from central.core.tenancy import organization_zone
    from central.telephony import store

    now = now or timezone.now()
    zone = organization_zone(organization)
    local = now.astimezone(zone)
    slow = slow if slow is not None else slow_part(organization, now)
    live = store.live_overview(organization.pk)
    data = figures.build(
        campaigns=slow["campaigns"], live=live, records=slow["records"],
        max_wait_s=slow["max_wait_s"], service_level_s=slow["service_level_s"], now=now.timestamp())
    data["paused"] = paused_agents(organization.pk, live["members"])
    data["organization"] = organization.pk
    data["zone"] = str(zone.key if hasattr(zone, "key") else zone)
    data["at"] = local.strftime("%H:%M:%S")
    return data


def paused_agents(organization_id: int, members: list[dict]) -> list[dict]:
    """Who is paused now, why and since when (longest first), by name where known."""
    _, state = figures.agents_by_state(members)
    rows: dict[str, dict] = {}
    for m in members:
        iface = m["interface"]
        if state.get(iface) != "paused" or m["availability"] != "paused" or iface in rows:
            continue
        since = m.get("last_change")
        rows[iface] = {"interface": iface, "name": m.get("name") or iface, "reason": m.get("paused_reason") or "",
                       "since": since.timestamp() if since else None}
    from central.agents.identity import agent_names

    names = agent_names(organization_id, list(rows)) if rows else {}  # one query
    for iface, row in rows.items():
        row["name"] = names.get(iface) or row["name"]
    ordered = sorted(rows.values(), key=lambda r: (r["since"] is None, r["since"] or 0))
    return ordered[:figures.MAX_ROWS]
