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
