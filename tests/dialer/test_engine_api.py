"""The engine's live metrics API, the what-if planner API and the live panel template."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from central.dialer import live
from tests.dialer.engine_support import make_campaign, make_contacts, phones

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.dialer.live_urls")]


def _attempts(campaign, results):
    from central.dialer.models import Attempt

    now = timezone.now()
    contacts = make_contacts(campaign, phones(len(results), start=500))
    for i, (c, result) in enumerate(zip(contacts, results, strict=True)):
        answered = now - timedelta(minutes=5) if result in ("answered", "abandoned") else None
        Attempt.objects.create(
            organization=campaign.organization, campaign=campaign, contact=c, phone=c.phone, state="completed",
            result=result, created_at=now - timedelta(minutes=6, seconds=i), answered_at=answered,
            connected_at=answered + timedelta(seconds=1) if result == "answered" else None,
            ended_at=now - timedelta(minutes=4), talk_seconds=60.0 if result == "answered" else None,
            short_call=result == "abandoned")


def test_live_endpoint_figures_and_tenant_scope(tenants, api_as):
    campaign = make_campaign(tenants["a"], short_call_alarm=2)
    _attempts(campaign, ["answered", "answered", "abandoned", "abandoned", "busy", "no_answer"])
    live.store_state(campaign.id, {"agents": {"logged": 4, "free": 1, "talking": 3, "wrapup": 0, "paused": 0},
                                   "calls_in_progress": 6, "reason": "dialing", "message": "Discando 2 chamada(s)",
                                   "dialer": "dialer@x:1"})
    r = api_as(tenants["vera"]).get(f"/api/v1/dialer/campaigns/{campaign.id}/live/")
    assert r.status_code == 200, r.content
    d = r.json()
    assert d["abandon_rate"]["1h"] == 0.5 and d["abandon_rate"]["today"] == 0.5
    assert d["answer_rate"] == round(4 / 6, 4)
    assert d["calls_per_hour"] == 6 and d["contacts_per_hour"] == 6
    assert d["aht_s"] == 60.0
    assert d["short_calls_today"] == 2 and d["short_call_alarm_on"] is True
    assert d["agents"]["talking"] == 3 and d["occupancy"] == 0.75 and d["dial_level"] == 1.5
    assert d["message"] == "Discando 2 chamada(s)"
    assert sum(h["dials"] for h in d["chart"]) == 6
    # another tenant's campaign does not exist for bob
    assert api_as(tenants["bob"]).get(f"/api/v1/dialer/campaigns/{campaign.id}/live/").status_code == 404


def test_planner_endpoint(tenants, api_as):
    r = api_as(tenants["vera"]).post("/api/v1/dialer/planner/", {"agents": 5, "hours": 0.25}, format="json")
    assert r.status_code == 200, r.content
    modes = {x["mode"]: x for x in r.json()["results"]}
    assert set(modes) == {"progressive", "ratio", "predictive"}
    assert modes["progressive"]["abandon_rate"] == 0.0
    assert 0 < modes["progressive"]["occupancy"] < 1
    bad = api_as(tenants["vera"]).post("/api/v1/dialer/planner/", {"agents": 0}, format="json")
    assert bad.status_code == 400 and "agents" in bad.json()["error"]["fields"]


def test_live_panel_renders_reason_and_alarm(tenants):
    campaign = make_campaign(tenants["a"], short_call_alarm=1)
    _attempts(campaign, ["abandoned", "answered"])
    live.store_state(campaign.id, {"agents": {"logged": 2, "free": 0, "talking": 2}, "calls_in_progress": 2,
                                   "reason": "no_free_agents", "message": "Nenhum agente livre no momento."})
    html = render_to_string("dialer/_live.html", {"campaign": campaign})
    assert "Nenhum agente livre no momento." in html
    assert 'data-testid="short-call-alarm"' in html
    assert 'id="dl-chart-data"' in html and f"/api/v1/dialer/campaigns/{campaign.id}/live/" in html
