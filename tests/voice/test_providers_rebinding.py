"""HTTP providers connect to the address the outbound rule checked (DNS rebinding).

Before: ``check_url`` resolved the provider's host and checked it, then urllib resolved the
name *again* when it connected. A tenant's DNS answering a permitted address the first time
and an internal one the second time got the request (and its API key) delivered inside.
Here a resolver answers ``provider.example`` with 127.0.0.2 (opened by the operator) the
first time and 127.0.0.1 (an internal service on the same port) afterwards.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from central.voice.providers import http
from central.voice.providers.base import ProviderError

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free

NAME = "provider.example"


def _server(address: str, port: int, seen: list, tls: ssl.SSLContext | None = None) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append({"host": self.headers.get("Host"), "auth": self.headers.get("Authorization"),
                         "body": body})
            reply = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    server = ThreadingHTTPServer((address, port), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _same_port_pair():
    """A port free on both 127.0.0.2 (the checked provider) and 127.0.0.1 (inside)."""
    for _ in range(50):
        probe = socket.socket()
        probe.bind(("127.0.0.2", 0))
        port = probe.getsockname()[1]
        probe.close()
        try:
            inner = socket.socket()
            inner.bind(("127.0.0.1", port))
            inner.close()
            return port
        except OSError:
            continue
    raise RuntimeError("no port free on both loopback addresses")


@pytest.fixture
def rebinding_dns(monkeypatch, settings):
    """``provider.example`` resolves to 127.0.0.2 once, then to 127.0.0.1."""
    settings.OUTBOUND_ALLOW = ("127.0.0.2/32",)
    settings.REDIS_URL = ""
    real = socket.getaddrinfo
    answers: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host == NAME:
            address = "127.0.0.2" if not answers else "127.0.0.1"
            answers.append(address)
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port or 0))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.fixture
def servers():
    port = _same_port_pair()
    provider, inside = [], []
    running = [_server("127.0.0.2", port, provider), _server("127.0.0.1", port, inside)]
    yield port, provider, inside
    for server in running:
        server.shutdown()
        server.server_close()


async def test_http_request_goes_to_the_checked_address_not_a_second_answer(rebinding_dns, servers):
    port, provider, inside = servers
    data = await http.post_json(f"http://{NAME}:{port}/v1/chat", {"x": 1}, {"Authorization": "Bearer k"})
    assert data == {"ok": True}
    assert inside == [], "the request reached the internal service"
    assert len(provider) == 1 and provider[0]["host"] == f"{NAME}:{port}" and provider[0]["auth"] == "Bearer k"
    assert rebinding_dns == ["127.0.0.2"]  # resolved once, by the check


async def test_a_name_that_resolves_inside_first_is_refused_before_connecting(rebinding_dns, servers):
    port, provider, inside = servers
    rebinding_dns.append("already answered")  # the resolver now answers 127.0.0.1
    with pytest.raises(ProviderError, match="refused destination"):
        await http.post_json(f"http://{NAME}:{port}/v1/chat", {"x": 1}, {})
    assert inside == [] and provider == []


@pytest.fixture
def tls_files(tmp_path):
    """A self-signed certificate for provider.example (openssl, as an operator would make one)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "1", "-subj", f"/CN={NAME}",
                    "-addext", f"subjectAltName=DNS:{NAME}"], check=True, capture_output=True)
    return key, cert


async def test_https_keeps_sni_and_verifies_the_name_on_the_checked_address(rebinding_dns, tls_files,
                                                                           monkeypatch):
    key, cert = tls_files
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts the test certificate
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    sni: list[str | None] = []
    tls.sni_callback = lambda sock, name, ctx: sni.append(name)
    port = _same_port_pair()
    provider, inside = [], []
    running = [_server("127.0.0.2", port, provider, tls), _server("127.0.0.1", port, inside, tls)]
    try:
        data = await http.post_json(f"https://{NAME}:{port}/v1/chat", {"x": 1}, {})
    finally:
        for server in running:
            server.shutdown()
            server.server_close()
    assert data == {"ok": True} and inside == [] and len(provider) == 1
    assert sni == [NAME] and provider[0]["host"] == f"{NAME}:{port}"
