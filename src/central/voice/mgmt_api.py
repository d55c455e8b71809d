"""Management API of the voice process (small asyncio HTTP/1.1 server, no framework).

    GET  /api/status                  extensions, ports actually used, sessions, latencies
    POST /api/refresh {"organization_id": 7}           reload config (only changed listeners
                                                       restart); report of that tenant only
    POST /api/restart {"ramal": "1003", "organization_id": 7}   only if 1003 is that tenant's

Every request needs ``Authorization: Bearer <token>`` (env ``CENTRAL_VOICE_TOKEN``).
Without a configured token every request is refused: the API can restart listeners.
One request per connection (``Connection: close``) keeps the parser trivially correct.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os

from central.core.jsonguard import JSONRejected, loads

log = logging.getLogger(__name__)

TOKEN_ENV = "CENTRAL_VOICE_TOKEN"
MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 64 * 1024
READ_TIMEOUT = 10.0

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            405: "Method Not Allowed", 413: "Payload Too Large", 500: "Internal Server Error"}


class HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ManagementAPI:
    def __init__(self, service, token: str | None = None) -> None:
        self.service = service
        self.token = token if token is not None else os.environ.get(TOKEN_ENV, "")
        self.server: asyncio.Server | None = None
        self.port = 0
        self.requests = 0

    async def start(self, host: str = "127.0.0.1", port: int = 8090) -> int:
        self.server = await asyncio.start_server(self._handle, host, port)
        self.port = self.server.sockets[0].getsockname()[1]
        log.info("voice management API on http://%s:%d/api/status", host, self.port)
        return self.port

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.requests += 1
        try:
            try:
                method, path, headers, body = await asyncio.wait_for(self._read(reader), READ_TIMEOUT)
                status, payload = await self._route(method, path, headers, body)
            except HTTPError as exc:
                status, payload = exc.status, {"error": str(exc)}
            except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                return
            except Exception as exc:  # never crash the voice process on a request
                log.exception("management API error")
                status, payload = 500, {"error": f"{type(exc).__name__}: {exc}"}
            data = json.dumps(payload, ensure_ascii=False).encode()
            head = (
                f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
                "Content-Type: application/json; charset=utf-8\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n"
            )
            if status == 401:
                head += 'WWW-Authenticate: Bearer realm="central-voice"\r\n'
            writer.write(head.encode() + b"\r\n" + data)
            await writer.drain()
        finally:
            writer.close()

    async def _read(self, reader: asyncio.StreamReader):
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise HTTPError(413, "headers too large") from None
        if len(raw) > MAX_HEADER_BYTES:
            raise HTTPError(413, "headers too large")
        lines = raw.decode("latin-1").split("\r\n")
        try:
            method, target, _version = lines[0].split(" ", 2)
        except ValueError:
            raise HTTPError(400, "malformed request line") from None
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            raise HTTPError(400, "bad Content-Length") from None
        if length > MAX_BODY_BYTES:
            raise HTTPError(413, f"body over {MAX_BODY_BYTES} bytes")
        body = await reader.readexactly(length) if length else b""
        return method.upper(), target.split("?", 1)[0], headers, body

    def _authorized(self, headers: dict) -> bool:
        auth = headers.get("authorization", "")
        if not self.token or not auth.startswith("Bearer "):
            return False
        return hmac.compare_digest(auth[7:].strip().encode(), self.token.encode())

    async def _route(self, method: str, path: str, headers: dict, body: bytes):
        if not self._authorized(headers):
            msg = "missing or wrong bearer token" if self.token else f"{TOKEN_ENV} is not set"
            raise HTTPError(401, msg)
        routes = {
            "/api/status": ("GET", self._status),
            "/api/refresh": ("POST", self._refresh),
            "/api/restart": ("POST", self._restart),
        }
        if path not in routes:
            raise HTTPError(404, f"no such endpoint {path}")
        allowed, fn = routes[path]
        if method != allowed:
            raise HTTPError(405, f"{path} accepts {allowed}")
        return await fn(body)

    async def _status(self, body: bytes):
        return 200, self.service.status()

    @staticmethod
    def _organization(data: dict) -> int | None:
        """``organization_id`` (the tenant API always sends it): scopes the action."""
        org = data.get("organization_id")
        if org is None:
            return None
        if isinstance(org, bool) or not isinstance(org, int):
            raise HTTPError(400, "organization_id must be an integer")
        return org

    async def _refresh(self, body: bytes):
        try:
            data = loads(body or b"{}")
        except JSONRejected as exc:
            raise HTTPError(400, f"body must be JSON: {exc}") from None
        if not isinstance(data, dict):
            raise HTTPError(400, "body must be a JSON object")
        report = await self.service.refresh(self._organization(data))
        return 200, {"ok": True, "config_source": self.service.config.source, **report}

    async def _restart(self, body: bytes):
        try:
            data = loads(body or b"{}")
        except JSONRejected as exc:
            raise HTTPError(400, f'body must be JSON like {{"ramal": "1003"}}: {exc}') from None
        try:
            ramal = str(data["ramal"])
        except (KeyError, TypeError):
            raise HTTPError(400, 'body must be JSON like {"ramal": "1003"}') from None
        try:
            status = await self.service.restart(ramal, self._organization(data))
        except KeyError:
            raise HTTPError(404, f"ramal {ramal} is not running") from None
        except OSError as exc:
            raise HTTPError(500, f"ramal {ramal} did not restart: {exc}") from None
        return 200, {"ok": True, "extension": status}
