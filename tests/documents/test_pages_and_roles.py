"""Pages and API roles of the documents app, in-process: who may see, request, download,
enroll and revoke, and that another tenant's rows are 404 on the pages too."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client

from central.core.models import Membership
from central.documents import services
from central.documents.models import EnrollmentCode, hash_secret
from tests.documents.factories import make_agent, make_document

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_roles_on_the_api(tenants, api_as):
    doc = make_document(tenants["a"])
    viewer, agent_role = api_as(tenants["vera"]), api_as(tenants["artur"])
    assert viewer.get("/api/v1/documents/documents/").json()["count"] == 1
    assert viewer.post(f"/api/v1/documents/documents/{doc.pk}/request/").status_code == 403
    assert viewer.get(f"/api/v1/documents/documents/{doc.pk}/download/").status_code == 403
    assert agent_role.post(f"/api/v1/documents/documents/{doc.pk}/request/").status_code == 201
    assert agent_role.get(f"/api/v1/documents/documents/{doc.pk}/download/").status_code == 404  # not cached yet
    assert agent_role.get("/api/v1/documents/downloads/").status_code == 403
    assert agent_role.post("/api/v1/documents/enrollment-codes/", {"agent_name": "x"}).status_code == 403
    assert agent_role.post(f"/api/v1/documents/agents/{doc.agent_id}/revoke/").status_code == 403
    created = api_as(tenants["alice"]).post("/api/v1/documents/enrollment-codes/", {"agent_name": "Matriz"})
    assert created.status_code == 201
    code = created.json()["code"]
    row = EnrollmentCode.objects.get(pk=created.json()["id"])
    assert row.code_hash == hash_secret(code) and code not in str(EnrollmentCode.objects.values())
    assert "code" not in api_as(tenants["alice"]).get(f"/api/v1/documents/enrollment-codes/{row.pk}/").json()


def test_pages(tenants):
    doc = make_document(tenants["a"], title="Contrato de locação", pages=7)
    foreign = make_document(tenants["b"])
    alice, vera = _client(tenants["alice"]), _client(tenants["vera"])
    page = alice.get("/documents/", {"q": "locação", "pages_min": "5"}).content.decode()
    assert "Contrato de locação" in page and "Solicitar PDF" in page and "somente no local" in page
    assert "Contrato de locação" not in alice.get("/documents/", {"pages_max": "3"}).content.decode()
    assert alice.get("/documents/", {"date_from": "not-a-date", "size_min": "x" * 50}).status_code == 200
    assert "Solicitar PDF" not in vera.get("/documents/").content.decode()  # viewer: no request button
    assert vera.post(f"/documents/{doc.pk}/request/").status_code == 403
    assert alice.post(f"/documents/{foreign.pk}/request/").status_code == 404
    assert alice.get(f"/documents/{foreign.pk}/download/").status_code == 404
    assert alice.get(f"/documents/agents/{foreign.agent_id}/").status_code == 404
    assert alice.post(f"/documents/agents/{foreign.agent_id}/revoke/").status_code == 404
    assert alice.get(f"/documents/agents/{foreign.agent_id}/live/").status_code == 404
    live = alice.get(f"/documents/agents/{doc.agent_id}/live/").content.decode()
    assert doc.agent.name in live and 'data-testid="agent-events"' in live
    rows = alice.get("/documents/monitor/data/").json()["agent_rows_html"]
    assert f'data-agent="{doc.agent_id}"' in rows and f'data-agent="{foreign.agent_id}"' not in rows

    monitor = alice.post("/documents/monitor/", {"agent_name": "Filial Centro"}).content.decode()
    assert 'data-testid="enroll-code"' in monitor and "central-agent enroll" in monitor
    assert vera.post("/documents/monitor/", {"agent_name": "x"}).status_code == 403
    assert 'data-testid="enroll-code"' not in alice.get("/documents/monitor/").content.decode()

    detail = alice.get(f"/documents/agents/{doc.agent_id}/").content.decode()
    assert doc.agent.name in detail and "Revogar token" not in detail  # no token: nothing to revoke
    Membership.objects.filter(user=tenants["vera"]).update(role="viewer")
    assert "Revogar token" not in vera.get(f"/documents/agents/{doc.agent_id}/").content.decode()


def test_english_labels(tenants):
    agent = make_agent(tenants["a"])
    data = b"%PDF-1.4 x"
    make_document(tenants["a"], agent=agent, size=len(data), sha256=hashlib.sha256(data).hexdigest())
    from django.utils import translation

    try:
        body = _client(tenants["alice"]).get("/documents/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    finally:
        translation.deactivate()  # the request left English active in this thread
    assert "Request PDF" in body and "only at the site" in body
    assert services.status_label(None) == "somente no local"
