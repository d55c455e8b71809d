"""The agenda's REST API: slots, booking (409 when taken), transitions, roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from central.core.models import Membership
from central.scheduling.models import Appointment, AppointmentEvent

from .conftest import make_clinic

pytestmark = pytest.mark.django_db
BASE = "/api/v1/scheduling"


@pytest.fixture
def setup(tenants):
    clinic = make_clinic()
    Membership.objects.create(user=tenants["artur"], organization=clinic.org, role="agent")
    Membership.objects.create(user=tenants["vera"], organization=clinic.org, role="viewer")
    return clinic


def next_monday_9() -> datetime:
    today = timezone.now().astimezone(UTC).date()
    monday = today + timedelta(days=7 - today.weekday())
    return datetime.combine(monday, datetime.min.time(), UTC) + timedelta(hours=12)


def test_slots_book_conflict_and_transitions(setup, tenants, api_as):
    clinic = setup
    agent = api_as(tenants["artur"])
    h = {"HTTP_X_ORGANIZATION": clinic.org.slug}
    slots = agent.get(f"{BASE}/services/{clinic.service.pk}/slots/", {"professional": clinic.ana.pk, "limit": 3},
                      **h)
    assert slots.status_code == 200, slots.content
    assert len(slots.json()) == 3 and slots.json()[0]["professional"] == "Dra. Ana"
    token = slots.json()[0]["token"]
    made = agent.post(f"{BASE}/appointments/", {"patient": clinic.patient.pk, "token": token}, format="json", **h)
    assert made.status_code == 201, made.content
    appt = made.json()
    assert appt["status"] == "booked" and appt["channel"] == "staff"
    again = agent.post(f"{BASE}/appointments/", {"patient": clinic.patient.pk, "token": token}, format="json", **h)
    assert again.status_code == 409 and again.json()["error"]["code"] == "slot_unavailable"

    url = f"{BASE}/appointments/{appt['id']}"
    refused = agent.post(f"{url}/complete/", **h)
    assert refused.status_code == 409 and "“agendado” para “concluído”" in refused.json()["error"]["message"]
    assert agent.post(f"{url}/confirm/", **h).json()["status"] == "confirmed"
    assert agent.post(f"{url}/cancel/", {"by": "clinic"}, format="json", **h).status_code == 400
    moved = agent.post(f"{url}/reschedule/", {"start": next_monday_9().isoformat()}, format="json", **h)
    assert moved.status_code == 201, moved.content
    assert moved.json()["rescheduled_from"] == appt["id"]
    assert agent.get(f"{url}/", **h).json()["rescheduled_to"] == moved.json()["id"]
    events = agent.get(f"{BASE}/events/", {"appointment": appt["id"]}, **h).json()["results"]
    assert [e["to_status"] for e in events] == ["held", "booked", "confirmed", "rescheduled"]
    assert AppointmentEvent.objects.filter(actor=tenants["artur"]).count() >= 3


def test_viewer_reads_agent_books_only_supervisor_configures(setup, tenants, api_as):
    clinic = setup
    h = {"HTTP_X_ORGANIZATION": clinic.org.slug}
    viewer, agent = api_as(tenants["vera"]), api_as(tenants["artur"])
    assert viewer.get(f"{BASE}/appointments/", **h).status_code == 200
    assert viewer.post(f"{BASE}/patients/", {"name": "X", "phone": "11 98888-7777"}, format="json",
                       **h).status_code == 403
    made = agent.post(f"{BASE}/patients/", {"name": "X", "phone": "11 98888-7777"}, format="json", **h)
    assert made.status_code == 201 and made.json()["phone"] == "+5511988887777"
    dup = agent.post(f"{BASE}/patients/", {"name": "Y", "phone": "+55 11 98888-7777"}, format="json", **h)
    assert dup.status_code == 400
    assert agent.post(f"{BASE}/professionals/", {"name": "Dr. Z"}, format="json", **h).status_code == 403


def test_foreign_keys_resolve_inside_the_tenant(setup, tenants, api_as):
    clinic = setup
    other = make_clinic("Outra", "outra")
    agent = api_as(tenants["artur"])
    h = {"HTTP_X_ORGANIZATION": clinic.org.slug}
    r = agent.post(f"{BASE}/appointments/", {"patient": other.patient.pk, "service": clinic.service.pk,
                                              "professional": clinic.ana.pk, "start": next_monday_9().isoformat()},
                   format="json", **h)
    assert r.status_code == 400 and not Appointment.objects.exists()
