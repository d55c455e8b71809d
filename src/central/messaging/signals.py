"""Signals other parts listen to (the inbox's live updates, the assistant, metrics).

Sent after the transaction that made the change commits, with ``organization_id`` so a
listener can publish to the tenant's group only (``central.core.live.org_group``).

* ``message_changed(message, created)``: a message was stored or its status changed.
* ``conversation_changed(conversation, fields)``: state, assignee, labels, unread count...
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

message_changed = Signal()
conversation_changed = Signal()


def emit_message(message, *, created: bool) -> None:
    transaction.on_commit(lambda: message_changed.send(
        sender=type(message), message=message, created=created, organization_id=message.organization_id))


def emit_conversation(conversation, fields: list[str]) -> None:
    transaction.on_commit(lambda: conversation_changed.send(
        sender=type(conversation), conversation=conversation, fields=list(fields),
        organization_id=conversation.organization_id))
