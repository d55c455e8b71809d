"""The offline engine behind messaging's responder hook, on the real agenda (database)."""

from __future__ import annotations

from central.assistant.models import AssistantSession
from tests.assistant.conftest import option_ids


def _book(t):
    out = t.chat.say("oi, quero marcar uma consulta")
    assert sorted(option_ids(out[-1])) == sorted([f"pro:{t.ana.pk}", f"pro:{t.bruno.pk}", "pro:0"])
    out = t.chat.say(reply_id="pro:0", title="Qualquer um")
    days = option_ids(out[-1])
    assert days and days[0].startswith("day:")
    out = t.chat.say(reply_id=days[0])
    times = option_ids(out[-1])
    assert times and times[0].startswith("slot:")
    out = t.chat.say(reply_id=times[0])
    (summary,) = out
    ok, change, stop = option_ids(summary)
    assert ok.startswith("ok:") and (change, stop) == ("chg", "stop")
    return summary, ok


def test_booking_only_after_the_confirm_button(chat):
    from central.scheduling.models import Appointment

    summary, ok = _book(chat)
    appt = Appointment.objects.get(patient=chat.patient)
    assert appt.status == "held" and appt.channel == "whatsapp"
    assert "Consulta" in summary.body and "Confirmar" in summary.body
    chat.chat.say("sim pode confirmar")  # text is not the button
    chat.chat.say(reply_id="ok:forged-nonce", title="Confirmar")  # a button of no summary
    appt.refresh_from_db()
    assert appt.status == "held"
    out = chat.chat.say(reply_id=ok, title="Confirmar")
    appt.refresh_from_db()
    assert appt.status == "booked"
    assert out[0].body.startswith("Agendado!")
    # The same button again books nothing more.
    chat.chat.say(reply_id=ok, title="Confirmar")
    assert Appointment.objects.filter(patient=chat.patient).count() == 1


def test_forged_slot_id_is_refused(chat):
    from central.scheduling.models import Appointment

    chat.chat.say("quero marcar")
    days = option_ids(chat.chat.say(reply_id="pro:0")[-1])
    times = option_ids(chat.chat.say(reply_id=days[0])[-1])
    assert times[0].startswith("slot:")
    # A slot id this conversation was never given, and a raw time in its place.
    for forged in ("slot:AAAAAAAA", "slot:2030-01-07T12:00:00+00:00"):
        out = chat.chat.say(reply_id=forged)
        assert any("não está entre os oferecidos" in m.body for m in out)
    assert not Appointment.objects.filter(patient=chat.patient).exists()


def test_give_up_releases_the_hold(chat):
    from central.scheduling.models import Appointment

    _summary, _ok = _book(chat)
    chat.chat.say(reply_id="stop", title="Desistir")
    assert Appointment.objects.get(patient=chat.patient).status == "cancelled"


def test_first_time_patient_registers_with_consent(chat):
    from central.scheduling.models import Patient

    chat.contact.phone = "+5511912345678"
    chat.contact.wa_id = "5511912345678"
    chat.contact.save()
    out = chat.chat.say("quero marcar")
    assert "LGPD" in out[-1].body
    out = chat.chat.say("roberto carlos")
    patient = Patient.objects.get(organization=chat.org, phone="+5511912345678")
    assert patient.name == "Roberto Carlos"
    chat.contact.refresh_from_db()
    assert chat.contact.opted_in_at is not None
    assert option_ids(out[-1])[-1] == "pro:0"


def test_clinical_message_hands_off_with_the_emergency_text(chat):
    out = chat.chat.say("estou com dor no peito e falta de ar")
    assert "192" in out[0].body
    assert chat.chat.state() == "pending"
    assert chat.chat.say("oi") == []  # the bot is silent now


def test_two_misunderstandings_hand_off(chat):
    chat.chat.say("blorp")
    assert chat.chat.state() == "bot"
    chat.chat.say("xyzzy qwerty")
    assert chat.chat.state() == "pending"
    assert AssistantSession.objects.get(conversation=chat.conv).state["flow"]["step"] == "idle"


