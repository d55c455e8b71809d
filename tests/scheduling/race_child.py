"""A process of concurrent clients for the race tests (SQLite pass).

The SQLite test database is in memory with a shared cache (table locks, no busy wait),
unlike a real installation, so the race tests copy it to a file and run the clients here,
with ``DATABASE_URL`` pointing at that file: the production settings apply (WAL,
``BEGIN IMMEDIATE``, busy timeout). Each client thread has its own connection and waits
on a barrier. Jobs: ``hold`` (hold and book one slot, tests/scheduling/test_booking_race.py)
and ``reminders`` (the periodic reminder job, tests/scheduling/test_reminders.py).
Run as ``python -m tests.scheduling.race_child ARGS_JSON``; prints the outcome as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections import Counter
from datetime import datetime


def main() -> None:
    args = json.loads(sys.argv[1])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
    import django

    django.setup()
    from django.db import connection

    from central.core.models import Organization
    from central.scheduling import services
    from central.scheduling.models import Patient, Service

    if args["job"] == "reminders":
        run_reminders(args)
        return
    org = Organization.objects.get(pk=args["org"])
    service = Service.objects.get(pk=args["service"])
    patients = list(Patient.objects.filter(pk__in=args["patients"]))
    start = datetime.fromisoformat(args["start"])
    now = datetime.fromisoformat(args["now"])
    connection.close()
    barrier = threading.Barrier(len(patients))
    outcome: Counter = Counter()
    lock = threading.Lock()

    def client(patient):
        try:
            barrier.wait()
            try:
                hold = services.hold_slot(org, patient=patient, service=service, professional=args["professional"],
                                          start=start, now=now, channel="whatsapp")
                services.book(hold, now=now)
                result = "booked"
            except services.SlotUnavailable:
                result = "refused"
            except Exception as exc:
                result = f"error: {type(exc).__name__}: {exc}"
            with lock:
                outcome[result] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(p,)) for p in patients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(outcome))


def run_reminders(args) -> None:
    from django.db import connection

    from central.scheduling.reminders import send_due_reminders

    now = datetime.fromisoformat(args["now"])
    workers = args["workers"]
    barrier = threading.Barrier(workers)
    total: Counter = Counter()
    lock = threading.Lock()

    def worker():
        try:
            barrier.wait()
            counts = send_due_reminders(now)
            with lock:
                total.update(counts)
        except Exception as exc:
            with lock:
                total[f"error: {type(exc).__name__}: {exc}"] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(total))


if __name__ == "__main__":
    main()
