"""Row factories of the agenda's models for the tenant isolation walker."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from tests.factories import factory, unique


def _pro(org):
    from central.scheduling.models import Professional

    return Professional.objects.create(organization=org, name=unique("Dra. "), specialty="segredo")


def _service(org, pro=None):
    from central.scheduling.models import Service

    s = Service.objects.create(organization=org, name=unique("Serviço "), duration_minutes=30)
    s.professionals.set([pro or _pro(org)])
    return s


def _patient(org):
    import random

    from central.scheduling.models import Patient

    return Patient.objects.create(organization=org, name=unique("Paciente "),
                                  phone=f"+55119{random.randint(10_000_000, 99_999_999)}")


@factory("scheduling.location")
def _location(org):
    from central.scheduling.models import Location

    return Location.objects.create(organization=org, name=unique("Local "), address="Rua Secreta, 1")


@factory("scheduling.professional")
def _professional(org):
    return _pro(org)


@factory("scheduling.service")
def _svc(org):
    return _service(org)


@factory("scheduling.patient")
def _pat(org):
    return _patient(org)


@factory("scheduling.weeklyschedule")
def _weekly(org):
    from central.scheduling.models import WeeklySchedule

    return WeeklySchedule.objects.create(organization=org, professional=_pro(org), weekday=0,
                                         start_time=time(8), end_time=time(12))


@factory("scheduling.scheduleexception")
def _exception(org):
    from central.scheduling.models import ScheduleException

    start = datetime(2030, 1, 7, 12, tzinfo=UTC)
    return ScheduleException.objects.create(organization=org, professional=_pro(org), start=start,
                                            end=start + timedelta(hours=2), reason="segredo")


def _appt(org, status="booked"):
    from central.scheduling.models import Appointment

    pro = _pro(org)
    start = datetime(2030, 1, 7, 12, tzinfo=UTC)
    return Appointment.objects.create(organization=org, professional=pro, service=_service(org, pro),
                                      patient=_patient(org), start=start, end=start + timedelta(minutes=30),
                                      block_start=start, block_end=start + timedelta(minutes=30), status=status)


@factory("scheduling.appointment")
def _appointment(org):
    return _appt(org)


@factory("scheduling.appointmentevent")
def _event(org):
    from central.scheduling.models import AppointmentEvent

    a = _appt(org)
    return AppointmentEvent.objects.create(organization=org, appointment=a, from_status="", to_status="booked")


@factory("scheduling.waitlistentry")
def _waitlist(org):
    from central.scheduling.models import WaitlistEntry

    pro = _pro(org)
    return WaitlistEntry.objects.create(organization=org, patient=_patient(org), service=_service(org, pro))


@factory("scheduling.remindersend")
def _reminder(org):
    from central.scheduling.models import ReminderSend

    a = _appt(org)
    return ReminderSend.objects.create(organization=org, appointment=a, offset_minutes=120,
                                       due_at=a.start - timedelta(hours=2), status="sent")


@factory("scheduling.clinicsettings")
def _settings(org):
    from central.scheduling.models import ClinicSettings

    return ClinicSettings.objects.create(organization=org, city="Segredópolis")
