"""The automated responder hook: where an assistant plugs into conversations.

A responder is an object with ``name``, ``applies_to(conversation) -> bool`` and
``handle(conversation, message) -> None``; :func:`register` adds it. After an inbound
message is stored, :func:`dispatch` calls the first responder that applies, **only while
the conversation is in state ``bot``**. To answer, a responder calls the service functions
with ``bot=True`` (``services.send_text(conversation, text, bot=True)``) or hands the
conversation to a human (``services.hand_off(conversation, reason)``).

"The bot talks over a human" is impossible by construction, checked in one place,
:func:`central.messaging.services.bot_may_speak`: a message with sender ``bot`` is refused
when it is queued unless the conversation (re-read under a row lock) is in ``bot``, and
dropped (status ``canceled``) when the sender takes it from the queue if a human took the
conversation meanwhile. Any human action (reply, assign, note-free hand-off) moves the
conversation out of ``bot``; only :func:`services.resolve` ends a human's ownership, and
the customer's next message starts a new conversation that the responder owns again.
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

log = logging.getLogger(__name__)


@runtime_checkable
class Responder(Protocol):
    name: str

    def applies_to(self, conversation) -> bool:  # pragma: no cover - protocol
        """True when this responder serves the conversation (tenant, number, time...)."""

    def handle(self, conversation, message) -> None:  # pragma: no cover - protocol
        """React to ``message`` (inbound, already stored); reply with ``bot=True``."""


_REGISTRY: list[Responder] = []


def register(responder: Responder) -> Responder:
    """Add a responder (idempotent by ``name``: a re-registration replaces it)."""
    unregister(responder.name)
    _REGISTRY.append(responder)
    return responder


def unregister(name: str) -> None:
    _REGISTRY[:] = [r for r in _REGISTRY if r.name != name]


def registered() -> list[Responder]:
    return list(_REGISTRY)


def responder_for(conversation) -> Responder | None:
    for responder in _REGISTRY:
        try:
            if responder.applies_to(conversation):
                return responder
        except Exception:
            log.exception("responder %s failed in applies_to", responder.name)
    return None


def dispatch(conversation_id: int, message_id: int) -> bool:
    """Give an inbound message to the responder, if the conversation is in ``bot``.

    Returns True when a responder ran. A responder that raises hands the conversation to
    a human (the customer must not be left without an answer).
    """
    from .models import Conversation, Message
    from .services import hand_off

    conversation = Conversation.objects.select_related("contact", "number").get(pk=conversation_id)
    if conversation.state != Conversation.State.BOT:
        return False
    responder = responder_for(conversation)
    if responder is None:
        return False
    message = Message.objects.get(pk=message_id)
    try:
        responder.handle(conversation, message)
    except Exception:
        log.exception("responder %s failed; handing the conversation to a human", responder.name)
        conversation.refresh_from_db()
        if conversation.state == Conversation.State.BOT:
            from django.utils.translation import gettext as _

            hand_off(conversation, _("Falha do assistente automático."))
    return True
