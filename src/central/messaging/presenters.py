"""What the inbox pages and their live updates show of conversations and messages.

One shape for both: a page renders its first state with these dicts (``json_script``)
and every WebSocket update carries the same dicts, so a message received live is drawn
by the same script as one loaded with the page (the telephony pages' rule). Times are ISO
8601 in the tenant's zone; the browser formats them in that zone too (``Intl`` with the
organization's ``timeZone``), never in the viewer's own.
"""

from __future__ import annotations

from typing import Any

import phonenumbers
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Contact, Conversation, Message, Template

#: How much of a thread a page loads (older messages stay in the API).
THREAD_LIMIT = 300
#: Conversations a list shows at once (newest activity first).
LIST_LIMIT = 200


def phone_display(e164: str) -> str:
    """A number as people read it: ``(11) 98765-4321`` for Brazil, international otherwise."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    if parsed.country_code == 55:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def person_url(e164: str) -> str:
    return reverse("messaging:person", args=[e164.lstrip("+")])


def _iso(value) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


def user_name(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def contact_json(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.pk,
        "name": contact.name,
        "wa_id": contact.wa_id,
        "phone": contact.phone,
        "phone_display": phone_display(contact.phone),
        "person_url": person_url(contact.phone),
        "opted_out": contact.opted_out,
    }


def conversation_json(conv: Conversation) -> dict[str, Any]:
    """Needs ``contact``, ``assignee`` selected and ``labels`` prefetched for lists."""
    return {
        "id": conv.pk,
        "contact": contact_json(conv.contact),
        "state": conv.state,
        "state_label": str(Conversation.State(conv.state).label),
        "assignee": {"id": conv.assignee_id, "name": user_name(conv.assignee)} if conv.assignee_id else None,
        "unread": conv.unread_count,
        "last_message_at": _iso(conv.last_message_at),
        "last_preview": conv.last_message_preview,
        "window_expires_at": _iso(conv.window_closes_at()),
        "handoff_reason": conv.handoff_reason,
        "opened_at": _iso(conv.opened_at),
        "first_response_at": _iso(conv.first_response_at),
        "resolved_at": _iso(conv.resolved_at),
        "labels": sorted(label.name for label in conv.labels.all()),
        "number": conv.number_id,
    }


def _choices(payload: dict) -> dict[str, Any] | None:
    """The buttons / list rows an outbound interactive message offered (ids and titles)."""
    inter = payload.get("interactive") if isinstance(payload, dict) else None
    if not isinstance(inter, dict):
        return None
    action = inter.get("action") or {}
    if inter.get("type") == "button":
        return {"buttons": [{"id": (b.get("reply") or {}).get("id", ""), "title": (b.get("reply") or {}).get("title", "")}
                            for b in action.get("buttons") or [] if isinstance(b, dict)]}
    if inter.get("type") == "list":
        return {"list": {"button": action.get("button", ""), "sections": [
            {"title": s.get("title", ""), "rows": [
                {"id": r.get("id", ""), "title": r.get("title", ""), "description": r.get("description", "")}
                for r in s.get("rows") or [] if isinstance(r, dict)]}
            for s in action.get("sections") or [] if isinstance(s, dict)]}}
    return None


def _template_buttons(message: Message) -> list[dict] | None:
    """Quick-reply buttons of a sent template, from the number's template registry."""
    tpl = (message.payload or {}).get("template") if isinstance(message.payload, dict) else None
    if not isinstance(tpl, dict):
        return None
    lang = (tpl.get("language") or {}).get("code", "")
    row = (Template.objects.filter(number_id=message.conversation.number_id, name=tpl.get("name", ""), language=lang)
           .only("buttons").first())
    out = []
    for b in (row.buttons if row else []) or []:
        if isinstance(b, dict) and (b.get("type") or "QUICK_REPLY").upper() == "QUICK_REPLY":
            out.append({"id": b.get("payload") or b.get("text", ""), "title": b.get("text", "")})
    return out or None


def message_json(message: Message) -> dict[str, Any]:
    """One message of a thread, as the inbox and the test phone draw it."""
    kind = message.kind
    pressed = ""
    text = message.body
    if message.direction == Message.Direction.IN and kind in (Message.Kind.INTERACTIVE, Message.Kind.BUTTON):
        pressed, text = message.body, ""
    if message.sender == Message.Sender.USER:
        author = user_name(message.sender_user)
    elif message.sender == Message.Sender.BOT:
        author = _("Assistente")
    elif message.sender == Message.Sender.SYSTEM:
        author = _("Sistema")
    else:
        author = ""
    data: dict[str, Any] = {
        "id": message.pk,
        "conversation": message.conversation_id,
        "direction": message.direction,
        "kind": kind,
        "kind_label": str(Message.Kind(kind).label) if kind in Message.Kind.values else kind,
        "text": text,
        "reply_to_button": pressed,
        "status": message.status,
        "status_label": str(Message.Status(message.status).label) if message.status in Message.Status.values else "",
        "error": _error_text(message) if message.status == Message.Status.FAILED else "",
        "created_at": _iso(message.created_at),
        "author": author,
        "sender": message.sender,
        "wamid": message.wamid or "",
        "read_at": _iso(message.read_at),
        "media": None,
        "location": None,
        "template": "",
        "choices": None,
    }
    media = message.media or {}
    if kind in ("image", "document", "audio", "video", "sticker") and media:
        data["media"] = {"kind_label": data["kind_label"], "filename": media.get("filename", ""),
                         "mime_type": media.get("mime_type", ""), "caption": media.get("caption", ""),
                         "size_label": ""}
        if text and text in (media.get("caption"), media.get("filename")):
            data["text"] = ""
    elif kind == Message.Kind.LOCATION and media:
        data["location"] = {k: media.get(k) for k in ("latitude", "longitude", "name", "address")}
        data["text"] = ""
    elif kind == Message.Kind.REACTION:
        data["text"] = _("reagiu com %(emoji)s") % {"emoji": message.body}
    elif kind == Message.Kind.UNSUPPORTED:
        data["text"] = _("Mensagem de um tipo que o WhatsApp não entrega a empresas.")
    if message.direction == Message.Direction.OUT:
        if kind == Message.Kind.INTERACTIVE:
            data["choices"] = _choices(message.payload or {})
        elif kind == Message.Kind.TEMPLATE:
            tpl = (message.payload or {}).get("template") or {}
            data["template"] = tpl.get("name", "") if isinstance(tpl, dict) else ""
            buttons = _template_buttons(message)
            if buttons:
                data["choices"] = {"buttons": buttons, "template": True}
    return data


def _error_text(message: Message) -> str:
    if message.error_code and message.error_title:
        return f"{message.error_title} ({message.error_code})"
    return message.error_title or (str(message.error_code) if message.error_code else _("motivo não informado"))
