"""Waitlist: a freed slot is offered (hold + message) to the first matching patient; the
offer expires to the next one; accepting moves the patient's appointment."""

from __future__ import annotations

from datetime import timedelta

import pytest

from central.messaging.models import Message
from central.scheduling import services, states, waitlist
from central.scheduling.models import Appointment, Patient, WaitlistEntry
from tests.messaging.factories import contact, conversation, number

from .conftest import FRIDAY_NOW

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)


def reachable(clinic, patient):
    num = getattr(clinic, "num", None) or number(clinic.org)
    clinic.num = num
    who = contact(clinic.org, wa_id=patient.phone.lstrip("+"), phone=patient.phone, opted_in_at=FRIDAY_NOW)
    conversation(clinic.org, number_obj=num, contact_obj=who)  # wrote a minute ago: inside the window


def book(clinic, patient, start, pro=None):
    hold = services.hold_slot(clinic.org, patient=patient, service=clinic.service,
                              professional=pro or clinic.ana, start=start)
    return services.book(hold)


@pytest.fixture
def busy_monday(clinic):
    """Real time: appointments next week; Paula holds 09:00 with Dra. Ana; Rui and Sara
    are booked later in the week and want something earlier."""
    from datetime import UTC, datetime

    from django.utils import timezone

    today = timezone.now().astimezone(UTC).date()
    monday = today + timedelta(days=7 - today.weekday())
    nine = datetime.combine(monday, datetime.min.time(), UTC) + timedelta(hours=12)  # 09:00 São Paulo
    rui = Patient.objects.create(organization=clinic.org, name="Rui", phone="+5521998765432")
    sara = Patient.objects.create(organization=clinic.org, name="Sara", phone="+5531998765432")
    for p in (rui, sara):
        reachable(clinic, p)
    paula_appt = book(clinic, clinic.patient, nine)
    rui_appt = book(clinic, rui, nine + 72 * H)
    sara_appt = book(clinic, sara, nine + 73 * H)
    first = waitlist.join_waitlist(clinic.org, rui, clinic.service, current=rui_appt)
    second = waitlist.join_waitlist(clinic.org, sara, clinic.service, current=sara_appt)
    return clinic, paula_appt, (rui, rui_appt, first), (sara, sara_appt, second)


def test_freed_slot_offered_then_accepted(busy_monday, django_capture_on_commit_callbacks):
    clinic, paula_appt, (rui, rui_appt, entry), _sara = busy_monday
    with django_capture_on_commit_callbacks(execute=True):  # the offer runs after commit
        services.cancel(paula_appt, by="patient", reason="viagem")
    entry.refresh_from_db()
    assert entry.status == "offered" and entry.offer.status == states.HELD
    assert entry.offer.start == paula_appt.start and entry.offer.patient == rui
    msg = Message.objects.get(direction="out", conversation__contact__phone=rui.phone)
    assert msg.kind == "interactive" and "mais cedo" in msg.body
    # Another patient (Sara) pressing a button with Rui's offer id gets nothing.
    refused = waitlist.handle_reply(clinic.org, f"aceitar_oferta:{entry.pk}", phone=_sara[0].phone)
    assert refused["ok"] is False and "seu número" in refused["message"]
    entry.refresh_from_db()
    assert entry.status == "offered"
    result = waitlist.handle_reply(clinic.org, f"aceitar_oferta:{entry.pk}", phone=rui.phone)
    assert result["ok"]
    new = Appointment.objects.get(pk=result["appointment"])
    rui_appt.refresh_from_db()
    assert new.status == states.BOOKED and new.rescheduled_from == rui_appt
    assert rui_appt.status == states.RESCHEDULED


def test_expired_offer_goes_to_the_next_patient(busy_monday, django_capture_on_commit_callbacks):
    from django.utils import timezone

    clinic, paula_appt, (rui, _rui_appt, first), (sara, _sara_appt, second) = busy_monday
    with django_capture_on_commit_callbacks(execute=True):
        services.cancel(paula_appt, by="clinic", reason="agenda")
    first.refresh_from_db()
    assert first.status == "offered"
    later = timezone.now() + 31 * timedelta(minutes=1)
    assert waitlist.expire_offers(later) == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == "waiting" and first.offer is None and len(first.declined) == 1
    assert second.status == "offered" and second.offer.patient == sara
    # Sara declines: the slot goes back to Rui? No: he already let it expire.
    assert waitlist.handle_reply(clinic.org, f"recusar_oferta:{second.pk}", phone=sara.phone)["ok"]
    second.refresh_from_db()
    assert second.status == "waiting"
    assert not WaitlistEntry.objects.filter(status="offered").exists()
    assert not Appointment.objects.filter(status=states.HELD).exists()


def test_no_offer_for_a_later_slot(busy_monday, django_capture_on_commit_callbacks):
    clinic, _paula, (_rui, rui_appt, entry), (_sara, sara_appt, _second) = busy_monday
    # Sara's later appointment frees: Rui's current one is earlier, nothing to gain.
    with django_capture_on_commit_callbacks(execute=True):
        services.cancel(sara_appt, by="patient", reason="x")
    entry.refresh_from_db()
    assert entry.status == "waiting"
