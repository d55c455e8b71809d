"""Agent identity: the read helpers, the interface claim rules, the API and the team page."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from central.agents.identity import (
    agent_for_interface,
    agent_for_user,
    agent_names,
    check_interface_claim,
)
from central.agents.models import DEFAULT_PAUSE_CODES, AgentInterface, PauseCode
from tests.agents.factories import agent_for, make_interface
from tests.telephony.factories import make_queue_member, server_for

pytestmark = pytest.mark.django_db


def test_agent_names_maps_interfaces_to_people_in_one_query(tenants):
    a = tenants["a"]
    ana = agent_for(a, name="Ana Souza")
    make_interface(a, agent=ana, interface="Local/agent2@agent-phones")
    make_interface(a, agent=ana, interface="PJSIP/2002")
    with CaptureQueriesContext(connection) as q:
        names = agent_names(a.pk, ["Local/agent2@agent-phones", "PJSIP/2002", "PJSIP/9999", ""])
    assert names == {"Local/agent2@agent-phones": "Ana Souza", "PJSIP/2002": "Ana Souza"}
    assert len(q.captured_queries) == 1
    assert agent_names(a.pk, []) == {}


def test_helpers_never_cross_tenants(tenants):
    a, b = tenants["a"], tenants["b"]
    ana = agent_for(a, name="Ana", user=tenants["artur"])
    make_interface(a, agent=ana, interface="PJSIP/2001")
    assert agent_names(b.pk, ["PJSIP/2001"]) == {}
    assert agent_for_interface(b.pk, "PJSIP/2001") is None
    assert agent_for_interface(a.pk, "PJSIP/2001") == ana
    assert agent_for_user(a.pk, tenants["artur"]) == ana
    assert agent_for_user(b.pk, tenants["artur"]) is None


def test_one_agent_per_interface_per_organization_but_tenants_have_their_own_pbx(tenants):
    a, b = tenants["a"], tenants["b"]
    make_interface(a, interface="PJSIP/2001")
    with pytest.raises(ValidationError):
        check_interface_claim(a.pk, "PJSIP/2001")
    check_interface_claim(b.pk, "PJSIP/2001")  # B's own Asterisk has its own 2001


def test_a_tenant_cannot_claim_an_interface_another_tenants_server_holds_on_the_same_pbx(tenants):
    a, b = tenants["a"], tenants["b"]
    server_b = server_for(b, host="pbx.shared.example", port=5038)
    make_queue_member(b, server=server_b, interface="PJSIP/3001")
    server_for(a, host="pbx.shared.example", port=5038)  # A registered the same PBX
    with pytest.raises(ValidationError) as err:
        check_interface_claim(a.pk, "PJSIP/3001")
    assert "outra organização" in str(err.value)
    check_interface_claim(a.pk, "PJSIP/3002")  # a line B does not hold
    # Another PBX of A's (different address) is not affected by B's lines.
    other = server_for(a, host="pbx.a.example")
    check_interface_claim(a.pk, "PJSIP/3001", other)


def test_a_link_names_only_the_organizations_own_server(tenants):
    a, b = tenants["a"], tenants["b"]
    with pytest.raises(ValidationError):
        check_interface_claim(a.pk, "PJSIP/2001", server_for(b))


def test_new_organizations_get_the_default_pause_codes(tenants):
    codes = list(PauseCode.objects.filter(organization=tenants["a"]).values_list("code", flat=True))
    assert codes == [c for c, _label in DEFAULT_PAUSE_CODES]


# --- API -------------------------------------------------------------------------------------

def test_api_creates_an_agent_for_a_member_with_the_agent_role_only(tenants, api_as):
    alice = api_as(tenants["alice"])
    made = alice.post("/api/v1/agents/agents/", {"user": tenants["artur"].pk, "name": "Artur Lima",
                                                  "extension": "2001"}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["username"] == "artur"
    viewer = alice.post("/api/v1/agents/agents/", {"user": tenants["vera"].pk, "name": "Vera"}, format="json")
    assert viewer.status_code == 400  # a viewer is not an agent
    foreign = alice.post("/api/v1/agents/agents/", {"user": tenants["bob"].pk, "name": "Bob"}, format="json")
    missing = alice.post("/api/v1/agents/agents/", {"user": 999999, "name": "X"}, format="json")
    assert foreign.status_code == missing.status_code == 400
    assert foreign.json()["error"]["fields"] == missing.json()["error"]["fields"]  # no existence oracle


def test_api_interface_rules(tenants, api_as):
    a, b = tenants["a"], tenants["b"]
    ana = agent_for(a, name="Ana")
    alice = api_as(tenants["alice"])
    ok = alice.post("/api/v1/agents/interfaces/", {"agent": ana.pk, "interface": "PJSIP/2001"}, format="json")
    assert ok.status_code == 201, ok.content
    dup = alice.post("/api/v1/agents/interfaces/", {"agent": ana.pk, "interface": "PJSIP/2001"}, format="json")
    assert dup.status_code == 400
    bad = alice.post("/api/v1/agents/interfaces/", {"agent": ana.pk, "interface": "2001; rm"}, format="json")
    assert bad.status_code == 400
    other_agent = agent_for(b)
    cross = alice.post("/api/v1/agents/interfaces/", {"agent": other_agent.pk, "interface": "PJSIP/2009"},
                       format="json")
    assert cross.status_code == 400
    cross_server = alice.post("/api/v1/agents/interfaces/", {"agent": ana.pk, "interface": "PJSIP/2010",
                                                             "server": server_for(b).pk}, format="json")
    assert cross_server.status_code == 400
    assert AgentInterface.objects.filter(organization=a).count() == 1


def test_api_roles_never_escalate(tenants, api_as):
    vera, artur = api_as(tenants["vera"]), api_as(tenants["artur"])
    assert vera.get("/api/v1/agents/pause-codes/").status_code == 200
    for client in (vera, artur):
        r = client.post("/api/v1/agents/pause-codes/", {"code": "cafe", "label": "Café"}, format="json")
        assert r.status_code == 403
    r = api_as(tenants["alice"]).post("/api/v1/agents/pause-codes/", {"code": "cafe", "label": "Café"}, format="json")
    assert r.status_code == 201


# --- team page -------------------------------------------------------------------------------

def test_team_page_links_a_member_to_an_interface(tenants, client):
    a = tenants["a"]
    client.force_login(tenants["alice"])
    page = client.get("/agents/team/")
    assert page.status_code == 200
    assert "artur" in page.content.decode()
    r = client.post("/agents/team/", {"op": "create_agent", "user": tenants["artur"].pk, "name": "Artur Lima",
                                      "extension": "2001", "interface": "Local/agent2@agent-phones"})
    assert r.status_code == 302
    assert agent_names(a.pk, ["Local/agent2@agent-phones"]) == {"Local/agent2@agent-phones": "Artur Lima"}
    # the same interface again, on another agent: refused with a message, nothing written
    r = client.post("/agents/team/", {"op": "create_agent", "user": tenants["alice"].pk, "name": "Alice",
                                      "interface": "Local/agent2@agent-phones"}, follow=True)
    assert "já está ligada" in r.content.decode()
    assert AgentInterface.objects.filter(organization=a).count() == 1


def test_team_page_is_for_supervisors_of_the_organization(tenants, client):
    for user in ("vera", "artur"):
        client.force_login(tenants[user])
        assert client.get("/agents/team/").status_code == 403
        assert client.post("/agents/team/", {"op": "add_pause", "code": "x", "label": "X"}).status_code == 403
    client.force_login(tenants["bob"])
    ana = agent_for(tenants["a"])
    r = client.post("/agents/team/", {"op": "delete_agent", "agent": ana.pk})
    assert r.status_code == 404  # B's owner cannot touch A's agent
    assert type(ana).objects.filter(pk=ana.pk).exists()


def test_demo_agents_name_the_simulators_queue_members_once(db):
    from central.agents.demo import ensure_demo_agents
    from central.core.demo import ensure_demo

    ensure_demo()
    assert ensure_demo_agents(4) == 4
    assert ensure_demo_agents(4) == 0  # once
    from central.core.models import Organization

    demo = Organization.objects.get(slug="demo")
    names = agent_names(demo.pk, [f"Local/agent{n}@agent-phones" for n in range(1, 5)])
    assert names["Local/agent2@agent-phones"] == "Bruno Lima"
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.get(username="admin")
    assert agent_for_user(demo.pk, admin).extension == "1001"
