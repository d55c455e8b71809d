"""JSON from outside is parsed with one guard (``central.core.jsonguard.loads``): a document
nested 50,000 deep is a clear error, never a RecursionError, on every surface.

Before: the dashboard WebSocket (``LiveConsumer``, channels' ``json.loads``) and the voice
management API (``json.loads`` in ``_refresh``/``_restart``) parsed without a depth guard:
the socket died with a RecursionError traceback and the API answered
``500 {"error": "RecursionError: maximum recursion depth exceeded ..."}``.
"""

from __future__ import annotations

import ast
import asyncio
import json
from pathlib import Path

import httpx
import pytest

from central.core import parsers

SRC = Path(__file__).resolve().parents[2] / "src" / "central"
DEEP = "[" * 50_000 + "]" * 50_000

#: Modules that may call ``json.loads``/``json.load`` themselves, with why (everything
#: else parses through ``parsers.loads``).
PLATFORM_JSON = {
    "core/jsonguard.py": "the guard itself",
    "voice/config.py": "the snapshot file the voice process wrote itself (operator data dir)",
}


def _json_parse_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), str(path))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "json" and any(
                a.name in ("loads", "load") for a in node.names):
            lines.append(node.lineno)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("loads", "load") and isinstance(node.func.value, ast.Name)
                and node.func.value.id in ("json", "simplejson", "orjson", "ujson")):
            lines.append(node.lineno)
    return lines


def test_no_module_parses_outside_json_without_the_guard():
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if "/migrations/" in rel or rel in PLATFORM_JSON:
            continue
        lines = _json_parse_calls(path)
        if lines:
            found[rel] = lines
    assert not found, f"parse outside JSON with central.core.jsonguard.loads (or explain in PLATFORM_JSON): {found}"


def test_every_json_websocket_consumer_uses_the_guard():
    import django.apps  # noqa: F401 - settings are configured by pytest-django
    from channels.generic.websocket import AsyncJsonWebsocketConsumer, JsonWebsocketConsumer

    from central.dashboard import routing  # noqa: F401 - imports every consumer routed

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    ours = [c for base in (AsyncJsonWebsocketConsumer, JsonWebsocketConsumer) for c in subclasses(base)
            if c.__module__.startswith("central.")]
    assert ours, "no JSON consumer found: the walker is broken"
    for cls in ours:
        assert cls.decode_json.__func__.__module__.startswith("central."), f"{cls} decodes with channels' json.loads"


def test_loads_rejects_deep_and_malformed_json_with_a_value_error():
    for text in (DEEP, "[" * 50_000, json.dumps(_nested(65)), "{nope"):
        with pytest.raises(parsers.JSONRejected):
            parsers.loads(text)
    assert parsers.loads(json.dumps(_nested(64))) == _nested(64)


def _nested(depth: int):
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


SEED = """
from django.contrib.auth import get_user_model
from central.core.models import Membership, Organization
org = Organization.objects.create(name="A", slug="a")
user = get_user_model().objects.create_user("wsuser", "ws@example.com", "senha-forte-123")
Membership.objects.create(user=user, organization=org, role="owner")
"""


async def _frames_until_close(ws) -> list[dict]:
    import websockets

    got = []
    try:
        while True:
            got.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
    except websockets.ConnectionClosed:
        return got


@pytest.mark.asyncio
async def test_deep_json_over_a_real_websocket_is_a_clear_error_and_the_server_lives(tmp_path):
    import websockets

    from tests.support import free_port, migrated_env, run_central, start_central

    env = migrated_env(tmp_path / "data")
    seeded = run_central(["manage", "shell", "-c", SEED], env)
    assert seeded.returncode == 0, seeded.stderr
    port = free_port()
    web = start_central(["web", "--port", str(port)], env, port, tmp_path / "web.log")
    try:
        async with httpx.AsyncClient(base_url=web.url) as http:
            await http.get("/login/")
            login = await http.post("/login/", data={
                "username": "wsuser", "password": "senha-forte-123",
                "csrfmiddlewaretoken": http.cookies["csrftoken"]}, headers={"Referer": web.url + "/login/"})
            assert login.status_code == 302, login.text
            cookie = f"sessionid={http.cookies['sessionid']}"
        url, headers = f"ws://127.0.0.1:{port}/ws/live/", {"Cookie": cookie, "Origin": web.url}
        async with websockets.connect(url, additional_headers=headers, max_size=None) as ws:
            await ws.send(DEEP)
            frames = await _frames_until_close(ws)
            assert ws.close_code == 1007, (ws.close_code, frames)
        errors = [f for f in frames if f.get("type") == "error"]
        assert errors and errors[0]["error"] == "invalid_json" and "too deep" in errors[0]["detail"], frames
        # The process lives and serves the next socket.
        assert web.proc.poll() is None
        async with websockets.connect(url, additional_headers=headers) as ws:
            await ws.send(json.dumps({"type": "ping"}))
            while json.loads(await asyncio.wait_for(ws.recv(), 30)).get("type") != "pong":
                pass
        assert "RecursionError" not in web.log()
    finally:
        web.stop()


@pytest.fixture
async def mgmt_api():
    from central.voice.calls import VoiceRuntime
    from central.voice.mgmt_api import ManagementAPI
    from central.voice.service import VoiceService
    from tests.voice.helpers import SHARED_CACHES, config, extension

    svc = VoiceService(loader=lambda: config(extension()), runtime=VoiceRuntime(), caches=SHARED_CACHES)
    await svc.start()
    api = ManagementAPI(svc, token="s3cret-token")
    port = await api.start("127.0.0.1", 0)
    yield port
    await api.stop()
    await svc.stop()


@pytest.mark.asyncio
async def test_deep_json_to_the_voice_management_api_is_a_400(mgmt_api):
    from central.voice.mgmt_api import MAX_BODY_BYTES
    from tests.voice.test_mgmt_api import http

    # 50,000 deep is 100 KB, over the API's body limit: refused before parsing.
    status, body = await http(mgmt_api, "POST", "/api/refresh", DEEP.encode(), token="s3cret-token")
    assert status == 413, body
    # The deepest documents that fit the limit, and 50,000 unclosed brackets.
    deepest = MAX_BODY_BYTES // 2
    for path in ("/api/refresh", "/api/restart"):
        for doc in ("[" * deepest + "]" * deepest, "[" * 50_000, json.dumps(_nested(65))):
            status, body = await http(mgmt_api, "POST", path, doc.encode(), token="s3cret-token")
            assert status == 400 and "too deep" in body["error"], (path, status, body)
    status, _body = await http(mgmt_api, "GET", "/api/status", token="s3cret-token")
    assert status == 200


def test_every_json_socket_parses_through_the_guard():
    """Each routed JSON WebSocket consumer builds on ``GuardedJsonConsumer`` (three had the
    same guard copied; a new socket that forgot it would parse with plain ``json.loads``)."""
    from channels.generic.websocket import AsyncJsonWebsocketConsumer

    from central.core.wsjson import GuardedJsonConsumer
    from central.dashboard.routing import websocket_urlpatterns

    consumers = [p.callback.consumer_class for p in websocket_urlpatterns]
    json_sockets = [c for c in consumers if issubclass(c, AsyncJsonWebsocketConsumer)]
    assert json_sockets, consumers
    assert [c.__name__ for c in json_sockets if not issubclass(c, GuardedJsonConsumer)] == []
