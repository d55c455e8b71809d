"""No double booking: 50 clients race for one slot, exactly one wins (SQLite and PostgreSQL).

Real threads, each with its own database connection, against the test database of the
run (SQLite file or PostgreSQL server): on SQLite the hold's transaction starts with
``BEGIN IMMEDIATE`` and re-checks; on PostgreSQL the exclusion constraint decides.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection

from central.scheduling import services, states
from central.scheduling.models import Appointment, Patient

from .conftest import FRIDAY_NOW, MONDAY_9, make_clinic
from .support import run_child

CLIENTS = 50


def race(clinic, clients: int, start=MONDAY_9) -> Counter:
    patients = [Patient.objects.create(organization=clinic.org, name=f"P{i}", phone=f"+55119{i:08d}")
                for i in range(clients)]
    barrier = threading.Barrier(clients)
    outcome: Counter = Counter()
    lock = threading.Lock()

    def client(patient):
        try:
            barrier.wait()
            try:
                hold = services.hold_slot(clinic.org, patient=patient, service=clinic.service,
                                          professional=clinic.ana, start=start, now=FRIDAY_NOW,
                                          channel="whatsapp")
                services.book(hold, now=FRIDAY_NOW)
                result = "booked"
            except services.SlotUnavailable:
                result = "refused"
            except Exception as exc:  # anything else is a failure of the test, counted
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
    return outcome


def race_in_process(clinic, patients, tmp_path) -> Counter:
    """SQLite: race in a child process on a file copy of the database (tests/scheduling/support.py)."""
    import sqlite3

    args = {"job": "hold", "org": clinic.org.pk, "service": clinic.service.pk, "professional": clinic.ana.pk,
            "patients": [p.pk for p in patients], "start": MONDAY_9.isoformat(), "now": FRIDAY_NOW.isoformat()}
    outcome, path = run_child(args, tmp_path)
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT status, COUNT(*) FROM scheduling_appointment WHERE professional_id = ? "
                          "GROUP BY status", [clinic.ana.pk]).fetchall()
    assert dict(rows) == {"booked": 1}
    return outcome


@pytest.mark.django_db(transaction=True)
def test_fifty_clients_one_slot_exactly_one_booking(tmp_path):
    clinic = make_clinic()
    if connection.vendor == "sqlite":
        patients = [Patient.objects.create(organization=clinic.org, name=f"P{i}", phone=f"+55119{i:08d}")
                    for i in range(CLIENTS)]
        outcome = race_in_process(clinic, patients, tmp_path)
    else:
        outcome = race(clinic, CLIENTS)
        active = Appointment.objects.filter(professional=clinic.ana, status__in=states.ACTIVE)
        assert active.count() == 1 and active.get().status == states.BOOKED
    assert outcome == Counter({"booked": 1, "refused": CLIENTS - 1})


@pytest.mark.django_db
def test_exclusion_constraint_in_the_migration():
    """On PostgreSQL the constraint exists with the state machine's active states; the
    migration file carries it for every database (SQLite skips it at run time)."""
    from importlib import import_module

    migration = import_module("central.scheduling.migrations.0002_no_double_booking")
    from pathlib import Path

    assert "EXCLUDE USING gist" in Path(migration.__file__).read_text()
    assert "(" + ", ".join(f"'{s}'" for s in states.ACTIVE) + ")" == migration.ACTIVE
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cur:
        cur.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s",
                    [migration.CONSTRAINT])
        (definition,) = cur.fetchone()
        cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'btree_gist'")
        assert cur.fetchone()
    assert definition.startswith("EXCLUDE USING gist (professional_id WITH =, tstzrange(block_start, block_end")
    for state in states.ACTIVE:
        assert f"'{state}'" in definition


@pytest.mark.django_db(transaction=True)
def test_database_refuses_an_overlap_the_service_did_not_check():
    """The last word is the database's on PostgreSQL: a raw insert that skips the service's
    re-check still cannot overlap an active booking."""
    from django.db import IntegrityError

    clinic = make_clinic()
    hold = services.hold_slot(clinic.org, patient=clinic.patient, service=clinic.service, professional=clinic.ana,
                              start=MONDAY_9, now=FRIDAY_NOW)
    row = dict(organization=clinic.org, professional=clinic.ana, service=clinic.service, patient=clinic.patient,
               start=hold.start, end=hold.end, block_start=hold.block_start, block_end=hold.block_end,
               status=states.BOOKED)
    if connection.vendor == "postgresql":
        with pytest.raises(IntegrityError):
            Appointment.objects.create(**row)
        Appointment.objects.create(**{**row, "status": states.CANCELLED})  # inactive rows may overlap
    else:
        assert connection.vendor == "sqlite"  # no exclusion constraints: the service is the guard
