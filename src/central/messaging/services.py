"""WhatsApp service functions: everything the API, the inbox, the assistant and the webhook
processor do to conversations, in one place.

Each function validates, writes, audits and signals (``central.messaging.signals``) in one
transaction; nobody else writes these tables. Sending only *queues* a message (status
``queued``): the sender (``central.messaging.sender``) takes it from the queue within the
rate limits. Every rule that can refuse a message runs here, before any HTTP call:

* the 24 h customer service window (:class:`WindowClosed`, with the approved templates
  offered);
* opt-out (:class:`OptedOut`): nothing but the opt-out confirmation after ``SAIR``;
* who may speak (:func:`bot_may_speak`, the one gate of "the bot never talks over a
  human": :class:`BotSilenced`);
* the Cloud API's own limits on buttons, lists and text (:class:`InvalidMessage`).

A human's reply takes the conversation (state ``open``, assigned to them), so the
assistant is silent from that moment; only :func:`resolve` ends the human's ownership.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from central.core import audit
from central.core.phones import InvalidPhone, normalize
from central.core.refusals import Refusal

from . import cloudapi
from .models import CannedResponse, Contact, Conversation, Label, Message, Template, WhatsAppNumber
from .signals import emit_conversation, emit_message

log = logging.getLogger(__name__)

__all__ = [
    "HANDOFF_KEYWORDS", "OPT_OUT_KEYWORDS", "OPT_IN_KEYWORDS",
    "MessagingError", "WindowClosed", "OptedOut", "BotSilenced", "InvalidMessage", "NotAllowed",
    "Consent", "active_number", "approved_template", "consent_for_phone", "contact_for_phone", "window_open_for",
    "add_note", "assign", "bot_may_speak", "contact_for", "conversations_for_phone", "e164_for_wa_id",
    "hand_off", "live_conversation", "mark_read", "record_opt_in", "record_opt_out", "resolve",
    "send_interactive", "send_template", "send_text", "set_labels", "start_with_template",
    "templates_offered", "canned_responses",
]

#: Customer words that stop every message (LGPD; compared without accents, case-insensitive).
OPT_OUT_KEYWORDS = frozenset({"SAIR", "PARAR", "STOP", "DESCADASTRAR", "CANCELAR INSCRICAO"})
#: Customer words that give consent again after an opt-out.
OPT_IN_KEYWORDS = frozenset({"VOLTAR", "ACEITO"})
#: Customer words that ask for a human: the conversation goes to ``pending``.
HANDOFF_KEYWORDS = frozenset({"ATENDENTE", "HUMANO", "PESSOA"})
#: Button/list reply ids that mean the same (a template's "Parar mensagens" quick reply).
OPT_OUT_REPLY_IDS = frozenset({"opt_out", "OPT_OUT", "optout", "STOP"})


def keyword(text: str) -> str:
    """``text`` as compared with the keywords: stripped, upper case, without accents."""
    folded = unicodedata.normalize("NFKD", (text or "").strip()).encode("ascii", "ignore").decode()
    return " ".join(folded.upper().split()).strip(".!")


# --- errors --------------------------------------------------------------------------------------


class MessagingError(Refusal):
    """An action the messaging rules refuse; ``message`` is for the user (active language)."""

    code = "messaging_error"


class WindowClosed(MessagingError):
    """More than 24 h since the customer's last message: only a template may go.

    ``extra["templates"]``: the approved templates of the number (the path offered)."""

    code = "window_closed"


class OptedOut(MessagingError):
    code = "opted_out"


class BotSilenced(MessagingError):
    """The automated responder tried to speak in a conversation it does not own."""

    code = "bot_silenced"


class InvalidMessage(MessagingError):
    code = "invalid_message"
    status = 400


class NotAllowed(MessagingError):
    code = "not_allowed"


# --- contacts and conversations -----------------------------------------------------------------


def e164_for_wa_id(wa_id: str) -> str:
    """The person's E.164 number from a WhatsApp id (``central.core.phones``'s rule).

    Brazilian ``wa_id`` values often lack the ninth digit (``551187654321``); read as a
    national number the shared rule adds it, so the same person has the same number on
    WhatsApp and in the dialer. Foreign ids are read as international numbers.
    """
    digits = "".join(ch for ch in str(wa_id) if ch.isdigit())
    if digits.startswith("55"):
        try:
            return normalize(digits).e164
        except InvalidPhone:
            pass
    try:
        return normalize("+" + digits).e164
    except InvalidPhone:
        return "+" + digits


def contact_for(number: WhatsAppNumber, wa_id: str, name: str = "") -> Contact:
    """The tenant's contact for ``wa_id`` (created on first contact; profile name kept fresh)."""
    wa_id = str(wa_id)
    contact = Contact.objects.filter(organization_id=number.organization_id, wa_id=wa_id).first()
    if contact is None:
        try:
            with transaction.atomic():
                contact = Contact.objects.create(organization_id=number.organization_id, wa_id=wa_id,
                                                 phone=e164_for_wa_id(wa_id), name=name[:200])
        except IntegrityError:  # another worker created it a moment ago
            contact = Contact.objects.get(organization_id=number.organization_id, wa_id=wa_id)
    elif name and not contact.name:
        contact.name = name[:200]
        contact.save(update_fields=["name", "updated_at"])
    return contact


