"""Bench: 10,000 due appointment reminders sent to the WhatsApp Cloud API simulator.

A clinic with one WhatsApp number (the simulator's, ``central.messaging.simulator``, over
real HTTP on loopback), 50 professionals and 10,000 patients who gave consent (messaging
contacts with ``opted_in_at``), each with one booked appointment whose 24 h reminder
becomes due during the run: due times spread evenly over ``--spread`` seconds (0: all
due at once, a backlog after downtime). In this one process:

* the periodic job ``scheduling.reminders.send_due_reminders`` runs every ``--every``
  seconds (production: every 60 s, ``scheduling/schedules.py``), claims and queues each
  reminder (the approved template ``lembrete_consulta``, outside the 24 h window) through
  messaging's service functions;
* messaging's sender (``central.messaging.sender.Sender``, the production loop with its
  pacer: 80 messages/s per number by default, ``CENTRAL_WHATSAPP_NUMBER_RATE``) takes them
  to the simulator, which enforces Meta's limits (130429 / 131056 would be counted).

Reported: reminders queued per second by the job, messages accepted by the simulator per
second, the delay from each reminder's due time to its acceptance by the simulator
(p50/p95/max), and checks: exactly one reminder per appointment, no rate-limit error.

    .venv/bin/python bench/scheduling_reminders.py [--reminders 10000] [--spread 120] [--every 5]

Database: SQLite in a temporary data dir, or DATABASE_URL (PostgreSQL; use a scratch
database: the schema is migrated into it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time as clock
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROS = 50
PNID = "109000000000001"
TOKEN_ENV = "CENTRAL_TENANT_SECRET_BENCH_REMINDERS_TOKEN"
SECRET_ENV = "CENTRAL_TENANT_SECRET_BENCH_REMINDERS_APP"
#: The template the agenda sends (scheduling/notify.py): 4 parameters, 3 quick replies.
TEMPLATE_BUTTONS = [{"type": "QUICK_REPLY", "text": t} for t in ("Confirmar", "Remarcar", "Cancelar")]


def setup_django() -> None:
    os.environ.setdefault("CENTRAL_DATA_DIR", tempfile.mkdtemp(prefix="sched-reminders-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
    os.environ[TOKEN_ENV] = secrets.token_urlsafe(24)
    os.environ[SECRET_ENV] = secrets.token_urlsafe(24)
    import logging

    import django

    django.setup()
    logging.getLogger("central").setLevel(logging.ERROR)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build(n: int, first_due: datetime, spread: float):
    """The clinic, its number and template, consenting patients and their appointments."""
    from central.core.models import Organization
    from central.messaging.models import Contact, Template, WhatsAppNumber
    from central.scheduling import notify
    from central.scheduling.models import (
        Appointment,
        ClinicSettings,
        Patient,
        Professional,
        Service,
    )

    org = Organization.objects.create(name="Clínica Lembretes", slug=f"bench-rem-{secrets.token_hex(4)}",
                                      kind="clinic")
    ClinicSettings.objects.create(organization=org, reminder_offsets=[1440], reminders_enabled=True)
    number = WhatsAppNumber.objects.create(organization=org, phone_number_id=PNID, display_number="+5511300000009",
                                           name="Clínica", access_token_env=TOKEN_ENV, app_secret_env=SECRET_ENV,
                                           use_simulator=True)
    Template.objects.create(organization=org, number=number, name=notify.REMINDER_TEMPLATE, language="pt_BR",
                            body=notify.REMINDER_TEMPLATE_BODY, buttons=TEMPLATE_BUTTONS)
    # One professional per appointment: the 10,000 start within --spread seconds of each other.
    pros = Professional.objects.bulk_create([Professional(organization=org, name=f"Dra. P{i}") for i in range(n)],
                                            batch_size=2000)
    svc = Service.objects.create(organization=org, name="Consulta", duration_minutes=30)
    phones = [f"+55119{70000000 + i:08d}" for i in range(n)]
    patients = Patient.objects.bulk_create([Patient(organization=org, name=f"Paciente {i}", phone=p)
                                            for i, p in enumerate(phones)], batch_size=2000)
    Contact.objects.bulk_create([Contact(organization=org, wa_id=p[1:], phone=p, name=f"Paciente {i}",
                                         opted_in_at=first_due - timedelta(days=30), consent_source="bench")
                                 for i, p in enumerate(phones)], batch_size=2000)
    rows = []
    for i, (pro, patient) in enumerate(zip(pros, patients, strict=True)):
        start = first_due + timedelta(seconds=spread * i / n) + timedelta(days=1)  # the 24 h reminder: due at -1 day
        rows.append(Appointment(organization=org, professional=pro, service=svc, patient=patient, start=start,
                                end=start + timedelta(minutes=30), block_start=start,
                                block_end=start + timedelta(minutes=30), status="booked",
                                created_at=first_due - timedelta(days=10)))
    Appointment.objects.bulk_create(rows, batch_size=2000)
    return org, number


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def run_sender(stop: threading.Event, sim_url: str) -> threading.Thread:
    from central.messaging import numbers
    from central.messaging.sender import Sender

    numbers.allow_simulator(sim_url)
    os.environ[numbers.SIMULATOR_URL_ENV] = sim_url

    async def main():
        task = asyncio.create_task(Sender(poll=0.2).run())
        while not stop.is_set():
            await asyncio.sleep(0.1)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    thread = threading.Thread(target=lambda: asyncio.run(main()), name="sender", daemon=True)
    thread.start()
    return thread


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reminders", type=int, default=10_000)
    ap.add_argument("--spread", type=float, default=120.0, help="seconds over which the reminders fall due")
    ap.add_argument("--every", type=float, default=5.0, help="seconds between runs of the periodic job")
    args = ap.parse_args()
    setup_django()
    from django.db import connection
    from django.utils import timezone

    from central.messaging.models import Message
    from central.messaging.simulator import SimConfig, SimNumber, SimulatorThread
    from central.scheduling import notify
    from central.scheduling.models import ReminderSend
    from central.scheduling.reminders import send_due_reminders

    n = args.reminders
    t0 = clock.perf_counter()
    first_due = timezone.now() + timedelta(seconds=20)  # after the build
    org, number = build(n, first_due, args.spread)
    print(f"database: {connection.vendor}; built {n} appointments, reminders due from "
          f"{first_due:%H:%M:%S} over {args.spread:.0f} s, in {clock.perf_counter() - t0:.1f} s")
    sim_number = SimNumber(PNID, number.display_number, "waba-bench", os.environ[TOKEN_ENV], os.environ[SECRET_ENV],
                           templates=[{"name": notify.REMINDER_TEMPLATE, "language": "pt_BR", "category": "UTILITY",
                                       "status": "APPROVED", "body": notify.REMINDER_TEMPLATE_BODY,
                                       "buttons": TEMPLATE_BUTTONS}])
    # Status webhooks go nowhere (no web server here) and are dropped at once.
    config = SimConfig(auto_read=False, webhook_retry_seconds=0.0)
    with SimulatorThread("http://127.0.0.1:9/webhooks/whatsapp", [sim_number], config) as sim:
        stop = threading.Event()
        sender = run_sender(stop, sim.url)
        queued_at: list[float] = []
        job_time = 0.0
        while True:
            wait = (first_due - timezone.now()).total_seconds()
            if wait > 0:
                clock.sleep(min(wait, args.every))
                continue
            started = clock.perf_counter()
            counts = send_due_reminders()
            job_time += clock.perf_counter() - started
            queued_at.append(counts["sent"])
            done = ReminderSend.objects.filter(organization=org).count()
            if done >= n:
                break
            clock.sleep(max(0.0, args.every - (clock.perf_counter() - started)))
        deadline = clock.monotonic() + 600
        while len(sim.sent) < n and clock.monotonic() < deadline:
            clock.sleep(0.2)
        stop.set()
        sender.join(10)
        accepted = list(sim.sent)
        rejected = dict(sim.rejected)
    sends = list(ReminderSend.objects.filter(organization=org).values_list("status", flat=True))
    by_status = {s: sends.count(s) for s in set(sends)}
    msgs = Message.objects.filter(organization=org, direction="out")
    sent_at = dict(msgs.exclude(sent_at=None).values_list("id", "sent_at"))
    due = {}
    for detail, due_at in ReminderSend.objects.filter(organization=org, status="sent").values_list("detail", "due_at"):
        due[int(detail)] = due_at
    delays = [(sent_at[mid] - due[mid]).total_seconds() for mid in due if mid in sent_at]
    times = sorted(s.at for s in accepted)
    print(f"reminder rows: {by_status}; messages queued: {msgs.count()}, accepted by the simulator: "
          f"{len(accepted)}, simulator errors by code: {rejected or 'none'}")
    print(f"job: {sum(queued_at)} reminders queued in {job_time:.1f} s of job time "
          f"({sum(queued_at) / job_time:.0f}/s), {len(queued_at)} runs every {args.every:g} s")
    if len(times) > 1:
        print(f"simulator accepted {len(times)} messages in {times[-1] - times[0]:.1f} s "
              f"({(len(times) - 1) / (times[-1] - times[0]):.1f}/s; pacer limit "
              f"{os.environ.get('CENTRAL_WHATSAPP_NUMBER_RATE') or 80}/s per number)")
    if delays:
        print(f"delay due -> accepted by the simulator: p50={statistics.median(delays):.1f} s "
              f"p95={pct(delays, .95):.1f} s max={max(delays):.1f} s (n={len(delays)})")
    assert by_status.get("sent") == n and len(accepted) == n, "every reminder sent exactly once"
    per_phone = {}
    for s in accepted:
        per_phone[s.to] = per_phone.get(s.to, 0) + 1
    assert max(per_phone.values()) == 1, "one reminder per patient"


if __name__ == "__main__":
    main()
