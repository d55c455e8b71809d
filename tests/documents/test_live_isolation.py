"""Live documents updates reach only the organization's own dashboards."""

from __future__ import annotations

import json

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from central.core.live import STATUS_GROUP
from central.dashboard.consumers import LiveConsumer
from central.documents import services
from tests.documents.factories import make_document

pytestmark = pytest.mark.django_db(transaction=True)


async def _documents_messages(user, action) -> list[dict]:
    """Every documents.* message this user's dashboard socket receives while ``action`` runs;
    a sentinel through the status group (every socket joins it) ends the wait in order."""
    scope = {"type": "websocket", "path": "/ws/live/", "headers": [], "subprotocols": [], "user": user,
             "session": {}}
    socket = ApplicationCommunicator(LiveConsumer.as_asgi(), scope)
    await socket.send_input({"type": "websocket.connect"})
    assert (await socket.receive_output(5))["type"] == "websocket.accept"
    try:
        await database_sync_to_async(action)()
        await get_channel_layer().group_send(STATUS_GROUP, {"type": "live.update", "payload": {"marker": "end"}})
        got = []
        while True:
            message = json.loads((await socket.receive_output(5))["text"])
            if message.get("marker") == "end":
                return got
            if str(message.get("type", "")).startswith("documents."):
                got.append(message)
    finally:
        await socket.send_input({"type": "websocket.disconnect", "code": 1000})
        await socket.wait(5)


async def test_a_request_in_a_reaches_a_and_never_b(tenants):
    document = await database_sync_to_async(make_document)(tenants["a"])

    def request():
        services.request_document(document)

    seen_by_a = await _documents_messages(tenants["alice"], request)
    assert {m["type"] for m in seen_by_a} >= {services.LIVE_TRANSFER, services.LIVE_AGENT}
    assert all(m.get("transfer", {}).get("document", document.pk) == document.pk for m in seen_by_a)
    assert await _documents_messages(tenants["bob"], request) == []


async def test_enrollment_and_agent_events_reach_a_and_never_b(tenants):
    """The monitor lists a new agent live and the agent page follows its events: both come
    from ``documents.agent`` messages, which must stay inside the agent's organization."""
    org_a = tenants["a"]

    def enroll_connect_and_revoke():
        _row, code = services.create_enrollment_code(org_a, "Filial")
        agent, _token = services.enroll(code, hostname="pc-filial")
        connection = services.connected(agent, public_ip="203.0.113.9")
        services.disconnected(agent.pk, connection, reason="test")
        services.revoke_agent(agent)
        enrolled.append(agent.pk)

    enrolled: list[int] = []
    seen_by_a = await _documents_messages(tenants["alice"], enroll_connect_and_revoke)
    agent_id = enrolled[0]
    states = [m["agent"]["state"] for m in seen_by_a if m["type"] == services.LIVE_AGENT
              and m["agent"]["id"] == agent_id]
    # enrolled (offline), connected, disconnected, revoked: each one a message
    assert len(states) == 4 and "online" in states, seen_by_a
    assert await _documents_messages(tenants["bob"], enroll_connect_and_revoke) == []