def initial_state(number: WhatsAppNumber, contact: Contact) -> str:
    """``bot`` when an automated responder serves this number, else ``pending``."""
    from .responders import responder_for

    probe = Conversation(organization_id=number.organization_id, number=number, contact=contact)
    return Conversation.State.BOT if responder_for(probe) is not None else Conversation.State.PENDING


def live_conversation(number: WhatsAppNumber, contact: Contact, *, create: bool = True,
                      state: str | None = None, assignee=None) -> Conversation | None:
    """The conversation with ``contact`` on ``number`` that is not resolved (or a new one)."""
    qs = Conversation.objects.filter(number=number, contact=contact).exclude(state=Conversation.State.RESOLVED)
    found = qs.first()
    if found is not None or not create:
        return found
    try:
        with transaction.atomic():
            conv = Conversation.objects.create(
                organization_id=number.organization_id, number=number, contact=contact,
                state=state or initial_state(number, contact), assignee=assignee)
    except IntegrityError:  # the partial unique constraint: another worker opened it
        return qs.get()
    emit_conversation(conv, ["created"])
    return conv


def conversations_for_phone(organization, phone: str):
    """Every conversation of the person with this E.164 number (the cross-channel view)."""
    return Conversation.objects.filter(organization=organization, contact__phone=phone).select_related(
        "contact", "number", "assignee").order_by("-opened_at")


# --- read-only lookups for other apps (the agenda's reminders, the assistant) ---------------------
# Other apps never query these tables; they ask here. Nothing below writes.


@dataclass(frozen=True)
class Consent:
    """What the channel knows about messaging one person (LGPD), as of now.

    ``may_contact``: not opted out, and consent recorded (``opted_in_at``) or the person
    wrote to the organization before (a conversation exists). The one rule other apps
    apply before a business-initiated message (a reminder, a waitlist offer)."""

    known: bool
    opted_in_at: datetime | None = None
    opted_out_at: datetime | None = None
    opted_out: bool = False
    has_conversation: bool = False

    @property
    def may_contact(self) -> bool:
        return self.known and not self.opted_out and (self.opted_in_at is not None or self.has_conversation)


def active_number(organization) -> WhatsAppNumber | None:
    """The organization's WhatsApp number that business-initiated messages go out on: the
    oldest active one (``None`` when it has none)."""
    return WhatsAppNumber.objects.filter(organization=organization, is_active=True).order_by("id").first()


