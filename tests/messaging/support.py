"""Helpers for the WhatsApp tests: a configured number, signed deliveries, fixtures."""

from __future__ import annotations

import json
from pathlib import Path

from central.messaging import cloudapi

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "whatsapp"
#: The documented phone_number_id / sender of the fixtures (tests/fixtures/whatsapp/README.md).
FIXTURE_PNID = "106540352242922"
FIXTURE_WA_ID = "16505551234"
SECRET_ENV = "CENTRAL_TENANT_SECRET_WA_TEST_APP"
TOKEN_ENV = "CENTRAL_TENANT_SECRET_WA_TEST_TOKEN"
APP_SECRET = "test-app-secret-not-real"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def configured_number(org, monkeypatch, pnid: str = FIXTURE_PNID, secret: str = APP_SECRET,
                      secret_env: str = SECRET_ENV):
    from central.messaging import numbers
    from central.messaging.models import WhatsAppNumber

    monkeypatch.setenv(secret_env, secret)
    monkeypatch.setenv(TOKEN_ENV, "test-token-not-real")
    number = WhatsAppNumber.objects.create(organization=org, phone_number_id=pnid, display_number="+5511300000001",
                                           name="Clínica", app_secret_env=secret_env, access_token_env=TOKEN_ENV)
    numbers.forget()
    return number


def post(client, body: bytes | dict, *, secret: str | None = APP_SECRET, signature: str | None = None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {}
    if signature is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature
    elif secret is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = cloudapi.sign(secret, raw)
    return client.post("/webhooks/whatsapp", data=raw, content_type="application/json", **headers)


def text_delivery(wamid: str, text: str, *, wa_id: str = FIXTURE_WA_ID, pnid: str = FIXTURE_PNID,
                  name: str = "Sheena Nelson", ts: int | None = None) -> dict:
    import time

    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"field": "messages",
            "value": {"messaging_product": "whatsapp",
                      "metadata": {"display_phone_number": "15550783881", "phone_number_id": pnid},
                      "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
                      "messages": [{"from": wa_id, "id": wamid, "timestamp": str(ts or int(time.time())),
                                    "type": "text", "text": {"body": text}}]}}]}]}


def status_delivery(wamid: str, status: str, *, pnid: str = FIXTURE_PNID, wa_id: str = FIXTURE_WA_ID,
                    errors: list | None = None) -> dict:
    import time

    st = {"id": wamid, "status": status, "timestamp": str(int(time.time())), "recipient_id": wa_id}
    if errors:
        st["errors"] = errors
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"field": "messages",
            "value": {"messaging_product": "whatsapp",
                      "metadata": {"display_phone_number": "15550783881", "phone_number_id": pnid},
                      "statuses": [st]}}]}]}


def metric(name: str, **labels) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0
