"""The WhatsApp Cloud API as data: signatures, payloads, webhook parsing, error classes.

Pure (no Django, no I/O), so the webhook view, the sender, the simulator and the tests
share one spelling of every field. Shapes follow Meta's Cloud API reference (messages
endpoint, webhook ``messages`` field, error codes); the samples in
``tests/fixtures/whatsapp/`` name their source.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

#: Graph API version the product speaks (path prefix ``/v<version>/``).
GRAPH_VERSION = "v21.0"
#: The real Graph API; the simulator replaces it under ``central up``.
GRAPH_BASE_URL = "https://graph.facebook.com"
SIGNATURE_HEADER = "HTTP_X_HUB_SIGNATURE_256"  # X-Hub-Signature-256 as Django META spells it
SIGNATURE_PREFIX = "sha256="

#: Interactive limits of the Cloud API (messages reference, "interactive object").
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_LIST_ROWS = 10
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_SECTION_TITLE = 24
MAX_LIST_BUTTON = 20
MAX_INTERACTIVE_BODY = 1024
MAX_TEXT = 4096

# --- signatures ---------------------------------------------------------------------------------


def sign(app_secret: str | bytes, body: bytes) -> str:
    """``X-Hub-Signature-256`` value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    key = app_secret.encode() if isinstance(app_secret, str) else app_secret
    return SIGNATURE_PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


def signature_valid(app_secret: str | bytes, body: bytes, header: str | None) -> bool:
    """Constant-time comparison of the header with the expected signature."""
    if not header or not app_secret:
        return False
    expected = sign(app_secret, body).encode()
    return hmac.compare_digest(expected, header.strip().encode("ascii", "replace"))


# --- errors -------------------------------------------------------------------------------------

#: Error codes (Cloud API "Error codes" reference) and how the sender treats them.
ERR_REENGAGEMENT = 131047  # more than 24 h since the customer's last message
ERR_THROUGHPUT = 130429  # rate limit hit (per business number)
ERR_PAIR_RATE = 131056  # too many messages from this number to the same recipient
ERR_INVALID_PARAMETER = 100
ERR_SPAM_RATE = 131048
ERR_TEMPORARY = 131000  # something went wrong (transient)
ERR_SERVICE_UNAVAILABLE = 131016
ERR_RECIPIENT_NOT_WA = 131026  # message undeliverable
ERR_TEMPLATE_NOT_FOUND = 132001
ERR_TEMPLATE_PARAMS = 132000
ERR_ACCESS_TOKEN = 190

#: Retried with backoff; every other code fails the message with its title.
TRANSIENT_CODES = frozenset({ERR_THROUGHPUT, ERR_PAIR_RATE, ERR_TEMPORARY, ERR_SERVICE_UNAVAILABLE, 1, 2, 4, 80007})
#: Rate limits: the pacer slows down (per number / per recipient) instead of only retrying.
RATE_CODES = frozenset({ERR_THROUGHPUT, ERR_PAIR_RATE})


@dataclass(frozen=True, slots=True)
class ApiError:
    code: int
    title: str
    message: str = ""
    details: str = ""
    http_status: int = 400

    @property
    def transient(self) -> bool:
        return self.code in TRANSIENT_CODES or self.http_status >= 500

    def as_response(self) -> dict:
        """The Graph API error body (``{"error": {...}}``)."""
        return {"error": {"message": self.message or self.title, "type": "OAuthException", "code": self.code,
                          "error_data": {"messaging_product": "whatsapp", "details": self.details or self.title},
                          "error_subcode": 2494010 if self.code == ERR_REENGAGEMENT else None,
                          "fbtrace_id": "AbCdEfGhIjKlMnOp"}}