def contact_for_phone(organization, phone: str) -> Contact | None:
    """The tenant's contact with this E.164 number (the oldest when WhatsApp gave the person
    two ``wa_id`` spellings), or ``None``. Never creates one: a person who never wrote and
    gave no consent is not a contact."""
    return Contact.objects.filter(organization=organization, phone=phone).order_by("id").first()


def consent_for_phone(organization, phone: str) -> Consent:
    """The person's consent state on this organization's WhatsApp (see :class:`Consent`)."""
    contact = contact_for_phone(organization, phone)
    if contact is None:
        return Consent(known=False)
    has_conversation = Conversation.objects.filter(organization=organization, contact__phone=phone).exists()
    return Consent(known=True, opted_in_at=contact.opted_in_at, opted_out_at=contact.opted_out_at,
                   opted_out=contact.opted_out, has_conversation=has_conversation)


def approved_template(number: WhatsAppNumber, name: str, language: str | None = None) -> Template | None:
    """The number's approved template ``name`` (in ``language`` when given; else the
    lowest-id approved language), or ``None``: only approved templates may be sent."""
    qs = Template.objects.filter(number=number, name=name, status=Template.Status.APPROVED)
    if language:
        qs = qs.filter(language=language)
    return qs.order_by("id").first()


def window_open_for(number: WhatsAppNumber, contact: Contact, now=None) -> bool:
    """Whether a free-form or interactive message may go to ``contact`` on ``number`` now:
    a live conversation whose 24 h customer-service window is open."""
    conv = live_conversation(number, contact, create=False)
    return conv is not None and conv.window_open(now)


def _lock(conversation: Conversation) -> Conversation:
    return Conversation.objects.select_for_update().select_related("contact", "number").get(pk=conversation.pk)


def bot_may_speak(conversation: Conversation) -> bool:
    """THE gate: the automated responder speaks only in a conversation in state ``bot``.

    Called when a bot message is queued (row locked) and again by the sender right before
    the HTTP call; nothing else decides it.
    """
    return conversation.state == Conversation.State.BOT


def templates_offered(number: WhatsAppNumber) -> list[dict]:
    return [{"id": t.pk, "name": t.name, "language": t.language, "parameters": t.parameter_count}
            for t in Template.objects.filter(number=number, status=Template.Status.APPROVED)]


# --- sending ---------------------------------------------------------------------------------------


def _enqueue(conversation: Conversation, *, kind: str, body: str, build: Callable[[str], dict],
             sender: str, user=None, needs_window: bool = True, allow_opted_out: bool = False,
             template: Template | None = None) -> Message:
    with transaction.atomic():
        conv = _lock(conversation)
        if conv.state == Conversation.State.RESOLVED:
            raise NotAllowed(_("Esta conversa foi resolvida; uma nova mensagem do cliente abre outra."))
        if sender == Message.Sender.BOT and not bot_may_speak(conv):
            raise BotSilenced(_("O assistente não fala numa conversa com um atendente."))
        if conv.contact.opted_out and not allow_opted_out:
            raise OptedOut(_("O cliente pediu para não receber mensagens (descadastro em %(when)s).")
                           % {"when": timezone.localtime(conv.contact.opted_out_at).strftime("%d/%m/%Y %H:%M")})
        if needs_window and not conv.window_open():
            raise WindowClosed(
                _("Fora da janela de 24 horas: só um modelo de mensagem aprovado pode ser enviado."),
                templates=templates_offered(conv.number))
        try:
            payload = build(conv.contact.wa_id)
        except cloudapi.PayloadError as exc:
            raise InvalidMessage(_("Mensagem inválida para o WhatsApp: %(reason)s") % {"reason": exc}) from None
        now = timezone.now()
        message = Message.objects.create(
            organization_id=conv.organization_id, conversation=conv, direction=Message.Direction.OUT,
            kind=kind, status=Message.Status.QUEUED, body=body, payload=payload, sender=sender,
            sender_user=user if sender == Message.Sender.USER else None, created_at=now, next_attempt_at=now)
        fields = ["last_message_at", "last_message_preview"]
        conv.last_message_at = now
        conv.last_message_preview = body[:120]
        if sender == Message.Sender.USER:
            if conv.state != Conversation.State.OPEN or conv.assignee_id is None:
                conv.state = Conversation.State.OPEN
                conv.assignee = conv.assignee or user
                fields += ["state", "assignee"]
            if conv.first_response_at is None:
                conv.first_response_at = now
                fields.append("first_response_at")
        conv.save(update_fields=fields)
        emit_message(message, created=True)
        emit_conversation(conv, fields)
        number_id = conv.number_id
        transaction.on_commit(lambda: _wake_sender(number_id))
    return message