def test_cancel_and_reschedule(chat):
    from central.scheduling.models import Appointment

    _s, ok = _book(chat)
    chat.chat.say(reply_id=ok)
    first = Appointment.objects.get(patient=chat.patient)
    out = chat.chat.say("quero remarcar")
    times_or_days = option_ids(out[-1])
    if times_or_days[0].startswith("day:"):
        times_or_days = option_ids(chat.chat.say(reply_id=times_or_days[-1])[-1])
    out = chat.chat.say(reply_id=times_or_days[-1])
    ok2 = option_ids(out[-1])[0]
    first.refresh_from_db()
    assert first.status == "booked"  # nothing moved before the button
    chat.chat.say(reply_id=ok2)
    first.refresh_from_db()
    assert first.status == "rescheduled"
    new = Appointment.objects.get(rescheduled_from=first)
    assert new.status == "booked"
    chat.chat.say("desmarcar")
    chat.chat.say(reply_id="yes")
    new.refresh_from_db()
    assert new.status == "cancelled" and new.cancelled_by == "patient"


def test_another_patients_appointment_cannot_be_touched(chat):
    """A reminder button id naming someone else's appointment changes nothing."""
    from central.scheduling import services as agenda
    from central.scheduling.models import Patient

    other = Patient.objects.create(organization=chat.org, name="Outra", phone="+5511955554444")
    slot = agenda.find_slots(chat.org, chat.service, limit=1)[0]
    appt = agenda.book(agenda.hold_slot(chat.org, patient=other, token=slot.token))
    chat.chat.say(reply_id=f"cancelar:{appt.pk}", title="Cancelar")
    appt.refresh_from_db()
    assert appt.status == "booked"


def _booked(t, patient=None, index=0):
    from central.scheduling import services as agenda

    slot = agenda.find_slots(t.org, t.service, professional=t.ana, limit=index + 1)[index]
    return agenda.book(agenda.hold_slot(t.org, patient=patient or t.patient, token=slot.token))


def test_reminder_buttons_confirm_and_reschedule(chat):
    from central.scheduling.models import Appointment

    appt = _booked(chat)
    out = chat.chat.say(reply_id=f"confirmar:{appt.pk}", title="Confirmar")
    appt.refresh_from_db()
    assert appt.status == "confirmed" and out[0].body == "Consulta confirmada. Até lá!"
    out = chat.chat.say(reply_id=f"remarcar:{appt.pk}", title="Remarcar")
    times = option_ids(out[-1])
    assert times and all(i.startswith("slot:") for i in times)
    ok = option_ids(chat.chat.say(reply_id=times[-1])[-1])[0]
    chat.chat.say(reply_id=ok, title="Confirmar")
    appt.refresh_from_db()
    assert appt.status == "rescheduled"
    assert Appointment.objects.get(rescheduled_from=appt).status == "booked"


def test_waitlist_offer_accepted(chat, django_capture_on_commit_callbacks):
    from central.scheduling.models import Appointment, Patient, WaitlistEntry

    other = Patient.objects.create(organization=chat.org, name="Outra", phone="+5511955554444")
    early = _booked(chat, other, 0)
    mine = _booked(chat, chat.patient, 5)
    out = chat.chat.say("tem como antecipar? quero um horário mais cedo")
    assert "te aviso" in out[-1].body
    entry = WaitlistEntry.objects.get(patient=chat.patient)
    assert entry.current_id == mine.pk
    # The other patient cancels: the agenda offers the slot to the waitlist (a message here).
    from central.scheduling import services as agenda

    with django_capture_on_commit_callbacks(execute=True):  # the offer is sent after commit
        agenda.cancel(early, by="patient", reason="viagem", actor_label="paciente")
    offer = chat.chat.new()[-1]
    accept = option_ids(offer)[0]
    assert accept.startswith("aceitar_oferta:")
    chat.chat.say(reply_id=accept, title="Quero")
    mine.refresh_from_db()
    assert mine.status == "rescheduled"
    new = Appointment.objects.get(rescheduled_from=mine)
    assert new.status == "booked" and new.start == early.start


def test_address_and_opening_hours(chat):
    from central.scheduling.services import opening_hours

    assert opening_hours(chat.org) == ["seg a sex: 08:00–12:00, 13:00–18:00"]
    out = chat.chat.say("qual o endereço e o horário de funcionamento?")
    assert "Rua A, 1" in out[0].body and "seg a sex: 08:00–12:00, 13:00–18:00" in out[0].body
