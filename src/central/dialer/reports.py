"""Dialer reports: per campaign (or all), per day or hour, over a bounded date range.

Every figure is an aggregation in SQL (``GROUP BY`` on the attempt's time truncated to
the day or hour **in the tenant's time zone**: Django's ``Trunc`` with ``tzinfo``, which is
``AT TIME ZONE`` on PostgreSQL and Django's own zone-aware function on SQLite), bounded by
the chosen days (at most :data:`MAX_DAYS`; hours at most :data:`MAX_HOUR_DAYS`), so a
year of attempts is read as a few hundred grouped rows, never row by row.

Definitions (docs/reports.md):

* **attempts by result**: the attempt's ``result`` (empty while in progress);
* **answer rate**: attempts the customer answered (``answered`` + ``abandoned``) over
  attempts that ended;
* **abandonment**: abandoned over customer-answered, the same rule as the pacing cap
  (:class:`central.dialer.pacing.AbandonStats`);
* **average handle time**: mean talk time of the answered attempts (``talk_seconds``,
  agent pickup to hang-up; wrap-up is not recorded per call);
* **agent occupancy**: talk time over the agent's working span, each day from the first
  pickup to the last hang-up (no log-in/log-out history exists to divide by; a span
  with long pauses between calls reads as low occupancy, which it is);
* **contacts remaining**: contacts still to dial (waiting or in a call) now.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, F, Max, Min, Q, Sum
from django.db.models.functions import Trunc
from django.utils.translation import gettext as _

from .models import Attempt, Campaign, Contact
from .pacing import AbandonStats

__all__ = ["MAX_DAYS", "MAX_HOUR_DAYS", "ReportQuery", "build", "DEFAULT_DAYS"]

#: The longest range a report reads (days), and the longest one grouped by hour.
MAX_DAYS = 366
MAX_HOUR_DAYS = 14
DEFAULT_DAYS = 7
#: The order results are stacked in (and colored by the page).
RESULTS = ("answered", "abandoned", "no_answer", "busy", "congestion", "failed", "unknown")


@dataclass(frozen=True)
class ReportQuery:
    """What the report covers: campaign (None: all), days (inclusive), grain, comparison."""

    since: date
    until: date
    campaign_id: int | None = None
    grain: str = "day"  # "day" | "hour"
    compare: bool = False
    errors: tuple[str, ...] = field(default=())

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    def previous(self) -> ReportQuery:
        """The period of the same length right before this one (the comparison)."""
        return replace(self, since=self.since - timedelta(days=self.days), until=self.since - timedelta(days=1))

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        return (datetime.combine(self.since, time.min, tzinfo=zone),
                datetime.combine(self.until + timedelta(days=1), time.min, tzinfo=zone))

    @classmethod
    def from_query(cls, params, today: date, campaign_ids: set[int]) -> ReportQuery:
        """From a GET query; bad values fall back to defaults with a pt-BR message each."""
        errors: list[str] = []

        def day(name: str) -> date | None:
            value = (params.get(name) or "").strip()
            if not value:
                return None
            try:
                return date.fromisoformat(value[:10])
            except ValueError:
                errors.append(_("Data inválida: use AAAA-MM-DD."))
                return None

        preset = (params.get("range") or "").strip()
        since, until = day("since"), day("until")
        if preset in ("1", "7", "30", "90") and not (since or until):
            until, since = today, today - timedelta(days=int(preset) - 1)
        until = until or today
        since = since or until - timedelta(days=DEFAULT_DAYS - 1)
        if since > until:
            since, until = until, since
        if (until - since).days + 1 > MAX_DAYS:
            errors.append(_("Período longo demais: no máximo %(dias)s dias.") % {"dias": MAX_DAYS})
            since = until - timedelta(days=MAX_DAYS - 1)
        grain = params.get("grain") or ("hour" if (until - since).days < 2 else "day")
        if grain not in ("day", "hour"):
            grain = "day"
        if grain == "hour" and (until - since).days + 1 > MAX_HOUR_DAYS:
            errors.append(_("Por hora, no máximo %(dias)s dias: agrupado por dia.") % {"dias": MAX_HOUR_DAYS})
            grain = "day"
        campaign_id = None
        raw = (params.get("campaign") or "").strip()
        if raw:
            if raw.isdigit() and int(raw) in campaign_ids:
                campaign_id = int(raw)
            else:
                errors.append(_("Campanha não encontrada."))
        return cls(since=since, until=until, campaign_id=campaign_id, grain=grain,
                   compare=params.get("compare") in ("1", "on", "true"), errors=tuple(errors))


def _attempts(organization_id: int, q: ReportQuery, zone: ZoneInfo):
    start, end = q.bounds(zone)
    qs = Attempt.objects.filter(organization_id=organization_id, created_at__gte=start, created_at__lt=end)
    if q.campaign_id is not None:
        qs = qs.filter(campaign_id=q.campaign_id)
    return qs


def _buckets(q: ReportQuery, zone: ZoneInfo) -> list[datetime]:
    """Every bucket of the range, empty ones too (a chart with gaps misleads)."""
    out = []
    day = q.since
    while day <= q.until:
        if q.grain == "hour":
            out += [datetime.combine(day, time(hour), tzinfo=zone) for hour in range(24)]
        else:
            out.append(datetime.combine(day, time.min, tzinfo=zone))
        day += timedelta(days=1)
    return out


def _key(moment: datetime, zone: ZoneInfo) -> tuple:
    local = moment.astimezone(zone)
    return (local.year, local.month, local.day, local.hour)


def totals(organization_id: int, q: ReportQuery, zone: ZoneInfo) -> dict:
    """The period's figures in one grouped query (used for both compared periods)."""
    rows = (_attempts(organization_id, q, zone).values("result")
            .annotate(n=Count("id"), talk=Sum("talk_seconds"), short=Count("id", filter=Q(short_call=True))))
    by_result = {r: 0 for r in RESULTS}
    talk = 0.0
    short = 0
    in_progress = 0
    for row in rows:
        if row["result"]:
            by_result[row["result"]] = by_result.get(row["result"], 0) + row["n"]
        else:
            in_progress += row["n"]
        if row["result"] == "answered":
            talk = float(row["talk"] or 0)
        short += row["short"]
    return _figures(by_result, talk, short, in_progress)