def _wake_sender(number_id: int) -> None:
    from . import sender

    sender.wake(number_id)


def _sender_of(user, bot: bool, system: bool = False) -> str:
    if system:
        return Message.Sender.SYSTEM
    if bot:
        return Message.Sender.BOT
    if user is None:
        raise NotAllowed(_("Informe quem envia a mensagem."))
    return Message.Sender.USER


def send_text(conversation: Conversation, text: str, *, user=None, bot: bool = False,
              preview_url: bool = False) -> Message:
    """Queue a free-form text (inside the 24 h window only)."""
    return _enqueue(conversation, kind=Message.Kind.TEXT, body=text, sender=_sender_of(user, bot), user=user,
                    build=lambda to: cloudapi.text_payload(to, text, preview_url=preview_url))


def send_interactive(conversation: Conversation, body: str, *, buttons: list[tuple[str, str]] | None = None,
                     sections: list[dict] | None = None, list_button: str = "", header: str = "",
                     footer: str = "", user=None, bot: bool = False) -> Message:
    """Queue reply buttons (``buttons``: up to 3 ``(id, title)``) or a list (``sections``)."""
    if bool(buttons) == bool(sections):
        raise InvalidMessage(_("Informe botões ou uma lista (um dos dois)."))
    if buttons:
        def build(to):
            return cloudapi.buttons_payload(to, body, list(buttons), header=header, footer=footer)
    else:
        def build(to):
            return cloudapi.list_payload(to, body, list_button or _("Opções"), list(sections), header=header,
                                         footer=footer)
    return _enqueue(conversation, kind=Message.Kind.INTERACTIVE, body=body, sender=_sender_of(user, bot),
                    user=user, build=build)


def _check_template(number: WhatsAppNumber, template: Template, params: list[str]) -> None:
    if template.number_id != number.pk:
        raise InvalidMessage(_("Este modelo pertence a outro número."))
    if template.status != Template.Status.APPROVED:
        raise InvalidMessage(_("O modelo %(name)s não está aprovado.") % {"name": template.name})
    if len(params) != template.parameter_count:
        raise InvalidMessage(_("O modelo %(name)s precisa de %(n)d parâmetro(s).")
                             % {"name": template.name, "n": template.parameter_count})


def send_template(conversation: Conversation, template: Template, params: Iterable[str] = (), *,
                  user=None, bot: bool = False) -> Message:
    """Queue an approved template (allowed outside the window)."""
    params = [str(p) for p in params]
    _check_template(conversation.number, template, params)
    return _enqueue(conversation, kind=Message.Kind.TEMPLATE, body=cloudapi.render_template(template.body, params),
                    sender=_sender_of(user, bot), user=user, needs_window=False,
                    build=lambda to: cloudapi.template_payload(to, template.name, template.language, params))


def start_with_template(number: WhatsAppNumber, phone: str, template: Template, params: Iterable[str] = (), *,
                        user, name: str = "", request=None) -> Message:
    """A business-initiated conversation (e.g. a campaign contact the dialer could not reach).

    Needs the contact's recorded consent (``opted_in_at``) and no later opt-out."""
    e164 = normalize(phone).e164
    contact = Contact.objects.filter(organization_id=number.organization_id, phone=e164).first()
    if contact is None or contact.opted_in_at is None:
        raise NotAllowed(_("Sem consentimento registrado para %(phone)s: o WhatsApp exige opt-in.") % {"phone": e164})
    conv = live_conversation(number, contact, state=Conversation.State.OPEN, assignee=user)
    message = send_template(conv, template, params, user=user)
    audit.record("messaging.template_start", request=request, actor=user, organization=number.organization,
                 target=conv, template=template.name)
    return message


