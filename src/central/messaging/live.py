"""Live updates of the inbox: the backend's signals become WebSocket pushes.

``central.messaging.signals`` fires after each commit that changed a message or a
conversation (webhook processing, the sender, the inbox's own actions, the API, the
assistant); this module turns each into one message on the tenant's group
(``core.live.org_group``), which the dashboard's one consumer (``/ws/live/``) forwards to
that tenant's pages only. Message types (the contract with ``static/messaging/*.js``):

* ``wa_message``: ``{"message", "conversation"}``, a message or note was stored;
* ``wa_status``: ``{"message"}``, an outbound message's status changed;
* ``wa_conversation``: ``{"conversation"}``, state, assignee, labels, unread count...

Rows are read again after the commit, so a push always shows what the database holds.
A push never breaks the action that caused it (logged, dropped).
"""

from __future__ import annotations

import logging

from django.dispatch import receiver

from central.core.live import org_group, publish

from .signals import conversation_changed, message_changed

log = logging.getLogger(__name__)

MESSAGE = "wa_message"
STATUS = "wa_status"
CONVERSATION = "wa_conversation"


def _conversation(pk: int):
    from .models import Conversation

    return (Conversation.objects.select_related("contact", "assignee", "number")
            .prefetch_related("labels").filter(pk=pk).first())


def message_payload(message_id: int, *, created: bool) -> dict | None:
    from .models import Message
    from .presenters import conversation_json, message_json

    message = Message.objects.select_related("sender_user", "conversation").filter(pk=message_id).first()
    if message is None:
        return None
    if not created:
        return {"type": STATUS, "message": message_json(message)}
    conv = _conversation(message.conversation_id)
    return {"type": MESSAGE, "message": message_json(message),
            "conversation": conversation_json(conv) if conv else None}


def conversation_payload(conversation_id: int) -> dict | None:
    from .presenters import conversation_json

    conv = _conversation(conversation_id)
    return {"type": CONVERSATION, "conversation": conversation_json(conv)} if conv else None


@receiver(message_changed, dispatch_uid="messaging.live.message")
def _on_message(sender, message, created, organization_id, **kwargs) -> None:
    try:
        payload = message_payload(message.pk, created=created)
        if payload:
            publish(org_group(organization_id), payload)
    except Exception:
        log.warning("inbox push for message %s failed", getattr(message, "pk", None), exc_info=True)


@receiver(conversation_changed, dispatch_uid="messaging.live.conversation")
def _on_conversation(sender, conversation, fields, organization_id, **kwargs) -> None:
    try:
        payload = conversation_payload(conversation.pk)
        if payload:
            publish(org_group(organization_id), payload)
    except Exception:
        log.warning("inbox push for conversation %s failed", getattr(conversation, "pk", None), exc_info=True)
