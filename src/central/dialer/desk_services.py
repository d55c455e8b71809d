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
        out.append({"id": conv.pk, "state": conv.state, "state_label": str(conv.get_state_display()),
                    "last_message_at": _iso(conv.last_message_at), "preview": conv.last_message_preview,
                    "url": f"/whatsapp/c/{conv.pk}/"})
    return out


def _recording_urls(organization_id: int, uids: list[str]) -> dict[str, str]:
    """Audio URLs of these attempts' recordings, through the recordings app's service."""
    if not uids:
        return {}
    from central.recordings.services import recording_urls

    return recording_urls(organization_id, uids)


def contact_card(organization, contact: Contact, *, attempt: Attempt | None = None,
                 agent_name: str = "") -> dict:
    """Everything the agent's screen pop shows about ``contact`` (JSON-ready): the contact
    and its custom fields, previous attempts and their results, earlier dispositions and
    notes, WhatsApp conversations, the campaign, its disposition list and its script with
    the contact's fields substituted (segments the page renders as text)."""
    if contact.organization_id != organization.pk:
        raise DeskError("not_found")
    campaign = contact.campaign
    previous = Attempt.objects.filter(contact=contact)
    if attempt is not None:  # the call on screen is not "previous"
        previous = previous.exclude(pk=attempt.pk)
    attempts = list(previous.order_by("-created_at")
                    .values("uid", "created_at", "result", "state", "agent", "billsec", "pacing_mode")[:HISTORY])
    # The agent's own earlier calls with this contact carry their recording (docs/recordings.md).
    own = [a["uid"] for a in attempts if attempt is not None and attempt.agent and a["agent"] == attempt.agent]
    recorded = _recording_urls(organization.pk, own)
    history = [{"uid": a["uid"], "at": _iso(a["created_at"]), "result": a["result"] or a["state"],
                "result_label": str(dict(Attempt.Result.choices).get(a["result"], "") or
                                    dict(Attempt.State.choices).get(a["state"], a["state"])),
                "agent": a["agent"], "billsec": a["billsec"], "recording": recorded.get(a["uid"])}
               for a in attempts]
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
                    "status": contact.status, "status_label": str(contact.get_status_display()),
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
                            "campaign_id": c.campaign_id, "status_label": str(c.get_status_display())})
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


def next_callback_at(organization, user, now: datetime | None = None) -> datetime | None:
    """When the user's next callback that is not due yet becomes due (the page's socket
    sleeps until then, so a callback comes back at its time, not at the next poll)."""
    now = now or timezone.now()
    return (Callback.objects.filter(organization=organization, assigned_to=user, done_at__isnull=True,
                                    scheduled_for__gt=now)
            .order_by("scheduled_for").values_list("scheduled_for", flat=True).first())


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


def reserve_preview(organization, campaign: Campaign, now: datetime | None = None) -> Contact | None:
    """Preview mode: the next due contact of ``campaign`` for the agent to look at before
    pressing *Ligar*. It is set ``in_progress`` so no other agent gets it (skip-locked on
    PostgreSQL like the engine's claim); :func:`release_preview` gives it back."""
    from django.db.models import F, Q

    from .claims import _locked

    now = now or timezone.now()
    if campaign.organization_id != organization.pk:
        raise DeskError("not_found")
    if campaign.pacing_mode != Campaign.Pacing.PREVIEW or campaign.status != Campaign.Status.ACTIVE:
        raise DeskError("not_preview")
    with transaction.atomic():
        qs = _locked(Contact.objects.filter(campaign=campaign, status=Contact.Status.PENDING)
                     .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
                     .order_by(F("next_attempt_at").asc(nulls_last=True), "id"))
        for contact in qs[:20]:
            if dnc.is_blocked(organization.pk, campaign.pk, contact.phone):
                Contact.objects.filter(pk=contact.pk).update(status=Contact.Status.DNC, last_result="dnc")
                continue
            Contact.objects.filter(pk=contact.pk).update(status=Contact.Status.IN_PROGRESS)
            contact.status = Contact.Status.IN_PROGRESS
            return contact
    return None


#: How long a skipped preview contact waits before it is offered again.
SKIP_DELAY_S = 3600


def release_preview(organization, contact: Contact, reason: str, user=None, now: datetime | None = None,
                    request=None) -> None:
    """The agent skipped the previewed contact (with a reason, audited): back to the pool
    an hour later, without spending an attempt."""
    from datetime import timedelta

    now = now or timezone.now()
    if contact.organization_id != organization.pk:
        raise DeskError("not_found")
    if not (reason or "").strip():
        raise DeskError("skip_reason", "reason")
    Contact.objects.filter(pk=contact.pk, status=Contact.Status.IN_PROGRESS).update(
        status=Contact.Status.PENDING, next_attempt_at=now + timedelta(seconds=SKIP_DELAY_S))
    audit.record("dialer.desk.skip", request=request, actor=user, organization=organization, target=contact,
                 reason=reason[:200])


def manual_contact(organization, campaign: Campaign, raw: str) -> Contact:
    """A typed number (manual dial) as a contact of the agent's campaign: normalised like
    every number (``core.phones``), found or created, so its attempt, disposition and
    do-not-call checks work like any other call."""
    from central.core.phones import try_normalize

    if campaign.organization_id != organization.pk:
        raise DeskError("not_found")
    phone, _reason = try_normalize(raw or "")
    if phone is None:
        raise DeskError("invalid_number", "number")
    contact, _created = Contact.objects.get_or_create(
        campaign=campaign, phone=phone.e164,
        defaults={"organization": organization, "origin": "discagem manual",
                  "timezone": _zone_for(phone.e164)})
    return contact