# --- ownership ---------------------------------------------------------------------------------------


def assign(conversation: Conversation, user, *, by=None, request=None) -> Conversation:
    """Give the conversation to ``user`` (a member of the tenant): state ``open``."""
    from central.core.models import Membership
    from central.core.roles import Role, at_least

    membership = Membership.objects.filter(user=user, organization_id=conversation.organization_id).first()
    if membership is None or not at_least(membership.role, Role.AGENT):
        raise NotAllowed(_("Só um agente da organização pode receber a conversa."))
    with transaction.atomic():
        conv = _lock(conversation)
        if conv.state == Conversation.State.RESOLVED:
            raise NotAllowed(_("Esta conversa foi resolvida."))
        previous = conv.assignee_id
        conv.state = Conversation.State.OPEN
        conv.assignee = user
        conv.save(update_fields=["state", "assignee"])
        audit.record("messaging.assign", request=request, actor=by, organization=conv.organization,
                     target=conv, assignee=user.username, previous_assignee=previous)
        emit_conversation(conv, ["state", "assignee"])
    return conv


def hand_off(conversation: Conversation, reason: str, *, by=None) -> Conversation:
    """Move a ``bot`` conversation to ``pending`` (waiting for a human) with ``reason``.

    The assistant's own decision, a customer keyword, or an agent's "send to queue" (which
    also releases an ``open`` one). A resolved conversation is left alone."""
    with transaction.atomic():
        conv = _lock(conversation)
        if conv.state == Conversation.State.RESOLVED:
            return conv
        if conv.state == Conversation.State.OPEN and by is None:
            return conv  # a human owns it: a keyword does not take it away from them
        conv.state = Conversation.State.PENDING
        conv.assignee = None
        conv.handoff_reason = (reason or "")[:200]
        conv.handoff_at = timezone.now()
        conv.save(update_fields=["state", "assignee", "handoff_reason", "handoff_at"])
        emit_conversation(conv, ["state", "assignee", "handoff_reason"])
    return conv


def resolve(conversation: Conversation, *, by=None, request=None) -> Conversation:
    """End the episode; the customer's next message opens a new conversation (bot again)."""
    with transaction.atomic():
        conv = _lock(conversation)
        if conv.state == Conversation.State.RESOLVED:
            return conv
        conv.state = Conversation.State.RESOLVED
        conv.resolved_at = timezone.now()
        conv.unread_count = 0
        conv.save(update_fields=["state", "resolved_at", "unread_count"])
        # Anything still queued by the bot for this episode is not sent.
        Message.objects.filter(conversation=conv, status=Message.Status.QUEUED,
                               sender=Message.Sender.BOT).update(status=Message.Status.CANCELED)
        audit.record("messaging.resolve", request=request, actor=by, organization=conv.organization, target=conv)
        emit_conversation(conv, ["state", "resolved_at", "unread_count"])
    return conv


def add_note(conversation: Conversation, text: str, *, user) -> Message:
    """An internal note in the thread (kind ``note``): never sent to WhatsApp."""
    if not (text or "").strip():
        raise InvalidMessage(_("A nota está vazia."))
    note = Message.objects.create(
        organization_id=conversation.organization_id, conversation=conversation, direction=Message.Direction.OUT,
        kind=Message.Kind.NOTE, status=Message.Status.SENT, body=text[:cloudapi.MAX_TEXT],
        sender=Message.Sender.USER, sender_user=user)
    emit_message(note, created=True)
    return note


