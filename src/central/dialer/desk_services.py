"""What the agent's page does to the dialer's data: the contact card of a screen pop, the
disposition (with its do-not-call entry and callback), personal callbacks, the preview
contact and the manual dial's attempt.

The rules are the sans-I/O :mod:`central.dialer.desk`; this module reads and writes
(Django, one transaction per action) and is called by the page's views and socket
(``central.agents``). Every function takes the organization and refuses what is not
its own: a screen pop names an attempt by id, and the socket asks here with *its*
user's organization, so another tenant's id yields nothing.

Callbacks for one person
------------------------
An Asterisk queue cannot ring one chosen member: it rings whoever its strategy picks
among the free members (app_queue's ``ring_entry``/``calc_metric``), and the only
per-call steering, penalties (``QUEUE_MAX_PENALTY``), applies to whole groups of members
and needs every member's penalty set per queue. So a callback promised by (or for) one
agent does not go through the campaign's queue: its contact waits with status
``callback`` (never claimed by the dialer engine, whose claim takes ``pending`` only)
and, when due, comes back on that agent's page as a preview; the agent presses *Ligar*
and the call is originated agent-first through their own interface (like the manual
dial). A callback for "any agent" stays what it was: the contact becomes due and the
engine dials it through the queue.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from central.core import audit

from . import desk, dnc, services
from .models import Attempt, Callback, Campaign, Contact, Disposition, DoNotCall

log = logging.getLogger(__name__)

__all__ = [
    "DeskError",
    "contact_card",
    "due_callbacks",
    "inbound_card",
    "save_disposition",
]

#: Attempts and dispositions shown on the card (most recent first).
HISTORY = 10


class DeskError(desk.DispositionError):
    """An action the page cannot do (``code`` -> pt-BR message in the view)."""


# --- the card --------------------------------------------------------------------------------


def _iso(dt) -> str | None:
    return dt.isoformat() if dt else None


def _whatsapp(organization, phone: str) -> list[dict]:
    """The person's WhatsApp conversations, through the messaging app's own read-only
    lookup (``conversations_for_phone``): the dialer never queries messaging tables."""
    try:
        from central.messaging.services import conversations_for_phone
    except ImportError:  # messaging not installed
        return []
    out = []
    for conv in conversations_for_phone(organization, phone)[:5]:
        out.append({"id": conv.pk, "state": conv.state, "state_label": conv.get_state_display(),
                    "last_message_at": _iso(conv.last_message_at), "preview": conv.last_message_preview,
                    "url": f"/whatsapp/c/{conv.pk}/"})
    return out


def contact_card(organization, contact: Contact, *, attempt: Attempt | None = None,
                 agent_name: str = "") -> dict:
    """Everything the agent's screen pop shows about ``contact`` (JSON-ready): the contact
    and its custom fields, previous attempts and their results, earlier dispositions and
    notes, WhatsApp conversations, the campaign, its disposition list and its script with
    the contact's fields substituted (segments the page renders as text)."""
    if contact.organization_id != organization.pk:
        raise DeskError("not_found")
    campaign = contact.campaign
    attempts = list(Attempt.objects.filter(contact=contact).order_by("-created_at")
                    .values("uid", "created_at", "result", "state", "agent", "billsec", "pacing_mode")[:HISTORY])
    history = [{"uid": a["uid"], "at": _iso(a["created_at"]), "result": a["result"] or a["state"],
                "result_label": dict(Attempt.Result.choices).get(a["result"], "") or
                dict(Attempt.State.choices).get(a["state"], a["state"]),
                "agent": a["agent"], "billsec": a["billsec"]} for a in attempts]
    notes = [{"at": _iso(d.saved_at), "label": d.label, "notes": d.notes, "agent": d.agent_interface}
             for d in Disposition.objects.filter(contact=contact).order_by("-saved_at")[:HISTORY]]
    fields = desk.contact_fields(contact.name, contact.phone, contact.custom_fields,
                                 {"campanha": campaign.name, "agente": agent_name})
    zone = contact.timezone or campaign.timezone or "America/Sao_Paulo"
    return {
        "kind": "contact",
        "attempt": attempt.uid if attempt is not None else None,
        "attempt_state": attempt.state if attempt is not None else None,
        "contact": {"id": contact.pk, "name": contact.name, "phone": contact.phone,
                    "alt_phones": contact.alt_phones, "custom_fields": contact.custom_fields,
                    "status": contact.status, "status_label": contact.get_status_display(),
                    "timezone": zone, "attempts": contact.attempts},
        "campaign": {"id": campaign.pk, "name": campaign.name, "pacing_mode": campaign.pacing_mode,
                     "wrapup_limit_s": campaign.wrapup_limit_s},
        "history": history,
        "notes": notes,
        "whatsapp": _whatsapp(organization, contact.phone),
        "script": [list(s) for s in desk.script_segments(campaign.script, fields)],
        "dispositions": [{"code": d["code"], "label": d["label"], "effect": d["effect"]}
                         for d in desk.dispositions_of(campaign.dispositions)],
    }


