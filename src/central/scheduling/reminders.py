"""Appointment reminders: exactly once per (appointment, offset), on any number of workers.

The periodic job (:func:`send_due_reminders`, declared in ``schedules.py``) may run on two
workers at once and after hours of downtime. The rules:

* a reminder is *claimed* by inserting its :class:`ReminderSend` row; the unique
  constraint (appointment, offset) makes the second insert fail, so only one worker
  sends (the row is committed before the message goes out: at most once, and exactly
  once unless the worker dies between claim and send, which is recorded as ``claimed``);
* after downtime, only the closest due reminder of an appointment is sent (24 h and 2 h
  both due one hour before: the 2 h one goes, the 24 h one is recorded ``skipped``);
  an appointment already started gets nothing (the query only reads future ones);
* a reminder that was due before the booking existed is skipped (booked 3 h ahead: no
  "24 h before" message right after booking);
* an opted-out patient gets nothing (recorded ``opted_out``);
* outside the 24 h customer-service window the reminder is the approved template with
  quick replies Confirmar / Remarcar / Cancelar; inside it, an interactive message with
  the same three buttons. Each button's id is ``<action>:<appointment id>``; the
  messaging responder (or the assistant) hands it to :func:`handle_reply`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from . import notify, states, whatsapp_templates
from .models import Appointment, ClinicSettings, ReminderSend
from .services import (
    REPLIES,
    REPLY_CANCEL,
    REPLY_CONFIRM,
    REPLY_RESCHEDULE,
    SchedulingError,
    reply_to_reminder,
)

log = logging.getLogger(__name__)

BATCH = 2000
#: The three buttons of a reminder: (action, label). Template quick replies carry the label.
BUTTONS = tuple(zip((REPLY_CONFIRM, REPLY_RESCHEDULE, REPLY_CANCEL), whatsapp_templates.REMINDER_QUICK_REPLIES,
                    strict=True))


def button_id(action: str, appointment_id: int) -> str:
    return f"{action}:{appointment_id}"


def parse_button(payload: str) -> tuple[str, int] | None:
    """``("confirmar", 42)`` from ``"confirmar:42"``; None when it is not a reminder button."""
    action, _, rest = (payload or "").strip().lower().partition(":")
    if action in REPLIES and rest.isdigit():
        return action, int(rest)
    return None


def handle_reply(org, payload: str, *, phone: str, channel: str = Appointment.Channel.WHATSAPP,
                 now: datetime | None = None) -> dict | None:
    """Drive the state machine from a reminder's reply; None when it is not one.

    ``payload`` is an interactive button id (``"confirmar:42"``) or, for a template's quick
    reply (which carries only its label), "Confirmar" / "Remarcar" / "Cancelar". ``phone``
    is the number the reply came from, always: a button id names an appointment, and only
    that appointment's patient may act on it (an id is guessable, a sender's number is what
    the signed webhook vouches for). A label applies to the patient's appointment that got
    the latest reminder and is still open.
    """
    parsed = parse_button(payload)
    if parsed is not None and not Appointment.objects.filter(
            organization=org, pk=parsed[1], patient__phone=phone).exists():
        return {"ok": False, "message": _("Não encontramos esta consulta para o seu número.")}
    if parsed is None:
        action = (payload or "").strip().lower()
        if action not in REPLIES or not phone:
            return None
        last = (ReminderSend.objects.filter(organization=org, appointment__patient__phone=phone,
                                            appointment__status__in=states.OPEN,
                                            status=ReminderSend.Status.SENT)
                .order_by("-sent_at", "-id").values_list("appointment_id", flat=True).first())
        if last is None:
            return None
        parsed = (action, last)
    action, appt_id = parsed
    try:
        return reply_to_reminder(org, appt_id, action, channel=channel, now=now)
    except SchedulingError as exc:
        return {"ok": False, "message": str(exc)}


def _text(appt: Appointment) -> tuple[list[str], str]:
    local = appt.start.astimezone(ZoneInfo(appt.organization.timezone or "America/Sao_Paulo"))
    when = f"{date_format(local, 'l, d/m')} às {local:%H:%M}"
    variables = [appt.patient.name, appt.service.name, appt.professional.name, when]
    body = (f"Olá, {appt.patient.name}! Lembrete da sua consulta de {appt.service.name} com "
            f"{appt.professional.name} em {when}. Você confirma?")
    return variables, body


def _deliver(claim: ReminderSend, appt: Appointment, now: datetime) -> None:
    org = appt.organization
    phone = appt.patient.phone
    try:
        if not notify.can_message(org, phone):
            claim.status, claim.detail = ReminderSend.Status.OPTED_OUT, "sem consentimento ou descadastrado"
            claim.save(update_fields=["status", "detail"])
            return
        variables, body = _text(appt)
        if notify.in_window(org, phone):
            buttons = [(button_id(action, appt.pk), label) for action, label in BUTTONS]
            sent = notify.send_buttons(org, phone, body, buttons)
        else:
            sent = notify.send_template(org, phone, notify.REMINDER_TEMPLATE, variables)
        claim.status, claim.kind, claim.sent_at = ReminderSend.Status.SENT, sent.kind, now
        claim.detail = sent.message_id[:300]
    except Exception as exc:  # recorded, not retried: a retry could send twice
        log.warning("reminder %s not sent: %s", claim.pk, exc)
        claim.status, claim.detail = ReminderSend.Status.FAILED, str(exc)[:300]
    claim.save(update_fields=["status", "kind", "sent_at", "detail"])


def _claim(appt: Appointment, offset: int, due: datetime, status: str, now: datetime) -> ReminderSend | None:
    try:
        with transaction.atomic():
            return ReminderSend.objects.create(organization_id=appt.organization_id, appointment=appt,
                                               offset_minutes=offset, due_at=due, status=status, claimed_at=now)
    except IntegrityError:
        return None  # another worker claimed it


def send_due_reminders(now: datetime | None = None) -> dict[str, int]:
    """Periodic job: send every reminder that is due now (see the module's rules)."""
    now = now or timezone.now()
    counts = {"sent": 0, "skipped": 0, "opted_out": 0, "failed": 0, "claimed_elsewhere": 0}
    settings_by_org = {cs.organization_id: cs for cs in ClinicSettings.objects.all()}
    default_offsets = sorted(ClinicSettings.DEFAULT_REMINDERS, reverse=True)
    all_offsets = set(default_offsets)
    for cs in settings_by_org.values():
        all_offsets.update(cs.offsets())
    # Only appointments with a due offset not claimed yet: the ones fully reminded must not
    # fill the batch and hide later ones (tests/scheduling/test_reminders.py).
    pending = Q()
    for offset in all_offsets:
        pending |= Q(start__lte=now + timedelta(minutes=offset)) & ~Exists(
            ReminderSend.objects.filter(appointment=OuterRef("pk"), offset_minutes=offset))
    disabled = [org for org, cs in settings_by_org.items() if not cs.reminders_enabled]
    candidates = list(Appointment.objects.filter(pending, status__in=states.OPEN, start__gt=now)
                      .exclude(organization_id__in=disabled)
                      .select_related("organization", "patient", "service", "professional")
                      .order_by("start", "id")[:BATCH])
    done_by_appt: dict[int, set[int]] = {}
    for appt_id, offset in ReminderSend.objects.filter(appointment__in=candidates).values_list(
            "appointment_id", "offset_minutes"):
        done_by_appt.setdefault(appt_id, set()).add(offset)
    for appt in candidates:
        cs = settings_by_org.get(appt.organization_id)
        if cs is not None and not cs.reminders_enabled:
            continue
        offsets = cs.offsets() if cs is not None else default_offsets
        done = done_by_appt.get(appt.pk, set())
        due = [o for o in offsets if appt.start - timedelta(minutes=o) <= now and o not in done]
        if not due:
            continue
        closest = min(due)
        for offset in due:
            due_at = appt.start - timedelta(minutes=offset)
            if offset != closest or due_at < appt.created_at:
                if _claim(appt, offset, due_at, ReminderSend.Status.SKIPPED, now) is not None:
                    counts["skipped"] += 1
                continue
            claim = _claim(appt, offset, due_at, ReminderSend.Status.CLAIMED, now)
            if claim is None:
                counts["claimed_elsewhere"] += 1
                continue
            _deliver(claim, appt, now)
            key = {"sent": "sent", "opted_out": "opted_out"}.get(claim.status, "failed")
            counts[key] += 1
    return counts
