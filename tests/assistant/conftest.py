"""A clinic (the agenda's test clinic) with a WhatsApp number and a patient's conversation."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


def option_ids(message) -> list[str]:
    """Ids of the buttons or list rows of an outbound interactive message (its payload)."""
    action = (message.payload.get("interactive") or {}).get("action") or {}
    if "buttons" in action:
        return [b["reply"]["id"] for b in action["buttons"]]
    return [r["id"] for sec in action.get("sections", []) for r in sec["rows"]]


class Chat:
    """Inbound messages stored as messaging stores them, then given to the responder."""

    def __init__(self, conv):
        self.conv = conv
        self.seen = 0

    def say(self, text: str = "", reply_id: str = "", title: str = ""):
        from central.messaging import responders
        from central.messaging.models import Message

        if reply_id:
            payload = {"type": "interactive", "interactive": {"type": "button_reply",
                                                              "button_reply": {"id": reply_id, "title": title}}}
            kind, body = "interactive", title or reply_id
        else:
            payload = {"type": "text", "text": {"body": text}}
            kind, body = "text", text
        msg = Message.objects.create(organization=self.conv.organization, conversation=self.conv, direction="in",
                                     kind=kind, status="received", body=body, payload=payload, sender="customer")
        responders.dispatch(self.conv.pk, msg.pk)
        return self.new()

    def new(self):
        from central.messaging.models import Message

        out = list(Message.objects.filter(conversation__contact=self.conv.contact, direction="out")
                   .order_by("id"))
        fresh, self.seen = out[self.seen:], len(out)
        return fresh

    def state(self) -> str:
        self.conv.refresh_from_db()
        return self.conv.state


@pytest.fixture
def chat(db):
    from django.utils import timezone

    from central.messaging.models import Contact, Conversation, WhatsAppNumber
    from tests.scheduling.conftest import make_clinic

    c = make_clinic()
    number = WhatsAppNumber.objects.create(organization=c.org, phone_number_id="pn-clinic", display_number="+551130000000")
    contact = Contact.objects.create(organization=c.org, wa_id="5511987654321", phone="+5511987654321", name="Paula")
    conv = Conversation.objects.create(organization=c.org, number=number, contact=contact, state="bot",
                                       last_inbound_at=timezone.now())
    return SimpleNamespace(**vars(c), number=number, contact=contact, conv=conv, chat=Chat(conv))
