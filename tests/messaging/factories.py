"""Row factories for the messaging models (tenant isolation walker and tests)."""

from __future__ import annotations

import itertools

from django.utils import timezone

from tests.factories import factory, unique

_numbers = itertools.count(1)


def _seq() -> int:
    return next(_numbers)


@factory("messaging.whatsappnumber")
def number(org, **kw):
    from central.messaging.models import WhatsAppNumber

    n = _seq()
    return WhatsAppNumber.objects.create(organization=org, **{
        "phone_number_id": f"{unique('pn')}", "display_number": f"+55113000{n:04d}", "name": "Clínica", **kw})


@factory("messaging.label")
def label(org, **kw):
    from central.messaging.models import Label

    return Label.objects.create(organization=org, **{"name": unique("etiqueta"), **kw})


@factory("messaging.contact")
def contact(org, **kw):
    from central.messaging.models import Contact

    n = _seq()
    wa_id = kw.pop("wa_id", f"55119{70000000 + n:08d}")
    return Contact.objects.create(organization=org, **{"wa_id": wa_id, "phone": f"+{wa_id}", "name": "Paciente",
                                                       **kw})


@factory("messaging.conversation")
def conversation(org, *, number_obj=None, contact_obj=None, inbound_minutes_ago: float | None = 1, **kw):
    from datetime import timedelta

    from central.messaging.models import Conversation

    last = timezone.now() - timedelta(minutes=inbound_minutes_ago) if inbound_minutes_ago is not None else None
    return Conversation.objects.create(
        organization=org, number=number_obj or number(org), contact=contact_obj or contact(org),
        **{"state": "bot", "last_inbound_at": last, "last_message_at": last, **kw})


@factory("messaging.message")
def message(org, *, conversation_obj=None, **kw):
    from central.messaging.models import Message

    conv = conversation_obj or conversation(org)
    return Message.objects.create(organization=org, conversation=conv, **{
        "direction": "in", "kind": "text", "status": "received", "body": "Olá", "sender": "customer",
        "wamid": f"wamid.{unique('m')}", **kw})


@factory("messaging.template")
def template(org, *, number_obj=None, **kw):
    from central.messaging.models import Template

    return Template.objects.create(organization=org, number=number_obj or number(org), **{
        "name": unique("lembrete"), "language": "pt_BR", "body": "Olá {{1}}, sua consulta é {{2}}.", **kw})


@factory("messaging.cannedresponse")
def canned(org, **kw):
    from central.messaging.models import CannedResponse

    return CannedResponse.objects.create(organization=org, **{"shortcut": unique("oi"), "body": "Olá! Como posso ajudar?",
                                                              **kw})


@factory("messaging.webhookevent")
def webhook_event(org, **kw):
    from central.messaging.models import WebhookEvent

    return WebhookEvent.objects.create(organization=org, number=kw.pop("number_obj", None) or number(org),
                                       **{"key": unique("msg:wamid."), "kind": "message", "payload": {}, **kw})
