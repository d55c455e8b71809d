"""The voice config from the database: loader, snapshot fallback with the real loader,
visit log persistence, and the REST API (tenant-scoped, proxying the voice process)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest
from django.db import connections

from central.voice.calls import VisitRecord, VoiceRuntime
from central.voice.config import read_snapshot
from central.voice.loader import load_from_database, save_visit
from central.voice.mgmt_api import ManagementAPI
from central.voice.models import AIExtension, VisitLog
from central.voice.service import VoiceService
from tests.voice.factories import make_ai_extension, make_resident, make_unit
from tests.voice.helpers import FAST_TTS, SHARED_CACHES


def seed(org):
    ext = make_ai_extension(org, number="1003", greeting="Olá, Jardim.", providers=FAST_TTS,
                            concierge_extension="1000")
    unit = make_unit(org, number="302", block="B")
    make_resident(org, unit=unit, name="Ana", extension="1101", priority=1)
    make_resident(org, unit=unit, name="Zeca", extension="1102", priority=0)
    make_resident(org, unit=unit, name="Inativo", extension="1103", active=False)
    return ext


def in_fresh_thread(fn):
    """Run ``fn`` in a new thread, so it opens its own database connection."""
    box = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            box["error"] = exc
        finally:
            connections.close_all()

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def test_loader_builds_config_from_rows(tenants):
    seed(tenants["a"])
    make_ai_extension(tenants["b"], number="2003", enabled=False)
    config = load_from_database()
    assert [e.number for e in config.extensions] == ["1003"]
    ext = config.extensions[0]
    assert ext.organization == "Empresa A" and ext.organization_id == tenants["a"].pk
    assert ext.greeting == "Olá, Jardim." and ext.concierge_extension == "1000"
    (unit,) = ext.units
    assert (unit.number, unit.block) == ("302", "B")
    assert [r.name for r in unit.residents] == ["Zeca", "Ana"]  # by priority, inactive left out


@pytest.mark.django_db(transaction=True)
def test_database_down_at_start_uses_snapshot_from_real_loader(tenants, tmp_path):
    seed(tenants["a"])
    snap = str(tmp_path / "voice.json")

    async def start() -> dict:
        svc = VoiceService(loader=lambda: in_fresh_thread(load_from_database), snapshot_path=snap,
                           caches=SHARED_CACHES)
        await svc.start()
        status = svc.status()
        await svc.stop()
        return status

    assert asyncio.run(start())["config_source"] == "database"
    assert read_snapshot(snap).extensions[0].number == "1003"
    settings_dict = connections.settings["default"]
    saved = {k: settings_dict.get(k) for k in ("NAME", "PORT", "OPTIONS")}
    if connections["default"].vendor == "postgresql":
        # the server is gone: nothing listens on port 1 (no pool, so the thread really connects)
        settings_dict["PORT"] = 1
        settings_dict["OPTIONS"] = {k: v for k, v in (saved["OPTIONS"] or {}).items() if k != "pool"}
    else:
        settings_dict["NAME"] = str(tmp_path / "no-such-dir" / "db.sqlite3")  # the file is gone
    try:
        status = asyncio.run(start())
    finally:
        settings_dict.update(saved)
    assert status["config_source"] == "snapshot" and "OperationalError" in status["config_error"]
    assert [e["ramal"] for e in status["extensions"]] == ["1003"]


def test_save_visit_keeps_outcome_and_audit(tenants):
    org = tenants["a"]
    unit = make_unit(org, number="302", block="B")
    vid = str(uuid.uuid4())
    now = time.time()
    record = VisitRecord(vid, "1003", "Empresa A", org.pk, "denied", "João", "302 bloco B", now - 30, now,
                         [(now - 30, "call_started", "1003"), (now - 2, "resident_decided", "denied by dtmf 2")])
    save_visit(record)
    save_visit(record)  # idempotent by visit id
    visit = VisitLog.objects.get(visit_id=vid)
    assert visit.unit == unit and visit.outcome == "denied" and visit.organization == org
    assert [a["event"] for a in visit.audit] == ["call_started", "resident_decided"]


def test_api_crud_is_tenant_scoped(tenants, api_as):
    alice, bob = api_as(tenants["alice"]), api_as(tenants["bob"])
    r = alice.post("/api/v1/voice/extensions/", {"number": "1003", "return_number": "1004", "port": 9100,
                                                  "return_port": 9101, "providers": {"tts": [{"type": "espeak"}]}},
                   format="json")
    assert r.status_code == 201, r.content
    ext_id = r.json()["id"]
    assert AIExtension.objects.get(pk=ext_id).organization == tenants["a"]
    # Not given: loopback, never every interface (issue 16: the voice process bound 0.0.0.0).
    assert r.json()["bind_ip"] == "127.0.0.1"
    assert bob.get(f"/api/v1/voice/extensions/{ext_id}/").status_code == 404
    assert bob.get("/api/v1/voice/extensions/").json()["results"] == []
    bad = alice.post("/api/v1/voice/extensions/", {"number": "1005", "providers": {"stt": [{"type": "nope"}]}},
                     format="json")
    assert bad.status_code == 400 and "nope" in str(bad.json())
    unit = alice.post("/api/v1/voice/units/", {"number": "302", "block": "B"}, format="json").json()
    r = bob.post("/api/v1/voice/residents/", {"unit": unit["id"], "name": "X", "extension": "1"}, format="json")
    assert r.status_code == 400  # another tenant's unit
    r = alice.post("/api/v1/voice/residents/", {"unit": unit["id"], "name": "Ana", "extension": "1101"},
                   format="json")
    assert r.status_code == 201
    assert alice.get(f"/api/v1/voice/units/{unit['id']}/").json()["residents"][0]["name"] == "Ana"
    viewer = api_as(tenants["vera"])
    assert viewer.post("/api/v1/voice/live/refresh/").status_code == 403


@pytest.fixture
def voice_process(monkeypatch, tenants):
    """A real voice process (service + management API) on its own event loop thread,
    serving 1003 for tenant A and 2003 for tenant B."""
    from tests.voice.helpers import config, extension

    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder = {}

    async def main():
        cfg = config(extension(number="1003", organization_id=tenants["a"].pk),
                     extension(number="2003", return_number="2004", organization_id=tenants["b"].pk))
        svc = VoiceService(loader=lambda: cfg, runtime=VoiceRuntime(), caches=SHARED_CACHES)
        await svc.start()
        api = ManagementAPI(svc, token="tok")
        holder["port"] = await api.start("127.0.0.1", 0)
        holder["stop"] = asyncio.Event()
        started.set()
        await holder["stop"].wait()
        await api.stop()
        await svc.stop()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),))
    thread.start()
    assert started.wait(10)
    monkeypatch.setenv("CENTRAL_VOICE_API_URL", f"http://127.0.0.1:{holder['port']}")
    monkeypatch.setenv("CENTRAL_VOICE_TOKEN", "tok")
    yield holder
    loop.call_soon_threadsafe(holder["stop"].set)
    thread.join(10)
    loop.close()


def test_live_status_shows_only_the_tenants_extensions(tenants, api_as, voice_process):
    make_ai_extension(tenants["a"], number="1003")
    make_ai_extension(tenants["b"], number="2003")
    r = api_as(tenants["alice"]).get("/api/v1/voice/live/status/")
    assert r.status_code == 200
    assert [e["ramal"] for e in r.json()["extensions"]] == ["1003"]
    r = api_as(tenants["bob"]).get("/api/v1/voice/live/status/")
    assert [e["ramal"] for e in r.json()["extensions"]] == ["2003"]
    alice = api_as(tenants["alice"])
    r = alice.post("/api/v1/voice/live/restart/", {"ramal": "1003"}, format="json")
    assert r.status_code == 200 and r.json()["extension"]["ramal"] == "1003"
    r = alice.post("/api/v1/voice/live/restart/", {"ramal": "2003"}, format="json")
    assert r.status_code == 404  # bob's extension: not alice's to restart
    r = alice.post("/api/v1/voice/live/refresh/", format="json")
    assert r.status_code == 200 and r.json()["unchanged"] == ["1003"]


def test_voice_process_down_is_503_in_the_error_shape(tenants, api_as, monkeypatch):
    monkeypatch.setenv("CENTRAL_VOICE_API_URL", "http://127.0.0.1:9")
    r = api_as(tenants["alice"]).get("/api/v1/voice/live/status/")
    assert r.status_code == 503, r.content
    assert r.json() == {"error": {"code": "voice_unavailable", "message": "Processo de voz indisponível.",
                                  "fields": {}}}
    assert r.headers["Retry-After"] == "5"
    assert "127.0.0.1" not in r.content.decode()  # no internal address in a tenant's answer


def test_overview_page_shows_ports_in_use_and_own_visits(client, tenants, voice_process):
    from tests.voice.factories import make_visit

    make_ai_extension(tenants["a"], number="1003", port=8080)
    make_ai_extension(tenants["b"], number="2003")
    make_visit(tenants["a"], visitor_name="João Visitante")
    make_visit(tenants["b"], visitor_name="Outro Tenant")
    client.force_login(tenants["vera"])
    html = client.get("/voice/").content.decode()
    assert 'data-testid="ai-ext-1003"' in html and 'data-testid="ai-ext-2003"' not in html
    assert "configurada 8080" in html  # the live port differs from the configured one
    assert "João Visitante" in html and "Outro Tenant" not in html
    assert 'href="/voice/">Portaria virtual<' in html


def test_overview_page_renders_when_voice_process_is_down(client, tenants, monkeypatch):
    monkeypatch.setenv("CENTRAL_VOICE_API_URL", "http://127.0.0.1:9")
    make_ai_extension(tenants["a"], number="1003")
    client.force_login(tenants["alice"])
    html = client.get("/voice/").content.decode()
    assert 'data-testid="voice-down"' in html and 'data-testid="ai-ext-1003"' in html


def _free_port() -> int:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.django_db(transaction=True)
def test_run_voice_serves_db_extensions_and_logs_the_visit(tenants, tmp_path):
    """The voice process as `central voice` runs it: config from the DB, a visit over TCP,
    the outcome and audit trail written back to the DB."""
    from central.voice.runner import run_voice
    from tests.voice.asclient import ASClient
    from tests.voice.helpers import FakeResidentPhone

    port, ret_port = _free_port(), _free_port()
    ext = seed(tenants["a"])
    AIExtension.objects.filter(pk=ext.pk).update(port=port, return_port=ret_port, bind_ip="127.0.0.1")

    async def scenario():
        ready, stop = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(run_voice(
            api_port=0, snapshot_path=str(tmp_path / "snap.json"), token="t",
            originator=FakeResidentPhone(answer="1"), loader=lambda: in_fresh_thread(load_from_database),
            ready=ready, stop=stop,
        ))
        await asyncio.wait_for(ready.wait(), 10)
        visitor = await ASClient().connect("127.0.0.1", port)
        await visitor.wait_voice()
        await visitor.dtmf("302#")
        await visitor.wait_closed(timeout=20)
        # The visit is saved in the default executor; asyncio.run() below returns only
        # once that executor has finished, so no sleep is needed before reading it.
        stop.set()
        await task

    asyncio.run(scenario())
    visit = VisitLog.objects.get()
    assert visit.organization == tenants["a"] and visit.outcome == "authorized"
    assert visit.unit.number == "302" and visit.extension_number == "1003"
    assert "resident_decided" in [a["event"] for a in visit.audit]
    assert read_snapshot(tmp_path / "snap.json").extensions[0].port == port


def test_refresh_button_needs_admin_and_reloads(client, tenants, voice_process):
    client.force_login(tenants["vera"])  # viewer
    assert client.post("/voice/refresh/").status_code == 403
    client.force_login(tenants["alice"])  # owner
    page = client.post("/voice/refresh/", follow=True)
    assert page.status_code == 200 and "Configuração de voz atualizada." in page.content.decode()