def parse_error(status: int, body: Any) -> ApiError:
    """An :class:`ApiError` from a Graph API error answer (any shape: never raises)."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return ApiError(code=0, title=f"HTTP {status}", http_status=status)
    code = err.get("code")
    data = err.get("error_data") if isinstance(err.get("error_data"), dict) else {}
    return ApiError(code=code if isinstance(code, int) else 0, title=str(err.get("message") or "")[:300],
                    message=str(err.get("message") or "")[:300], details=str(data.get("details") or "")[:300],
                    http_status=status)


# --- outbound payloads (POST /<phone_number_id>/messages) ---------------------------------------


class PayloadError(ValueError):
    """A message the Cloud API would refuse (100 invalid parameter); message in English for
    logs, the service layer turns it into pt-BR text for users."""


def text_payload(to: str, body: str, *, preview_url: bool = False) -> dict:
    if not body or not body.strip():
        raise PayloadError("empty text")
    if len(body) > MAX_TEXT:
        raise PayloadError(f"text longer than {MAX_TEXT} characters")
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text",
            "text": {"preview_url": preview_url, "body": body}}


def buttons_payload(to: str, body: str, buttons: list[tuple[str, str]], *, header: str = "",
                    footer: str = "") -> dict:
    """Reply buttons: ``buttons`` are ``(id, title)``, at most 3, titles up to 20 characters."""
    if not 1 <= len(buttons) <= MAX_BUTTONS:
        raise PayloadError(f"1 to {MAX_BUTTONS} buttons")
    ids = [b[0] for b in buttons]
    if len(set(ids)) != len(ids):
        raise PayloadError("button ids must be unique")
    for bid, title in buttons:
        if not title or len(title) > MAX_BUTTON_TITLE:
            raise PayloadError(f"button title must have 1 to {MAX_BUTTON_TITLE} characters")
        if not bid or len(bid) > 256:
            raise PayloadError("button id must have 1 to 256 characters")
    _check_body(body)
    interactive: dict = {"type": "button", "body": {"text": body}, "action": {"buttons": [
        {"type": "reply", "reply": {"id": bid, "title": title}} for bid, title in buttons]}}
    _decorate(interactive, header, footer)
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "interactive",
            "interactive": interactive}


def list_payload(to: str, body: str, button: str, sections: list[dict], *, header: str = "",
                 footer: str = "") -> dict:
    """A list message: ``sections`` are ``{"title", "rows": [{"id", "title", "description"}]}``,
    at most 10 rows in all."""
    rows = [row for section in sections for row in section.get("rows", [])]
    if not 1 <= len(rows) <= MAX_LIST_ROWS:
        raise PayloadError(f"1 to {MAX_LIST_ROWS} rows")
    if not button or len(button) > MAX_LIST_BUTTON:
        raise PayloadError(f"list button text must have 1 to {MAX_LIST_BUTTON} characters")
    ids = [r.get("id") for r in rows]
    if len(set(ids)) != len(ids) or not all(ids):
        raise PayloadError("row ids must be present and unique")
    for row in rows:
        if not row.get("title") or len(row["title"]) > MAX_ROW_TITLE:
            raise PayloadError(f"row title must have 1 to {MAX_ROW_TITLE} characters")
        if len(row.get("description") or "") > MAX_ROW_DESCRIPTION:
            raise PayloadError(f"row description up to {MAX_ROW_DESCRIPTION} characters")
    if len(sections) > 1 and not all(s.get("title") for s in sections):
        raise PayloadError("several sections need titles")
    _check_body(body)
    clean = []
    for s in sections:
        out: dict = {"rows": [{k: v for k, v in r.items() if k in ("id", "title", "description") and v}
                              for r in s.get("rows", [])]}
        if s.get("title"):
            out["title"] = s["title"][:MAX_SECTION_TITLE]
        clean.append(out)
    interactive: dict = {"type": "list", "body": {"text": body}, "action": {"button": button, "sections": clean}}
    _decorate(interactive, header, footer)
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "interactive",
            "interactive": interactive}


def template_payload(to: str, name: str, language: str, params: list[str] | None = None) -> dict:
    template: dict = {"name": name, "language": {"code": language}}
    if params:
        template["components"] = [{"type": "body", "parameters": [{"type": "text", "text": str(p)} for p in params]}]
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "template",
            "template": template}


def read_payload(wamid: str) -> dict:
    return {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}


def render_template(body: str, params: list[str] | None) -> str:
    """The text a template shows with its ``{{n}}`` parameters filled (for the thread)."""
    out = body
    for i, value in enumerate(params or [], start=1):
        out = out.replace("{{" + str(i) + "}}", str(value))
    return out


def _check_body(body: str) -> None:
    if not body or len(body) > MAX_INTERACTIVE_BODY:
        raise PayloadError(f"body must have 1 to {MAX_INTERACTIVE_BODY} characters")


def _decorate(interactive: dict, header: str, footer: str) -> None:
    if header:
        interactive["header"] = {"type": "text", "text": header[:60]}
    if footer:
        interactive["footer"] = {"text": footer[:60]}


# --- webhook parsing ----------------------------------------------------------------------------


@dataclass(slots=True)
class Event:
    """One message or status found in a delivery, with what is needed to store it."""

    kind: str  # "message" | "status"
    key: str
    phone_number_id: str
    payload: dict = field(default_factory=dict)


class DeliveryInvalid(ValueError):
    """Not a WhatsApp Business Account delivery (the reason is for metrics and logs)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def message_key(wamid: str) -> str:
    return f"msg:{wamid}"


def status_key(wamid: str, status: str) -> str:
    return f"status:{wamid}:{status}"


def phone_number_ids(delivery: Any) -> set[str]:
    """Every ``metadata.phone_number_id`` of a delivery (to find the app secret to check)."""
    found: set[str] = set()
    for value in _values(delivery):
        meta = value.get("metadata")
        if isinstance(meta, dict) and isinstance(meta.get("phone_number_id"), str | int):
            found.add(str(meta["phone_number_id"]))
    return found


