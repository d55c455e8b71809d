"""The agents table: names instead of interfaces, figures of the day, tenant isolation of
the page, its JSON and its live group, and supervisor-only controls."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from central.agents.board import board
from central.agents.models import PauseInterval
from central.telephony import actions
from tests.agents.factories import agent_for, make_interface
from tests.telephony.factories import make_call_record, make_queue_member, server_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def floor(tenants):
    a, b = tenants["a"], tenants["b"]
    server_a, server_b = server_for(a), server_for(b)
    ana = agent_for(a, name="Ana Souza")
    make_interface(a, agent=ana, interface="Local/agent2@agent-phones")
    now = timezone.now()
    paused = make_queue_member(a, server=server_a, interface="Local/agent2@agent-phones", name="Agent Two",
                               availability="paused", paused_reason="almoco", last_change=now)
    free = make_queue_member(a, server=server_a, interface="PJSIP/2009", name="", availability="free")
    foreign = make_queue_member(b, server=server_b, interface="PJSIP/7777", name="Segredo de B")
    return {"server_a": server_a, "paused": paused, "free": free, "foreign": foreign, "now": now}


def test_rows_show_the_person_the_state_and_the_day(tenants, floor, monkeypatch):
    a = tenants["a"]
    # The day is the organization's: read at its noon, so a pause 30 minutes ago is
    # today's whenever the suite runs (at 00:20 there it was yesterday's: 0 s of pause).
    from central.core.tenancy import organization_zone

    noon = floor["now"].astimezone(organization_zone(a)).replace(hour=12, minute=0, second=0, microsecond=0)
    monkeypatch.setattr(timezone, "now", lambda: noon)
    start = noon - dt.timedelta(minutes=30)
    PauseInterval.objects.create(organization=a, server_id=floor["server_a"].pk, queue="sales",
                                 interface="Local/agent2@agent-phones", reason="intervalo",
                                 started_at=start, ended_at=start + dt.timedelta(minutes=10))
    make_call_record(a, server=floor["server_a"], agent_interface="Local/agent2@agent-phones",
                     disposition="answered", billsec=95, started_at=noon - dt.timedelta(minutes=5))
    rows = {r["interface"]: r for r in board(a)["rows"]}
    assert set(rows) == {"Local/agent2@agent-phones", "PJSIP/2009"}  # never B's
    ana = rows["Local/agent2@agent-phones"]
    assert (ana["name"], ana["linked"], ana["state"], ana["reason"]) == ("Ana Souza", True, "paused", "almoco")
    assert ana["since"] == floor["now"].isoformat()
    assert (ana["calls_today"], ana["talk_today"], ana["pause_today"]) == (1, 95, 600)
    assert rows["PJSIP/2009"]["name"] == "PJSIP/2009"  # nobody linked, no MemberName: the interface


def test_page_and_json_are_per_tenant(tenants, floor, client):
    client.force_login(tenants["bob"])
    page = client.get("/agents/").content.decode()
    assert "Segredo de B" in page and "Ana Souza" not in page and "agent2" not in page
    data = client.get("/agents/board.json").json()
    assert [r["interface"] for r in data["rows"]] == ["PJSIP/7777"]
    # B's owner cannot act on A's member: not found, nothing sent.
    assert client.post(f"/agents/members/{floor['paused'].pk}/unpause/").status_code == 404


def test_controls_are_for_supervisors_only(tenants, floor, client):
    for user in ("vera", "artur"):  # viewer, agent
        client.force_login(tenants[user])
        assert client.get("/agents/").status_code == 200  # they may look
        for action in ("pause", "logout", "listen", "whisper", "barge"):
            r = client.post(f"/agents/members/{floor['paused'].pk}/{action}/", {"code": "almoco"})
            assert r.status_code == 403, (user, action)


def test_a_refusal_reaches_the_supervisor_in_portuguese(tenants, floor, client, monkeypatch):
    monkeypatch.setattr(actions, "DEFAULT_TIMEOUT", 0.2)  # no PBX link runs in this test
    client.force_login(tenants["alice"])
    r = client.post(f"/agents/members/{floor['free'].pk}/pause/", {"code": "almoco"})
    assert r.status_code == 409
    assert r.json()["message"] == "Sem conexão com o Asterisk agora; tente de novo em instantes."
    r = client.post(f"/agents/members/{floor['free'].pk}/pause/", {"code": "inventado"})
    assert (r.status_code, r.json()["message"]) == (400, "Escolha um motivo de pausa da lista.")
    r = client.post(f"/agents/members/{floor['free'].pk}/listen/")  # not in a call; no extension
    assert r.status_code == 409 and "ramal" in r.json()["message"]


@pytest.mark.django_db(transaction=True)
async def test_another_tenants_socket_never_receives_the_agents(tenants):
    from asgiref.testing import ApplicationCommunicator

    from central.core.live import apublish, org_group
    from central.dashboard.consumers import LiveConsumer

    scope = {"type": "websocket", "path": "/ws/live/", "headers": [], "subprotocols": [],
             "user": tenants["bob"], "session": {}}
    socket = ApplicationCommunicator(LiveConsumer.as_asgi(), scope)
    await socket.send_input({"type": "websocket.connect"})
    assert (await socket.receive_output(5))["type"] == "websocket.accept"
    try:
        await apublish(org_group(tenants["a"].pk), {"type": "queue_members", "server": "pbx",
                                                   "members": [{"interface": "Local/agent2@agent-phones"}]})
        await apublish(org_group(tenants["b"].pk), {"type": "queue_members", "server": "pbx-b", "members": []})
        while True:  # the first queue_members B's socket gets is B's own (order per channel)
            message = json.loads((await socket.receive_output(5))["text"])
            if message.get("type") == "queue_members":
                break
        assert message["server"] == "pbx-b"
    finally:
        await socket.send_input({"type": "websocket.disconnect", "code": 1000})
        await socket.wait(5)
