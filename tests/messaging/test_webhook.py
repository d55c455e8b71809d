"""The webhook: handshake, signatures, durable insert then processing, idempotency, bad input."""

from __future__ import annotations

import json

import pytest

from central.messaging import inbound, services
from central.messaging.models import Conversation, Message, WebhookEvent
from tests.messaging import factories as f
from tests.messaging.support import (
    APP_SECRET,
    FIXTURE_PNID,
    FIXTURE_WA_ID,
    configured_number,
    fixture,
    fixture_bytes,
    metric,
    post,
    status_delivery,
    text_delivery,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def number(tenants, monkeypatch):
    return configured_number(tenants["a"], monkeypatch)


# --- verification handshake ------------------------------------------------------------------------


def test_verification_handshake(client, monkeypatch):
    monkeypatch.setenv("CENTRAL_WHATSAPP_VERIFY_TOKEN", "meu-token-de-verificacao")
    ok = client.get("/webhooks/whatsapp", {"hub.mode": "subscribe", "hub.verify_token": "meu-token-de-verificacao",
                                           "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.content == b"1158201444"
    for params in ({"hub.mode": "subscribe", "hub.verify_token": "outro", "hub.challenge": "1"},
                   {"hub.mode": "unsubscribe", "hub.verify_token": "meu-token-de-verificacao", "hub.challenge": "1"},
                   {"hub.verify_token": "meu-token-de-verificacao", "hub.challenge": "1"}, {}):
        assert client.get("/webhooks/whatsapp", params).status_code == 403


def test_verification_refused_when_no_token_configured(client, monkeypatch):
    monkeypatch.delenv("CENTRAL_WHATSAPP_VERIFY_TOKEN", raising=False)
    assert client.get("/webhooks/whatsapp", {"hub.mode": "subscribe", "hub.verify_token": "",
                                             "hub.challenge": "1"}).status_code == 403


# --- signatures ------------------------------------------------------------------------------------------


def test_valid_signature_is_stored_then_processed(client, number):
    response = post(client, fixture_bytes("text.json"))
    assert response.status_code == 200
    assert WebhookEvent.objects.filter(processed_at=None).count() == 1
    assert not Message.objects.exists()  # the ack does not wait for processing
    assert inbound.process_until_idle() == 1
    msg = Message.objects.get()
    assert msg.body == "Does it come in another color?" and msg.direction == "in" and msg.sender == "customer"
    conv = msg.conversation
    assert conv.contact.wa_id == FIXTURE_WA_ID and conv.contact.phone == "+16505551234"
    assert conv.contact.name == "Sheena Nelson" and conv.unread_count == 1 and conv.last_inbound_at is not None


def test_missing_signature_is_401_and_counted(client, number):
    before = metric("central_whatsapp_signature_failures_total", reason="missing")
    response = post(client, fixture_bytes("text.json"), secret=None)
    assert response.status_code == 401 and response.json()["error"]["code"] == "signature_missing"
    assert metric("central_whatsapp_signature_failures_total", reason="missing") == before + 1
    assert not WebhookEvent.objects.exists()


def test_wrong_signature_is_403_and_counted(client, number):
    before = metric("central_whatsapp_signature_failures_total", reason="mismatch")
    assert post(client, fixture_bytes("text.json"), secret="another-secret").status_code == 403
    assert post(client, fixture_bytes("text.json"), signature="sha256=" + "0" * 64).status_code == 403
    assert post(client, fixture_bytes("text.json"), signature="garbage").status_code == 403
    assert metric("central_whatsapp_signature_failures_total", reason="mismatch") == before + 3
    assert not WebhookEvent.objects.exists()


def test_body_altered_by_one_byte_is_403(client, number):
    from central.messaging import cloudapi

    body = fixture_bytes("text.json")
    signature = cloudapi.sign(APP_SECRET, body)
    altered = body[:100] + bytes([body[100] ^ 1]) + body[101:]
    assert len(altered) == len(body) and altered != body
    assert post(client, altered, signature=signature).status_code == 403
    assert post(client, body, signature=signature).status_code == 200


# --- idempotency -------------------------------------------------------------------------------------------


def test_same_delivery_five_times_one_message_one_effect(client, number):
    body = json.dumps(text_delivery("wamid.DUP5", "Oi")).encode()
    for _ in range(5):
        assert post(client, body).status_code == 200
        inbound.process_until_idle()
    assert WebhookEvent.objects.count() == 1
    assert Message.objects.filter(wamid="wamid.DUP5").count() == 1
    conv = Conversation.objects.get()
    assert conv.unread_count == 1


def test_statuses_out_of_order_end_in_read(client, number, tenants):
    conv = f.conversation(tenants["a"], number_obj=number)
    out = services.send_text(conv, "Olá!", user=tenants["alice"])
    Message.objects.filter(pk=out.pk).update(wamid="wamid.OUT1", status="sent")
    for status in ("read", "delivered", "sent", "delivered"):
        assert post(client, status_delivery("wamid.OUT1", status)).status_code == 200
        inbound.process_until_idle()
    out.refresh_from_db()
    assert out.status == "read" and out.read_at and out.delivered_at and out.sent_at


def test_status_before_the_send_is_recorded_waits_and_is_applied(client, number, tenants):
    conv = f.conversation(tenants["a"], number_obj=number)
    out = services.send_text(conv, "Olá!", user=tenants["alice"])
    assert post(client, status_delivery("wamid.LATE", "delivered")).status_code == 200
    assert inbound.process_until_idle() == 0
    event = WebhookEvent.objects.get()
    assert event.processed_at is None and event.attempts == 1 and event.next_try_at is not None
    Message.objects.filter(pk=out.pk).update(wamid="wamid.LATE", status="sent")
    WebhookEvent.objects.update(next_try_at=None)
    assert inbound.process_until_idle() == 1
    out.refresh_from_db()
    assert out.status == "delivered"


def test_failed_status_keeps_code_and_title(client, number, tenants):
    conv = f.conversation(tenants["a"], number_obj=number)
    out = services.send_text(conv, "Olá!", user=tenants["alice"])
    delivery = fixture("status_failed.json")
    wamid = delivery["entry"][0]["changes"][0]["value"]["statuses"][0]["id"]
    Message.objects.filter(pk=out.pk).update(wamid=wamid, status="sent")
    assert post(client, delivery).status_code == 200
    inbound.process_until_idle()
    out.refresh_from_db()
    assert out.status == "failed" and out.error_code == 131047 and out.error_title == "Re-engagement message"


# --- inbound types, keywords ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["text.json", "interactive_button_reply.json", "interactive_list_reply.json",
                                  "image.json", "document.json", "audio.json", "location.json", "contacts.json",
                                  "reaction.json", "unsupported.json", "button_template_quick_reply.json"])
def test_every_inbound_type_is_stored(client, number, name):
    assert post(client, fixture_bytes(name)).status_code == 200
    inbound.process_until_idle()
    msg = Message.objects.get(direction="in")
    assert msg.kind == fixture(name)["entry"][0]["changes"][0]["value"]["messages"][0]["type"]


def test_opt_out_keyword_records_time_and_only_confirmation_follows(client, number, tenants):
    from central.core.models import AuditLog

    assert post(client, text_delivery("wamid.S1", "  sair ")).status_code == 200
    inbound.process_until_idle()
    conv = Conversation.objects.get()
    assert conv.contact.opted_out_at is not None
    sent = Message.objects.filter(direction="out")
    assert [m.sender for m in sent] == ["system"]
    assert AuditLog.objects.filter(action="messaging.opt_out").count() == 1
    with pytest.raises(services.OptedOut):
        services.send_text(conv, "Promoção!", user=tenants["alice"])


def test_opt_out_quick_reply_of_a_template(client, number):
    assert post(client, fixture_bytes("button_template_quick_reply.json")).status_code == 200
    inbound.process_until_idle()
    assert Conversation.objects.get().contact.opted_out_at is not None


def test_handoff_keyword_moves_bot_conversation_to_pending(client, number):
    from central.messaging import responders

    class Bot:
        name = "test-bot"
        calls: list = []

        def applies_to(self, conversation):
            return True

        def handle(self, conversation, message):
            Bot.calls.append(message.body)
            services.send_text(conversation, "Sou o assistente.", bot=True)

    responders.register(Bot())
    try:
        post(client, text_delivery("wamid.H1", "Quero marcar"))
        inbound.process_until_idle()
        conv = Conversation.objects.get()
        assert conv.state == "bot" and Bot.calls == ["Quero marcar"]
        post(client, text_delivery("wamid.H2", "Atendente"))
        inbound.process_until_idle()
        conv.refresh_from_db()
        assert conv.state == "pending" and "ATENDENTE" in conv.handoff_reason
        post(client, text_delivery("wamid.H3", "Alô?"))
        inbound.process_until_idle()
        assert Bot.calls == ["Quero marcar"]  # silent while pending
        assert Message.objects.filter(sender="bot").count() == 1
    finally:
        responders.unregister("test-bot")


# --- bad input: never a 500, nothing lost ----------------------------------------------------------------


def test_malformed_json_signed_is_400(client, number):
    before = metric("central_whatsapp_webhook_deliveries_total", result="malformed")
    assert post(client, b'{"object": "whatsapp_business_account", "entry": [').status_code == 400
    assert post(client, b"[" * 100_000).status_code == 400  # deeper than the JSON guard
    assert metric("central_whatsapp_webhook_deliveries_total", result="malformed") == before + 2


def test_unknown_fields_are_accepted(client, number):
    delivery = fixture("text.json")
    delivery["entry"][0]["changes"][0]["value"]["novidade"] = {"a": 1}
    delivery["entry"][0]["changes"][0]["value"]["messages"][0]["extra"] = [1, 2, 3]
    assert post(client, delivery).status_code == 200
    inbound.process_until_idle()
    assert Message.objects.count() == 1


def test_two_megabyte_body_is_413_before_reading(client, number):
    body = b'{"object": "whatsapp_business_account", "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = post(client, body)
    assert response.status_code == 413
    assert not WebhookEvent.objects.exists()


def test_unknown_phone_number_id_is_200_counted_and_ignored(client, number):
    before = metric("central_whatsapp_webhook_events_ignored_total", reason="unknown_number")
    response = post(client, text_delivery("wamid.U1", "Oi", pnid="999999999"))
    assert response.status_code == 200 and response.content == b"ignored"
    assert metric("central_whatsapp_webhook_events_ignored_total", reason="unknown_number") == before + 1
    assert not WebhookEvent.objects.exists()


def test_other_tenants_secret_cannot_inject_into_this_number(client, number, tenants, monkeypatch):
    configured_number(tenants["b"], monkeypatch, pnid="222", secret="secret-of-b",
                      secret_env="CENTRAL_TENANT_SECRET_WA_B")
    # B's app secret signs a delivery naming A's number: ignored, not stored for A.
    assert post(client, text_delivery("wamid.X1", "Oi", pnid=FIXTURE_PNID), secret="secret-of-b").status_code == 200
    assert not WebhookEvent.objects.exists()
    assert post(client, text_delivery("wamid.X2", "Oi", pnid="222"), secret="secret-of-b").status_code == 200
    assert WebhookEvent.objects.get().organization == tenants["b"]


def test_not_a_whatsapp_delivery_and_other_methods(client, number):
    assert post(client, {"object": "page", "entry": []}).status_code == 200
    assert post(client, {"object": "whatsapp_business_account", "entry": [{"changes": [
        {"field": "message_template_status_update", "value": {"event": "APPROVED"}}]}]}).status_code == 200
    assert client.put("/webhooks/whatsapp", data=b"{}").status_code == 405
    assert not WebhookEvent.objects.exists()


def test_crash_between_ack_and_processing_loses_nothing(client, number):
    for i in range(3):
        post(client, text_delivery(f"wamid.C{i}", f"msg {i}"))
    # No processing happened (the process "crashed"); a new start picks every row up.
    assert WebhookEvent.objects.filter(processed_at=None).count() == 3
    assert inbound.process_until_idle() == 3
    assert Message.objects.count() == 3 and not WebhookEvent.objects.filter(processed_at=None).exists()


def test_processing_error_keeps_the_row_for_a_retry(client, number, monkeypatch):
    post(client, text_delivery("wamid.E1", "Oi"))

    def boom(*a, **k):
        raise RuntimeError("disk full")

    real = services.live_conversation
    monkeypatch.setattr(services, "live_conversation", boom)
    assert inbound.process_until_idle() == 0
    event = WebhookEvent.objects.get()
    assert event.processed_at is None and "disk full" in event.last_error
    monkeypatch.setattr(services, "live_conversation", real)
    WebhookEvent.objects.update(next_try_at=None)
    assert inbound.process_until_idle() == 1
    assert Message.objects.count() == 1
