"""Management API of the voice process over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from central.voice.calls import VoiceRuntime
from central.voice.mgmt_api import ManagementAPI
from central.voice.service import VoiceService
from tests.voice.asclient import ASClient
from tests.voice.helpers import SHARED_CACHES, config, extension

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free

TOKEN = "s3cret-token"


async def http(port: int, method: str, path: str, body: bytes = b"", token: str | None = TOKEN):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
    if token is not None:
        head += f"Authorization: Bearer {token}\r\n"
    writer.write(head.encode() + b"\r\n" + body)
    raw = await reader.read()
    writer.close()
    status = int(raw.split(b" ", 2)[1])
    return status, json.loads(raw.split(b"\r\n\r\n", 1)[1])


@pytest.fixture
async def running():
    state = {"cfg": config(extension(), extension(number="2003", return_number="2004"))}
    svc = VoiceService(loader=lambda: state["cfg"], runtime=VoiceRuntime(), caches=SHARED_CACHES)
    await svc.start()
    api = ManagementAPI(svc, token=TOKEN)
    port = await api.start("127.0.0.1", 0)
    yield svc, port, state
    await api.stop()
    await svc.stop()


async def test_requires_bearer_token(running):
    _svc, port, _ = running
    assert (await http(port, "GET", "/api/status", token=None))[0] == 401
    assert (await http(port, "GET", "/api/status", token="wrong"))[0] == 401
    svc = running[0]
    no_token = ManagementAPI(svc, token="")
    p = await no_token.start("127.0.0.1", 0)
    status, body = await http(p, "GET", "/api/status", token="")
    assert status == 401 and "CENTRAL_VOICE_TOKEN" in body["error"]
    await no_token.stop()


async def test_status_lists_ports_sessions_and_latencies(running):
    svc, port, _ = running
    client = await ASClient().connect("127.0.0.1", svc.extensions["1003"].ai.port)
    await client.wait_voice()
    await client.dtmf("9#")  # a turn: unit not found, answered from the cache
    await client.wait_for(lambda: any(t["source"] == "dtmf" for t in svc.runtime.turns))
    status, body = await http(port, "GET", "/api/status")
    assert status == 200
    ext = {e["ramal"]: e for e in body["extensions"]}
    assert ext["1003"]["port"] == svc.extensions["1003"].ai.port and ext["1003"]["active_sessions"] == 1
    assert ext["2003"]["active_sessions"] == 0
    assert body["turns"][-1]["source"] == "dtmf" and body["turns"][-1]["cached"] is True
    assert body["pacer"]["frames_sent"] > 0
    await client.close()


async def test_refresh_and_restart(running):
    svc, port, state = running
    state["cfg"] = config(extension(greeting="Outra saudação"))
    status, body = await http(port, "POST", "/api/refresh")
    assert status == 200 and body["updated"] == ["1003"] and body["stopped"] == ["2003"]
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    fixed = probe.getsockname()[1]
    probe.close()
    state["cfg"] = config(extension(greeting="Outra saudação", port=fixed))
    assert (await http(port, "POST", "/api/refresh"))[1]["restarted"] == ["1003"]
    assert svc.extensions["1003"].ai.port == fixed
    status, body = await http(port, "POST", "/api/restart", json.dumps({"ramal": "1003"}).encode())
    assert status == 200 and body["extension"]["ramal"] == "1003"
    assert body["extension"]["port"] == fixed  # rebinds its own port right away
    assert (await http(port, "POST", "/api/restart", b'{"ramal": "9999"}'))[0] == 404
    assert (await http(port, "POST", "/api/restart", b"not json"))[0] == 400
    assert (await http(port, "GET", "/api/refresh"))[0] == 405
    assert (await http(port, "GET", "/api/nothing"))[0] == 404