def _zone_for(e164: str) -> str:
    from central.core.phones import timezone_for

    try:
        return timezone_for(e164)
    except Exception:  # noqa: BLE001 - a zone is a nicety here, never a reason to refuse
        return ""


#: The embedded simulator's AMI (``central up``): its secret is per run and never stored,
#: so ``dialer/embedded.py`` hands it to the in-process web views here.
EMBEDDED_AMI: dict | None = None


def _ami_for(attempt: Attempt) -> tuple[dict, tuple[str, int, str, str, str]]:
    """(Originate kwargs, AMI connection) for a desk attempt: the campaign's server
    through the PBX link's ``target_for`` (the outbound rule, the tenant-named secret),
    the embedded simulator, or the platform's ``CENTRAL_AMI_URL``."""
    import os

    from .core import agent_first_request

    campaign = Campaign.objects.select_related("asterisk_server").get(pk=attempt.campaign_id)
    kwargs = agent_first_request(uid=attempt.uid, interface=attempt.agent, phone=attempt.phone,
                                 dial_context=campaign.dial_context, queue=campaign.queue,
                                 caller_id=campaign.caller_id, use_0303=campaign.use_0303_prefix,
                                 ring_timeout_s=campaign.ring_timeout_s, campaign_id=campaign.pk)
    server = campaign.asterisk_server
    ami = EMBEDDED_AMI
    if ami and ((server is not None and server.use_simulator) or
                (server is None and not os.environ.get("CENTRAL_AMI_URL"))):
        return kwargs, (ami["host"], int(ami["port"]), ami["username"], ami["secret"], "plain")
    if server is not None:
        from central.telephony.link import target_for

        t = target_for(server)
        return kwargs, (t.host, t.port, t.username, t.secret, t.auth)
    from .diagnose import _connection

    return kwargs, _connection(None)


async def originate_desk_attempt(attempt: Attempt) -> None:
    """Send the agent-first Originate of a desk attempt on a short AMI session (the web
    process holds no AMI connection). Returns once Asterisk queued it ("Originate
    successfully queued"); the call itself goes on without us: the PBX link records it
    against the attempt (``ChannelId`` = uid) and the disposition closes the attempt.
    Raises ``DeskError("ami")`` when Asterisk refuses or cannot be reached; the attempt
    is then closed as failed and the contact given back."""
    from channels.db import database_sync_to_async

    from central.telephony.ami.client import AMIClient
    from central.telephony.ami.errors import AMIError

    try:
        kwargs, (host, port, user, secret, auth) = await database_sync_to_async(_ami_for)(attempt)
    except Exception as exc:  # noqa: BLE001 - no server configured, disabled row...
        log.warning("desk dial %s: no AMI target: %s", attempt.uid, exc)
        await database_sync_to_async(_dial_failed)(attempt.pk, "no AMI target")
        raise DeskError("ami") from None
    fields: list[tuple[str, str]] = [("Channel", kwargs["channel"]), ("Context", kwargs["context"]),
                                     ("Exten", kwargs["exten"]), ("Priority", "1"),
                                     ("Timeout", str(kwargs["timeout_ms"]))]
    if kwargs["caller_id"]:
        fields.append(("CallerID", kwargs["caller_id"]))
    fields += [("Variable", f"{k}={v}") for k, v in kwargs["variables"].items()]
    fields += [("Async", "true"), ("ChannelId", kwargs["channel_id"])]
    client = AMIClient(host, port, user, secret, name="desk", auth=auth, events=False, reconnect=False,
                       ping_interval=None, connect_timeout=5.0, action_timeout=5.0)
    try:
        await client.start()
        reply = await client.send_action("Originate", fields)
    except (AMIError, OSError, TimeoutError) as exc:
        log.warning("desk dial %s: AMI: %s", attempt.uid, exc)
        await database_sync_to_async(_dial_failed)(attempt.pk, f"AMI: {exc}")
        raise DeskError("ami") from None
    finally:
        await client.close()
    if (reply.name or "").lower() != "success":  # Response: Error (an unknown extension...)
        await database_sync_to_async(_dial_failed)(attempt.pk, f"Asterisk: {reply.get('Message') or ''}")
        raise DeskError("ami")
    await database_sync_to_async(_dial_sent)(attempt.pk)


def _dial_sent(pk: int) -> None:
    Attempt.objects.filter(pk=pk, state=Attempt.State.CREATED).update(state=Attempt.State.SENT,
                                                                       sent_at=timezone.now())


def _dial_failed(pk: int, note: str) -> None:
    now = timezone.now()
    attempt = Attempt.objects.filter(pk=pk).first()
    if attempt is None:
        return
    Attempt.objects.filter(pk=pk).update(state=Attempt.State.COMPLETED, result=Attempt.Result.FAILED,
                                         ended_at=now, note=note[:300])
    Contact.objects.filter(pk=attempt.contact_id, status=Contact.Status.IN_PROGRESS).update(
        status=Contact.Status.PENDING, attempts=max(0, attempt.contact.attempts - 1))
