"""The live socket follows the same organization as the page (issue 8, finding 2).

The socket used to join "the oldest membership" while pages used the tenancy resolution,
so a user whose default organization is another one got that other one's pushes.
"""

from __future__ import annotations

import json

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from central.core.live import STATUS_GROUP, org_group
from central.dashboard.consumers import LiveConsumer

pytestmark = pytest.mark.django_db(transaction=True)


async def _orgs_pushed_to(user, session, org_ids) -> set[int]:
    """Which of ``org_ids`` reach this user's socket: one marker per organization group,
    then a sentinel through the status group every socket joins. A socket's messages
    arrive in order, so every marker it gets is in before the sentinel (no waiting on time)."""
    scope = {"type": "websocket", "path": "/ws/live/", "headers": [], "subprotocols": [],
             "user": user, "session": session}
    socket = ApplicationCommunicator(LiveConsumer.as_asgi(), scope)
    await socket.send_input({"type": "websocket.connect"})
    assert (await socket.receive_output(5))["type"] == "websocket.accept"
    layer = get_channel_layer()
    try:
        for org_id in org_ids:
            await layer.group_send(org_group(org_id), {"type": "live.update", "payload": {"marker": org_id}})
        await layer.group_send(STATUS_GROUP, {"type": "live.update", "payload": {"marker": "end"}})
        got: set[int] = set()
        while True:
            marker = json.loads((await socket.receive_output(5))["text"]).get("marker")
            if marker == "end":
                return got
            if marker is not None:
                got.add(marker)
    finally:
        await socket.send_input({"type": "websocket.disconnect", "code": 1000})
        await socket.wait(5)


async def test_socket_joins_the_default_organization_not_the_oldest(tenants):
    from central.core import members
    from central.core.models import Membership

    def join_b_and_choose_it():
        second = Membership.objects.create(user=tenants["alice"], organization=tenants["b"], role="viewer")
        members.set_default_organization(tenants["alice"], second)

    await database_sync_to_async(join_b_and_choose_it)()
    both = [tenants["a"].pk, tenants["b"].pk]
    assert await _orgs_pushed_to(tenants["alice"], {}, both) == {tenants["b"].pk}
    # the organization chosen in the session (top-bar switcher) still wins
    assert await _orgs_pushed_to(tenants["alice"], {"central_org_id": tenants["a"].pk}, both) == {tenants["a"].pk}