def _values(delivery: Any):
    if not isinstance(delivery, dict) or delivery.get("object") != "whatsapp_business_account":
        raise DeliveryInvalid("not_whatsapp_business_account")
    entries = delivery.get("entry")
    if not isinstance(entries, list):
        raise DeliveryInvalid("no_entry")
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("changes"), list):
            continue
        for change in entry["changes"]:
            if isinstance(change, dict) and change.get("field") == "messages" and isinstance(change.get("value"), dict):
                yield change["value"]


def split_delivery(delivery: Any) -> list[Event]:
    """The messages and statuses of a delivery, one :class:`Event` each.

    Unknown fields are ignored (Meta adds fields); items without an id are skipped. A
    message event keeps the sender's ``contacts`` entry (profile name) and the metadata.
    """
    events: list[Event] = []
    for value in _values(delivery):
        meta = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
        pnid = str(meta.get("phone_number_id") or "")
        if not pnid:
            continue
        contacts = {str(c.get("wa_id")): c for c in value.get("contacts") or [] if isinstance(c, dict)}
        for msg in value.get("messages") or []:
            if not isinstance(msg, dict) or not isinstance(msg.get("id"), str) or not msg["id"]:
                continue
            contact = contacts.get(str(msg.get("from")), {})
            events.append(Event("message", message_key(msg["id"]), pnid,
                                {"message": msg, "contact": contact, "metadata": meta}))
        for st in value.get("statuses") or []:
            if not isinstance(st, dict) or not isinstance(st.get("id"), str) or not isinstance(st.get("status"), str):
                continue
            events.append(Event("status", status_key(st["id"], st["status"]), pnid, {"status": st, "metadata": meta}))
    return events


#: Order of outbound statuses; a status never moves a message backwards ("read" before
#: "delivered" ends in "read"). ``failed`` wins only over queued/sent.
STATUS_RANK = {"queued": 0, "sent": 1, "delivered": 2, "read": 3}


def status_advances(current: str, new: str) -> bool:
    if new == "failed":
        return current in ("queued", "sent")
    if current in ("failed", "canceled"):
        return False
    return STATUS_RANK.get(new, -1) > STATUS_RANK.get(current, -1)


@dataclass(frozen=True, slots=True)
class Inbound:
    """What the product keeps of an inbound message (kind, text shown, reply id, media)."""

    kind: str
    body: str
    reply_id: str = ""  # button/list row id the customer picked
    media: dict = field(default_factory=dict)
    context_wamid: str = ""


_MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")


def read_inbound(msg: dict) -> Inbound:
    """Interpret one webhook message object (every documented type; unknown -> unsupported)."""
    mtype = msg.get("type")
    context = msg.get("context") if isinstance(msg.get("context"), dict) else {}
    ctx = str(context.get("id") or "")
    if mtype == "text":
        return Inbound("text", str((msg.get("text") or {}).get("body") or ""), context_wamid=ctx)
    if mtype == "interactive":
        inter = msg.get("interactive") or {}
        for key in ("button_reply", "list_reply"):
            reply = inter.get(key)
            if isinstance(reply, dict):
                return Inbound("interactive", str(reply.get("title") or ""), reply_id=str(reply.get("id") or ""),
                               context_wamid=ctx)
        return Inbound("unsupported", "", context_wamid=ctx)
    if mtype == "button":  # quick reply of a template
        button = msg.get("button") or {}
        return Inbound("button", str(button.get("text") or ""), reply_id=str(button.get("payload") or ""),
                       context_wamid=ctx)
    if mtype in _MEDIA_TYPES:
        media = msg.get(mtype) or {}
        keep = {k: media[k] for k in ("id", "mime_type", "sha256", "filename", "caption", "voice", "animated")
                if k in media}
        return Inbound(mtype, str(media.get("caption") or media.get("filename") or ""), media=keep,
                       context_wamid=ctx)
    if mtype == "location":
        loc = msg.get("location") or {}
        label = ", ".join(str(loc[k]) for k in ("name", "address") if loc.get(k))
        coords = f"{loc.get('latitude')}, {loc.get('longitude')}"
        return Inbound("location", f"{label} ({coords})" if label else coords,
                       media={k: loc[k] for k in ("latitude", "longitude", "name", "address", "url") if k in loc},
                       context_wamid=ctx)
    if mtype == "contacts":
        people = msg.get("contacts") or []
        names = [str((p.get("name") or {}).get("formatted_name") or "") for p in people if isinstance(p, dict)]
        return Inbound("contacts", ", ".join(n for n in names if n), media={"contacts": people}, context_wamid=ctx)
    if mtype == "reaction":
        reaction = msg.get("reaction") or {}
        return Inbound("reaction", str(reaction.get("emoji") or ""),
                       context_wamid=str(reaction.get("message_id") or ctx))
    return Inbound("unsupported", "", context_wamid=ctx)
