"""Messages to patients, through the WhatsApp channel's service functions only.

The agenda never writes messaging's tables; it asks ``central.messaging.services`` (the
WhatsApp issue) to send. What the agenda needs from the channel is five questions, kept
in :class:`Channel`, so the seam is one small class:

* may this patient be messaged at all (consent given, not opted out)?
* is the patient inside the 24-hour customer-service window (free-form and interactive
  messages allowed) or outside it (only approved templates)?
* send a template with quick-reply buttons; send an interactive message with buttons;
  send plain text.

:func:`channel` returns the installed implementation: :class:`MessagingChannel` when the
messaging app is installed, else :class:`NoChannel`, which refuses (reminders are then
recorded as failed with the reason, never silently dropped).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.util import find_spec

log = logging.getLogger(__name__)

#: Button ids of a reminder; the reply handler (services.reply_to_reminder) reads the same ones.
from .services import REPLY_CANCEL, REPLY_CONFIRM, REPLY_RESCHEDULE  # noqa: E402

#: The WhatsApp template a clinic registers for reminders (body with 4 variables: patient
#: name, service, professional, date and time) and its three quick replies.
REMINDER_TEMPLATE = "lembrete_consulta"
REMINDER_BUTTONS = ((REPLY_CONFIRM, "Confirmar"), (REPLY_RESCHEDULE, "Remarcar"), (REPLY_CANCEL, "Cancelar"))
WAITLIST_TEMPLATE = "oferta_lista_espera"


class ChannelUnavailable(RuntimeError):
    """No way to reach the patient (channel not installed, not configured, refused)."""


@dataclass(frozen=True)
class Sent:
    message_id: str
    kind: str  # "template" | "interactive" | "text"


class Channel:
    def can_message(self, org, phone: str) -> bool:
        raise NotImplementedError

    def in_window(self, org, phone: str) -> bool:
        raise NotImplementedError

    def send_template(self, org, phone: str, template: str, variables: list[str],
                      quick_replies: list[tuple[str, str]], context: dict) -> Sent:
        raise NotImplementedError

    def send_buttons(self, org, phone: str, text: str, buttons: list[tuple[str, str]], context: dict) -> Sent:
        raise NotImplementedError

    def send_text(self, org, phone: str, text: str, context: dict) -> Sent:
        raise NotImplementedError


class NoChannel(Channel):
    def can_message(self, org, phone):
        return True

    def in_window(self, org, phone):
        return False

    def _refuse(self, *args, **kwargs):
        raise ChannelUnavailable("canal WhatsApp não instalado")

    send_template = send_buttons = send_text = _refuse


class MessagingChannel(Channel):
    """Adapter to ``central.messaging.services`` (signatures documented in docs/messaging.md)."""

    def __init__(self) -> None:
        from central.messaging import services as messaging

        self.m = messaging

    def can_message(self, org, phone):
        fn = getattr(self.m, "can_message", None) or getattr(self.m, "may_message", None)
        return bool(fn(org, phone)) if fn else True

    def in_window(self, org, phone):
        fn = getattr(self.m, "in_service_window", None) or getattr(self.m, "within_window", None)
        return bool(fn(org, phone)) if fn else False

    def send_template(self, org, phone, template, variables, quick_replies, context):
        msg = self.m.send_template(org, phone, template, variables=variables,
                                   quick_replies=[label for _id, label in quick_replies], context=context)
        return Sent(str(getattr(msg, "pk", msg)), "template")

    def send_buttons(self, org, phone, text, buttons, context):
        msg = self.m.send_buttons(org, phone, text, buttons=buttons, context=context)
        return Sent(str(getattr(msg, "pk", msg)), "interactive")

    def send_text(self, org, phone, text, context):
        msg = self.m.send_text(org, phone, text, context=context)
        return Sent(str(getattr(msg, "pk", msg)), "text")


_override: Channel | None = None


def channel() -> Channel:
    if _override is not None:
        return _override
    if find_spec("central.messaging.services") is not None:
        try:
            return MessagingChannel()
        except Exception:  # messaging present but broken: report, do not crash the job
            log.exception("messaging channel unavailable")
    return NoChannel()


def use_channel(ch: Channel | None) -> None:
    """Install another :class:`Channel` (``None`` restores the default)."""
    global _override
    _override = ch
