"""The reports page (/dialer/reports/): charts and tables over :mod:`central.dialer.reports`.

Figures are computed by SQL aggregations; the page embeds them as JSON for the charts
(Chart.js from the project's static files) and prints the same numbers server-side in
pt-BR, so a chart and its table never disagree.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from central.agents.identity import agent_names
from central.core.tenancy import membership_for_request, organization_zone

from . import reports
from .models import Attempt, Campaign

#: Colors of the results in every chart (answered green ... failed red), one place.
RESULT_COLORS = {
    "answered": "#10b981", "abandoned": "#f97316", "no_answer": "#facc15", "busy": "#a855f7",
    "congestion": "#ef4444", "failed": "#991b1b", "unknown": "#9ca3af",
}


def _chart(report: dict, campaign: Campaign | None) -> dict:
    labels = {str(k): str(v) for k, v in Attempt.Result.choices}
    s = report["series"]
    chart = {
        "labels": s["labels"],
        "results": [{"key": r, "label": labels.get(r, r), "color": RESULT_COLORS[r], "data": s["counts"][r]}
                    for r in reports.RESULTS],
        "answer_rate": s["answer_rate"], "abandon_rate": s["abandon_rate"], "aht": s["aht"],
        "cap": round(campaign.max_abandon_rate * 100, 2) if campaign else None,
        "agents": [{"name": a["name"], "talk_min": round(a["talk"] / 60, 1),
                    "occupancy": None if a["occupancy"] is None else round(a["occupancy"] * 100, 1)}
                   for a in report["agents"][:20]],
        "text": {
            "attempts": _("Tentativas"), "percent": "%", "seconds": _("segundos"),
            "answer_rate": _("Taxa de atendimento (%)"), "abandon_rate": _("Abandono (%)"),
            "cap": _("Limite de abandono (%)"), "aht": _("Tempo médio de conversa (s)"),
            "talk_min": _("Tempo em conversa (min)"), "occupancy": _("Ocupação (%)"),
            "minutes": _("minutos"), "hour": _("hora"), "day": _("dia"),
            "current": _("Período escolhido"), "previous": _("Período anterior"),
            "period_day": _("Dia %(n)s do período"), "period_hour": _("Hora %(n)s do período"),
        },
        "grain": report["query"].grain,
    }
    if "previous" in report:
        prev = report["previous"]["series"]
        chart["compare"] = {
            "current": [sum(r[i] for r in s["counts"].values()) for i in range(len(s["labels"]))],
            "previous": [sum(r[i] for r in prev["counts"].values()) for i in range(len(prev["labels"]))],
            "current_labels": s["labels"], "previous_labels": prev["labels"],
        }
    return chart


def _delta(now, before) -> float | None:
    if now is None or before is None:
        return None
    return now - before


@login_required
def reports_page(request):
    org = membership_for_request(request).organization  # 404 for foreign orgs
    zone = organization_zone(org)
    today = timezone.localdate(timezone.now(), zone)
    campaigns = list(Campaign.objects.filter(organization=org).order_by("-created_at").values_list("pk", "name"))
    q = reports.ReportQuery.from_query(request.GET, today, {pk for pk, _name in campaigns})
    report = reports.build(org.pk, q, zone)
    names = agent_names(org.pk, [a["interface"] for a in report["agents"]])
    for a in report["agents"]:
        a["name"] = names.get(a["interface"]) or a["interface"]
    campaign = Campaign.objects.filter(organization=org, pk=q.campaign_id).first() if q.campaign_id else None
    comparison = []
    if "previous" in report:
        now, before = report["totals"], report["previous"]["totals"]
        for key, label, kind in (("attempts", _("Tentativas"), "int"), ("answered", _("Atendidas"), "int"),
                                 ("answer_rate", _("Taxa de atendimento"), "pct"),
                                 ("abandon_rate", _("Abandono"), "pct"),
                                 ("aht", _("Tempo médio de conversa"), "secs")):
            comparison.append({"label": label, "kind": kind, "now": now[key], "before": before[key],
                               "delta": _delta(now[key], before[key])})
    result_labels = {str(k): str(v) for k, v in Attempt.Result.choices}
    return render(request, "dialer/reports.html", {
        "q": q, "report": report, "campaigns": campaigns, "campaign": campaign,
        "results": [(r, result_labels.get(r, r), report["totals"]["by_result"].get(r, 0), RESULT_COLORS[r])
                    for r in reports.RESULTS],
        "comparison": comparison, "chart": _chart(report, campaign),
        "contacts_left": report["contacts"].get("pending", 0) + report["contacts"].get("in_progress", 0),
        "max_days": reports.MAX_DAYS, "today": today,
    })
