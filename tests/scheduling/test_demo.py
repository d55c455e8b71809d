"""The demo clinic gets a working agenda once (under ``central up``)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_demo_agenda_once():
    from central.core.demo import ensure_demo
    from central.scheduling import services
    from central.scheduling.demo import DEMO_CLINIC, ensure_demo_agenda
    from central.scheduling.models import Appointment, Professional, Service

    ensure_demo()
    assert ensure_demo_agenda() is True
    assert ensure_demo_agenda() is False  # once
    org = Professional.objects.first().organization
    assert org.slug == DEMO_CLINIC and org.kind == "clinic"
    assert Professional.objects.count() == 3
    assert Appointment.objects.filter(status="booked").count() >= 6
    svc = Service.objects.get(name="Consulta de clínica geral")
    assert len(services.find_slots(org, svc, limit=5)) == 5