def mark_read(conversation: Conversation, *, user=None) -> Conversation:
    """The agent saw the thread: unread count 0, and a read receipt for the last inbound
    message is sent (best effort: a lost receipt only leaves grey ticks on the phone)."""
    last = (Message.objects.filter(conversation=conversation, direction=Message.Direction.IN)
            .exclude(wamid=None).order_by("-created_at", "-id").first())
    Conversation.objects.filter(pk=conversation.pk).update(unread_count=0)
    conversation.unread_count = 0
    emit_conversation(conversation, ["unread_count"])
    if last is not None and last.read_at is None:
        Message.objects.filter(pk=last.pk).update(read_at=timezone.now())
        number_id, wamid = conversation.number_id, last.wamid
        transaction.on_commit(lambda: _send_read(number_id, wamid))
    return conversation


def _send_read(number_id: int, wamid: str) -> None:
    from . import sender

    sender.request_read(number_id, wamid)


def set_labels(obj: Conversation | Contact, labels: Iterable[Label]) -> None:
    labels = list(labels)
    if any(label.organization_id != obj.organization_id for label in labels):
        raise NotAllowed(_("Etiqueta de outra organização."))
    obj.labels.set(labels)
    if isinstance(obj, Conversation):
        emit_conversation(obj, ["labels"])


def labels_named(organization, names: Iterable[str]) -> list[Label]:
    """The tenant's labels with these names, created when new (the inbox's label box)."""
    out = []
    for name in names:
        name = str(name).strip()[:60]
        if not name:
            continue
        try:
            with transaction.atomic():
                label, _created = Label.objects.get_or_create(organization=organization, name=name)
        except IntegrityError:  # created by another request a moment ago
            label = Label.objects.get(organization=organization, name=name)
        out.append(label)
    return out


def canned_responses(organization, prefix: str = ""):
    qs = CannedResponse.objects.filter(organization=organization)
    return qs.filter(shortcut__istartswith=prefix) if prefix else qs


# --- consent ------------------------------------------------------------------------------------------


def record_opt_out(contact: Contact, *, source: str = "keyword", request=None, actor=None) -> Contact:
    """LGPD opt-out with its time; queued messages to the contact are canceled."""
    now = timezone.now()
    with transaction.atomic():
        Contact.objects.filter(pk=contact.pk).update(opted_out_at=now)
        contact.opted_out_at = now
        canceled = Message.objects.filter(conversation__contact=contact, status=Message.Status.QUEUED).update(
            status=Message.Status.CANCELED)
        audit.record("messaging.opt_out", request=request, actor=actor, organization=contact.organization,
                     target=contact, source=source, canceled=canceled)
    return contact


def record_opt_in(contact: Contact, *, source: str, request=None, actor=None) -> Contact:
    """Consent with its time and where it was given (the form, a keyword, the clinic's desk)."""
    now = timezone.now()
    Contact.objects.filter(pk=contact.pk).update(opted_in_at=now, consent_source=source[:120])
    contact.opted_in_at, contact.consent_source = now, source[:120]
    audit.record("messaging.opt_in", request=request, actor=actor, organization=contact.organization,
                 target=contact, source=source)
    return contact


def send_system_text(conversation: Conversation, text: str) -> Message | None:
    """A platform message (the opt-out confirmation): allowed after the opt-out itself,
    never outside the window."""
    try:
        return _enqueue(conversation, kind=Message.Kind.TEXT, body=text, sender=Message.Sender.SYSTEM,
                        allow_opted_out=True, build=lambda to: cloudapi.text_payload(to, text))
    except MessagingError as exc:
        log.info("system message not sent: %s", exc)
        return None


def window_remaining(conversation: Conversation, now=None) -> timedelta | None:
    closes = conversation.window_closes_at()
    if closes is None:
        return None
    left = closes - (now or timezone.now())
    return left if left.total_seconds() > 0 else timedelta(0)


# --- templates ------------------------------------------------------------------------------------------


