"""The Cloud API webhook: ``GET`` verification and signed ``POST`` deliveries.

One URL per installation (``/webhooks/whatsapp``). A POST is answered after a durable
insert, never after processing (Meta retries for up to 7 days and may deliver twice; the
background job applies each event once):

1. ``X-Hub-Signature-256`` missing: **401**; not the HMAC-SHA256 of the raw body with the
   app secret of some configured number (constant-time compare): **403**. Both counted
   (``central_whatsapp_signature_failures_total``). The body is checked *before* it is
   parsed, against the few distinct app secrets configured, so unsigned input costs one
   HMAC per secret and is never parsed.
2. Signed but not JSON (or nested deeper than the JSON guard allows): **400** and counted.
   Meta never sends that; a 400 tells the developer who did.
3. Signed JSON that is not a ``whatsapp_business_account`` delivery, a change of another
   field (``account_update``, template status...), or events for a ``phone_number_id``
   this installation does not know (or whose app secret is not the one that signed it):
   **200**, counted in ``central_whatsapp_webhook_events_ignored_total`` and logged: Meta
   retries anything else for days, and storing unknown tenants' data helps nobody.
4. Otherwise every message / status is inserted in ``WebhookEvent`` in one statement with
   its unique key (:func:`store`: a duplicate inserts nothing), the background job is
   woken, and the answer is **200**.

Bodies over ``CENTRAL_MAX_BODY_BYTES`` (1 MB) are **413** before they are read
(``core.bodylimit``); Meta's deliveries are a few KB. Nothing here raises to a 500: a
database that refuses the insert is a **503** (Meta retries: nothing lost).

Under ``central web`` these requests are answered by :mod:`.webhook_asgi` in front of
Django, with the same functions (:func:`verification`, :func:`check_delivery`,
:func:`stored`, :func:`store`); the view below serves WSGI and the test client.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from dataclasses import dataclass

from django.db import DatabaseError, transaction
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from central.core.parsers import JSONRejected, loads

from . import cloudapi
from .metrics import EVENTS_IGNORED, SIGNATURE_FAILURES, VERIFICATIONS, WEBHOOK_DELIVERIES
from .numbers import app_secrets, directory

log = logging.getLogger(__name__)

VERIFY_TOKEN_ENV = "CENTRAL_WHATSAPP_VERIFY_TOKEN"


@dataclass(frozen=True)
class Answer:
    """One webhook answer, independent of the server that sends it (Django view or the lean
    ASGI path in :mod:`.webhook_asgi`): both adapters only translate this."""

    status: int
    body: bytes
    content_type: str = "text/plain"
    headers: tuple[tuple[str, str], ...] = ()


def _error(status: int, code: str, message: str) -> Answer:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return Answer(status, body, "application/json")


OK = Answer(200, b"ok")
IGNORED = Answer(200, b"ignored")
FORBIDDEN = Answer(403, b"forbidden")
UNAVAILABLE = _error(503, "unavailable", "try again")
METHOD_NOT_ALLOWED = Answer(405, _error(405, "method_not_allowed", "GET or POST").body, "application/json",
                            (("Allow", "GET, POST"),))

#: A row of :func:`store`: (organization id, number id, key, kind, payload).
Row = tuple[int, int, str, str, dict]


def verification(mode: str, token: str, challenge: str) -> Answer:
    """Meta's subscription handshake: echo ``hub.challenge`` when the token matches."""
    expected = os.environ.get(VERIFY_TOKEN_ENV, "")
    if (expected and mode == "subscribe" and challenge
            and hmac.compare_digest(token.encode(), expected.encode())):
        VERIFICATIONS.labels("ok").inc()
        return Answer(200, challenge.encode())
    VERIFICATIONS.labels("refused").inc()
    return FORBIDDEN


def _signed_by(body: bytes, header: str) -> str | None:
    for secret in app_secrets():
        if cloudapi.signature_valid(secret, body, header):
            return secret
    return None


