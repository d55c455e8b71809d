"""The demo clinic's agenda: one location, three professionals, three services, weekday
schedules and a few patients with appointments this week, so a first look at the agenda
pages under ``central up`` shows a working clinic.

The clinic itself is ``core.demo``'s organization of kind ``clinic`` (slug
:data:`DEMO_CLINIC`); this only fills its agenda, once (nothing is added when it already
has professionals).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

DEMO_CLINIC = "clinica-bem-estar"

PROFESSIONALS = [("Dra. Ana Souza", "Clínica geral"), ("Dr. Bruno Lima", "Pediatria"),
                 ("Dra. Carla Mendes", "Dermatologia")]
SERVICES = [("Consulta de clínica geral", 30, 0, 10, "250.00", [0]),
            ("Consulta pediátrica", 40, 0, 10, "280.00", [1]),
            ("Avaliação dermatológica", 30, 5, 5, None, [2, 0])]
PATIENTS = [("Maria Oliveira", "+5511987650001"), ("João Pereira", "+5511987650002"),
            ("Beatriz Santos", "+5511987650003"), ("Lucas Rocha", "+5511987650004")]


@transaction.atomic
def ensure_demo_agenda() -> bool:
    from central.core.models import Organization

    from . import services
    from .models import (
        ClinicSettings,
        Location,
        Patient,
        Professional,
        Service,
        WeeklySchedule,
    )

    org = Organization.objects.filter(slug=DEMO_CLINIC, kind=Organization.Kind.CLINIC).first()
    if org is None or Professional.objects.filter(organization=org).exists():
        return False
    ClinicSettings.objects.get_or_create(organization=org, defaults={
        "city": "São Paulo", "state": "SP", "reminder_offsets": [1440, 120], "min_notice_minutes": 60})
    loc = Location.objects.create(organization=org, name="Unidade Paulista",
                                  address="Av. Paulista, 1000 - Bela Vista, São Paulo - SP",
                                  phone="+551130000000", directions="Metrô Trianon-Masp, saída 2.")
    pros = [Professional.objects.create(organization=org, name=n, specialty=s) for n, s in PROFESSIONALS]
    for i, pro in enumerate(pros):
        for wd in range(5):
            WeeklySchedule.objects.create(organization=org, professional=pro, location=loc, weekday=wd,
                                          start_time=time(8 + i % 2), end_time=time(12))
            WeeklySchedule.objects.create(organization=org, professional=pro, location=loc, weekday=wd,
                                          start_time=time(13), end_time=time(18 - i % 2))
    made = []
    for name, minutes, before, after, price, who in SERVICES:
        svc = Service.objects.create(organization=org, name=name, duration_minutes=minutes,
                                     buffer_before_minutes=before, buffer_after_minutes=after, price=price,
                                     instructions="Chegue 10 minutos antes com documento e carteirinha.")
        svc.professionals.set([pros[i] for i in who])
        made.append(svc)
    patients = [Patient.objects.create(organization=org, name=n, phone=p) for n, p in PATIENTS]
    # A few bookings over the next days (the agenda is not empty on first look).
    zone = ZoneInfo(org.timezone or "America/Sao_Paulo")
    now = timezone.now()
    day = now.astimezone(zone).date()
    placed = 0
    for offset in range(1, 8):
        d = day + timedelta(days=offset)
        if d.weekday() >= 5:
            continue
        for j, (svc, pro) in enumerate(((made[0], pros[0]), (made[1], pros[1]), (made[2], pros[2]))):
            start = datetime.combine(d, time(9 + 2 * j + offset % 2, 0), zone)
            try:
                hold = services.hold_slot(org, patient=patients[(offset + j) % len(patients)], service=svc,
                                          professional=pro, start=start, channel="staff", actor_label="demo",
                                          now=now)
                services.book(hold, actor_label="demo", now=now)
                placed += 1
            except services.SchedulingError:
                continue
    return True
