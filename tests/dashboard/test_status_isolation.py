"""Rule 2 of docs/security.md: every status/live surface is cut per tenant.

Before: ``/status.json`` and the status push of ``/ws/live/`` carried every process's host
and pid and the PBX link's details (every tenant's server names, hosts and counters) to any
signed-in user. This walks every page and API route a tenant user can GET, plus the
WebSocket push, with another tenant's PBX link running, and looks for any trace of it. A
new surface that shows the raw snapshot fails here.
"""

from __future__ import annotations

import json

import pytest
from asgiref.testing import ApplicationCommunicator
from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver

from central.core.models import ProcessHeartbeat
from central.dashboard.broadcaster import broadcast_once
from central.dashboard.consumers import LiveConsumer

pytestmark = pytest.mark.django_db(transaction=True)

#: Traces of tenant B's PBX link and of the installation's hosts.
MARKERS = ("pbx-b.interno", "servidor-da-empresa-b", "host-do-operador", "424242")
#: Routes that are not a tenant's status surface (or need a body / are other rules).
SKIP_PREFIXES = ("admin/", "i18n/", "logout/", "api/schema/", "api/docs/", "metrics", "ready")


@pytest.fixture
def foreign_link(tenants):
    ProcessHeartbeat.objects.create(
        name="pbx@host-do-operador:424242", kind="pbx", host="host-do-operador", pid=424242,
        info={"servers": {"servidor-da-empresa-b": {
            "connected": True, "host": "pbx-b.interno:5038", "extensions": 1234, "channels": 77}}})


def walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern) and not p.pattern.converters:
            yield prefix + str(p.pattern)


def get_routes() -> list[str]:
    routes = []
    for route in walk(get_resolver().url_patterns):
        path = route.replace("^", "").replace("$", "").replace("\\Z", "")
        if any(path.startswith(s) for s in SKIP_PREFIXES) or "(?P" in path or "\\" in path:
            continue
        routes.append("/" + path)
    return sorted(set(routes))


def test_walker_sees_the_status_surfaces():
    routes = get_routes()
    assert "/status.json" in routes and "/" in routes and "/api/v1/telephony/servers/" in routes


def test_no_page_or_api_route_shows_another_tenants_link(client, tenants, foreign_link):
    client.force_login(tenants["alice"])
    leaks = []
    for route in get_routes():
        response = client.get(route)
        body = response.content.decode("utf-8", "replace")
        leaks += [(route, m) for m in MARKERS if m in body]
    assert not leaks, leaks


def test_operators_still_see_everything(client, tenants, foreign_link):
    root = get_user_model().objects.create_superuser("root", "root@example.com", "senha-forte-123")
    client.force_login(root)
    body = json.dumps(client.get("/status.json").json())
    assert all(m in body for m in MARKERS)


def _operator_in(org):
    from central.core.models import Membership

    root = get_user_model().objects.create_superuser("root", "root@example.com", "senha-forte-123")
    Membership.objects.create(user=root, organization=org, role="viewer")
    return root


async def _status_push(user) -> dict:
    """The consumer as the ASGI server drives it (channels.testing needs daphne)."""
    scope = {"type": "websocket", "path": "/ws/live/", "headers": [], "subprotocols": [],
             "user": user, "session": {}}
    socket = ApplicationCommunicator(LiveConsumer.as_asgi(), scope)
    await socket.send_input({"type": "websocket.connect"})
    assert (await socket.receive_output(5))["type"] == "websocket.accept"
    try:
        await broadcast_once()
        while True:
            out = await socket.receive_output(5)
            message = json.loads(out["text"])
            if message.get("type") == "status":
                return message
    finally:
        await socket.send_input({"type": "websocket.disconnect", "code": 1000})
        await socket.wait(5)


async def test_websocket_status_push_is_cut_per_viewer(tenants, foreign_link):
    from channels.db import database_sync_to_async

    pushed = json.dumps(await _status_push(tenants["alice"]))
    assert not [m for m in MARKERS if m in pushed], pushed
    root = await database_sync_to_async(_operator_in)(tenants["a"])
    pushed = json.dumps(await _status_push(root))
    assert all(m in pushed for m in MARKERS)
