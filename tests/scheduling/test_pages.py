"""Agenda pages: render per role and tenant, book / cancel / check in through forms, reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from central.core.models import Membership
from central.scheduling import services, states
from central.scheduling.models import Appointment

from .conftest import make_clinic

pytestmark = pytest.mark.django_db


def next_monday_9() -> datetime:
    today = timezone.now().astimezone(UTC).date()
    monday = today + timedelta(days=7 - today.weekday())
    return datetime.combine(monday, datetime.min.time(), UTC) + timedelta(hours=12)


@pytest.fixture
def staff(tenants):
    clinic = make_clinic()
    Membership.objects.create(user=tenants["artur"], organization=clinic.org, role="agent", is_default=False)
    Membership.objects.create(user=tenants["vera"], organization=clinic.org, role="viewer", is_default=False)
    agent, viewer = Client(), Client()
    for c, u in ((agent, tenants["artur"]), (viewer, tenants["vera"])):
        c.force_login(u)
        session = c.session
        session["central_org_id"] = clinic.org.pk
        session.save()
    return clinic, agent, viewer


def test_agenda_day_and_week_show_bookings(staff):
    clinic, agent, viewer = staff
    start = next_monday_9()
    appt = services.book(services.hold_slot(clinic.org, patient=clinic.patient, service=clinic.service,
                                            professional=clinic.ana, start=start))
    day = start.date().isoformat()
    body = viewer.get(f"/scheduling/?date={day}").content.decode()
    assert f'data-appointment="{appt.pk}"' in body and "Paula" in body and "06:00" not in body
    assert "09:00–09:30" in body  # São Paulo time
    assert 'data-testid="check-in"' not in body  # a viewer has no buttons
    week = agent.get(f"/scheduling/?date={day}&view=week&professional={clinic.ana.pk}").content.decode()
    assert f'data-appointment="{appt.pk}"' in week and 'data-testid="check-in"' in week
    partial = agent.get(f"/scheduling/?date={day}&partial=1").content.decode()
    assert "<html" not in partial and f'data-appointment="{appt.pk}"' in partial


def test_book_move_cancel_check_in_through_forms(staff):
    clinic, agent, viewer = staff
    day = next_monday_9().date().isoformat()
    page = agent.get(f"/scheduling/new/?service={clinic.service.pk}&professional={clinic.ana.pk}&date={day}")
    slots = page.context["slots"]
    assert slots and slots[0].start.astimezone(timezone.get_current_timezone()).hour == 8
    r = agent.post(f"/scheduling/new/?service={clinic.service.pk}&date={day}",
                   {"slot": slots[1].token, "phone": "(21) 99876-5432", "name": "Rui"})
    appt = Appointment.objects.get(patient__phone="+5521998765432")
    assert r.status_code == 302 and appt.status == states.BOOKED and appt.channel == "staff"
    # the same slot again: refused with the reason on the page
    again = agent.post(f"/scheduling/new/?service={clinic.service.pk}&date={day}",
                       {"slot": slots[1].token, "phone": "(11) 98765-4321"}, follow=True)
    assert "acabou de ser ocupado" in again.content.decode()
    # move it
    move = agent.get(f"/scheduling/appointments/{appt.pk}/?move={appt.pk}&service={clinic.service.pk}"
                     f"&professional={clinic.bruno.pk}&date={day}")
    token = move.context["slots"][0].token
    agent.post(f"/scheduling/appointments/{appt.pk}/move/", {"slot": token, "reason": "pediu"})
    appt.refresh_from_db()
    new = appt.rescheduled_to
    assert appt.status == states.RESCHEDULED and new.professional == clinic.bruno
    agent.post(f"/scheduling/appointments/{new.pk}/check_in/")
    new.refresh_from_db()
    assert new.status == states.CHECKED_IN
    bad = agent.post(f"/scheduling/appointments/{new.pk}/cancel/", {"by": "patient", "reason": "x"}, follow=True)
    assert "“em atendimento” para “cancelado”" in bad.content.decode()
    # a viewer cannot act
    assert viewer.post(f"/scheduling/appointments/{new.pk}/complete/").status_code == 403
    history = agent.get(f"/scheduling/patients/{new.patient_id}/").content.decode()
    assert "em atendimento" in history and "remarcado" in history


def test_other_tenant_and_non_clinic_get_404(staff, tenants):
    clinic, agent, _viewer = staff
    other = make_clinic("Outra", "outra")
    appt = services.book(services.hold_slot(other.org, patient=other.patient, service=other.service,
                                            professional=other.ana, start=next_monday_9()))
    assert agent.get(f"/scheduling/appointments/{appt.pk}/").status_code == 404
    assert agent.get(f"/scheduling/patients/{other.patient.pk}/").status_code == 404
    assert agent.post(f"/scheduling/appointments/{appt.pk}/no_show/").status_code == 404
    company = Client()
    company.force_login(tenants["alice"])  # Empresa A is a company
    assert company.get("/scheduling/").status_code == 404


def test_reports_figures(staff):
    clinic, agent, _viewer = staff
    now = timezone.now()
    past = now - timedelta(days=3)
    start = next_monday_9() - timedelta(days=7)  # last week's Monday 09:00
    a = services.book(services.hold_slot(clinic.org, patient=clinic.patient, service=clinic.service,
                                         professional=clinic.ana, start=start, now=past - timedelta(days=5)),
                      now=past - timedelta(days=5))
    services.mark_no_show(a)
    b = services.book(services.hold_slot(clinic.org, patient=clinic.patient, service=clinic.service,
                                         professional=clinic.bruno, start=start, channel="whatsapp",
                                         now=past - timedelta(days=5)), now=past - timedelta(days=5))
    services.check_in(b)
    body = agent.get("/scheduling/reports/?days=30")
    r = body.context["r"]
    assert r["no_show_rate"] == 50.0 and r["booked"] == 2
    assert r["per_channel"] == {"WhatsApp": 1, "recepção": 1}
    html = body.content.decode()
    assert "vendor/chartjs/chart.umd.min.js" in html and 'id="report-data"' in html