def check_delivery(header: str | None, body: bytes) -> Answer | list[Row]:
    """Every answer of a POST that comes before the insert (the module docstring's cases 1-3),
    or the rows to insert. Metrics counted here; no I/O but the cached number directory."""
    if not header:
        SIGNATURE_FAILURES.labels("missing").inc()
        WEBHOOK_DELIVERIES.labels("unsigned").inc()
        return _error(401, "signature_missing", "X-Hub-Signature-256 required")
    secret = _signed_by(body, header)
    if secret is None:
        SIGNATURE_FAILURES.labels("mismatch").inc()
        WEBHOOK_DELIVERIES.labels("bad_signature").inc()
        return _error(403, "signature_mismatch", "X-Hub-Signature-256 does not match")
    try:
        delivery = loads(body)
        events = cloudapi.split_delivery(delivery)
    except JSONRejected:
        WEBHOOK_DELIVERIES.labels("malformed").inc()
        return _error(400, "parse_error", "body is not JSON")
    except cloudapi.DeliveryInvalid as exc:
        EVENTS_IGNORED.labels(exc.reason).inc()
        WEBHOOK_DELIVERIES.labels("ignored").inc()
        return IGNORED
    numbers = directory()
    rows: list[Row] = []
    for event in events:
        info = numbers.get(event.phone_number_id)
        if info is None:
            EVENTS_IGNORED.labels("unknown_number").inc()
            log.warning("whatsapp event for unknown phone_number_id %s ignored", event.phone_number_id[:64])
            continue
        if info.app_secret != secret:
            EVENTS_IGNORED.labels("secret_mismatch").inc()
            log.warning("whatsapp event for %s signed with another app's secret: ignored", info.phone_number_id)
            continue
        rows.append((info.organization_id, info.id, event.key[:200], event.kind, event.payload))
    if not rows:
        if not events:
            EVENTS_IGNORED.labels("no_events").inc()
        WEBHOOK_DELIVERIES.labels("ignored").inc()
        return IGNORED
    return rows


def stored(ok: bool) -> Answer:
    """The answer once the insert of a delivery's rows succeeded (200) or failed (503)."""
    if not ok:
        WEBHOOK_DELIVERIES.labels("unavailable").inc()
        return UNAVAILABLE
    WEBHOOK_DELIVERIES.labels("accepted").inc()
    return OK


# --- the Django adapter (WSGI, the test client; under ASGI the lean path answers first) ----------


def _response(answer: Answer) -> HttpResponse:
    response = HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)
    for name, value in answer.headers:
        response[name] = value
    return response


@csrf_exempt
def webhook(request):
    if request.method == "GET":
        return verify(request)
    if request.method != "POST":
        return _response(METHOD_NOT_ALLOWED)
    return receive(request)


def verify(request) -> HttpResponse:
    return _response(verification(request.GET.get("hub.mode", ""), request.GET.get("hub.verify_token", ""),
                                  request.GET.get("hub.challenge", "")))


def receive(request) -> HttpResponse:
    result = check_delivery(request.META.get(cloudapi.SIGNATURE_HEADER), request.body)
    if isinstance(result, Answer):
        return _response(result)
    try:
        store(result)
    except DatabaseError:
        log.exception("whatsapp webhook: durable insert failed")
        return _response(stored(False))
    transaction.on_commit(wake_processing)  # at once in autocommit; after the test's transaction in tests
    return _response(stored(True))


def store(rows: list[tuple[int, int, str, str, dict]]) -> None:
    """One ``INSERT … ON CONFLICT (key) DO NOTHING`` for the events of a delivery.

    One statement is atomic by itself (no transaction to open and commit around it) and
    a duplicate inserts nothing, on SQLite and PostgreSQL alike. Written as SQL because
    this is the hot path of the ack: ``bulk_create`` compiled the same statement through
    the ORM on every delivery.
    """
    from django.db import connection

    from .models import WebhookEvent

    fields = {f.name: f for f in WebhookEvent._meta.concrete_fields}
    now = fields["received_at"].get_db_prep_save(timezone.now(), connection)
    values, params = [], []
    for org_id, number_id, key, kind, payload in rows:
        values.append("(%s, %s, %s, %s, %s, %s, 0, '', false)")
        params += [org_id, number_id, key, kind, fields["payload"].get_db_prep_save(payload, connection), now]
    table = connection.ops.quote_name(WebhookEvent._meta.db_table)
    sql = (f"INSERT INTO {table} (organization_id, number_id, key, kind, payload, received_at, attempts, "
           f"last_error, ignored) VALUES {', '.join(values)} ON CONFLICT (key) DO NOTHING")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def wake_processing() -> None:
    from .inbound import wake

    wake()
