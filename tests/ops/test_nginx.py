"""deploy/nginx/central.conf under Debian's nginx: `nginx -t`, and what it sends upstream
(forwarded headers set, not passed through; WebSocket upgrade on /ws/; body limits in
step with Central's; static files; two web processes)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.ops.nginx import render
from tests.support import free_port

pytestmark = pytest.mark.backend_free


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        remaining = length
        while remaining:
            remaining -= len(self.rfile.read(min(remaining, 1 << 16)))
        body = json.dumps({"port": self.server.server_port, "path": self.path, "length": length,
                           "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    servers = [ThreadingHTTPServer(("127.0.0.1", free_port()), _Echo) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    static = tmp_path_factory.mktemp("static")
    (static / "dashboard").mkdir()
    (static / "dashboard" / "app.css").write_text("body{}")
    nginx = render(tmp_path_factory.mktemp("nginx"), [s.server_port for s in servers], static)
    checked = nginx.test_config()
    assert checked.returncode == 0, checked.stderr
    nginx.start()
    yield nginx, [s.server_port for s in servers]
    nginx.stop()
    for server in servers:
        server.shutdown()


def test_nginx_t_accepts_the_deployed_config(proxied):
    nginx, _ = proxied
    result = nginx.test_config()
    assert result.returncode == 0 and "test is successful" in result.stderr, result.stderr


def test_forwarded_headers_are_set_by_nginx_never_taken_from_the_client(proxied):
    nginx, ports = proxied
    with httpx.Client(verify=False, timeout=10) as client:
        seen = client.get(nginx.url + "/api/v1/me/", headers={
            "X-Forwarded-For": "203.0.113.9", "Forwarded": "for=203.0.113.9", "X-Real-IP": "203.0.113.9",
            "X-Forwarded-Proto": "http", "X-Forwarded-Host": "evil.example"}).json()
        headers = seen["headers"]
        assert headers["x-forwarded-for"] == "127.0.0.1"
        assert headers["x-forwarded-proto"] == "https"
        assert "forwarded" not in headers and "x-real-ip" not in headers and "x-forwarded-host" not in headers
        assert len(headers["x-request-id"]) == 32
        # two web processes: requests go to both
        assert {client.get(nginx.url + "/").json()["port"] for _ in range(6)} == set(ports)


def test_websocket_upgrade_is_passed_on_ws_only(proxied):
    nginx, _ = proxied
    with httpx.Client(verify=False, timeout=10) as client:
        ws = client.get(nginx.url + "/ws/live/", headers={"Upgrade": "websocket", "Connection": "Upgrade"}).json()
        assert ws["headers"]["upgrade"] == "websocket" and ws["headers"]["connection"].lower() == "upgrade"
        plain = client.get(nginx.url + "/api/v1/me/").json()
        assert "upgrade" not in plain["headers"]


def test_body_limits_follow_centrals_and_static_files_are_served(proxied):
    """nginx lets through every body Central accepts on a path (central.core.bodylimit
    limit_for) and refuses what Central would refuse anyway on the small-body paths."""
    from central.core.bodylimit import limit_for

    nginx, _ = proxied
    small, chunk = "/api/v1/me/", "/api/v1/documents/agent/uploads/abc/"
    with httpx.Client(verify=False, timeout=60) as client:
        for path in (small, chunk):
            ok = client.post(nginx.url + path, content=b"x" * limit_for(path))
            assert ok.status_code == 200 and ok.json()["length"] == limit_for(path), path
        assert client.post(nginx.url + small, content=b"x" * (limit_for(small) + 1)).status_code == 413
        upload = client.post(nginx.url + "/api/v1/dialer/dnc/import/", content=b"x" * (3 * 1024 * 1024))
        assert upload.status_code == 200 and upload.json()["length"] == 3 * 1024 * 1024
        css = client.get(nginx.url + "/static/dashboard/app.css")
        assert css.status_code == 200 and css.text == "body{}" and "max-age" in css.headers["cache-control"]
        plain = client.get(f"http://127.0.0.1:{nginx.http_port}/api/v1/me/")
        assert plain.status_code == 301 and plain.headers["location"].startswith("https://")
        assert client.get(f"http://127.0.0.1:{nginx.http_port}/health").status_code == 200
