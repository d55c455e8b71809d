"""The agent's page (central.agents.desk_views / desk_consumer): who may see it, what its
actions touch, and that a screen pop reaches its own agent only (another agent of the same
tenant, or an agent of another tenant on the same interface string, receives nothing)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone

from central.agents.desk_consumer import DeskConsumer
from central.agents.models import AgentInterface
from central.core.live import AGENT_EVENT, agent_group, apublish_agent
from central.dialer.models import Disposition
from tests.agents.factories import agent_for
from tests.dialer import factories

pytestmark = pytest.mark.django_db(transaction=True)


def _agent(org, user=None, interface="PJSIP/2001", role="agent"):
    agent = agent_for(org, role=role, **({"user": user} if user else {}))
    AgentInterface.objects.create(organization=org, agent=agent, interface=interface)
    return agent


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.fixture
def desk(tenants):
    """artur (org A, PJSIP/2001), a second agent of A (PJSIP/2002), and an agent of B on
    the same interface string PJSIP/2001, each with a connected call of their own."""
    a, b = tenants["a"], tenants["b"]
    artur = _agent(a, user=tenants["artur"], interface="PJSIP/2001")
    other = _agent(a, interface="PJSIP/2002")
    foreign = _agent(b, interface="PJSIP/2001")
    camp = factories.campaign(a, status="active", script="Olá {nome}!")
    contact = factories.contact(a, camp, name="Ana Cliente", custom_fields={"cidade": "Campinas"})
    attempt = factories.attempt(a, contact, state="answered", agent="PJSIP/2001", connected_at=timezone.now())
    other_attempt = factories.attempt(a, factories.contact(a, camp, name="Outro"), state="answered",
                                      agent="PJSIP/2002", connected_at=timezone.now())
    b_attempt = factories.attempt(b, factories.contact(b, factories.campaign(b), name="Segredo B"),
                                  state="answered", agent="PJSIP/2001", connected_at=timezone.now())
    return {"artur": artur, "other": other, "foreign": foreign, "campaign": camp, "contact": contact,
            "attempt": attempt, "other_attempt": other_attempt, "b_attempt": b_attempt}


# --- the page and its actions ---------------------------------------------------------------

def test_page_shows_the_pending_call_and_refuses_viewers(tenants, desk):
    body = _client(tenants["artur"]).get("/agents/desk/").content.decode()
    assert "Ana Cliente" in body and str(desk["attempt"].uid) in body  # the call waiting for a result
    assert "Segredo B" not in body and "Outro" not in body
    assert _client(tenants["vera"]).get("/agents/desk/").status_code == 403
    # An owner with no agent link sees the explanation, not an error.
    page = _client(tenants["alice"]).get("/agents/desk/")
    assert page.status_code == 200 and 'data-testid="desk-no-agent"' in page.content.decode()


def test_disposition_of_own_call_only(tenants, desk):
    artur = _client(tenants["artur"])
    for uid in (str(desk["other_attempt"].uid), str(desk["b_attempt"].uid), "nao-existe"):
        r = _post(artur, "/agents/desk/disposition/", {"attempt": uid, "code": "venda"})
        assert r.status_code == 404, uid
    r = _post(artur, "/agents/desk/disposition/", {"attempt": str(desk["attempt"].uid), "code": "voar"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "unknown"
    r = _post(artur, "/agents/desk/disposition/", {
        "attempt": str(desk["attempt"].uid), "code": "agendar_retorno", "notes": "à tarde",
        "callback_date": (timezone.localdate() + timedelta(days=2)).isoformat(), "callback_time": "15:30",
        "callback_for": "me"})
    assert r.status_code == 200, r.content
    saved = Disposition.objects.get()
    assert saved.callback.assigned_to == tenants["artur"] and saved.agent_interface == "PJSIP/2001"
    # Bob (tenant B) cannot touch A's contact by id either.
    r = _post(_client(tenants["bob"]), "/agents/desk/disposition/", {"contact": desk["contact"].pk, "code": "venda"})
    assert r.status_code in (403, 404)


def test_preview_of_another_tenants_campaign_is_not_found(tenants, desk):
    camp_b = factories.campaign(tenants["b"], status="active", pacing_mode="preview")
    r = _post(_client(tenants["artur"]), "/agents/desk/preview/", {"action": "next", "campaign": camp_b.pk})
    assert r.status_code == 404


def test_preview_next_and_skip(tenants, desk):
    camp = factories.campaign(tenants["a"], status="active", pacing_mode="preview", working_hours={
        d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}, respect_holidays=False)
    c = factories.contact(tenants["a"], camp, name="Previsto")
    artur = _client(tenants["artur"])
    r = _post(artur, "/agents/desk/preview/", {"action": "next", "campaign": camp.pk})
    assert r.json()["card"]["contact"]["name"] == "Previsto"
    assert _post(artur, "/agents/desk/preview/", {"action": "next", "campaign": camp.pk}).json()["card"] is None
    r = _post(artur, "/agents/desk/preview/", {"action": "skip", "contact": c.pk, "reason": ""})
    assert r.json()["error"]["code"] == "skip_reason"
    r = _post(artur, "/agents/desk/preview/", {"action": "skip", "contact": c.pk, "reason": "cliente em viagem"})
    assert r.json()["ok"]
    c.refresh_from_db()
    assert c.status == "pending" and c.next_attempt_at > timezone.now()


# --- the socket: pops reach their own agent only ------------------------------------------------

async def _socket(user):
    scope = {"type": "websocket", "path": "/ws/desk/", "headers": [], "subprotocols": [], "user": user,
             "session": {}}
    sock = ApplicationCommunicator(DeskConsumer.as_asgi(), scope)
    await sock.send_input({"type": "websocket.connect"})
    first = await sock.receive_output(5)
    return sock, first


async def _next(sock) -> dict:
    """The socket's next message (the consumer answers each event in order)."""
    while True:
        msg = await sock.receive_output(5)
        if msg["type"] == "websocket.send":
            return json.loads(msg["text"])


