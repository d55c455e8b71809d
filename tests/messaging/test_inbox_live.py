"""The inbox's live updates ride the dashboard's one socket (/ws/live/) per tenant group.

A message, a status change and a conversation change in tenant A reach A's socket with
the inbox's shapes; a socket of tenant B receives none of them (tenants are mutually
hostile: a clinic must never see another clinic's patients typing).
"""

from __future__ import annotations

import json

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from central.core.live import STATUS_GROUP
from central.dashboard.consumers import LiveConsumer
from tests.messaging import factories as f

pytestmark = pytest.mark.django_db(transaction=True)

END = {"type": "live.update", "payload": {"type": "test_end"}}


async def _socket(user):
    scope = {"type": "websocket", "path": "/ws/live/", "headers": [], "subprotocols": [], "user": user,
             "session": {}}
    socket = ApplicationCommunicator(LiveConsumer.as_asgi(), scope)
    await socket.send_input({"type": "websocket.connect"})
    assert (await socket.receive_output(5))["type"] == "websocket.accept"
    return socket


async def _drain(socket) -> list[dict]:
    """Everything the socket got before the sentinel (every socket joins the status group,
    and one socket's messages arrive in order: no waiting on time)."""
    got = []
    while True:
        message = json.loads((await socket.receive_output(5))["text"])
        if message.get("type") == "test_end":
            return got
        if message.get("type", "").startswith("wa_"):
            got.append(message)


async def test_inbox_updates_reach_only_the_tenants_sockets(tenants):
    from central.messaging import services
    from central.messaging.models import Message

    conv = await database_sync_to_async(f.conversation)(tenants["a"], state="pending")
    alice, bob = await _socket(tenants["alice"]), await _socket(tenants["bob"])
    try:
        def act():
            sent = services.send_text(conv, "Olá, Paciente!", user=tenants["alice"])
            # the sender's status update (what the webhook processor does on "delivered")
            Message.objects.filter(pk=sent.pk).update(status="delivered")
            from central.messaging.signals import emit_message

            sent.refresh_from_db()
            emit_message(sent, created=False)
            services.resolve(conv, by=tenants["alice"])
            return sent

        sent = await database_sync_to_async(act)()
        await get_channel_layer().group_send(STATUS_GROUP, END)
        got_a, got_b = await _drain(alice), await _drain(bob)
    finally:
        for s in (alice, bob):
            await s.send_input({"type": "websocket.disconnect", "code": 1000})
            await s.wait(5)
    kinds = [m["type"] for m in got_a]
    assert "wa_message" in kinds and "wa_status" in kinds and "wa_conversation" in kinds
    new = next(m for m in got_a if m["type"] == "wa_message")
    assert new["message"]["id"] == sent.pk and new["message"]["text"] == "Olá, Paciente!"
    assert new["conversation"]["id"] == conv.pk
    status = next(m for m in got_a if m["type"] == "wa_status")
    assert status["message"]["status"] == "delivered"
    assert got_a[-1]["conversation"]["state"] == "resolved"
    assert got_b == [], got_b
    assert "Paciente" not in json.dumps(got_b)
