"""A tiny stdlib HTTP client run in a worker thread (no extra dependency).

Provider calls are a few per turn, so a thread per request is cheap enough and keeps the
event loop (which paces audio for every call) free.
"""

from __future__ import annotations

import asyncio
import functools
import http.client
import json
import os
import socket
import urllib.error
import urllib.request
import uuid

from central.core import parsers
from central.voice.providers.base import ProviderError


def api_key(settings: dict, default_env: str, destination_key: str) -> str:
    """Keys come from the environment; settings name the variable, never hold the key.

    A named variable is read through ``central.core.outbound.read_secret`` (tenant prefix
    only). The platform's own key (``default_env``) goes only to the provider's official
    endpoint: an extension pointed at its own ``base_url``/``endpoint`` must name its key,
    or the platform's key would be handed to whoever runs that server.
    """
    from central.core.outbound import read_secret

    if settings.get("api_key_env"):
        return read_secret(settings["api_key_env"]) or ""
    if settings.get(destination_key):  # base_url / endpoint: not the official endpoint
        return ""
    return os.environ.get(default_env, "")


def check_url(url: str) -> str:
    """The outbound rule right before connecting (a DNS answer may have changed since the
    API accepted the URL); the operator opens internal servers with CENTRAL_OUTBOUND_ALLOW.

    Returns the checked address the request must connect to: letting urllib resolve the
    name again would open a DNS rebinding window (checked public, connected internal)."""
    from central.core.outbound import OutboundRefused, check_destination, url_destination

    try:
        host, port = url_destination(url)
        return check_destination(host, port)[0]
    except OutboundRefused as exc:
        raise ProviderError(f"refused destination {url}: {exc}") from None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would take the request (and its key) to a destination nobody checked."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError for the 3xx


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address the outbound rule checked; ``Host`` still names the host."""

    def __init__(self, *args, address: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout, self.source_address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address, with SNI and certificate verification for the host name."""

    def __init__(self, *args, address: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout, self.source_address)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address

    def http_open(self, req):
        return self.do_open(functools.partial(_PinnedHTTPConnection, address=self.address), req)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address

    def https_open(self, req):
        return self.do_open(functools.partial(_PinnedHTTPSConnection, address=self.address), req,
                            context=self._context)


def opener_for(address: str) -> urllib.request.OpenerDirector:
    """An opener that reaches only ``address`` (the one checked): no second DNS lookup, no
    redirects, and no proxy from the environment (a proxy would resolve the name itself)."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect,
                                       _PinnedHTTPHandler(address), _PinnedHTTPSHandler(address))


def _request(url: str, method: str, headers: dict, body: bytes | None, timeout: float):
    address = check_url(url)
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with opener_for(address).open(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:200].decode("utf-8", "replace")
        raise ProviderError(f"HTTP {exc.code} from {url}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ProviderError(f"cannot reach {url}: {exc}") from None


async def request(
    url: str, *, method: str = "POST", headers: dict | None = None, body: bytes | None = None,
    timeout: float = 10.0,
) -> tuple[int, dict, bytes]:
    return await asyncio.to_thread(_request, url, method, headers or {}, body, timeout)


async def post_json(url: str, payload: dict, headers: dict, timeout: float = 10.0) -> dict:
    _, _, data = await request(
        url, headers={"Content-Type": "application/json", **headers},
        body=json.dumps(payload).encode(), timeout=timeout,
    )
    try:
        return parsers.loads(data)
    except ValueError:
        raise ProviderError(f"{url} answered with non-JSON: {data[:80]!r}") from None


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, (filename, content, ctype) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {ctype}\r\n\r\n".encode() + content + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
