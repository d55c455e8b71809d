"""Agenda figures for the reports page (and anyone else): one function, one window.

The window is the last ``days`` days up to the end of the coming week (appointments
starting in it), so a clinic sees both what happened and what is booked. Figures:

* bookings per channel (appointments that became bookings, by the channel they came from);
* confirmation rate after reminders: of the appointments that got a reminder, how many
  were confirmed afterwards;
* no-show rate: no-shows over appointments that reached their time (checked in,
  completed or no-show);
* cancellations by patient and by clinic;
* occupancy per professional: booked minutes over scheduled minutes (weekly schedules,
  holidays closed), both inside the window.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from central.core.holidays import holidays_between

from . import states
from .models import Appointment, AppointmentEvent, Professional, ReminderSend, WeeklySchedule
from .services import settings_for

BOOKED_ONCE = (states.BOOKED, states.CONFIRMED, states.CHECKED_IN, states.COMPLETED, states.NO_SHOW,
               states.CANCELLED, states.RESCHEDULED)


def _ratio(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def summary(org, days: int = 30, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    zone = ZoneInfo(org.timezone or "America/Sao_Paulo")
    today = now.astimezone(zone).date()
    first, last = today - timedelta(days=days), today + timedelta(days=7)
    start = datetime.combine(first, time(0), zone)
    end = datetime.combine(last + timedelta(days=1), time(0), zone)
    appts = Appointment.objects.filter(organization=org, start__gte=start, start__lt=end)
    was_booked = AppointmentEvent.objects.filter(appointment=OuterRef("pk"), to_status=states.BOOKED)
    booked = appts.filter(Exists(was_booked))

    channel_labels = dict(Appointment.Channel.choices)
    per_channel = {channel_labels.get(c, c): n for c, n in
                   booked.values_list("channel").annotate(n=Count("id")).order_by("channel")}

    reminded = booked.filter(Exists(ReminderSend.objects.filter(appointment=OuterRef("pk"),
                                                                status=ReminderSend.Status.SENT)))
    confirmed_after = reminded.filter(Exists(AppointmentEvent.objects.filter(
        appointment=OuterRef("pk"), to_status=states.CONFIRMED)))
    n_reminded, n_confirmed = reminded.count(), confirmed_after.count()

    reached = appts.filter(status__in=(states.CHECKED_IN, states.COMPLETED, states.NO_SHOW))
    n_reached = reached.count()
    n_no_show = reached.filter(status=states.NO_SHOW).count()

    cancelled = appts.filter(status=states.CANCELLED).exclude(cancelled_by="")
    by = dict(cancelled.values_list("cancelled_by").annotate(n=Count("id")).order_by())
    cancellations = {str(_("paciente")): by.get(states.BY_PATIENT, 0), str(_("clínica")): by.get(states.BY_CLINIC, 0)}

    cs = settings_for(org)
    closed = set(holidays_between(first, last, cs.state, cs.city))
    weekday_count = [0] * 7
    d = first
    while d <= last:
        if d not in closed:
            weekday_count[d.weekday()] += 1
        d += timedelta(days=1)
    scheduled: dict[int, float] = {}
    for r in WeeklySchedule.objects.filter(organization=org):
        minutes = (datetime.combine(first, r.end_time) - datetime.combine(first, r.start_time)).seconds / 60
        scheduled[r.professional_id] = scheduled.get(r.professional_id, 0) + minutes * weekday_count[r.weekday]
    busy: dict[int, float] = {}
    for pro_id, s, e in appts.filter(status__in=states.ACTIVE).exclude(status=states.HELD).values_list(
            "professional_id", "start", "end"):
        busy[pro_id] = busy.get(pro_id, 0) + (e - s).total_seconds() / 60
    occupancy = []
    for p in Professional.objects.filter(organization=org, is_active=True):
        occupancy.append({"name": p.name, "booked_minutes": int(busy.get(p.pk, 0)),
                          "scheduled_minutes": int(scheduled.get(p.pk, 0)),
                          "percent": _ratio(int(busy.get(p.pk, 0)), int(scheduled.get(p.pk, 0))) or 0.0})

    return {
        "first": first, "last": last, "booked": booked.count(),
        "per_channel": per_channel,
        "reminded": n_reminded, "confirmed_after_reminder": n_confirmed,
        "confirmation_rate": _ratio(n_confirmed, n_reminded),
        "reached": n_reached, "no_show": n_no_show, "no_show_rate": _ratio(n_no_show, n_reached),
        "cancellations": cancellations,
        "occupancy": occupancy,
        "chart": {
            "channels": {"labels": list(per_channel), "values": list(per_channel.values())},
            "cancellations": {"labels": list(cancellations), "values": list(cancellations.values())},
            "occupancy": {"labels": [o["name"] for o in occupancy], "values": [o["percent"] for o in occupancy]},
        },
    }
