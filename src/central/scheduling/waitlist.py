"""The waitlist: patients who want an earlier slot get one when it frees.

When a booking is cancelled or moved (``services.transition`` calls
:func:`offer_freed_slot` after commit), the oldest waiting entry that matches (same
service, same professional or any, the freed start inside the entry's window and earlier
than the patient's current appointment) gets an *offer*: the slot is held for
``ClinicSettings.waitlist_offer_minutes`` and the patient is messaged. Accepting books the
hold and moves the patient's current appointment (``rescheduled``, linked), which frees
that one in turn. An offer not accepted in time (:func:`expire_offers`, periodic) or
declined releases the hold and goes to the next matching entry; the entry keeps waiting
and is not offered the same slot again.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from . import notify, states
from .models import Appointment, Patient, Professional, Service, WaitlistEntry
from .services import (
    InvalidTransition,
    SchedulingError,
    SlotUnavailable,
    book,
    hold_slot,
    settings_for,
    transition,
)

log = logging.getLogger(__name__)

ACCEPT = "aceitar_oferta"
DECLINE = "recusar_oferta"


def _key(pro_id: int, start: datetime) -> str:
    return f"{pro_id}@{start.isoformat()}"


def join_waitlist(org, patient: Patient, service: Service, *, professional: Professional | None = None,
                  current: Appointment | None = None, earliest: datetime | None = None,
                  latest: datetime | None = None) -> WaitlistEntry:
    if patient.organization_id != org.pk or service.organization_id != org.pk:
        raise SchedulingError(_("Paciente ou serviço não encontrado."))
    if current is not None and current.patient_id != patient.pk:
        raise SchedulingError(_("Agendamento não encontrado."))
    return WaitlistEntry.objects.create(organization=org, patient=patient, service=service,
                                        professional=professional, current=current,
                                        earliest=earliest, latest=latest)


def _candidates(org_id: int, service_id: int, pro_id: int, start: datetime):
    qs = (WaitlistEntry.objects.filter(organization_id=org_id, service_id=service_id,
                                       status=WaitlistEntry.Status.WAITING)
          .filter(Q(professional__isnull=True) | Q(professional_id=pro_id))
          .filter(Q(earliest__isnull=True) | Q(earliest__lte=start))
          .filter(Q(latest__isnull=True) | Q(latest__gte=start))
          .select_related("patient", "current", "service").order_by("created_at", "id"))
    key = _key(pro_id, start)
    for entry in qs:
        if key in (entry.declined or []):
            continue
        cur = entry.current
        if cur is not None and (cur.status not in states.OPEN or cur.start <= start):
            continue  # already earlier (or no longer booked): nothing to gain
        yield entry


def offer_slot(org, service: Service, pro_id: int, start: datetime, now: datetime | None = None) -> WaitlistEntry | None:
    """Offer the slot to the first matching entry; None when nobody wants it (or it is gone)."""
    now = now or timezone.now()
    if start <= now:
        return None
    cs = settings_for(org)
    for entry in _candidates(org.pk, service.pk, pro_id, start):
        try:
            hold = hold_slot(org, patient=entry.patient, service=service, professional=pro_id, start=start,
                             channel=Appointment.Channel.SYSTEM, actor_label="lista de espera", now=now,
                             hold_minutes=cs.waitlist_offer_minutes)
        except SlotUnavailable:
            return None  # someone booked it first
        entry.status = WaitlistEntry.Status.OFFERED
        entry.offer = hold
        entry.offer_expires_at = hold.hold_expires_at
        entry.save(update_fields=["status", "offer", "offer_expires_at"])
        _send_offer(entry, hold)
        return entry
    return None


def _send_offer(entry: WaitlistEntry, hold: Appointment) -> None:
    org = entry.organization
    local = hold.start.astimezone(ZoneInfo(org.timezone or "America/Sao_Paulo"))
    text = _("Abriu um horário mais cedo: %(servico)s com %(prof)s em %(quando)s. Quer ficar com ele?") % {
        "servico": hold.service.name, "prof": hold.professional.name, "quando": local.strftime("%d/%m às %H:%M")}
    buttons = [(f"{ACCEPT}:{entry.pk}", _("Quero")), (f"{DECLINE}:{entry.pk}", _("Não, obrigado"))]
    phone = entry.patient.phone
    try:
        if not notify.can_message(org, phone):
            return
        if notify.in_window(org, phone):
            notify.send_buttons(org, phone, text, buttons)
        else:
            notify.send_template(org, phone, notify.WAITLIST_TEMPLATE,
                                 [entry.patient.name, hold.service.name, hold.professional.name,
                                  local.strftime("%d/%m às %H:%M")])
    except Exception as exc:  # the hold stands until it expires; the next patient gets it then
        log.warning("waitlist offer %s not sent: %s", entry.pk, exc)


def offer_freed_slot(appointment_id: int, now: datetime | None = None) -> WaitlistEntry | None:
    appt = Appointment.objects.select_related("organization", "service").filter(pk=appointment_id).first()
    if appt is None:
        return None
    return offer_slot(appt.organization, appt.service, appt.professional_id, appt.start, now)


def accept_offer(org, entry_id: int, now: datetime | None = None) -> Appointment:
    """The patient took the offer: book it and move the current appointment onto it."""
    now = now or timezone.now()
    with transaction.atomic():
        entry = (WaitlistEntry.objects.select_for_update(of=("self",)).filter(organization=org, pk=entry_id)
                 .select_related("offer", "current").first())
        if entry is None or entry.status != WaitlistEntry.Status.OFFERED or entry.offer is None:
            raise SchedulingError(_("Esta oferta não está mais disponível."))
        offer = entry.offer
        if entry.current is not None and entry.current.status in states.OPEN:
            transition(entry.current, states.RESCHEDULED, actor_label="paciente",
                       channel=Appointment.Channel.WHATSAPP, reason=_("antecipado pela lista de espera"), now=now)
            offer.rescheduled_from = entry.current
            offer.save(update_fields=["rescheduled_from"])
        try:
            book(offer, actor_label="paciente", channel=Appointment.Channel.WHATSAPP, now=now)
        except (InvalidTransition, SchedulingError) as exc:
            raise SchedulingError(_("Esta oferta não está mais disponível.")) from exc
        entry.status = WaitlistEntry.Status.ACCEPTED
        entry.save(update_fields=["status"])
    offer.refresh_from_db()
    return offer


def _release(entry: WaitlistEntry, now: datetime, target: str) -> tuple | None:
    """Release the entry's hold; back to waiting; return what to offer next."""
    offer = entry.offer
    entry.declined = [*(entry.declined or []), _key(offer.professional_id, offer.start)] if offer else entry.declined
    entry.status = WaitlistEntry.Status.WAITING
    entry.offer = None
    entry.offer_expires_at = None
    entry.save(update_fields=["declined", "status", "offer", "offer_expires_at"])
    if offer is None:
        return None
    if offer.status == states.HELD:
        with contextlib.suppress(InvalidTransition):
            transition(offer, target, actor_label="lista de espera", channel=Appointment.Channel.SYSTEM,
                       reason=_("oferta da lista de espera não aceita"), now=now)
    return (offer.service, offer.professional_id, offer.start)