def _template_fields(item: dict) -> dict:
    body, header, footer, buttons = "", "", "", []
    for comp in item.get("components") or []:
        kind = str(comp.get("type") or "").upper()
        if kind == "BODY":
            body = str(comp.get("text") or "")
        elif kind == "HEADER" and comp.get("format", "TEXT") == "TEXT":
            header = str(comp.get("text") or "")[:60]
        elif kind == "FOOTER":
            footer = str(comp.get("text") or "")[:60]
        elif kind == "BUTTONS":
            buttons = [b for b in comp.get("buttons") or [] if isinstance(b, dict)]
    category = str(item.get("category") or "UTILITY").upper()
    status = str(item.get("status") or "PENDING").upper()
    return {"body": body, "header": header, "footer": footer, "buttons": buttons,
            "category": category if category in Template.Category.values else Template.Category.UTILITY,
            "status": status if status in Template.Status.values else Template.Status.PENDING,
            "external_id": str(item.get("id") or "")[:64]}


def sync_templates(number: WhatsAppNumber, *, request=None, actor=None) -> dict[str, int]:
    """Fetch the number's templates from the Graph API (``waba_id`` needed) and upsert them;
    changes are audited (``messaging.template_sync``)."""
    from . import graph
    from .numbers import info_for

    if not number.waba_id:
        raise NotAllowed(_("Informe o ID da conta WhatsApp Business do número para sincronizar os modelos."))
    result = graph.list_templates(info_for(number), number.waba_id)
    if not result.ok or not isinstance(result.data, dict):
        raise MessagingError(_("A API do WhatsApp recusou a consulta de modelos: %(reason)s")
                             % {"reason": result.error.title if result.error else "?"})
    created = updated = 0
    now = timezone.now()
    for item in result.data.get("data") or []:
        if not isinstance(item, dict) or not item.get("name") or not item.get("language"):
            continue
        fields = _template_fields(item)
        tpl, was_created = Template.objects.get_or_create(
            organization_id=number.organization_id, number=number, name=str(item["name"])[:512],
            language=str(item["language"])[:15], defaults={**fields, "synced_at": now})
        if was_created:
            created += 1
            continue
        changed = [k for k, v in fields.items() if getattr(tpl, k) != v]
        if changed:
            for k in changed:
                setattr(tpl, k, fields[k])
            tpl.synced_at = now
            tpl.save(update_fields=[*changed, "synced_at"])
            updated += 1
    if created or updated:
        audit.record("messaging.template_sync", request=request, actor=actor, organization=number.organization,
                     target=number, created=created, updated=updated)
    return {"created": created, "updated": updated}


def fetch_media(message: Message) -> tuple[bytes, str]:
    """The bytes of an inbound media message, through the media URL flow (on demand)."""
    from . import graph
    from .numbers import info_for

    media_id = (message.media or {}).get("id")
    if not media_id:
        raise NotAllowed(_("Esta mensagem não tem mídia."))
    return graph.fetch_media(info_for(message.conversation.number), str(media_id))


def purge_conversations(organization_id: int, before: datetime, *, dry_run: bool = True) -> int:
    """Retention (``central maintenance``, LGPD): delete the organization's resolved
    conversations whose last message is older than ``before``, with their messages, and the
    processed webhook deliveries received before then (their payloads carry the same
    texts); how many conversations (would be) deleted. Open, pending and bot conversations
    are never touched, whatever their age: someone may still answer them. Contacts stay
    (their consent and opt-out must outlive the conversations)."""
    from django.db.models import Q

    from .models import WebhookEvent

    rows = Conversation.objects.filter(
        Q(last_message_at__lt=before) | Q(last_message_at__isnull=True, opened_at__lt=before),
        organization_id=organization_id, state=Conversation.State.RESOLVED)
    if dry_run:
        return rows.count()
    with transaction.atomic():
        count = rows.delete()[1].get(Conversation._meta.label, 0)
        WebhookEvent.objects.filter(organization_id=organization_id, received_at__lt=before,
                                    processed_at__isnull=False).delete()
    return count
