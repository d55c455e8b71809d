"""Bench: 200 concurrent booking attempts on 20 slots; exactly one booking per slot.

One professional with 20 open 30-minute slots on a coming weekday; 200 client threads
(10 per slot), each with its own database connection, wait on a barrier and then hold and
book their slot through :mod:`central.scheduling.services` (the assistant's and the
API's path). Prints attempts/s and bookings/s over the burst, the outcome counts and
checks that every slot has exactly one active booking.

    .venv/bin/python bench/scheduling_race.py [attempts=200] [slots=20]

Database: SQLite in a temporary data dir (production settings: WAL, BEGIN IMMEDIATE,
busy timeout), or DATABASE_URL (PostgreSQL: the exclusion constraint decides; a fresh
schema is migrated into it: use a scratch database; CENTRAL_DB_POOL_MAX is raised to 50
for the burst).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time as clock
from collections import Counter
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def setup_django() -> None:
    os.environ.setdefault("CENTRAL_DATA_DIR", tempfile.mkdtemp(prefix="sched-race-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
    os.environ.setdefault("CENTRAL_DB_POOL_MAX", "50")
    import logging

    import django

    django.setup()
    logging.getLogger("central").setLevel(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def main() -> None:
    attempts = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    nslots = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    setup_django()
    from django.db import connection
    from django.utils import timezone

    from central.core.models import Organization
    from central.scheduling import services, states
    from central.scheduling.models import (
        Appointment,
        ClinicSettings,
        Patient,
        Professional,
        Service,
        WeeklySchedule,
    )

    org = Organization.objects.create(name="Race", slug=f"race-{os.getpid()}", kind="clinic")
    ClinicSettings.objects.create(organization=org, min_notice_minutes=0)
    pro = Professional.objects.create(organization=org, name="Dra. Ana")
    svc = Service.objects.create(organization=org, name="Consulta", duration_minutes=30)
    svc.professionals.set([pro])
    for wd in range(7):
        WeeklySchedule.objects.create(organization=org, professional=pro, weekday=wd, start_time=time(7),
                                      end_time=time(19))
    zone = ZoneInfo(org.timezone)
    day = timezone.now().astimezone(zone).date() + timedelta(days=2)
    starts = [datetime.combine(day, time(7), zone) + timedelta(minutes=30 * i) for i in range(nslots)]
    patients = Patient.objects.bulk_create([Patient(organization=org, name=f"P{i}", phone=f"+55119{i:08d}")
                                            for i in range(attempts)])
    connection.close()
    barrier = threading.Barrier(attempts + 1)
    outcome: Counter = Counter()
    lock = threading.Lock()

    def client(i: int) -> None:
        try:
            barrier.wait()
            try:
                hold = services.hold_slot(org, patient=patients[i], service=svc, professional=pro.pk,
                                          start=starts[i % nslots], channel="whatsapp")
                services.book(hold)
                result = "booked"
            except services.SlotUnavailable:
                result = "refused"
            except Exception as exc:
                result = f"error {type(exc).__name__}: {exc}"
            with lock:
                outcome[result] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(attempts)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = clock.perf_counter()
    for t in threads:
        t.join()
    wall = clock.perf_counter() - t0
    per_slot = Counter(Appointment.objects.filter(professional=pro, status__in=states.ACTIVE)
                       .values_list("start", flat=True))
    ok = len(per_slot) == nslots and set(per_slot.values()) == {1}
    print(f"database: {connection.vendor}; {attempts} attempts on {nslots} slots in {wall:.2f} s: "
          f"{attempts / wall:.0f} attempts/s, {outcome['booked'] / wall:.1f} bookings/s")
    print(f"outcome: {dict(outcome)}; exactly one booking per slot: {ok}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
