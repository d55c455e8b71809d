"""A new or changed AI extension reaches the running voice process by itself.

The report: 35 s after creating an extension through the API it was not listening until
someone called POST /api/v1/voice/live/refresh/.  Here ``run_voice`` (as ``central voice``
runs it, database config, no Redis) serves while the API creates, edits and disables an
extension; each change must reach the listeners within a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.request

import pytest

from central.voice.runner import run_voice
from tests.voice.asclient import ASClient
from tests.voice.helpers import FAST_TTS, in_thread

pytestmark = pytest.mark.django_db(transaction=True)
POLL = 0.5  # CENTRAL_VOICE_POLL_SECONDS for the test; the default is 2 s


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status(api_port: int) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{api_port}/api/status",
                                 headers={"Authorization": "Bearer t"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


async def until(api_port: int, predicate, timeout: float) -> float:
    """Seconds until ``predicate(status)`` holds."""
    t0 = time.monotonic()
    while True:
        st = await in_thread(status, api_port)
        if predicate(st):
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"not reached in {timeout} s: {st['extensions']}")
        await asyncio.sleep(0.1)


def ramais(st: dict) -> dict:
    return {e["ramal"]: e for e in st["extensions"]}


async def write(client, method: str, path: str, body: dict):
    """An API write while the voice process reads the same database in its threads.  The
    SQLite test database is in memory with a shared cache, whose table locks fail at once
    ("database table is locked", a 503 asking to try again) where an installation's file
    database waits up to its busy timeout (WAL, 20 s): try again, as the 503 says."""
    for _ in range(20):
        r = await in_thread(getattr(client, method), path, body, format="json")
        if r.status_code != 503 or b"database_unavailable" not in r.content:
            return r
        await asyncio.sleep(0.1)
    return r


async def test_an_extension_created_through_the_api_listens_within_seconds(tenants, api_as, tmp_path, monkeypatch):
    monkeypatch.setenv("CENTRAL_VOICE_POLL_SECONDS", str(POLL))
    alice = await in_thread(api_as, tenants["alice"])
    ready, stop = asyncio.Event(), asyncio.Event()
    api_port = free_port()
    # Free ports, for the compatibility pair served while nothing is configured too: the
    # defaults (8080-8099) are shared by every Central on this host.
    task = asyncio.create_task(run_voice(api_port=api_port, token="t", snapshot_path=str(tmp_path / "v.json"),
                                         ready=ready, stop=stop, compat_ports=(0, 0)))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        assert "1903" not in ramais(await in_thread(status, api_port))
        body = {"number": "1903", "return_number": "1904", "bind_ip": "127.0.0.1", "providers": FAST_TTS,
                "greeting": "Olá, portaria nova.", "port": free_port(), "return_port": free_port()}
        r = await write(alice, "post", "/api/v1/voice/extensions/", body)
        assert r.status_code == 201, r.content
        took = await until(api_port, lambda st: "1903" in ramais(st), timeout=10)
        assert took < 5.0
        port = ramais(await in_thread(status, api_port))["1903"]["port"]
        call = await ASClient().connect("127.0.0.1", port)
        await call.wait_voice(timeout=5)  # the greeting: it really listens
        await call.close()

        # A new port: the listener moves by itself.
        new_port = free_port()
        ext_id = r.json()["id"]
        r = await write(alice, "patch", f"/api/v1/voice/extensions/{ext_id}/", {"port": new_port})
        assert r.status_code == 200, r.content
        await until(api_port, lambda st: ramais(st).get("1903", {}).get("port") == new_port, timeout=10)

        # Disabled: it stops listening by itself.
        r = await write(alice, "patch", f"/api/v1/voice/extensions/{ext_id}/", {"enabled": False})
        assert r.status_code == 200, r.content
        await until(api_port, lambda st: "1903" not in ramais(st), timeout=10)
    finally:
        stop.set()
        await task


def test_every_change_the_loader_reads_bumps_the_version(tenants):
    from central.voice.models import ConfigVersion
    from tests.voice.factories import make_ai_extension, make_resident, make_unit

    seen = [ConfigVersion.current()]

    def moved() -> bool:
        seen.append(ConfigVersion.current())
        return seen[-1] != seen[-2]

    ext = make_ai_extension(tenants["a"])
    assert moved()
    unit = make_unit(tenants["a"])
    assert moved()
    resident = make_resident(tenants["a"], unit=unit)
    assert moved()
    resident.active = False
    resident.save()
    assert moved()
    tenants["a"].is_active = False
    tenants["a"].save()
    assert moved()
    ext.delete()
    assert moved()
