"""Reminders: exactly once per (appointment, offset) with two workers and after downtime;
opted-out patients get nothing; template outside the 24 h window, buttons inside; the
reply drives the state machine. Messages go through the real messaging service functions
(queued rows of ``messaging.Message``)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from central.messaging.models import Message, Template
from central.scheduling import reminders, services, states
from central.scheduling.models import ReminderSend
from tests.messaging.factories import contact, conversation, number

from .conftest import FRIDAY_NOW, MONDAY_9, make_clinic
from .support import run_child

H = timedelta(hours=1)


def whatsapp(clinic, *, inbound_ago: timedelta | None = None, opted_out: bool = False):
    """The clinic's WhatsApp number with the reminder template, the patient's contact and
    a bot conversation (the assistant's) whose last inbound message was ``inbound_ago``."""
    num = number(clinic.org)
    Template.objects.create(organization=clinic.org, number=num, name="lembrete_consulta", language="pt_BR",
                            body="Olá, {{1}}! Lembrete: {{2}} com {{3}} em {{4}}. Você confirma?",
                            buttons=[{"type": "QUICK_REPLY", "text": t} for t in ("Confirmar", "Remarcar", "Cancelar")])
    who = contact(clinic.org, wa_id=clinic.patient.phone.lstrip("+"), phone=clinic.patient.phone,
                  opted_in_at=FRIDAY_NOW - 48 * H, opted_out_at=timezone.now() if opted_out else None)
    conversation(clinic.org, number_obj=num, contact_obj=who, inbound_minutes_ago=None,
                 last_inbound_at=(timezone.now() - inbound_ago) if inbound_ago is not None else None)
    return num


def booked(clinic, start=MONDAY_9, pro=None):
    hold = services.hold_slot(clinic.org, patient=clinic.patient, service=clinic.service,
                              professional=pro or clinic.ana, start=start, now=FRIDAY_NOW)
    return services.book(hold, now=FRIDAY_NOW)


@pytest.mark.django_db
def test_each_reminder_once_template_outside_window(clinic):
    whatsapp(clinic)  # the patient never wrote: window closed
    appt = booked(clinic)
    assert reminders.send_due_reminders(MONDAY_9 - 25 * H)["sent"] == 0
    day_before = MONDAY_9 - 24 * H + timedelta(minutes=1)
    assert reminders.send_due_reminders(day_before)["sent"] == 1
    assert reminders.send_due_reminders(day_before)["sent"] == 0  # run again: nothing new
    out = Message.objects.filter(direction="out")
    assert [(m.kind, m.sender) for m in out] == [("template", "bot")]
    assert "Paula" in out[0].body and "Dra. Ana" in out[0].body
    assert reminders.send_due_reminders(MONDAY_9 - 2 * H)["sent"] == 1
    assert list(ReminderSend.objects.filter(appointment=appt).order_by("-offset_minutes")
                .values_list("offset_minutes", "status", "kind")) == [(1440, "sent", "template"),
                                                                     (120, "sent", "template")]


@pytest.mark.django_db
def test_inside_window_interactive_buttons_and_reply_confirms(clinic):
    whatsapp(clinic, inbound_ago=H)
    appt = booked(clinic)
    now = timezone.now()
    # the same appointment, seen from a "now" 2 h before it: shift it to real time
    from central.scheduling.models import Appointment

    Appointment.objects.filter(pk=appt.pk).update(start=now + 110 * timedelta(minutes=1),
                                                   end=now + 140 * timedelta(minutes=1),
                                                   block_start=now + 110 * timedelta(minutes=1),
                                                   block_end=now + 150 * timedelta(minutes=1),
                                                   created_at=now - 48 * H)
    counts = reminders.send_due_reminders(now)
    assert counts["sent"] == 1 and counts["skipped"] == 1  # the missed 24 h one is not sent late
    msg = Message.objects.get(direction="out")
    assert msg.kind == "interactive"
    ids = [b["reply"]["id"] for b in msg.payload["interactive"]["action"]["buttons"]]
    assert ids == [f"confirmar:{appt.pk}", f"remarcar:{appt.pk}", f"cancelar:{appt.pk}"]
    # A button id names an appointment: another number pressing it changes nothing.
    refused = reminders.handle_reply(clinic.org, ids[2], phone="+5599999999999")
    assert refused["ok"] is False and "seu número" in refused["message"]
    appt.refresh_from_db()
    assert appt.status == states.BOOKED
    result = reminders.handle_reply(clinic.org, ids[0], phone=clinic.patient.phone)
    appt.refresh_from_db()
    assert result["ok"] and appt.status == states.CONFIRMED
    assert appt.events.last().channel == "whatsapp"
    assert ReminderSend.objects.get(appointment=appt, offset_minutes=120).replied == "confirmar"


@pytest.mark.django_db
def test_template_quick_reply_by_label_and_phone(clinic):
    whatsapp(clinic)
    appt = booked(clinic)
    reminders.send_due_reminders(MONDAY_9 - 2 * H)
    assert reminders.handle_reply(clinic.org, "Cancelar", phone="+5599999999999") is None  # someone else
    assert reminders.handle_reply(clinic.org, "bom dia", phone=clinic.patient.phone) is None
    result = reminders.handle_reply(clinic.org, "Cancelar", phone=clinic.patient.phone, now=FRIDAY_NOW)
    appt.refresh_from_db()
    assert result["ok"] and appt.status == states.CANCELLED and appt.cancelled_by == "patient"


@pytest.mark.django_db
def test_reschedule_reply_offers_slots(clinic):
    whatsapp(clinic)
    appt = booked(clinic)
    result = reminders.handle_reply(clinic.org, f"remarcar:{appt.pk}", phone=clinic.patient.phone, now=FRIDAY_NOW)
    assert result["ok"] and result["slots"] and all(s.professional_id == clinic.ana.pk for s in result["slots"])
    new = services.reschedule(appt, token=result["slots"][0].token, channel="whatsapp", now=FRIDAY_NOW)
    assert new.status == states.BOOKED


@pytest.mark.django_db
def test_after_downtime_only_the_closest_is_sent_and_past_ones_skipped(clinic):
    whatsapp(clinic)
    soon = booked(clinic)  # Monday 09:00
    past = booked(clinic, start=MONDAY_9 - H, pro=clinic.bruno)  # Monday 08:00
    # down from Friday until Monday 08:30: both reminders of 09:00 were missed, and 08:00 is past
    counts = reminders.send_due_reminders(MONDAY_9 - H / 2)
    assert counts["sent"] == 1
    assert dict(ReminderSend.objects.filter(appointment=soon).values_list("offset_minutes", "status")) == {
        1440: "skipped", 120: "sent"}
    assert not ReminderSend.objects.filter(appointment=past).exists()


@pytest.mark.django_db
def test_opted_out_patient_gets_nothing(clinic):
    whatsapp(clinic, opted_out=True)
    appt = booked(clinic)
    counts = reminders.send_due_reminders(MONDAY_9 - 2 * H)
    assert counts["opted_out"] == 1 and counts["sent"] == 0
    assert not Message.objects.filter(direction="out").exists()
    assert dict(ReminderSend.objects.filter(appointment=appt).values_list("offset_minutes", "status")) == {
        1440: "skipped", 120: "opted_out"}


@pytest.mark.django_db(transaction=True)
def test_two_workers_send_each_reminder_exactly_once(tmp_path):
    clinic = make_clinic()
    whatsapp(clinic)
    for i, pro in enumerate([clinic.ana, clinic.bruno] * 5):
        booked(clinic, start=MONDAY_9 - H + (i // 2) * timedelta(minutes=45), pro=pro)
    now = MONDAY_9 - 20 * H  # every 24 h reminder is due, no 2 h one yet
    if connection.vendor == "sqlite":
        counts, path = run_child({"job": "reminders", "now": now.isoformat(), "workers": 2}, tmp_path)
        with sqlite3.connect(path) as db:
            sends = db.execute("SELECT status, COUNT(*) FROM scheduling_remindersend GROUP BY status").fetchall()
            messages = db.execute("SELECT COUNT(*) FROM messaging_message WHERE direction = 'out'").fetchone()[0]
    else:
        import threading

        barrier = threading.Barrier(2)
        counts = Counter()

        def worker():
            try:
                barrier.wait()
                counts.update(reminders.send_due_reminders(now))
            finally:
                connection.close()

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        from django.db.models import Count

        sends = list(ReminderSend.objects.values_list("status").annotate(n=Count("id")))
        messages = Message.objects.filter(direction="out").count()
    assert dict(sends) == {"sent": 10}
    assert messages == 10
    assert counts["sent"] == 10 and counts["claimed_elsewhere"] + counts["sent"] >= 10
    assert not [k for k in counts if k.startswith("error")]


@pytest.mark.django_db
def test_reminded_appointments_do_not_starve_later_ones(clinic, monkeypatch):
    """The job reads a batch of appointments per run; appointments whose due reminders are
    all done must not fill the batch and hide one that is due."""
    whatsapp(clinic)
    first = booked(clinic, start=MONDAY_9 - H)  # 08:00
    second = booked(clinic, start=MONDAY_9 - H, pro=clinic.bruno)
    third = booked(clinic, start=MONDAY_9 + 2 * H)  # 11:00
    reminders.send_due_reminders(MONDAY_9 - 24 * H)  # the 08:00 ones' 24 h reminders go
    assert ReminderSend.objects.filter(appointment__in=[first, second], status="sent").count() == 2
    monkeypatch.setattr(reminders, "BATCH", 2)
    counts = reminders.send_due_reminders(MONDAY_9 - 21 * H)  # 11:00's 24 h reminder is due now
    assert counts["sent"] == 1
    assert ReminderSend.objects.get(appointment=third).offset_minutes == 1440
