"""The ramais and calls pages render the tenant's rows (and only those) for the live script."""

from __future__ import annotations

import json
import re

import pytest

from tests.telephony.factories import (
    make_call_record,
    make_extension,
    make_live_call,
    make_queue_member,
)

pytestmark = pytest.mark.django_db


def _json_script(html: str, element_id: str):
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, f"no #{element_id} in page"
    return json.loads(match.group(1))


def test_extensions_page_lists_own_extensions_and_the_menu_links(client, tenants):
    make_extension(tenants["a"], exten="1001", state="busy")
    make_extension(tenants["b"], exten="2001", state="free")
    client.force_login(tenants["vera"])
    page = client.get("/telephony/extensions/")
    assert page.status_code == 200
    html = page.content.decode()
    assert [(e["exten"], e["state"]) for e in _json_script(html, "extensions-data")] == [("1001", "busy")]
    assert _json_script(html, "state-labels")["busy"] == "Ocupado"
    assert 'href="/telephony/extensions/">Ramais<' in html and 'href="/telephony/calls/">Chamadas<' in html


def test_calls_page_shows_live_calls_and_recent_records(client, tenants):
    make_live_call(tenants["a"], linkedid="5.1", state="ringing")
    make_call_record(tenants["a"], linkedid="5.0", disposition="no_answer")
    make_call_record(tenants["b"], linkedid="6.0")
    make_queue_member(tenants["a"], interface="Local/agent1@agent-phones", availability="paused", paused_reason="almoço")
    make_queue_member(tenants["b"], interface="Local/agent7@agent-phones")
    client.force_login(tenants["alice"])
    html = client.get("/telephony/calls/").content.decode()
    assert [c["linkedid"] for c in _json_script(html, "live-data")] == ["5.1"]
    assert re.findall(r'<tr data-linkedid="([^"]+)"', html) == ["5.0"]  # server-rendered history
    assert _json_script(html, "disposition-labels")["no_answer"] == "Não atendida"
    members = _json_script(html, "members-data")
    assert [(m["interface"], m["availability"], m["paused_reason"]) for m in members] == [
        ("Local/agent1@agent-phones", "paused", "almoço")]
    assert _json_script(html, "availability-labels")["in_call"] == "Em atendimento"


def test_pages_need_login_and_refuse_foreign_organizations(client, tenants):
    assert client.get("/telephony/extensions/").status_code == 302
    client.force_login(tenants["alice"])
    foreign = client.get("/telephony/calls/", HTTP_X_ORGANIZATION=str(tenants["b"].pk))
    assert foreign.status_code == 404