async def _marker(org_id: int, interface: str, sock) -> list[dict]:
    """Everything the socket sent before a marker event sent to its own group now: the
    channel layer delivers one channel's messages in order, so a pop that reached this
    socket would come before the marker. Synchronises on events, not on time."""
    await apublish_agent(org_id, interface, {"kind": "member", "member": {"interface": interface, "queue": "marker"}})
    before = []
    while True:
        msg = await _next(sock)
        if msg.get("type") == "member" and msg["member"].get("queue") == "marker":
            return before
        before.append(msg)


async def _close(sock):
    await sock.send_input({"type": "websocket.disconnect", "code": 1000})
    await sock.wait(5)


async def test_pop_reaches_only_its_agent(tenants, desk):
    org_a, org_b = tenants["a"].pk, tenants["b"].pk
    users = await database_sync_to_async(lambda: (desk["artur"].user, desk["other"].user, desk["foreign"].user))()
    socks = {}
    for name, user in zip(("artur", "other", "foreign"), users, strict=True):
        sock, first = await _socket(user)
        assert first["type"] == "websocket.accept", name
        socks[name] = sock
    try:
        for sock in socks.values():  # hello, then the (empty) list of due callbacks
            assert (await _next(sock))["type"] == "hello"
            assert (await _next(sock))["type"] == "callbacks"
        await apublish_agent(org_a, "PJSIP/2001", {"kind": "pop", "attempt": str(desk["attempt"].uid),
                                                   "interface": "PJSIP/2001", "connected_at": 1.0})
        got = await _next(socks["artur"])
        assert got["type"] == "pop" and got["card"]["contact"]["name"] == "Ana Cliente"
        assert got["card"]["script"] == [["text", "Olá "], ["field", "Ana Cliente"], ["text", "!"]]
        assert await _marker(org_a, "PJSIP/2002", socks["other"]) == []
        assert await _marker(org_b, "PJSIP/2001", socks["foreign"]) == []  # same interface, other tenant
        # A pop naming another tenant's (or another agent's) attempt shows nothing.
        for uid in (str(desk["b_attempt"].uid), str(desk["other_attempt"].uid)):
            await apublish_agent(org_a, "PJSIP/2001", {"kind": "pop", "attempt": uid, "interface": "PJSIP/2001"})
        assert await _marker(org_a, "PJSIP/2001", socks["artur"]) == []
        # Tenant B's own pop goes to B's agent only.
        await apublish_agent(org_b, "PJSIP/2001", {"kind": "pop", "attempt": str(desk["b_attempt"].uid),
                                                   "interface": "PJSIP/2001"})
        got = await _next(socks["foreign"])
        assert got["type"] == "pop" and got["card"]["contact"]["name"] == "Segredo B"
        assert await _marker(org_a, "PJSIP/2001", socks["artur"]) == []
    finally:
        for sock in socks.values():
            await _close(sock)


