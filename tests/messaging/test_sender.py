"""The sender's last checks right before the HTTP call, and crash recovery (no HTTP here:
``claim`` decides whether a request would be made at all)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from central.messaging import sender, services
from central.messaging.models import Conversation, Message
from tests.messaging import factories as f

pytestmark = pytest.mark.django_db


def test_window_that_closed_while_queued_fails_without_any_http_call(tenants):
    conv = f.conversation(tenants["a"], inbound_minutes_ago=24 * 60 - 1)
    msg = services.send_text(conv, "Ainda dá tempo?", user=tenants["alice"])
    Conversation.objects.filter(pk=conv.pk).update(last_inbound_at=timezone.now() - timedelta(hours=25))
    assert sender.claim(msg.pk) is None  # nothing to send: no request is made
    msg.refresh_from_db()
    assert msg.status == "failed" and msg.error_code == 131047
    assert "24" in sender.error_reason(msg.error_code, msg.error_title)


def test_bot_message_queued_before_a_human_took_over_is_never_sent(tenants):
    conv = f.conversation(tenants["a"], state="bot")
    queued = services.send_text(conv, "Sou o assistente", bot=True)
    services.send_text(conv, "Oi, aqui é a recepção", user=tenants["alice"])  # human takes it
    assert sender.claim(queued.pk) is None
    queued.refresh_from_db()
    assert queued.status == "canceled"
    human = Message.objects.get(conversation=conv, sender="user")
    info, payload = sender.claim(human.pk)
    assert payload["text"]["body"] == "Oi, aqui é a recepção"
    assert sender.claim(human.pk) is None  # claimed once: a second sender gets nothing


def test_message_interrupted_while_sending_is_failed_not_sent_twice(tenants):
    conv = f.conversation(tenants["a"])
    msg = services.send_text(conv, "Olá", user=tenants["alice"])
    assert sender.claim(msg.pk) is not None  # "sending"; the process dies here
    assert sender.recover_interrupted() == 1
    msg.refresh_from_db()
    assert msg.status == "failed" and msg.error_code == sender.ERR_INTERRUPTED
    assert sender.load_queued(set()) == []


def test_transient_error_retries_then_fails_with_the_reason(tenants):
    from central.messaging import cloudapi

    conv = f.conversation(tenants["a"])
    msg = services.send_text(conv, "Olá", user=tenants["alice"])
    err = cloudapi.ApiError(cloudapi.ERR_TEMPORARY, "Something went wrong", http_status=500)
    for _ in range(sender.MAX_ATTEMPTS - 1):
        assert sender.claim(msg.pk) is not None
        assert sender.record_retry(msg.pk, 0.0, err)
    assert sender.claim(msg.pk) is not None
    assert not sender.record_retry(msg.pk, 0.0, err)  # the last try: failed with the reason
    msg.refresh_from_db()
    assert msg.status == "failed" and msg.error_code == cloudapi.ERR_TEMPORARY and msg.attempts == sender.MAX_ATTEMPTS