def _figures(by_result: dict[str, int], talk: float, short: int = 0, in_progress: int = 0) -> dict:
    ended = sum(by_result.values())
    answered = by_result.get("answered", 0)
    reached = answered + by_result.get("abandoned", 0)
    return {
        "attempts": ended + in_progress, "ended": ended, "in_progress": in_progress, "by_result": by_result,
        "answered": answered, "answer_rate": reached / ended if ended else None,
        "abandon_rate": AbandonStats(reached, by_result.get("abandoned", 0)).rate if reached else None,
        "aht": talk / answered if answered else None, "talk": talk, "short_calls": short,
    }


def series(organization_id: int, q: ReportQuery, zone: ZoneInfo) -> dict:
    """Per bucket: attempts by result, answer and abandonment rates, average talk time."""
    buckets = _buckets(q, zone)
    index = {_key(b, zone): i for i, b in enumerate(buckets)}
    counts = {r: [0] * len(buckets) for r in RESULTS}
    talk = [0.0] * len(buckets)
    rows = (_attempts(organization_id, q, zone)
            .annotate(bucket=Trunc("created_at", q.grain, tzinfo=zone))
            .values("bucket", "result").annotate(n=Count("id"), talk=Sum("talk_seconds")))
    for row in rows:
        i = index.get(_key(row["bucket"], zone))
        if i is None or not row["result"]:
            continue
        counts.setdefault(row["result"], [0] * len(buckets))[i] += row["n"]
        if row["result"] == "answered":
            talk[i] += float(row["talk"] or 0)
    answer_rate, abandon_rate, aht = [], [], []
    for i in range(len(buckets)):
        f = _figures({r: counts[r][i] for r in counts}, talk[i])
        answer_rate.append(None if f["answer_rate"] is None else round(f["answer_rate"] * 100, 1))
        abandon_rate.append(None if f["abandon_rate"] is None else round(f["abandon_rate"] * 100, 1))
        aht.append(None if f["aht"] is None else round(f["aht"], 1))
    label = "%d/%m %Hh" if q.grain == "hour" else "%d/%m"
    return {"labels": [b.strftime(label) for b in buckets], "counts": counts, "answer_rate": answer_rate,
            "abandon_rate": abandon_rate, "aht": aht}


