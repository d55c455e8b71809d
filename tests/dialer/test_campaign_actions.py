"""Campaign lifecycle through the API: validated, audited, final when finished."""

from __future__ import annotations

import pytest

from central.core.models import AuditLog
from central.dialer.models import Campaign
from tests.dialer import factories

pytestmark = pytest.mark.django_db


def post(client, camp, action):
    return client.post(f"/api/v1/dialer/campaigns/{camp.pk}/{action}/")


def test_lifecycle_is_audited(tenants, api_as):
    camp = factories.campaign(tenants["a"])
    alice = api_as(tenants["alice"])
    for action, status in [("start", "active"), ("pause", "paused"), ("resume", "active"), ("finish", "finished")]:
        r = post(alice, camp, action)
        assert r.status_code == 200, r.content
        assert r.json() == {"id": camp.pk, "status": status}
    camp.refresh_from_db()
    assert camp.status == "finished" and camp.started_at and camp.finished_at
    logs = list(AuditLog.objects.filter(organization=tenants["a"], target_id=str(camp.pk)).order_by("id")
                .values_list("action", "actor_name", "details"))
    assert [a for a, _, _ in logs] == ["campaign.start", "campaign.pause", "campaign.resume", "campaign.finish"]
    assert all(actor == "alice" for _, actor, _ in logs)
    assert logs[0][2]["from_status"] == "draft" and logs[0][2]["to_status"] == "active"


def test_finishing_is_final(tenants, api_as):
    camp = factories.campaign(tenants["a"], status=Campaign.Status.FINISHED)
    alice = api_as(tenants["alice"])
    for action in ("start", "resume", "pause", "finish"):
        r = post(alice, camp, action)
        assert r.status_code == 400
        assert "encerrada" in r.json()["error"]["message"]
    r = alice.patch(f"/api/v1/dialer/campaigns/{camp.pk}/", {"name": "outra"}, format="json")
    assert r.status_code == 400
    assert not AuditLog.objects.filter(action__startswith="campaign.").exists()


def test_cannot_start_without_queue_or_hours(tenants, api_as):
    alice = api_as(tenants["alice"])
    camp = factories.campaign(tenants["a"], queue="")
    r = post(alice, camp, "start")
    assert r.status_code == 400 and "fila" in r.json()["error"]["message"]
    camp = factories.campaign(tenants["a"], working_hours={"mon": []})
    r = post(alice, camp, "start")
    assert r.status_code == 400 and "nunca discaria" in r.json()["error"]["message"]
    assert Campaign.objects.filter(status="active").count() == 0


def test_invalid_transitions(tenants, api_as):
    alice = api_as(tenants["alice"])
    camp = factories.campaign(tenants["a"])
    assert post(alice, camp, "pause").status_code == 400  # draft cannot pause
    assert post(alice, camp, "resume").status_code == 400
    assert post(alice, camp, "start").status_code == 200
    r = post(alice, camp, "start")
    assert r.status_code == 400 and "iniciar uma campanha ativa" in r.json()["error"]["message"]


def test_roles_and_tenants(tenants, api_as):
    camp = factories.campaign(tenants["a"])
    assert post(api_as(tenants["vera"]), camp, "start").status_code == 403  # viewer
    assert post(api_as(tenants["artur"]), camp, "start").status_code == 403  # agent
    assert post(api_as(tenants["bob"]), camp, "start").status_code == 404  # other tenant
    assert api_as(tenants["bob"]).get(f"/api/v1/dialer/campaigns/{camp.pk}/export/").status_code == 404
    camp.refresh_from_db()
    assert camp.status == "draft"


def test_campaign_settings_validation(tenants, api_as):
    alice = api_as(tenants["alice"])
    r = alice.post("/api/v1/dialer/campaigns/", {
        "name": "X", "queue": "q", "timezone": "America/Nowhere", "working_hours": {"mon": [["20:00", "09:00"]]},
        "holiday_subdivision": "XX", "retry_policy": {"busy": -1}}, format="json")
    assert r.status_code == 400
    assert set(r.json()["error"]["fields"]) == {"timezone", "working_hours", "holiday_subdivision", "retry_policy"}
    r = alice.post("/api/v1/dialer/campaigns/", {"name": "Vendas", "queue": "vendas", "holiday_subdivision": "sp"},
                   format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "draft" and body["holiday_subdivision"] == "SP"
    detail = alice.get(f"/api/v1/dialer/campaigns/{body['id']}/").json()
    assert detail["contacts_by_status"]["pending"] == 0 and detail["problems"] == []
    assert AuditLog.objects.filter(action="campaign.create").count() == 1
