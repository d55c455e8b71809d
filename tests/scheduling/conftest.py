"""A clinic with two professionals, one service and weekday schedules (08-12, 13-18)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from types import SimpleNamespace

import pytest


def make_clinic(name: str = "Clínica Teste", slug: str = "clinica-teste", tz: str = "America/Sao_Paulo"):
    from central.core.models import Organization
    from central.scheduling.models import (
        ClinicSettings,
        Location,
        Patient,
        Professional,
        Service,
        WeeklySchedule,
    )

    org = Organization.objects.create(name=name, slug=slug, kind=Organization.Kind.CLINIC, timezone=tz)
    ClinicSettings.objects.create(organization=org, min_notice_minutes=60, reminder_offsets=[1440, 120])
    loc = Location.objects.create(organization=org, name="Unidade Centro", address="Rua A, 1")
    ana = Professional.objects.create(organization=org, name="Dra. Ana", specialty="Clínica geral")
    bruno = Professional.objects.create(organization=org, name="Dr. Bruno", specialty="Pediatria")
    service = Service.objects.create(organization=org, name="Consulta", duration_minutes=30,
                                     buffer_after_minutes=10)
    service.professionals.set([ana, bruno])
    for pro in (ana, bruno):
        for wd in range(5):
            WeeklySchedule.objects.create(organization=org, professional=pro, location=loc, weekday=wd,
                                          start_time=time(8), end_time=time(12))
            WeeklySchedule.objects.create(organization=org, professional=pro, location=loc, weekday=wd,
                                          start_time=time(13), end_time=time(18))
    patient = Patient.objects.create(organization=org, name="Paula", phone="+5511987654321")
    return SimpleNamespace(org=org, loc=loc, ana=ana, bruno=bruno, service=service, patient=patient)


#: A Monday 09:00 in São Paulo (12:00 UTC); 2026-03-02 is no holiday.
MONDAY_9 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
#: "now" for most tests: the Friday before, 10:00 São Paulo.
FRIDAY_NOW = datetime(2026, 2, 27, 13, 0, tzinfo=UTC)


@pytest.fixture
def clinic(db):
    return make_clinic()