def agents(organization_id: int, q: ReportQuery, zone: ZoneInfo) -> list[dict]:
    """Per agent (interface): answered calls, talk time, average, occupancy; best first."""
    rows = (_attempts(organization_id, q, zone).filter(result="answered").exclude(agent="")
            .exclude(connected_at=None).exclude(ended_at=None)
            .annotate(day=Trunc("connected_at", "day", tzinfo=zone))
            .values("agent", "day")
            .annotate(n=Count("id"), talk=Sum("talk_seconds"), first=Min("connected_at"), last=Max("ended_at")))
    per: dict[str, dict] = {}
    for row in rows:
        a = per.setdefault(row["agent"], {"interface": row["agent"], "calls": 0, "talk": 0.0, "span": 0.0})
        a["calls"] += row["n"]
        a["talk"] += float(row["talk"] or 0)
        a["span"] += max((row["last"] - row["first"]).total_seconds(), 0.0)
    out = []
    for a in per.values():
        a["aht"] = a["talk"] / a["calls"] if a["calls"] else None
        a["occupancy"] = min(a["talk"] / a["span"], 1.0) if a["span"] > 0 else None
        out.append(a)
    return sorted(out, key=lambda a: (-a["calls"], a["interface"]))


def contacts_remaining(organization_id: int, campaign_id: int | None) -> dict[str, int]:
    """Contacts by status now (``pending`` and ``in_progress`` are still to be dialed)."""
    qs = Contact.objects.filter(organization_id=organization_id)
    if campaign_id is not None:
        qs = qs.filter(campaign_id=campaign_id)
    counts = {s: 0 for s in Contact.Status.values}
    for row in qs.values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts


def campaign_rows(organization_id: int, q: ReportQuery, zone: ZoneInfo) -> list[dict]:
    """Per campaign in the period: attempts, answer and abandonment rates, AHT, left to dial."""
    rows = (_attempts(organization_id, replace(q, campaign_id=None), zone).values("campaign_id", "result")
            .annotate(n=Count("id"), talk=Sum("talk_seconds")))
    per: dict[int, dict] = {}
    for row in rows:
        c = per.setdefault(row["campaign_id"], {"by_result": {r: 0 for r in RESULTS}, "talk": 0.0, "open": 0})
        if row["result"]:
            c["by_result"][row["result"]] = c["by_result"].get(row["result"], 0) + row["n"]
        else:
            c["open"] += row["n"]
        if row["result"] == "answered":
            c["talk"] = float(row["talk"] or 0)
    left = dict(Contact.objects.filter(organization_id=organization_id, campaign_id__in=list(per),
                                       status__in=(Contact.Status.PENDING, Contact.Status.IN_PROGRESS))
                .values("campaign_id").annotate(n=Count("id")).values_list("campaign_id", "n"))
    campaigns = dict(Campaign.objects.filter(organization_id=organization_id, pk__in=list(per))
                     .values_list("pk", F("name")))
    out = []
    for pk, c in per.items():
        f = _figures(c["by_result"], c["talk"], in_progress=c["open"])
        out.append({"id": pk, "name": campaigns.get(pk, str(pk)), "remaining": left.get(pk, 0), **f})
    return sorted(out, key=lambda r: (-r["attempts"], r["name"]))


def build(organization_id: int, q: ReportQuery, zone: ZoneInfo) -> dict:
    """Everything the reports page shows (a handful of grouped queries)."""
    report = {"query": q, "totals": totals(organization_id, q, zone), "series": series(organization_id, q, zone),
              "agents": agents(organization_id, q, zone),
              "contacts": contacts_remaining(organization_id, q.campaign_id),
              "campaigns": campaign_rows(organization_id, q, zone) if q.campaign_id is None else []}
    if q.compare:
        prev = q.previous()
        report["previous"] = {"query": prev, "totals": totals(organization_id, prev, zone),
                              "series": series(organization_id, replace(prev, grain=q.grain), zone)}
    return report
