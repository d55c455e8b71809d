"""Hold, book, confirm, cancel, reschedule through the service functions; audit; hold expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from central.scheduling import services, states
from central.scheduling.models import Appointment, AppointmentEvent, ScheduleException

from .conftest import FRIDAY_NOW, MONDAY_9

pytestmark = pytest.mark.django_db


def test_find_slots_skips_booked_time_with_buffer(clinic):
    from zoneinfo import ZoneInfo

    sp = ZoneInfo("America/Sao_Paulo")
    monday_8 = MONDAY_9 - timedelta(hours=1)

    def hhmm(slots):
        return [s.start.astimezone(sp).strftime("%a %H:%M") for s in slots]

    slots = services.find_slots(clinic.org, clinic.service, professional=clinic.ana, now=FRIDAY_NOW,
                                start=monday_8, limit=3)
    assert hhmm(slots) == ["Mon 08:00", "Mon 08:15", "Mon 08:30"]
    hold = services.hold_slot(clinic.org, patient=clinic.patient, token=slots[0].token, now=FRIDAY_NOW,
                              channel="whatsapp", actor_label="assistente")
    assert hold.status == states.HELD and hold.block_end == hold.end + timedelta(minutes=10)
    again = services.find_slots(clinic.org, clinic.service, professional=clinic.ana, now=FRIDAY_NOW,
                                start=monday_8, limit=2)
    assert hhmm(again) == ["Mon 08:45", "Mon 09:00"]  # 08:00-08:30 + 10 min buffer


def test_hold_then_book_confirm_checkin_complete_audited(clinic, tenants):
    hold = services.hold_slot(clinic.org, patient=clinic.patient, service=clinic.service, professional=clinic.ana,
                              start=MONDAY_9, now=FRIDAY_NOW, channel="whatsapp", actor_label="assistente")
    services.book(hold, actor_label="paciente", channel="whatsapp", now=FRIDAY_NOW)
    services.confirm(hold, actor=tenants["alice"], channel="staff")
    services.check_in(hold, actor=tenants["alice"], channel="staff")
    services.complete(hold, actor=tenants["alice"], channel="staff")
    events = list(AppointmentEvent.objects.filter(appointment=hold).values_list("from_status", "to_status",
                                                                                  "channel", "actor_label"))
    assert events == [("", "held", "whatsapp", "assistente"), ("held", "booked", "whatsapp", "paciente"),
                      ("booked", "confirmed", "staff", "alice"), ("confirmed", "checked_in", "staff", "alice"),
                      ("checked_in", "completed", "staff", "alice")]


def test_illegal_transition_refused_in_portuguese(clinic):
    hold = services.hold_slot(clinic.org, patient=clinic.patient, service=clinic.service, professional=clinic.ana,
                              start=MONDAY_9, now=FRIDAY_NOW)
    with pytest.raises(services.InvalidTransition, match="de “reservado” para “concluído”"):
        services.complete(hold)
    assert Appointment.objects.get(pk=hold.pk).status == states.HELD


def test_cancel_needs_reason_and_who(clinic):
    appt = services.book(services.hold_slot(clinic.org, patient=clinic.patient, service=clinic.service,
                                            professional=clinic.ana, start=MONDAY_9, now=FRIDAY_NOW), now=FRIDAY_NOW)
    with pytest.raises(services.InvalidTransition, match="motivo"):
        services.cancel(appt, by="patient", reason="")
    services.cancel(appt, by="clinic", reason="médica doente", actor_label="recepção")
    appt.refresh_from_db()
    assert (appt.status, appt.cancelled_by, appt.cancel_reason) == ("cancelled", "clinic", "médica doente")
    # the slot is free again
    assert services.hold_slot(clinic.org, patient=clinic.patient, service=clinic.service, professional=clinic.ana,
                              start=MONDAY_9, now=FRIDAY_NOW).status == states.HELD


def test_double_hold_refused_and_expired_hold_released(clinic):
    kw = dict(patient=clinic.patient, service=clinic.service, professional=clinic.ana, start=MONDAY_9)
    first = services.hold_slot(clinic.org, now=FRIDAY_NOW, **kw)
    with pytest.raises(services.SlotUnavailable):
        services.hold_slot(clinic.org, now=FRIDAY_NOW + timedelta(minutes=5), **kw)
    # overlapping by the buffer only: 09:35 starts inside 09:00-09:30 + 10 min
    with pytest.raises(services.SlotUnavailable):
        services.hold_slot(clinic.org, check_schedule=False, now=FRIDAY_NOW,
                           **{**kw, "start": MONDAY_9 + timedelta(minutes=35)})
    later = FRIDAY_NOW + timedelta(minutes=11)
    with pytest.raises(services.HoldExpired):
        services.book(first, now=later)
    second = services.hold_slot(clinic.org, now=later, **kw)  # the stale hold is expired on the way
    first.refresh_from_db()
    assert first.status == states.EXPIRED and second.status == states.HELD


def test_expire_holds_job(clinic):
    hold = services.hold_slot(clinic.org, patient=clinic.patient, service=clinic.service, professional=clinic.ana,
                              start=MONDAY_9, now=FRIDAY_NOW)
    assert services.expire_holds(FRIDAY_NOW + timedelta(minutes=5)) == 0
    assert services.expire_holds(FRIDAY_NOW + timedelta(minutes=10)) == 1
    assert services.expire_holds(FRIDAY_NOW + timedelta(minutes=10)) == 0
    hold.refresh_from_db()
    assert hold.status == states.EXPIRED
    assert hold.events.last().reason == "reserva expirada"


def test_outside_schedule_and_time_off_refused(clinic):
    with pytest.raises(services.SlotUnavailable):  # 12:00 is lunch
        services.hold_slot(clinic.org, patient=clinic.patient, service=clinic.service, professional=clinic.ana,
                           start=MONDAY_9 + timedelta(hours=3), now=FRIDAY_NOW)
    ScheduleException.objects.create(organization=clinic.org, professional=clinic.ana, start=MONDAY_9,
                                     end=MONDAY_9 + timedelta(hours=1), reason="congresso")
    with pytest.raises(services.SlotUnavailable):
        services.hold_slot(clinic.org, patient=clinic.patient, service=clinic.service, professional=clinic.ana,
                           start=MONDAY_9, now=FRIDAY_NOW)
    # the other professional is free then
    services.hold_slot(clinic.org, patient=clinic.patient, service=clinic.service, professional=clinic.bruno,
                       start=MONDAY_9, now=FRIDAY_NOW)


def test_reschedule_links_old_and_new_even_overlapping(clinic):
    appt = services.book(services.hold_slot(clinic.org, patient=clinic.patient, service=clinic.service,
                                            professional=clinic.ana, start=MONDAY_9, now=FRIDAY_NOW), now=FRIDAY_NOW)
    new = services.reschedule(appt, start=MONDAY_9 + timedelta(minutes=15), reason="paciente pediu",
                              channel="whatsapp", now=FRIDAY_NOW)
    appt.refresh_from_db()
    assert appt.status == states.RESCHEDULED and new.status == states.BOOKED
    assert new.rescheduled_from_id == appt.pk and appt.rescheduled_to.pk == new.pk
    # a refused move changes nothing
    with pytest.raises(services.SlotUnavailable):
        services.reschedule(new, start=MONDAY_9 + timedelta(hours=3), now=FRIDAY_NOW)
    new.refresh_from_db()
    assert new.status == states.BOOKED


def test_slot_token_is_tenant_bound(clinic):
    from .conftest import make_clinic

    other = make_clinic("Outra", "outra")
    token = services.find_slots(clinic.org, clinic.service, now=FRIDAY_NOW, limit=1)[0].token
    with pytest.raises(services.SlotUnavailable):
        services.hold_slot(other.org, patient=other.patient, token=token, now=FRIDAY_NOW)
    with pytest.raises(services.SlotUnavailable):
        services.hold_slot(clinic.org, patient=clinic.patient, token=token[:-2] + "xx", now=FRIDAY_NOW)


def test_patients_by_phone(clinic):
    p, created = services.get_or_create_patient(clinic.org, "(11) 98765-4321")
    assert (p.pk, created) == (clinic.patient.pk, False)
    q, created = services.get_or_create_patient(clinic.org, "21 99876 5432", name="Rui")
    assert created and q.phone == "+5521998765432"
    assert services.find_patient(clinic.org, "+55 21 99876-5432") == q
    with pytest.raises(services.SchedulingError, match="Telefone inválido"):
        services.find_patient(clinic.org, "abc")


def test_clinic_info(clinic):
    info = services.clinic_info(clinic.org)
    assert info["locations"][0]["address"] == "Rua A, 1"
    assert {s["name"] for s in info["services"]} == {"Consulta"}
    assert info["services"][0]["price"] is None
    assert "192" in info["emergency"]


def test_per_day_limit_counts_the_whole_day(clinic):
    """The first window of find_slots starts mid-day; the limit still counts the morning's
    bookings (read from the local day's start)."""
    from central.scheduling.models import ClinicSettings

    cs = ClinicSettings.objects.get(organization=clinic.org)
    cs.per_day_limit = 1
    cs.save()  # a save, as the settings page does (availability caches the settings per version)
    services.book(services.hold_slot(clinic.org, patient=clinic.patient, service=clinic.service,
                                     professional=clinic.ana, start=MONDAY_9 - timedelta(hours=1),
                                     now=FRIDAY_NOW), now=FRIDAY_NOW)
    later = services.find_slots(clinic.org, clinic.service, professional=clinic.ana, now=FRIDAY_NOW,
                                start=MONDAY_9 + timedelta(hours=1), limit=1)
    assert later[0].start.date() > MONDAY_9.date()
    with pytest.raises(services.SlotUnavailable):
        services.hold_slot(clinic.org, patient=clinic.patient, service=clinic.service, professional=clinic.ana,
                           start=MONDAY_9 + timedelta(hours=2), now=FRIDAY_NOW)


def test_changed_schedule_is_seen_at_once(clinic):
    """Weekly rules are cached per process; a change bumps the version (signals)."""
    from central.scheduling.models import WeeklySchedule

    def first():
        return services.find_slots(clinic.org, clinic.service, professional=clinic.ana, now=FRIDAY_NOW,
                                   start=MONDAY_9 - timedelta(hours=1), limit=1)[0].start

    assert first() == MONDAY_9 - timedelta(hours=1)
    WeeklySchedule.objects.filter(professional=clinic.ana, weekday=0, start_time__hour=8).update(start_time="10:00")
    assert first() == MONDAY_9 - timedelta(hours=1)  # .update() sends no signal: still cached...
    rule = WeeklySchedule.objects.get(professional=clinic.ana, weekday=0, start_time__hour=10)
    rule.save()  # ...a save (admin, API, pages) is what changes schedules
    assert first() == MONDAY_9 + timedelta(hours=1)


def test_changed_settings_and_professionals_are_seen_at_once(clinic):
    """find_slots caches the settings, exceptions and who offers a service per config
    version; a save of any of them (or of the service's professionals) replaces the version."""
    from central.scheduling.models import ClinicSettings, ScheduleException

    def first(**kw):
        return services.find_slots(clinic.org, clinic.service, now=FRIDAY_NOW, start=MONDAY_9, limit=1, **kw)[0]

    assert first().start == MONDAY_9
    cs = ClinicSettings.objects.get(organization=clinic.org)
    cs.slot_step_minutes, cs.min_notice_minutes = 60, 60 * 24 * 4  # notice past Monday 09:00
    cs.save()
    assert first().start > MONDAY_9
    cs.min_notice_minutes = 60
    cs.save()
    assert {first().professional_id, first(professional=clinic.bruno).professional_id} == {clinic.ana.pk,
                                                                                           clinic.bruno.pk}
    clinic.ana.is_active = False
    clinic.ana.save()
    assert first().professional_id == clinic.bruno.pk
    monday_off = ScheduleException.objects.create(organization=clinic.org, professional=clinic.bruno, kind="off",
                                                  start=MONDAY_9 - timedelta(hours=2), end=MONDAY_9 + timedelta(days=1))
    assert first().start > MONDAY_9 + timedelta(hours=12)
    monday_off.delete()
    assert first().start == MONDAY_9
    clinic.service.professionals.remove(clinic.bruno)
    assert services.find_slots(clinic.org, clinic.service, now=FRIDAY_NOW, start=MONDAY_9, limit=1) == []
