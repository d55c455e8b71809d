"""Bench: "the next 10 free slots" with 50 professionals x 60 days and 10,000 appointments.

A clinic with 50 professionals (weekdays 08-12 and 13-18, one 30-minute service with a
10-minute buffer after, offered by all), 10,000 booked appointments spread over the next
60 days without overlaps. Measured in the same run, on the same database:

* ``service``: :func:`central.scheduling.services.find_slots` (the pure availability
  core fed a week of rows at a time), any professional and one given professional, from
  random starting moments in the 60 days;
* ``naive``: what an ORM-only implementation does: walk the grid of candidate starts in
  order and ask the database ``exists()`` for an overlapping appointment per candidate
  (plus the per-day schedule rows), until 10 are found.

Prints p50/p95/max per variant. The goal is p95 < 20 ms for the service.

    .venv/bin/python bench/scheduling_availability.py [queries=200] [naive_queries=30]

Database: SQLite in a temporary data dir, or DATABASE_URL (PostgreSQL; a fresh schema is
migrated into it: use a scratch database).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time as clock
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

PROS, DAYS, APPOINTMENTS = 50, 60, 10_000


def setup_django() -> None:
    os.environ.setdefault("CENTRAL_DATA_DIR", tempfile.mkdtemp(prefix="sched-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
    import logging

    import django

    django.setup()
    logging.getLogger("central").setLevel(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build(now: datetime):
    from central.core.models import Organization
    from central.scheduling.models import (
        Appointment,
        ClinicSettings,
        Patient,
        Professional,
        Service,
        WeeklySchedule,
    )

    org = Organization.objects.create(name="Bench", slug=f"bench-{random.randint(0, 10**9)}", kind="clinic")
    ClinicSettings.objects.create(organization=org, min_notice_minutes=60, max_days_ahead=DAYS)
    pros = Professional.objects.bulk_create([Professional(organization=org, name=f"P{i}") for i in range(PROS)])
    svc = Service.objects.create(organization=org, name="Consulta", duration_minutes=30, buffer_after_minutes=10)
    svc.professionals.set(pros)
    WeeklySchedule.objects.bulk_create([
        WeeklySchedule(organization=org, professional=p, weekday=wd, start_time=a, end_time=b)
        for p in pros for wd in range(5) for a, b in ((time(8), time(12)), (time(13), time(18)))])
    patients = Patient.objects.bulk_create([Patient(organization=org, name=f"Pac {i}", phone=f"+55119{i:08d}")
                                            for i in range(2000)])
    zone = ZoneInfo(org.timezone)
    today = now.astimezone(zone).date()
    workdays = [today + timedelta(days=d) for d in range(1, DAYS + 1) if (today + timedelta(days=d)).weekday() < 5]
    # 45-minute steps (30 min + 10 min buffer fit): 08:00 ... 11:00 and 13:00 ... 16:45, no overlaps
    grid = [(datetime.combine(today, time(8)) + timedelta(minutes=45 * i)).time() for i in range(5)] + [
        (datetime.combine(today, time(13)) + timedelta(minutes=45 * i)).time() for i in range(6)]
    taken: set = set()
    rows = []
    rng = random.Random(7)
    while len(rows) < APPOINTMENTS:
        p = rng.choice(pros)
        d = rng.choice(workdays)
        t = rng.choice(grid)
        if (p.pk, d, t) in taken:
            continue
        taken.add((p.pk, d, t))
        start = datetime.combine(d, t, zone)
        rows.append(Appointment(organization=org, professional=p, service=svc, patient=rng.choice(patients),
                                start=start, end=start + timedelta(minutes=30), block_start=start,
                                block_end=start + timedelta(minutes=40), status="booked", created_at=now))
    Appointment.objects.bulk_create(rows, batch_size=2000)
    return org, svc, pros


def naive_next_free(org, svc, pros, start: datetime, limit: int = 10) -> list:
    """The ORM-only way: per candidate start, one query for the day's schedules and one
    ``exists()`` for an overlapping appointment."""
    from central.core.holidays import holiday_name
    from central.scheduling.models import Appointment, WeeklySchedule

    zone = ZoneInfo(org.timezone)
    found = []
    day = start.astimezone(zone).date()
    while len(found) < limit and day <= start.date() + timedelta(days=DAYS):
        if holiday_name(day, "SP"):
            day += timedelta(days=1)
            continue
        for p in pros:
            for rule in WeeklySchedule.objects.filter(professional=p, weekday=day.weekday()):
                t = datetime.combine(day, rule.start_time, zone)
                end = datetime.combine(day, rule.end_time, zone)
                while t + svc.duration <= end:
                    if t >= start and not Appointment.objects.filter(
                            professional=p, status__in=("held", "booked", "confirmed", "checked_in", "completed"),
                            block_start__lt=t + svc.duration + svc.after, block_end__gt=t).exists():
                        found.append((t, p.pk))
                    t += timedelta(minutes=15)
        day += timedelta(days=1)
    found.sort()
    return found[:limit]


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def report(name, samples):
    ms = [s * 1000 for s in samples]
    print(f"{name:<28} n={len(ms):>4}  p50={statistics.median(ms):7.2f} ms  p95={pct(ms, .95):7.2f} ms  "
          f"max={max(ms):7.2f} ms")


def main() -> None:
    queries = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    naive_queries = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    setup_django()
    from django.db import connection
    from django.utils import timezone

    from central.scheduling import services

    now = timezone.now()
    t0 = clock.perf_counter()
    org, svc, pros = build(now)
    print(f"database: {connection.vendor}; built {PROS} professionals, {APPOINTMENTS} appointments over {DAYS} days "
          f"in {clock.perf_counter() - t0:.1f} s")
    rng = random.Random(11)
    starts = [now + timedelta(minutes=rng.randint(0, (DAYS - 8) * 24 * 60)) for _ in range(queries)]
    # warm-up (imports, connection, caches)
    services.find_slots(org, svc, start=starts[0], limit=10, now=now)

    any_pro, one_pro = [], []
    for s in starts:
        t = clock.perf_counter()
        got = services.find_slots(org, svc, start=s, limit=10, now=now)
        any_pro.append(clock.perf_counter() - t)
        assert len(got) == 10
        p = rng.choice(pros)
        t = clock.perf_counter()
        got = services.find_slots(org, svc, professional=p, start=s, limit=10, now=now)
        one_pro.append(clock.perf_counter() - t)
        assert len(got) == 10
    naive = []
    for s in starts[:naive_queries]:
        t = clock.perf_counter()
        got = naive_next_free(org, svc, pros, max(s, now + timedelta(hours=1)))
        naive.append(clock.perf_counter() - t)
        fast = services.find_slots(org, svc, start=s, limit=10, now=now)
        assert [(x.start, x.professional_id) for x in fast] == got, "naive and service disagree"
    report("service, any professional", any_pro)
    report("service, one professional", one_pro)
    report("naive ORM, any professional", naive)


if __name__ == "__main__":
    main()