async def test_socket_refuses_non_agents(tenants):
    sock, first = await _socket(tenants["alice"])  # owner, not linked to an agent
    assert first == {"type": "websocket.close", "code": 4403}
    sock, first = await _socket(tenants["vera"])  # viewer
    assert first == {"type": "websocket.close", "code": 4403}


@pytest.mark.backend_free
def test_group_names_differ_per_tenant_and_interface():
    names = {agent_group(o, i) for o in (1, 2) for i in ("PJSIP/2001", "PJSIP/2002")}
    assert len(names) == 4 and all(len(n) < 100 and n.replace("-", "").isalnum() for n in names)
    assert AGENT_EVENT == "desk.event"


# --- the PBX link's pops: inbound queue calls -----------------------------------------------------

def _ev(**fields):
    from central.telephony.ami.protocol import Message

    return Message([("Event", fields.pop("Event")), *fields.items()])


async def test_inbound_queue_call_pops_the_caller_on_the_agents_group(tenants):
    """An inbound call (a ringing non-Local channel first, as a trunk call starts) that a
    queue connects to PJSIP/2001: the link pushes the caller's number to that agent's group
    (AgentConnect's CallerIDNum is the caller's, ami-event-stream-answered-queue-agent.txt);
    the dialer's own calls (Local channels) are popped by the dialer, not here."""
    from channels.layers import get_channel_layer

    from central.telephony.link import LinkTarget, PBXLink
    from central.telephony.store import ServerRef

    layer = get_channel_layer()
    org = tenants["a"]
    channel = await layer.new_channel()
    await layer.group_add(agent_group(org.pk, "PJSIP/2001"), channel)
    link = PBXLink(LinkTarget(ServerRef(1, org.pk, "pbx"), "127.0.0.1", 1, "u", "s"))
    link.feed(_ev(Event="Newchannel", Channel="PJSIP/operadora-00000001", ChannelState="4",
                  CallerIDNum="11987654321", Uniqueid="in-1", Linkedid="in-1"), 1.0)
    link.feed(_ev(Event="AgentConnect", Channel="PJSIP/operadora-00000001", CallerIDNum="11987654321",
                  Uniqueid="in-1", Linkedid="in-1", Queue="suporte", Interface="PJSIP/2001",
                  MemberName="Artur"), 2.0)
    # A dialer call: Local channels; no pop from the link.
    link.feed(_ev(Event="Newchannel", Channel="Local/+5511900000001@discador-out-00000002;1", ChannelState="4",
                  CallerIDNum="1130000000", Uniqueid="out-1", Linkedid="out-1"), 3.0)
    link.feed(_ev(Event="AgentConnect", Channel="Local/+5511900000001@discador-out-00000002;1",
                  CallerIDNum="1130000000", Uniqueid="out-1", Linkedid="out-1", Queue="sales",
                  Interface="PJSIP/2001"), 4.0)
    message = await layer.receive(channel)
    assert message["payload"]["kind"] == "inbound"
    assert (message["payload"]["number"], message["payload"]["queue"]) == ("11987654321", "suporte")
    await layer.group_send(agent_group(org.pk, "PJSIP/2001"), {"type": AGENT_EVENT, "payload": {"kind": "marker"}})
    assert (await layer.receive(channel))["payload"] == {"kind": "marker"}  # nothing for the dialer's call
