"""Messages to patients, through the WhatsApp channel's service functions only.

The agenda never reads or writes messaging's tables: it finds the clinic's number, the
patient's contact, consent, live conversation and templates through
``central.messaging.services`` (``active_number``, ``contact_for_phone``,
``consent_for_phone``, ``live_conversation``, ``window_open_for``, ``approved_template``)
and queues through ``send_template`` / ``send_interactive`` /
``send_text`` as the bot (``bot=True``: the messaging gate ``bot_may_speak`` keeps the
reminder from talking over a human who owns the conversation; that refusal is recorded).

What the agenda asks of the channel:

* :func:`can_message` — consent recorded (``opted_in_at``) or the patient wrote to the
  clinic before, and not opted out (LGPD; messaging's ``Contact.opted_out``);
* :func:`in_window` — inside the 24 h customer-service window (free-form and
  interactive allowed) or not (only an approved template);
* :func:`send_template`, :func:`send_buttons`, :func:`send_text`.

Refusals raise :class:`ChannelUnavailable` with a pt-BR reason that the caller records.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from . import whatsapp_templates

log = logging.getLogger(__name__)

#: The templates a clinic registers (one definition: ``whatsapp_templates``).
REMINDER_TEMPLATE = whatsapp_templates.REMINDER["name"]
REMINDER_TEMPLATE_BODY = whatsapp_templates.REMINDER["body"]
WAITLIST_TEMPLATE = whatsapp_templates.WAITLIST["name"]
WAITLIST_TEMPLATE_BODY = whatsapp_templates.WAITLIST["body"]


class ChannelUnavailable(RuntimeError):
    """The patient cannot be reached now; ``str()`` says why (pt-BR)."""


@dataclass(frozen=True)
class Sent:
    message_id: str
    kind: str  # "template" | "interactive" | "text"


def _number(org):
    from central.messaging import services as messaging

    number = messaging.active_number(org)
    if number is None:
        raise ChannelUnavailable("a clínica não tem número de WhatsApp ativo")
    return number


def can_message(org, phone: str) -> bool:
    """Messaging's consent rule (``Consent.may_contact``): opted in or wrote before, not
    opted out."""
    from central.messaging import services as messaging

    return messaging.consent_for_phone(org, phone).may_contact


def _conversation(org, phone: str):
    from central.messaging import services as messaging

    contact = messaging.contact_for_phone(org, phone)
    if contact is None:
        raise ChannelUnavailable("paciente sem contato de WhatsApp")
    return messaging.live_conversation(_number(org), contact)


def in_window(org, phone: str) -> bool:
    from central.messaging import services as messaging

    contact = messaging.contact_for_phone(org, phone)
    if contact is None:
        return False
    return messaging.window_open_for(_number(org), contact)


def _send(fn, *args, **kwargs):
    from central.messaging.services import MessagingError

    try:
        return fn(*args, **kwargs)
    except MessagingError as exc:
        raise ChannelUnavailable(str(getattr(exc, "message", exc))) from exc


def send_template(org, phone: str, template_name: str, params: list[str]) -> Sent:
    from central.messaging import services as messaging

    number = _number(org)
    template = messaging.approved_template(number, template_name)
    if template is None:
        raise ChannelUnavailable(f"modelo {template_name} não aprovado neste número")
    msg = _send(messaging.send_template, _conversation(org, phone), template, params, bot=True)
    return Sent(str(msg.pk), "template")


def send_buttons(org, phone: str, text: str, buttons: list[tuple[str, str]]) -> Sent:
    from central.messaging import services as messaging

    msg = _send(messaging.send_interactive, _conversation(org, phone), text, buttons=buttons, bot=True)
    return Sent(str(msg.pk), "interactive")


def send_text(org, phone: str, text: str) -> Sent:
    from central.messaging import services as messaging

    msg = _send(messaging.send_text, _conversation(org, phone), text, bot=True)
    return Sent(str(msg.pk), "text")