def card_for_attempt(organization, uid: str, interface: str = "", agent_name: str = "") -> dict | None:
    """The card of a dialer call, or None when ``uid`` is not this organization's (a pop
    naming another tenant's attempt shows nothing) or belongs to another agent."""
    attempt = (Attempt.objects.select_related("contact__campaign")
               .filter(organization=organization, uid=uid).first())
    if attempt is None:
        return None
    if interface and attempt.agent and attempt.agent != interface:
        return None
    return contact_card(organization, attempt.contact, attempt=attempt, agent_name=agent_name)


def inbound_card(organization, raw_number: str) -> dict:
    """An inbound queue call: the caller's number (normalised like every number in
    Central: ``core.phones``) and the organization's contacts that have it."""
    from central.core.phones import try_normalize

    phone, _reason = try_normalize(raw_number or "")
    e164 = phone.e164 if phone is not None else ""
    matches = []
    if e164:
        for c in (Contact.objects.filter(organization=organization, phone=e164)
                  .select_related("campaign").order_by("-last_attempt_at", "-id")[:5]):
            matches.append({"id": c.pk, "name": c.name, "phone": c.phone, "campaign": c.campaign.name,
                            "campaign_id": c.campaign_id, "status_label": c.get_status_display()})
    card = {"kind": "inbound", "number": raw_number, "phone": e164, "contacts": matches,
            "whatsapp": _whatsapp(organization, e164) if e164 else []}
    if matches:
        first = Contact.objects.select_related("campaign").get(pk=matches[0]["id"])
        card["card"] = contact_card(organization, first)
    return card


# --- dispositions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Saved:
    disposition: Disposition
    callback: Callback | None
    dnc_added: bool


def _settle_desk_attempt(attempt: Attempt, now: datetime) -> None:
    """An attempt the page dialed itself (preview, manual, callback) has no dialer engine
    following it: the disposition closes it, with the PBX link's call record when there is
    one (billsec, answer), else as answered: the agent talked to someone to dispose it."""
    if attempt.state == Attempt.State.COMPLETED or attempt.pacing_mode not in DESK_MODES:
        return
    from central.telephony.store import records_for_attempts

    rec = records_for_attempts(attempt.organization_id, [attempt.uid]).get(attempt.uid)
    fields = {"state": Attempt.State.COMPLETED, "result": Attempt.Result.ANSWERED, "ended_at": now}
    if rec is not None:
        fields.update(billsec=rec["billsec"], ended_at=rec["ended_at"] or now, answered_at=rec["answered_at"])
    Attempt.objects.filter(pk=attempt.pk).exclude(state=Attempt.State.COMPLETED).update(**fields)


