"""Dialer metrics: Prometheus series (default registry) and live per-campaign figures.

Prometheus gets what the engine sees at each tick (agents, calls in progress, dial
level) and counters of what happened; ``campaign_live`` computes the dashboard's
figures from the ``Attempt`` rows, so any web process can answer them, whichever
dialer process runs the campaign.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from prometheus_client import Counter, Gauge, Histogram

ORIGINATES = Counter("central_dialer_originates", "Originate actions sent", ["campaign"])
NOT_SENT = Counter("central_dialer_originates_not_sent", "Originates not sent (AMI down)", ["campaign"])
RESULTS = Counter("central_dialer_results", "Attempts finished, by result", ["campaign", "result"])
SHORT_CALLS = Counter("central_dialer_short_calls", "Answered calls of 6 s or less (Anatel)", ["campaign"])
GUARD_MESSAGES = Counter(
    "central_dialer_short_call_guard", "Answered calls with no agent that heard the company message", ["campaign"])
RECONCILED = Counter("central_dialer_reconciled", "Attempts settled by reconcile", ["campaign", "found"])
LEASES = Counter("central_dialer_lease_changes", "Leases acquired or lost", ["event"])
AGENTS = Gauge("central_dialer_agents", "Queue members per state", ["campaign", "state"])
IN_PROGRESS = Gauge("central_dialer_calls_in_progress", "Calls placed and not finished", ["campaign"])
DIAL_LEVEL = Gauge("central_dialer_dial_level", "Calls in progress per logged agent", ["campaign"])
ABANDON_RATE = Gauge("central_dialer_abandon_rate", "Abandoned / answered", ["campaign", "window"])
ABANDON_CAP = Gauge("central_dialer_abandon_cap", "The campaign's maximum abandonment rate (max_abandon_rate)",
                    ["campaign"])
ANSWERED_WINDOW = Gauge("central_dialer_answered", "Answered calls (connected or abandoned) in the window",
                        ["campaign", "window"])
AMI_CONNECTED = Gauge("central_dialer_ami_connected", "1 while the dialer's own AMI connection is logged in",
                      ["server"])
SHORT_CALLS_TODAY = Gauge("central_dialer_short_calls_today", "Calls of 6 s or less today", ["campaign"])
SHORT_CALL_ALARM = Gauge("central_dialer_short_call_alarm", "1 when today's short calls reached the alarm threshold",
                         ["campaign"])
LATENCY = Histogram(
    "central_dialer_decision_to_originate_seconds", "From the pacing decision to the Originate written",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

#: Gauges this process sets for a campaign while it holds its lease.
_CAMPAIGN_GAUGES = (AGENTS, IN_PROGRESS, DIAL_LEVEL, ABANDON_RATE, ABANDON_CAP, ANSWERED_WINDOW)


def forget_campaign(campaign_id: int) -> None:
    """Drop a campaign's gauges when this process stops running it (lease lost or
    released): the process that took it over reports it now, and a frozen copy here would
    double it in every ``sum`` (and keep an abandonment alert firing on a stale value)."""
    key = str(campaign_id)
    for gauge in _CAMPAIGN_GAUGES:
        seen = {tuple(sample.labels.values()) for family in gauge.collect() for sample in family.samples
                if sample.labels.get("campaign") == key}
        for labels in seen:  # label values in declaration order, "campaign" first
            gauge.remove(*labels)


WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "30d": timedelta(days=30)}


def campaign_live(campaign, now: datetime, engine_state: dict | None = None) -> dict:
    """Everything the live panel shows for one campaign (JSON-ready)."""
    from django.db.models import Avg, Count, Q

    from central.dialer.models import Attempt, Contact

    attempts = Attempt.objects.filter(campaign=campaign)
    zone = ZoneInfo(campaign.timezone or "America/Sao_Paulo")
    local = now.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    out: dict = {"campaign": campaign.id, "name": campaign.name, "status": campaign.status,
                 "pacing_mode": campaign.pacing_mode, "at": now.isoformat()}
    abandon_after = timedelta(seconds=campaign.abandon_after_s)

    def window(since: datetime) -> dict:
        agg = attempts.filter(created_at__gte=since, state=Attempt.State.COMPLETED).aggregate(
            dials=Count("id"),
            answered=Count("id", filter=Q(result__in=("answered", "abandoned"))),
            abandoned=Count("id", filter=Q(result="abandoned")),
            connected=Count("id", filter=Q(result="answered")),
            short=Count("id", filter=Q(short_call=True)),
            contacts=Count("contact", distinct=True),
            aht=Avg("talk_seconds", filter=Q(result="answered")),
        )
        # answered, connected after abandon_after: abandoned by definition
        late = sum(1 for a, c in attempts.filter(created_at__gte=since, result="answered",
                                                   connected_at__isnull=False)
                   .values_list("answered_at", "connected_at") if a and c and c - a > abandon_after)
        agg["abandoned_total"] = agg["abandoned"] + late
        agg["abandon_rate"] = agg["abandoned_total"] / agg["answered"] if agg["answered"] else 0.0
        agg["answer_rate"] = agg["answered"] / agg["dials"] if agg["dials"] else 0.0
        return agg

    hour = window(now - WINDOWS["1h"])
    today = window(midnight)
    out["abandon_rate"] = {
        "1h": round(hour["abandon_rate"], 4),
        "today": round(today["abandon_rate"], 4),
        "24h": round(window(now - WINDOWS["24h"])["abandon_rate"], 4),
        "30d": round(window(now - WINDOWS["30d"])["abandon_rate"], 4),
    }
    out["answer_rate"] = round(hour["answer_rate"] if hour["dials"] else today["answer_rate"], 4)
    out["calls_per_hour"] = hour["dials"]
    out["contacts_per_hour"] = hour["contacts"]
    out["aht_s"] = round(today["aht"] or 0.0, 1)
    out["short_calls_today"] = today["short"]
    out["short_call_alarm"] = campaign.short_call_alarm
    out["short_call_alarm_on"] = today["short"] >= campaign.short_call_alarm > 0
    out["guard_messages_today"] = today["abandoned"]
    # Settled by reconcile today (after a dialer restart or a lost AMI link), and how many
    # of those could only be recorded as "unknown" (docs/dialer-engine.md).
    settled = attempts.filter(created_at__gte=midnight, reconciled=True).aggregate(
        n=Count("id"), unknown=Count("id", filter=Q(result="unknown")))
    out["reconciled_today"] = settled["n"]
    out["unknown_today"] = settled["unknown"]
    from central.dialer.services import campaign_alarm

    out["alarm"] = campaign_alarm(campaign)
    out["dials_today"] = today["dials"]
    out["answered_today"] = today["answered"]
    out["contacts_remaining"] = Contact.objects.filter(
        campaign=campaign, status__in=(Contact.Status.PENDING, Contact.Status.IN_PROGRESS)).count()
    out["calls_in_progress"] = attempts.filter(
        state__in=("created", "sent", "ringing", "answered", "unknown")).count()
    # Chart: per hour of the local day, dials / answered / abandoned.
    series = {h: [0, 0, 0] for h in range(24)}
    for created, result in attempts.filter(created_at__gte=midnight).values_list("created_at", "result"):
        h = created.astimezone(zone).hour
        series[h][0] += 1
        if result in ("answered", "abandoned"):
            series[h][1] += 1
        if result == "abandoned":
            series[h][2] += 1
    out["chart"] = [{"hour": h, "dials": v[0], "answered": v[1], "abandoned": v[2]} for h, v in series.items()]
    state = engine_state or {}
    agents = state.get("agents") or {}
    out["agents"] = {k: agents.get(k, 0) for k in ("logged", "free", "talking", "wrapup", "paused")}
    logged = out["agents"]["logged"]
    out["occupancy"] = round((out["agents"]["talking"] / logged) if logged else 0.0, 4)
    if "calls_in_progress" in state:
        out["calls_in_progress"] = state["calls_in_progress"]
    out["dial_level"] = round(out["calls_in_progress"] / logged, 2) if logged else 0.0
    out["reason"] = state.get("reason", "")
    out["message"] = state.get("message", "")
    out["dialer"] = state.get("dialer", "")
    out["engine_at"] = state.get("at", "")
    key = str(campaign.id)
    ABANDON_RATE.labels(key, "1h").set(out["abandon_rate"]["1h"])
    ABANDON_RATE.labels(key, "today").set(out["abandon_rate"]["today"])
    SHORT_CALLS_TODAY.labels(key).set(out["short_calls_today"])
    SHORT_CALL_ALARM.labels(key).set(1 if out["short_call_alarm_on"] else 0)
    return out
