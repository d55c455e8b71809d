"""The supervisor's real-time agents table: one row per queue member.

:func:`agent_state` and :func:`alert` are the pure rules (tested without a database);
:func:`board` gathers one organization's rows in a fixed number of queries (members,
names, live calls, attempts, today's calls and pauses, campaigns), whatever the number
of agents. The page draws these rows, then applies the ``queue_members`` pushes of the
PBX link directly (the state and its clock come from the AMI events) and re-reads the
rows for the figures that follow calls (customer, calls and talk time today).

States: ``free``, ``ringing``, ``in_call`` (talking), ``wrapup``, ``paused`` (with the
reason), ``logged_out`` (a static member paused with ``services.LOGGED_OUT_REASON``) and
``unavailable``. Wrap-up has no AMI event (apps/app_queue.c ``can_ring_entry()``): a free
member is in wrap-up for ``max(member Wrapuptime, the queue's campaign wrap-up limit)``
seconds after its last call ended (``AgentComplete``), the dialer's rule
(central.dialer.core.AgentBoard).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Sum
from django.utils import timezone

from .identity import agent_names
from .models import AgentInterface, PauseCode, PauseInterval
from .services import LOGGED_OUT_REASON
from .team import settings_for

STATES = ("free", "ringing", "in_call", "wrapup", "paused", "logged_out", "unavailable")


def agent_state(availability: str, paused_reason: str, call_ended_at: dt.datetime | None,
                wrapup_s: float, now: dt.datetime) -> tuple[str, dt.datetime | None]:
    """(state, wrap-up end or None) of one member."""
    if availability == "paused":
        return ("logged_out" if paused_reason == LOGGED_OUT_REASON else "paused"), None
    if availability == "free" and call_ended_at is not None and wrapup_s > 0:
        until = call_ended_at + dt.timedelta(seconds=wrapup_s)
        if now < until:
            return "wrapup", until
    return availability, None


@dataclass(frozen=True)
class Thresholds:
    pause_s: int
    wrapup_s: int


def alert(state: str, elapsed_s: float, limits: Thresholds) -> str:
    """``pause_long`` / ``wrapup_long`` / ``""`` (the page repeats this rule every second)."""
    if state == "paused" and elapsed_s >= limits.pause_s:
        return "pause_long"
    if state == "wrapup" and elapsed_s >= limits.wrapup_s:
        return "wrapup_long"
    return ""


def thresholds(organization_id: int) -> Thresholds:
    s = settings_for(organization_id)
    return Thresholds(pause_s=s.pause_alert_minutes * 60, wrapup_s=s.wrapup_alert_seconds)


def _today_start(organization) -> dt.datetime:
    from central.core.tenancy import organization_zone

    zone = organization_zone(organization)
    local = timezone.now().astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def board(organization) -> dict:
    """Everything the table shows for ``organization`` (rows, campaigns per queue,
    pause labels, thresholds)."""
    from central.dialer.models import Attempt, Campaign
    from central.telephony.models import CallRecord, LiveCall, QueueMember

    org_id = organization.pk
    now = timezone.now()
    members = list(QueueMember.objects.for_org(org_id).select_related("server").order_by("queue", "name", "interface"))
    interfaces = {m.interface for m in members}
    names = agent_names(org_id, interfaces)
    campaigns = list(Campaign.objects.for_org(org_id).exclude(status="finished").values("id", "name", "queue",
                                                                                         "wrapup_limit_s"))
    wrapup_by_queue: dict[str, int] = {}
    for c in campaigns:
        wrapup_by_queue[c["queue"]] = max(wrapup_by_queue.get(c["queue"], 0), c["wrapup_limit_s"] or 0)
    # Calls in progress: LiveCall.agent is the AgentConnect MemberName (or Interface).
    live = list(LiveCall.objects.for_org(org_id).filter(state=LiveCall.State.UP).exclude(agent=""))
    attempts = {a["uid"]: a for a in Attempt.objects.for_org(org_id).filter(
        uid__in=[c.attempt_id for c in live if c.attempt_id]).values("uid", "campaign__name", "contact__name")}
    start = _today_start(organization)
    today = {r["agent_interface"]: r for r in CallRecord.objects.for_org(org_id).filter(
        started_at__gte=start, agent_interface__in=interfaces, disposition=CallRecord.Disposition.ANSWERED)
        .values("agent_interface").annotate(calls=Count("id"), talk=Sum("billsec"))}
    paused_today: dict[str, float] = {}
    for p in PauseInterval.objects.for_org(org_id).filter(ended_at__gte=start, interface__in=interfaces) \
            .exclude(reason=LOGGED_OUT_REASON).values("interface", "started_at", "ended_at"):
        seconds = (p["ended_at"] - max(p["started_at"], start)).total_seconds()
        paused_today[p["interface"]] = paused_today.get(p["interface"], 0.0) + max(0.0, seconds)
    rows = []
    for m in members:
        wrapup_s = max(m.wrapup_time or 0, wrapup_by_queue.get(m.queue, 0))
        state, wrapup_until = agent_state(m.availability, m.paused_reason, m.call_ended_at, wrapup_s, now)
        since = m.call_ended_at if state == "wrapup" else m.last_change
        call = None
        if state in ("in_call", "ringing"):
            call = next((c for c in live if c.agent in (m.interface, m.name)
                         and (not c.queue or c.queue == m.queue)), None)
        attempt = attempts.get(call.attempt_id) if call is not None else None
        stats = today.get(m.interface) or {}
        customer = ""
        if call is not None:
            number = call.from_number if call.direction == "inbound" else call.to_number
            customer = " · ".join(x for x in ((attempt or {}).get("contact__name") or "", number) if x)
        rows.append({
            "id": m.pk, "server": m.server.name, "queue": m.queue, "interface": m.interface,
            "name": names.get(m.interface) or m.name or m.interface, "linked": m.interface in names,
            "state": state, "reason": m.paused_reason if state == "paused" else "",
            "since": _iso(since), "wrapup_until": _iso(wrapup_until),
            "customer": customer, "campaign": (attempt or {}).get("campaign__name") or "",
            "calls_today": stats.get("calls") or 0, "talk_today": stats.get("talk") or 0,
            "pause_today": round(paused_today.get(m.interface, 0.0)),
        })
    limits = thresholds(org_id)
    return {
        "rows": rows,
        "now": _iso(now),
        "queues": sorted({m.queue for m in members} | {c["queue"] for c in campaigns}),
        "campaigns": [{"id": c["id"], "name": c["name"], "queue": c["queue"]} for c in campaigns],
        "names": dict(AgentInterface.objects.for_org(org_id).values_list("interface", "agent__name")),
        "pause_labels": dict(PauseCode.objects.for_org(org_id).values_list("code", "label")),
        "wrapup_by_queue": wrapup_by_queue,
        "thresholds": {"pause_s": limits.pause_s, "wrapup_s": limits.wrapup_s},
    }
