"""The voice page (Portaria virtual, issue 12): live state cut per tenant, the visit log's
filters, and a test call placed from the page through the PBX simulator, followed live.

Before: the page showed a bare table and the last 30 visits (no filter), nothing moved
without a reload, and a new user had no way to see the concierge at work on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime

import pytest
from django.test import Client

from central.voice import embedded as voice_embedded
from central.voice.live import VOICE_EVENT, for_organization
from tests.voice.helpers import in_thread
from tests.voice.test_visit_outcomes_e2e import free_port


def _status() -> dict:
    ext = {"ramal": "1900", "organization_id": 1, "active_sessions": 1,
           "calls": [{"call_uuid": "u1", "events": [{"at": 1.0, "event": "dtmf", "detail": "101"}]}]}
    other = {"ramal": "2900", "organization_id": 2, "active_sessions": 3, "calls": [{"call_uuid": "u2"}]}
    return {"config_source": "database", "extensions": [ext, other],
            "turns": [{"ramal": "1900", "total_ms": 20.0}, {"ramal": "2900", "total_ms": 900.0}],
            "failed_extensions": {"2901": "OSError: port in use", "1901": "OSError"}}


@pytest.mark.backend_free
def test_live_state_is_cut_to_one_tenant():
    cut = for_organization(_status(), 1)
    assert [e["ramal"] for e in cut["extensions"]] == ["1900"]
    assert [t["ramal"] for t in cut["turns"]] == ["1900"] and cut["turn_latency_ms"]["p95"] == 20.0
    assert cut["failed"] == {}  # 1901 is not a number this tenant runs; 2901 is another's
    assert "u2" not in str(cut)


def _visit(org, outcome, at, unit=None):
    from central.voice.models import VisitLog

    return VisitLog.objects.create(organization=org, visit_id=uuid.uuid4(), extension_number="1900",
                                   unit=unit, unit_label=str(unit or ""), outcome=outcome,
                                   started_at=at, ended_at=at)


@pytest.mark.django_db
def test_visit_log_filters_by_day_unit_and_outcome(tenants, client, monkeypatch):
    from central.voice.models import Unit

    monkeypatch.setenv("CENTRAL_VOICE_API_URL", f"http://127.0.0.1:{free_port()}")  # voice process down
    org = tenants["a"]
    u101 = Unit.objects.create(organization=org, number="101", block="A")
    u302 = Unit.objects.create(organization=org, number="302", block="B")
    late = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)  # 24/11 23:30 in São Paulo
    _visit(org, "authorized", late, u101)
    _visit(org, "denied", datetime(2026, 11, 26, 15, 0, tzinfo=UTC), u302)
    _visit(tenants["b"], "denied", late)  # another tenant's
    client.force_login(tenants["alice"])

    def rows(query):
        page = client.get("/voice/" + query)
        assert page.status_code == 200
        return page.context["visits"].object_list

    assert len(rows("")) == 2
    assert [v.outcome for v in rows("?outcome=denied")] == ["denied"]
    assert [v.unit_id for v in rows(f"?unit={u101.pk}")] == [u101.pk]
    # Days are the organization's: 02:30 UTC on the 25th is the evening of the 24th.
    assert [v.outcome for v in rows("?from=2026-11-24&to=2026-11-24")] == ["authorized"]
    assert list(rows("?from=2026-11-27")) == []
    page = client.get("/voice/?outcome=bogus&from=not-a-date").content.decode()
    assert 'data-testid="voice-down"' in page and "24/11 23:30" in page


@pytest.mark.django_db
def test_test_call_needs_a_supervisor_and_the_simulator(tenants, monkeypatch):
    from central.core.models import AuditLog
    from central.voice.models import AIExtension, Unit

    monkeypatch.setenv("CENTRAL_VOICE_API_URL", f"http://127.0.0.1:{free_port()}")
    org = tenants["a"]
    ext = AIExtension.objects.create(organization=org, number="1900", return_number="1901", port=18080,
                                     return_port=18081)
    unit = Unit.objects.create(organization=org, number="101", block="A")
    for name in ("artur", "vera"):  # agent, viewer
        c = Client()
        c.force_login(tenants[name])
        assert "test-call-form" not in c.get("/voice/").content.decode()
        assert c.post("/voice/test-call/", {"extension": ext.pk, "unit": unit.pk}).status_code == 403
    c = Client()
    c.force_login(tenants["alice"])
    page = c.post("/voice/test-call/", {"extension": ext.pk, "unit": unit.pk}, follow=True).content.decode()
    assert "só com o simulador" in page  # no simulator in this process: nothing dialed
    assert not AuditLog.objects.filter(action="voice.test_call").exists()
    # Another tenant's extension is a 404, not a call.
    c.force_login(tenants["bob"])
    assert c.post("/voice/test-call/", {"extension": ext.pk, "unit": unit.pk}).status_code == 404


@pytest.mark.django_db(transaction=True)
async def test_test_call_from_the_page_is_followed_live(monkeypatch, tmp_path):
    """The page's button (a supervisor's POST) has the simulator's visitor call the demo
    AI extension; the tenant's group receives the call's trail as it happens, the visit
    ends with a real outcome, the action is audited, and another tenant hears nothing."""
    from channels.layers import get_channel_layer
    from django.contrib.auth import get_user_model

    from central.core.demo import ensure_demo
    from central.core.live import org_group
    from central.core.models import AuditLog, Membership, Organization
    from central.simulator import embedded as sim_embedded
    from central.voice.models import AIExtension, Unit, VisitLog

    await in_thread(ensure_demo)
    api_port = free_port()
    monkeypatch.setattr(voice_embedded, "VOICE_API_PORT", api_port)
    monkeypatch.setenv("CENTRAL_VOICE_API_URL", f"http://127.0.0.1:{api_port}")
    monkeypatch.setenv("CENTRAL_VOICE_TOKEN", "page-test-token")
    monkeypatch.setenv("CENTRAL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CENTRAL_DEMO_CALLS", "0")
    monkeypatch.setenv("CENTRAL_DEMO_VISITS", "0")  # only the test call
    monkeypatch.delenv("CENTRAL_AMI_URL", raising=False)
    await in_thread(voice_embedded.ensure_demo_concierge)

    def setup():
        condo = Organization.objects.get(slug=voice_embedded.DEMO_ORG)
        other = Organization.objects.exclude(pk=condo.pk).first()
        sup = get_user_model().objects.create_user("sup", "sup@example.com", "x")
        Membership.objects.create(user=sup, organization=condo, role="supervisor")
        client = Client()
        client.force_login(sup)
        ext = AIExtension.objects.get(organization=condo)
        # Free ports: the demo's 8080.. are often held by another central up on this host.
        ext.port, ext.return_port = free_port(), free_port()
        ext.save(update_fields=["port", "return_port"])
        unit = Unit.objects.get(organization=condo, number="101")
        return condo, other, client, ext, unit

    condo, other, client, ext, unit = await in_thread(setup)
    layer = get_channel_layer()
    mine, theirs = await layer.new_channel(), await layer.new_channel()
    await layer.group_add(org_group(condo.pk), mine)
    await layer.group_add(org_group(other.pk), theirs)

    # The simulated resident answers after a short ring and presses 1 after a short listen:
    # the demo PBX's draws (a resident that lets it ring 30 s, or listens and keys nothing)
    # made this test take 5-65 s, and which outcome the visit gets is not what it checks
    # (the live trail is).
    demo_config = sim_embedded.demo_simulator_config

    def answering_resident(*args, **kwargs):
        cfg = demo_config(*args, **kwargs)
        world = cfg.world
        world.answer_rate, world.busy_rate, world.congestion_rate, world.ring_time_mean = 1.0, 0.0, 0.0, 1.0
        world.resident_authorize_rate, world.resident_deny_rate, world.resident_think_mean = 1.0, 0.0, 0.5
        return cfg

    monkeypatch.setattr(sim_embedded, "demo_simulator_config", answering_resident)
    context: dict = {"simulator": True}
    tasks = [asyncio.ensure_future(t) for t in await sim_embedded.start(context)]
    tasks += [asyncio.ensure_future(t) for t in await voice_embedded.start(context)]
    try:
        async def voice_message() -> dict:
            while True:
                event = await layer.receive(mine)
                if event.get("payload", {}).get("type") == VOICE_EVENT:
                    return event["payload"]

        # The extension is listening once its state is pushed.
        first = await asyncio.wait_for(voice_message(), 60)
        assert [e["ramal"] for e in first["extensions"]] == [voice_embedded.DEMO_EXTENSION[0]]

        response = await in_thread(client.post, "/voice/test-call/", {"extension": ext.pk, "unit": unit.pk})
        assert response.status_code == 302 and "?test=" in response["Location"]
        call_uuid = response["Location"].split("?test=")[1].split("#")[0]

        # The call's trail arrives over the WebSocket group as the flow goes on.
        seen: set[str] = set()
        visit_id = None
        while "calling_resident" not in seen:
            msg = await asyncio.wait_for(voice_message(), 60)
            for call in (c for e in msg["extensions"] for c in e["calls"]):
                if call["call_uuid"] == call_uuid:
                    visit_id = call["visit_id"]
                    seen |= {ev["event"] for ev in call["events"]}
        assert {"call_started", "dtmf", "unit_identified"} <= seen

        async def outcome() -> str:
            while True:  # until the voice process has written the visit (safety net: 90 s)
                row = await in_thread(lambda: VisitLog.objects.filter(visit_id=visit_id).first())
                if row is not None:
                    return row.outcome
                await asyncio.sleep(0.1)

        assert await asyncio.wait_for(outcome(), 90) == "authorized"
        entry = await in_thread(lambda: AuditLog.objects.get(action="voice.test_call"))
        assert entry.organization_id == condo.pk and entry.details["call_uuid"] == call_uuid
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
    with pytest.raises(TimeoutError):  # not one voice message for the other tenant
        while True:
            event = await asyncio.wait_for(layer.receive(theirs), 0.05)
            assert event.get("payload", {}).get("type") != VOICE_EVENT


@pytest.mark.django_db
def test_page_survives_something_else_on_the_voice_api_port(tenants, client, monkeypatch):
    """An AudioSocket listener (binary frames) on the management API's port made the page a
    500 (http.client.BadStatusLine escaped voice_api); now it is "voice down"."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def answer_garbage():
        conn, _ = server.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(b"\x00\x00\x00")

    thread = threading.Thread(target=answer_garbage, daemon=True)
    thread.start()
    monkeypatch.setenv("CENTRAL_VOICE_API_URL", f"http://127.0.0.1:{server.getsockname()[1]}")
    client.force_login(tenants["alice"])
    try:
        page = client.get("/voice/")
    finally:
        thread.join(5)
        server.close()
    assert page.status_code == 200 and 'data-testid="voice-down"' in page.content.decode()
