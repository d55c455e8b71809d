"""The telephony REST API: servers (admin writes, never a secret), extensions, calls."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from central.telephony.models import AsteriskServer
from tests.telephony.factories import (
    make_call_record,
    make_extension,
    make_live_call,
    make_queue_member,
    server_for,
)

pytestmark = pytest.mark.django_db

BASE = "/api/v1/telephony"
PUBLIC_HOST = "200.160.2.3"  # a public address: tenants may only point at public hosts


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_server_crud_by_an_owner_never_shows_a_secret(tenants, api_as, monkeypatch):
    monkeypatch.setenv("CENTRAL_TENANT_SECRET_PBX1", "s3cr3t-value")
    alice = api_as(tenants["alice"])
    created = alice.post(f"{BASE}/servers/", {"name": "pbx1", "host": PUBLIC_HOST, "username": "central",
                                               "secret_env": "CENTRAL_TENANT_SECRET_PBX1"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["port"] == 5038 and body["secret_configured"] is True
    assert "s3cr3t-value" not in created.content.decode()
    assert "secret" not in body
    server = AsteriskServer.objects.get(pk=body["id"])
    assert server.organization == tenants["a"]
    assert "s3cr3t-value" not in str(AsteriskServer.objects.filter(pk=server.pk).values().get())

    # A secret sent anyway is ignored, not stored.
    patched = alice.patch(f"{BASE}/servers/{server.pk}/", {"port": 5039, "secret": "oops"}, format="json")
    assert patched.status_code == 200 and patched.json()["port"] == 5039
    assert "oops" not in str(AsteriskServer.objects.filter(pk=server.pk).values().get())

    bad = alice.post(f"{BASE}/servers/", {"name": "pbx2", "host": "h", "username": "u",
                                           "secret_env": "not a var name"}, format="json")
    assert bad.status_code == 400 and "secret_env" in bad.json()["error"]["fields"]
    dup = alice.post(f"{BASE}/servers/", {"name": "pbx1", "host": PUBLIC_HOST, "username": "u",
                                           "secret_env": "CENTRAL_TENANT_SECRET_X"}, format="json")
    assert dup.status_code == 400 and "name" in dup.json()["error"]["fields"]

    # Call history is kept: a server with records is disabled, not deleted.
    record = make_call_record(tenants["a"], server=server)
    refused = alice.delete(f"{BASE}/servers/{server.pk}/")
    assert refused.status_code == 400 and "desative" in refused.content.decode()
    record.delete()
    assert alice.delete(f"{BASE}/servers/{server.pk}/").status_code == 204
    assert not AsteriskServer.objects.filter(pk=server.pk).exists()


def test_viewers_read_but_only_admins_write_servers(tenants, api_as):
    server = server_for(tenants["a"], name="pbx")
    vera = api_as(tenants["vera"])
    assert [s["name"] for s in results(vera.get(f"{BASE}/servers/"))] == ["pbx"]
    assert vera.patch(f"{BASE}/servers/{server.pk}/", {"port": 1}, format="json").status_code == 403
    assert vera.post(f"{BASE}/servers/", {"name": "x", "host": "h", "username": "u",
                                          "secret_env": "X"}, format="json").status_code == 403
    assert api_as(tenants["artur"]).delete(f"{BASE}/servers/{server.pk}/").status_code == 403


def test_extensions_filter_by_state_and_registration(tenants, api_as):
    org = tenants["a"]
    server = server_for(org)
    make_extension(org, server=server, exten="1001", state="free", registered=True)
    make_extension(org, server=server, exten="1002", state="busy", registered=True)
    make_extension(org, server=server, exten="1003", state="ringing", registered=False)
    vera = api_as(tenants["vera"])
    exts = lambda **q: [e["exten"] for e in results(vera.get(f"{BASE}/extensions/", q))]  # noqa: E731
    assert exts() == ["1001", "1002", "1003"]
    assert exts(state="busy") == ["1002"]
    assert exts(state=["busy", "ringing"]) == ["1002", "1003"]
    assert exts(registered="false") == ["1003"]
    assert results(vera.get(f"{BASE}/extensions/"))[0]["server"] == server.name
    assert vera.get(f"{BASE}/extensions/", {"state": "dancing"}).status_code == 400


def test_call_records_filter_and_order(tenants, api_as):
    org = tenants["a"]
    server = server_for(org)
    now = timezone.now()
    old = make_call_record(org, server=server, linkedid="1.1", started_at=now - dt.timedelta(days=3),
                           disposition="busy", billsec=0, queue="", agent="")
    mid = make_call_record(org, server=server, linkedid="1.2", started_at=now - dt.timedelta(hours=1),
                           disposition="answered", billsec=120, queue="sales", agent="Agent One")
    new = make_call_record(org, server=server, linkedid="1.3", started_at=now,
                           disposition="answered", billsec=30, queue="suporte", agent="Agent Two")
    vera = api_as(tenants["vera"])
    ids = lambda **q: [c["linkedid"] for c in results(vera.get(f"{BASE}/calls/", q))]  # noqa: E731
    assert ids() == [new.linkedid, mid.linkedid, old.linkedid]  # newest first
    assert ids(disposition="answered") == ["1.3", "1.2"]
    assert ids(queue="sales") == ["1.2"]
    assert ids(agent="Agent Two") == ["1.3"]
    assert ids(since=(now - dt.timedelta(days=1)).isoformat()) == ["1.3", "1.2"]
    assert ids(until=(now - dt.timedelta(days=1)).isoformat()) == ["1.1"]
    assert ids(ordering="-billsec") == ["1.2", "1.3", "1.1"]
    assert ids(ordering="started_at") == ["1.1", "1.2", "1.3"]
    row = results(vera.get(f"{BASE}/calls/", {"queue": "sales"}))[0]
    assert (row["disposition"], row["billsec"], row["hangup_cause"]) == ("answered", 120, 16)


def test_live_calls_are_listed(tenants, api_as):
    org = tenants["a"]
    make_live_call(org, linkedid="9.1", state="up", queue="sales", agent="Agent One")
    make_live_call(tenants["b"], linkedid="9.2")
    rows = results(api_as(tenants["vera"]).get(f"{BASE}/live-calls/"))
    assert [(r["linkedid"], r["state"], r["agent"]) for r in rows] == [("9.1", "up", "Agent One")]


def test_deleting_an_organization_removes_its_telephony_rows(tenants):
    org = tenants["b"]
    record = make_call_record(org)
    make_extension(org, server=record.server)
    org.delete()
    assert not AsteriskServer.objects.filter(pk=record.server_id).exists()


def test_queue_members_filter_by_availability(tenants, api_as):
    org = tenants["a"]
    make_queue_member(org, interface="Local/agent1@agent-phones", availability="free")
    make_queue_member(org, interface="Local/agent2@agent-phones", availability="paused", paused_reason="lunch")
    vera = api_as(tenants["vera"])
    rows = results(vera.get(f"{BASE}/queue-members/", {"availability": "paused"}))
    assert [(r["interface"], r["paused_reason"]) for r in rows] == [("Local/agent2@agent-phones", "lunch")]
    assert len(results(vera.get(f"{BASE}/queue-members/", {"queue": "sales"}))) == 2
