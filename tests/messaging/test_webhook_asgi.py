"""The lean ASGI path of the webhook (messaging/webhook_asgi.py): every documented answer,
the same metrics and the request id, served by the real ASGI application in-process."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from django.db import DatabaseError

from central.core.logging import RequestIdFilter
from central.messaging import webhook
from central.messaging.models import WebhookEvent
from central.messaging.webhook_asgi import DeliveryWriter, WhatsAppWebhookASGI
from tests.messaging.support import (
    APP_SECRET,
    configured_number,
    fixture_bytes,
    metric,
    text_delivery,
)

pytestmark = pytest.mark.django_db(transaction=True)  # the writer thread has its own connection


@pytest.fixture
def app(tenants, monkeypatch):
    from central.asgi import application

    configured_number(tenants["a"], monkeypatch)
    monkeypatch.setenv("CENTRAL_WHATSAPP_VERIFY_TOKEN", "meu-token-de-verificacao")
    woken = []
    monkeypatch.setattr(webhook, "wake_processing", lambda: woken.append(1))
    writer = DeliveryWriter()
    lean = WhatsAppWebhookASGI(application, writer)
    lean.woken = woken
    yield lean
    writer.stop()


def call(app, method: str, *, body: bytes = b"", headers: dict | None = None, query: str = "",
         path: str = "/webhooks/whatsapp") -> tuple[int, dict, bytes]:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if method not in ("GET", "HEAD"):
        raw.append((b"content-length", str(len(body)).encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
             "root_path": "", "headers": raw, "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}
    sent: list[dict] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # nothing more: like a client that waits for the answer

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    out = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], out, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def signed(body: bytes | dict, secret: str = APP_SECRET, **headers) -> dict:
    from central.messaging import cloudapi

    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return {"body": raw, "headers": {"X-Hub-Signature-256": cloudapi.sign(secret, raw), **headers}}


def test_lean_path_answers_every_documented_case(app):
    ok = call(app, "GET", query="hub.mode=subscribe&hub.verify_token=meu-token-de-verificacao&hub.challenge=1158201444")
    assert ok[0] == 200 and ok[2] == b"1158201444"
    assert call(app, "GET", query="hub.mode=subscribe&hub.verify_token=outro&hub.challenge=1")[0] == 403

    missing = metric("central_whatsapp_signature_failures_total", reason="missing")
    mismatch = metric("central_whatsapp_signature_failures_total", reason="mismatch")
    body = fixture_bytes("text.json")
    assert call(app, "POST", body=body)[0] == 401
    assert call(app, "POST", body=body, headers={"X-Hub-Signature-256": "sha256=" + "0" * 64})[0] == 403
    altered = signed(body)
    altered["body"] = body[:-2] + b" " + body[-1:]
    assert call(app, "POST", **altered)[0] == 403
    assert metric("central_whatsapp_signature_failures_total", reason="missing") == missing + 1
    assert metric("central_whatsapp_signature_failures_total", reason="mismatch") == mismatch + 2

    status, _, content = call(app, "POST", **signed(b'{"object": "whatsapp_business_account", "entry": ['))
    assert status == 400 and json.loads(content)["error"]["code"] == "parse_error"
    big = b'{"object": "whatsapp_business_account", "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    status, _, content = call(app, "POST", **signed(big))
    assert status == 413 and json.loads(content)["error"]["code"] == "body_too_large"
    assert call(app, "POST", **signed({"object": "page", "entry": []}))[2] == b"ignored"
    assert call(app, "POST", **signed(text_delivery("wamid.U1", "Oi", pnid="999999999")))[:3:2] == (200, b"ignored")
    assert call(app, "PUT", body=b"{}")[0] == 405  # Django's view answers other methods
    assert not WebhookEvent.objects.exists() and not app.woken

    requests = metric("central_http_requests_total", method="POST", route="/webhooks/whatsapp", status="200")
    for _ in range(3):  # Meta's duplicates
        assert call(app, "POST", **signed(body))[:3:2] == (200, b"ok")
    assert WebhookEvent.objects.count() == 1 and app.woken
    assert metric("central_http_requests_total", method="POST", route="/webhooks/whatsapp",
                  status="200") == requests + 3


def test_lean_path_database_refusal_is_503_and_nothing_else_fails(app, monkeypatch):
    def refuse(rows):
        raise DatabaseError("refused")

    monkeypatch.setattr(webhook, "store", refuse)
    before = metric("central_whatsapp_webhook_deliveries_total", result="unavailable")
    status, _, content = call(app, "POST", **signed(text_delivery("wamid.D1", "Oi")))
    assert status == 503 and json.loads(content)["error"]["code"] == "unavailable"
    assert metric("central_whatsapp_webhook_deliveries_total", result="unavailable") == before + 1


def test_lean_path_keeps_the_request_id_in_answers_and_logs(app):
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep()
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("central.messaging.webhook")
    logger.addHandler(handler)
    try:
        status, headers, _ = call(app, "POST", **signed(text_delivery("wamid.R1", "Oi", pnid="999999999"),
                                                         **{"X-Request-ID": "req-wa-42"}))
    finally:
        logger.removeHandler(handler)
    assert status == 200 and headers["x-request-id"] == "req-wa-42"
    assert [r.request_id for r in records if "unknown phone_number_id" in r.getMessage()] == ["req-wa-42"]
    made = call(app, "GET", headers={"X-Request-ID": "não sã"})[1]["x-request-id"]
    assert made != "não sã" and len(made) == 32
