"""The operations overview per tenant: figures from the rows the PBX link and the dialer
write, the home page and the wallboard, and the live push over ``/ws/live/?topics=ops``.
Tenants are mutually hostile: A's pages and sockets never carry B's figures."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async
from django.utils import timezone

from central.core.live import apublish, org_group
from central.dashboard.consumers import LiveConsumer
from central.dashboard.ops_live import RAW_TYPES
from central.dashboard.overview import overview
from tests.dialer.factories import attempt, campaign, contact
from tests.telephony.factories import (
    make_call_record,
    make_live_call,
    make_queue_member,
    server_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

#: B's names: none may appear anywhere A looks.
B_MARKERS = ("Campanha secreta de B", "fila-de-b", "pbx-de-b", "Agente de B")


def _seed_a(org):
    server = server_for(org, name="pbx-a", status="connected")
    now = timezone.now()
    camp = campaign(org, name="Cobrança A", queue="vendas", status="active", max_abandon_rate=0.03)
    # 4 answered, 1 abandoned in the last hour: 20 % with a 3 % cap.
    for result in ("answered",) * 4 + ("abandoned",):
        attempt(org, contact(org, camp), state="completed", result=result, created_at=now - timedelta(minutes=5))
    make_queue_member(org, server=server, queue="vendas", interface="PJSIP/2001", availability="in_call")
    make_queue_member(org, server=server, queue="vendas", interface="PJSIP/2002", availability="paused",
                      paused_reason="almoço", last_change=now - timedelta(minutes=3))
    make_queue_member(org, server=server, queue="vendas", interface="PJSIP/2003", availability="free")
    from tests.agents.factories import agent_for, make_interface

    make_interface(org, agent=agent_for(org, name="Maria Souza"), interface="PJSIP/2002")  # the paused one
    make_live_call(org, server=server, state="queued", queue="vendas", queued_at=now - timedelta(seconds=95))
    make_live_call(org, server=server, state="up", queue="vendas")
    for wait, disposition in ((5, "answered"), (15, "answered"), (45, "answered"), (None, "abandoned")):
        make_call_record(org, server=server, queue="vendas", queue_wait=wait, disposition=disposition,
                         billsec=60 if disposition == "answered" else 0)
    return camp


def _seed_b(org):
    server = server_for(org, name="pbx-de-b", status="disconnected")
    campaign(org, name="Campanha secreta de B", queue="fila-de-b", status="active")
    make_queue_member(org, server=server, queue="fila-de-b", interface="PJSIP/9001", name="Agente de B",
                      availability="paused", paused_reason="segredo")
    make_live_call(org, server=server, state="queued", queue="fila-de-b", queued_at=timezone.now())
    make_call_record(org, server=server, queue="fila-de-b")


def test_overview_figures_from_the_rows(tenants):
    camp = _seed_a(tenants["a"])
    _seed_b(tenants["b"])
    data = overview(tenants["a"])
    assert data["agents"]["in_call"] == 1 and data["agents"]["paused"] == 1 and data["agents"]["free"] == 1
    assert data["calls"] == {"in_progress": 2, "waiting": 1, "longest_wait_s": data["calls"]["longest_wait_s"],
                             "oldest_since": data["calls"]["oldest_since"]}
    assert 95 <= data["calls"]["longest_wait_s"] < 120
    (queue,) = data["queues"]
    # within 20 s: 2 of 3 answered + 1 abandoned offered -> 50 %
    assert queue["queue"] == "vendas" and queue["service_level"] == pytest.approx(0.5)
    assert queue["abandoned_today"] == 1 and queue["answered_today"] == 3
    assert data["today"] == {"calls": 4, "answered": 3, "abandoned": 1, "talk_s": 180}
    (row,) = data["campaigns"]
    assert row["id"] == camp.pk and row["abandon_1h"] == pytest.approx(0.2) and row["level_1h"] == "over"
    codes = {a["code"] for a in data["alarms"]}
    assert {"abandon_over_cap", "campaign_stopped", "queue_wait"} <= codes  # no dialer runs it
    assert "pbx_down" not in codes  # B's link is down, not A's
    assert [(p["name"], p["reason"]) for p in data["paused"]] == [("Maria Souza", "almoço")]  # a person, not PJSIP/2002
    assert data["zone"] == "America/Sao_Paulo"
    assert not [m for m in B_MARKERS if m in json.dumps(data)]


def test_home_and_wallboard_show_only_the_tenants_own_figures(client, tenants):
    _seed_a(tenants["a"])
    _seed_b(tenants["b"])
    client.force_login(tenants["alice"])
    for url in ("/", "/wallboard/", "/?wallboard=1"):
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        data = json.loads(re.search(r'<script id="ops-data" type="application/json">(.*?)</script>', body).group(1))
        assert [c["name"] for c in data["campaigns"]] == ["Cobrança A"] and "America/Sao_Paulo" in body, url
        assert not [m for m in B_MARKERS if m in body or m in json.dumps(data, ensure_ascii=False)], url
    home = client.get("/").content.decode()
    assert 'data-ws-query="topics=ops"' in home and "Hora do servidor" not in home  # system status moved
    wall = client.get("/wallboard/").content.decode()
    assert 'class="wallboard"' in wall and 'class="nav"' not in wall  # no navigation on the wall


def test_system_status_is_on_the_operators_system_page(client, tenants):
    from django.contrib.auth import get_user_model

    client.force_login(tenants["alice"])
    assert client.get("/system/").status_code == 404  # a tenant owner is not the installation's admin
    root = get_user_model().objects.create_superuser("root", "root@example.com", "senha-forte-123")
    client.force_login(root)
    body = client.get("/system/").content.decode()
    assert 'data-testid="server-time"' in body and 'data-testid="requests-total"' in body


async def _socket(user, topics=b"topics=ops"):
    scope = {"type": "websocket", "path": "/ws/live/", "query_string": topics, "headers": [],
             "subprotocols": [], "user": user, "session": {}}
    socket = ApplicationCommunicator(LiveConsumer.as_asgi(), scope)
    await socket.send_input({"type": "websocket.connect"})
    assert (await socket.receive_output(5))["type"] == "websocket.accept"
    return socket


async def _next_ops(socket) -> dict:
    while True:
        out = await socket.receive_output(10)
        message = json.loads(out["text"])
        # An overview socket gets the overview, not every raw PBX-link batch it is made of.
        assert message.get("type") not in RAW_TYPES, message.get("type")
        if message.get("type") == "ops":
            return message


async def _close(socket):
    await socket.send_input({"type": "websocket.disconnect", "code": 1000})
    await socket.wait(5)


async def test_ops_push_follows_the_pbx_link_and_stays_in_the_tenant(tenants):
    await database_sync_to_async(_seed_a)(tenants["a"])
    await database_sync_to_async(_seed_b)(tenants["b"])
    alice = await _socket(tenants["alice"])
    bob = await _socket(tenants["bob"])
    plain = await _socket(tenants["vera"], topics=b"")  # a page that did not ask for the overview
    wall = await _socket(tenants["vera"], topics=b"topics=ops&raw=0")  # the wallboard: the overview only
    try:
        # A new caller waits in A's queue; the PBX link says so with its "calls" push.
        await database_sync_to_async(make_live_call)(tenants["a"], state="queued", queue="vendas",
                                                     queued_at=timezone.now())
        await apublish(org_group(tenants["a"].pk), {"type": "calls", "records": [], "live": []})
        pushed = await _next_ops(alice)
        while pushed["calls"]["waiting"] != 2:
            pushed = await _next_ops(alice)
        assert pushed["organization"] == tenants["a"].pk
        assert not [m for m in B_MARKERS if m in json.dumps(pushed)]
        on_wall = json.loads((await wall.receive_output(10))["text"])  # the first thing it receives
        assert on_wall["type"] == "ops" and on_wall["organization"] == tenants["a"].pk
        await apublish(org_group(tenants["b"].pk), {"type": "queue_members", "members": []})
        theirs = await _next_ops(bob)
        assert theirs["organization"] == tenants["b"].pk and "pbx_down" in {a["code"] for a in theirs["alarms"]}
        # The socket that did not ask for the overview got none of it.
        while not await plain.receive_nothing(0.2):
            assert json.loads((await plain.receive_output(1))["text"]).get("type") != "ops"
    finally:
        for s in (alice, bob, plain, wall):
            await _close(s)


async def test_an_abandon_right_after_a_push_shows_when_the_day_figures_expire(tenants, monkeypatch):
    """The day's aggregates (campaign abandonment) are reused for SLOW_TTL seconds; an
    abandon that came within them was pushed only at the next refresh (REFRESH_S, 5 s)
    unless another change came: the wallboard's alarm lagged. Here the refresh is a minute
    away and the alarm still comes once the aggregates expire."""
    from central.dashboard import ops_live

    monkeypatch.setattr(ops_live, "REFRESH_S", 60.0)
    monkeypatch.setattr(ops_live, "SLOW_TTL", 1.5)
    org = tenants["a"]

    def seed():
        camp = campaign(org, name="Cobrança A", queue="vendas", status="active", max_abandon_rate=0.03)
        for _ in range(4):
            attempt(org, contact(org, camp), state="completed", result="answered")
        return camp

    camp = await database_sync_to_async(seed)()
    alice = await _socket(tenants["alice"])
    try:
        # The dialer's push, until the page's overview task listens (it subscribes after accept).
        while await alice.receive_nothing(0.2):
            await apublish(org_group(org.pk), {"type": "dialer", "campaigns": []})
        first = await _next_ops(alice)  # the aggregates are fresh
        assert "abandon_over_cap" not in {a["code"] for a in first["alarms"]}
        await database_sync_to_async(attempt)(org, await database_sync_to_async(contact)(org, camp),
                                              state="completed", result="abandoned")
        await apublish(org_group(org.pk), {"type": "dialer", "campaigns": []})  # the dialer's push
        while True:  # within SLOW_TTL of the first push (before: at the next refresh, a minute)
            pushed = await _next_ops(alice)
            if "abandon_over_cap" in {a["code"] for a in pushed["alarms"]}:
                break
    finally:
        await _close(alice)
