"""Times are shown in the tenant's zone: pages, API answers and CSV exports.

A condominium in Manaus (UTC-4) and a company in São Paulo (UTC-3) look at the same
instant; each must read its own wall clock. The installation's zone is São Paulo, so a
Manaus tenant that got the default would read an hour late.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime

import pytest

from tests.dialer import factories

pytestmark = pytest.mark.django_db

INSTANT = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)  # 12:30 in São Paulo, 11:30 in Manaus


@pytest.fixture
def manaus(tenants):
    org = tenants["a"]
    org.timezone = "America/Manaus"
    org.save(update_fields=["timezone"])
    return org


def _visit(org):
    from central.voice.models import VisitLog

    return VisitLog.objects.create(organization=org, visit_id=uuid.uuid4(), extension_number="1900",
                                   unit_label="101 A", outcome="authorized", started_at=INSTANT,
                                   ended_at=INSTANT)


def test_pages_show_the_tenants_wall_clock(manaus, tenants, client):
    _visit(manaus)
    _visit(tenants["b"])
    client.force_login(tenants["alice"])
    page = client.get("/voice/").content.decode()
    assert "24/11 11:30" in page and "24/11 12:30" not in page

    client.force_login(tenants["bob"])  # São Paulo tenant, same instant
    page = client.get("/voice/").content.decode()
    assert "24/11 12:30" in page


def test_api_answers_carry_the_tenants_offset(manaus, tenants, api_as):
    _visit(manaus)
    rows = api_as(tenants["alice"]).get("/api/v1/voice/visits/").json()["results"]
    assert rows[0]["started_at"].startswith("2026-11-24T11:30:00") and rows[0]["started_at"].endswith("-04:00")


def test_zone_does_not_leak_into_the_next_request(manaus, tenants, client, api_as):
    _visit(tenants["b"])
    client.force_login(tenants["alice"])
    assert client.get("/voice/").status_code == 200  # activates Manaus
    rows = api_as(tenants["bob"]).get("/api/v1/voice/visits/").json()["results"]
    assert rows[0]["started_at"].endswith("-03:00")


def test_export_uses_the_tenants_zone(manaus, tenants, api_as):
    camp = factories.campaign(manaus, name="Manaus")
    factories.contact(manaus, camp, name="Ana", phone="+5592987654321", last_attempt_at=INSTANT)
    r = api_as(tenants["alice"]).get(f"/api/v1/dialer/campaigns/{camp.pk}/export/")
    text = b"".join(r.streaming_content).decode("utf-8")[1:]
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[1][7] == "2026-11-24 11:30:00"


def test_an_unknown_zone_name_falls_back_to_the_installations(tenants):
    from central.core.tenancy import organization_zone

    org = tenants["a"]
    org.timezone = "Mars/Olympus_Mons"
    assert organization_zone(org).key == "America/Sao_Paulo"