def save_disposition(organization, user, *, contact: Contact, code: str, notes: str = "",
                     attempt: Attempt | None = None, callback_at: datetime | None = None,
                     callback_user=None, callback_zone: str = "", interface: str = "",
                     now: datetime | None = None, request=None) -> Saved:
    """Record the agent's result of a call and apply it to the contact.

    ``callback_user``: who the callback comes back to (themselves or another member);
    None with a callback: any agent, through the queue. The do-not-call entry of "não
    ligar mais" is organization-wide (the person asked not to be called by the company).
    """
    now = now or timezone.now()
    if contact.organization_id != organization.pk or (attempt is not None and attempt.contact_id != contact.pk):
        raise DeskError("not_found")
    campaign: Campaign = contact.campaign
    plan = desk.plan_disposition(desk.dispositions_of(campaign.dispositions), code, callback_at=callback_at,
                                 now=now)
    if callback_user is not None and plan.callback_at is not None:
        from central.core.models import Membership

        if not Membership.objects.filter(organization=organization, user=callback_user).exists():
            raise DeskError("callback_user", "callback_user")
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        if attempt is not None:
            attempt = Attempt.objects.select_for_update().get(pk=attempt.pk)
            if Disposition.objects.filter(attempt=attempt).exists():
                raise DeskError("already")
        ended = attempt.ended_at if attempt is not None else None
        wrap = desk.wrapup_seconds(ended.timestamp() if ended else None, now.timestamp(),
                                   float(campaign.wrapup_limit_s or 0))
        dnc_added = False
        if plan.dnc:
            created, _flagged = dnc.add_numbers(organization, [contact.phone], source=DoNotCall.Source.OPT_OUT,
                                                reason=f"{plan.label} ({campaign.name})")
            dnc_added = created > 0
            contact.status, contact.last_result = Contact.Status.DNC, "dnc"
            contact.next_attempt_at = None
        elif plan.contact_status == "invalid":
            contact.status, contact.next_attempt_at = Contact.Status.INVALID, None
        elif plan.contact_status == "done":
            contact.status, contact.next_attempt_at = Contact.Status.DONE, None
        elif plan.contact_status == "retry":
            contact.status = Contact.Status.PENDING
            services.schedule_next(contact, "no_answer", now, campaign=campaign, save=False)
        contact.save(update_fields=["status", "last_result", "next_attempt_at"])
        Callback.objects.filter(contact=contact, done_at__isnull=True).update(done_at=now)  # superseded
        cb = None
        if plan.callback_at is not None:
            cb = Callback.objects.create(
                organization=organization, campaign=campaign, contact=contact, scheduled_for=plan.callback_at,
                assigned_to=callback_user, timezone=callback_zone, note=notes[:300], created_by=user,
                agent=interface if callback_user is not None and callback_user == user else "")
            status = Contact.Status.CALLBACK if callback_user is not None else Contact.Status.PENDING
            Contact.objects.filter(pk=contact.pk).update(status=status, next_attempt_at=plan.callback_at)
        row = Disposition.objects.create(
            organization=organization, campaign=campaign, contact=contact, attempt=attempt, code=plan.code,
            label=plan.label, effect=plan.effect, notes=notes[:4000], agent_interface=interface[:120], user=user,
            callback=cb, call_ended_at=ended, wrapup_seconds=wrap, saved_at=now)
        if attempt is not None:
            _settle_desk_attempt(attempt, now)
        audit.record("dialer.disposition.create", request=request, actor=user, organization=organization,
                     target=row, contact=contact.pk, code=plan.code,
                     callback=plan.callback_at.isoformat() if plan.callback_at else None, dnc=plan.dnc)
    return Saved(row, cb, dnc_added)


# --- personal callbacks, preview and manual dial ------------------------------------------------

#: ``Attempt.pacing_mode`` of calls the agent's page places itself (not the engine's).
DESK_MODES = ("preview", "manual", "callback")


def due_callbacks(organization, user, now: datetime | None = None, limit: int = 20) -> list[dict]:
    """The user's own callbacks that are due (oldest first): what comes back to them."""
    now = now or timezone.now()
    rows = (Callback.objects.filter(organization=organization, assigned_to=user, done_at__isnull=True,
                                    scheduled_for__lte=now)
            .select_related("contact", "campaign").order_by("scheduled_for")[:limit])
    return [{"id": cb.pk, "at": _iso(cb.scheduled_for), "zone": cb.timezone or cb.contact.timezone,
             "contact_id": cb.contact_id, "name": cb.contact.name, "phone": cb.contact.phone,
             "campaign": cb.campaign.name, "note": cb.note} for cb in rows]


def desk_attempt(organization, contact: Contact, interface: str, mode: str, now: datetime | None = None) -> Attempt:
    """The attempt row of a call the page places (written before its Originate, like
    the engine's): do-not-call and hours checked now, at dial time."""
    now = now or timezone.now()
    campaign = contact.campaign
    if contact.organization_id != organization.pk:
        raise DeskError("not_found")
    if dnc.is_blocked(organization.pk, campaign.pk, contact.phone) or contact.status == Contact.Status.DNC:
        raise DeskError("dnc")
    from .claims import campaign_within_hours

    if not campaign_within_hours(campaign, now, contact.timezone or None):
        raise DeskError("hours")
    with transaction.atomic():
        attempt = Attempt.objects.create(
            organization=organization, uid=uuid.uuid4().hex, campaign=campaign, contact=contact, phone=contact.phone,
            state=Attempt.State.CREATED, pacing_mode=mode, created_at=now, queue=campaign.queue,
            agent=interface[:120], dialer="desk")
        Contact.objects.filter(pk=contact.pk).update(status=Contact.Status.IN_PROGRESS, last_attempt_at=now,
                                                     attempts=contact.attempts + 1)
        if mode == "callback":
            Callback.objects.filter(contact=contact, done_at__isnull=True).update(done_at=now)
    return attempt