def decline_offer(org, entry_id: int, now: datetime | None = None) -> WaitlistEntry | None:
    now = now or timezone.now()
    with transaction.atomic():
        entry = WaitlistEntry.objects.select_for_update(of=("self",)).filter(
            organization=org, pk=entry_id, status=WaitlistEntry.Status.OFFERED).select_related("offer").first()
        if entry is None:
            return None
        nxt = _release(entry, now, states.CANCELLED)
    if nxt:
        return offer_slot(org, nxt[0], nxt[1], nxt[2], now)
    return None


def handle_reply(org, payload: str, *, phone: str, now: datetime | None = None) -> dict | None:
    """A waitlist offer's button (``aceitar_oferta:<id>`` / ``recusar_oferta:<id>``), from
    ``phone``: only the patient the offer was made to may take or decline it."""
    action, _sep, rest = (payload or "").partition(":")
    if action not in (ACCEPT, DECLINE) or not rest.isdigit():
        return None
    if not WaitlistEntry.objects.filter(organization=org, pk=int(rest), patient__phone=phone).exists():
        return {"ok": False, "message": _("Não encontramos esta oferta para o seu número.")}
    try:
        if action == ACCEPT:
            appt = accept_offer(org, int(rest), now)
            return {"ok": True, "appointment": appt.pk, "message": _("Pronto, seu horário foi antecipado.")}
        decline_offer(org, int(rest), now)
        return {"ok": True, "message": _("Tudo bem, você continua na lista de espera.")}
    except SchedulingError as exc:
        return {"ok": False, "message": str(exc)}


def expire_offers(now: datetime | None = None) -> int:
    """Periodic job: offers past their time go to the next patient (safe on two workers:
    the entry row is locked and re-checked)."""
    now = now or timezone.now()
    moved = 0
    for entry_id, _org_id in (WaitlistEntry.objects.filter(status=WaitlistEntry.Status.OFFERED,
                                                          offer_expires_at__lte=now)
                             .values_list("id", "organization_id")[:500]):
        with transaction.atomic():
            entry = (WaitlistEntry.objects.select_for_update(of=("self",))
                     .filter(pk=entry_id, status=WaitlistEntry.Status.OFFERED, offer_expires_at__lte=now)
                     .select_related("offer", "organization").first())
            if entry is None:
                continue
            nxt = _release(entry, now, states.EXPIRED)
            org = entry.organization
        moved += 1
        if nxt and nxt[2] > now + timedelta(minutes=1):
            offer_slot(org, nxt[0], nxt[1], nxt[2], now)
    return moved
