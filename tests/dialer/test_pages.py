"""Dashboard pages: campaigns list, campaign detail with actions, do-not-call page."""

from __future__ import annotations

import pytest
from django.test import Client

from central.core.models import AuditLog
from central.dialer.models import Campaign, Contact, DoNotCall
from tests.dialer import factories

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_campaign_pages_and_actions(tenants):
    org = tenants["a"]
    camp = factories.campaign(org, name="Cobrança Dezembro")
    factories.contact(org, camp, status="pending")
    factories.contact(org, camp, status="done")
    factories.campaign(tenants["b"], name="Segredo do B")
    alice = client_for(tenants["alice"])

    page = alice.get("/dialer/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Cobrança Dezembro" in html and "Segredo do B" not in html
    assert 'href="/dialer/"' in html and "Não ligar" in html  # menu entries

    detail = alice.get(f"/dialer/campaigns/{camp.pk}/").content.decode()
    assert 'data-testid="count-pending">1<' in detail and 'data-testid="count-done">1<' in detail
    assert 'data-testid="action-start"' in detail and 'data-testid="import-form"' in detail
    assert f"/api/v1/dialer/campaigns/{camp.pk}/import/" in detail

    r = alice.post(f"/dialer/campaigns/{camp.pk}/start/")
    assert r.status_code == 302
    camp.refresh_from_db()
    assert camp.status == "active"
    assert AuditLog.objects.filter(action="campaign.start", actor_name="alice").exists()
    detail = alice.get(f"/dialer/campaigns/{camp.pk}/").content.decode()
    assert 'data-testid="action-pause"' in detail and 'data-testid="action-start"' not in detail

    # Invalid transition: message, no change.
    r = alice.post(f"/dialer/campaigns/{camp.pk}/resume/", follow=True)
    assert "Não é possível retomar" in r.content.decode()


def test_pages_are_tenant_and_role_scoped(tenants):
    camp = factories.campaign(tenants["a"])
    assert client_for(tenants["bob"]).get(f"/dialer/campaigns/{camp.pk}/").status_code == 404
    assert client_for(tenants["bob"]).post(f"/dialer/campaigns/{camp.pk}/start/").status_code == 404
    vera = client_for(tenants["vera"])  # viewer
    detail = vera.get(f"/dialer/campaigns/{camp.pk}/").content.decode()
    assert 'data-testid="action-start"' not in detail and 'data-testid="import-form"' not in detail
    assert vera.post(f"/dialer/campaigns/{camp.pk}/start/").status_code == 403
    assert vera.get(f"/dialer/campaigns/{camp.pk}/start/").status_code == 405
    camp.refresh_from_db()
    assert camp.status == "draft"


def test_create_campaign_from_page(tenants):
    alice = client_for(tenants["alice"])
    r = alice.post("/dialer/", {"name": "Nova", "queue": "vendas"})
    camp = Campaign.objects.get(name="Nova")
    assert r.status_code == 302 and r["Location"] == f"/dialer/campaigns/{camp.pk}/"
    assert camp.organization == tenants["a"]


def test_dnc_page_adds_and_flags(tenants):
    org = tenants["a"]
    contact = factories.contact(org, phone="+5511987654321")
    alice = client_for(tenants["alice"])
    r = alice.post("/dialer/dnc/", {"phone": "(11) 98765-4321", "reason": "pediu"}, follow=True)
    assert "+5511987654321 não será mais ligado (1 contatos marcados)" in r.content.decode()
    assert DoNotCall.objects.filter(organization=org, phone="+5511987654321", campaign=None).exists()
    assert Contact.objects.get(pk=contact.pk).status == "dnc"
    r = alice.post("/dialer/dnc/", {"phone": "123"}, follow=True)
    assert "Telefone inválido: telefone curto demais" in r.content.decode()
    page = alice.get("/dialer/dnc/", {"q": "98765"}).content.decode()
    assert "+5511987654321" in page
    assert "+5511987654321" not in client_for(tenants["bob"]).get("/dialer/dnc/").content.decode()
