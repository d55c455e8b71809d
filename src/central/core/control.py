"""The control socket of ``central up``: ``central status / restart / stop`` without a pid.

A unix socket in the data directory (``<data>/central.sock``, or
``CENTRAL_CONTROL_SOCKET``), created ``0600`` and answering only connections whose peer
runs as the same user (``SO_PEERCRED``): whoever can act on the process already can
signal it, nobody else can. One JSON request per connection, one JSON answer:

* ``{"op": "status"}`` -> ``{"ok": true, "pid": ..., "components": {name: state}}``
* ``{"op": "restart", "component": "telephony", "crash": false}`` -> restart it (a
  failed one too); ``crash`` kills it as a crash would, a drill of the self-healing
* ``{"op": "stop"}`` -> the process stops as on SIGTERM
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import struct
import time
from pathlib import Path

from . import jsonguard

log = logging.getLogger("central.control")

#: Requests larger than this are refused (one short JSON object is all the protocol has).
MAX_REQUEST = 4096
#: File name of the socket in the data directory.
SOCKET_NAME = "central.sock"


class ControlError(RuntimeError):
    pass


def socket_path() -> Path:
    from django.conf import settings

    override = os.environ.get("CENTRAL_CONTROL_SOCKET", "").strip()
    return Path(override) if override else Path(settings.DATA_DIR) / SOCKET_NAME


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a unix socket (Linux ``SO_PEERCRED``)."""
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except (OSError, AttributeError):
        return None
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


def handle(supervisor, request: dict) -> dict:
    """One request against the supervisor (plain code: the protocol's meaning)."""
    op = request.get("op")
    if op == "status":
        return {"ok": True, "pid": os.getpid(), "time": time.time(), "components": supervisor.status()}
    if op == "restart":
        name = request.get("component")
        names = [name] if name else list(supervisor.order)
        unknown = [n for n in names if n not in supervisor.components]
        if unknown:
            return {"ok": False, "error": f"unknown component {unknown[0]!r}; components: "
                                          f"{', '.join(supervisor.order)}"}
        if not name:
            names = [n for n in names if n not in ("control", "web")]  # keep the line to us and the pages
        for n in names:
            supervisor.restart(n, crash=bool(request.get("crash")))
        return {"ok": True, "restarted": names}
    if op == "stop":
        asyncio.get_running_loop().call_soon(supervisor.stop)
        return {"ok": True, "stopping": os.getpid()}
    return {"ok": False, "error": f"unknown op {op!r}"}


async def serve_control(supervisor, path: Path | None = None) -> None:
    """Listen on the control socket until cancelled; remove it afterwards."""
    path = path or socket_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        if _answers(path):
            raise ControlError(f"another central up answers on {path}")
        path.unlink()  # left over by a process that was killed

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            sock = writer.get_extra_info("socket")
            if sock is None or peer_uid(sock) != os.getuid():
                writer.write(b'{"ok": false, "error": "not the same user"}\n')
                return
            line = await asyncio.wait_for(reader.readline(), timeout=5)
            if line.startswith(b'{"op": "logs"'):
                await _stream_logs(jsonguard.loads(line), writer)
                return
            if len(line) > MAX_REQUEST:
                answer = {"ok": False, "error": "request too large"}
            else:
                try:
                    request = jsonguard.loads(line or b"{}")
                    answer = handle(supervisor, request if isinstance(request, dict) else {})
                except ValueError:
                    answer = {"ok": False, "error": "not JSON"}
            writer.write(json.dumps(answer, default=str).encode() + b"\n")
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    old = os.umask(0o177)  # the socket exists 0600 from its first instant
    try:
        server = await asyncio.start_unix_server(client, path=str(path), limit=MAX_REQUEST * 2)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    log.info("control socket at %s", path)
    try:
        async with server:
            await server.serve_forever()
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


async def _stream_logs(request: dict, writer: asyncio.StreamWriter) -> None:
    """``{"op": "logs", "filter": {...}, "lines": 50, "follow": true}``: the recent lines of
    this process (the in-process hub of the embedded default), then new ones as they come,
    one JSON object per line, until the reader goes away."""
    from .logstream import HUB, LogFilter

    flt = LogFilter.from_dict(request.get("filter") or {})
    sub = HUB.subscribe(asyncio.get_running_loop()) if request.get("follow") else None
    try:
        for entry in HUB.backlog(flt, max(0, min(int(request.get("lines") or 0), 5000))):
            writer.write(json.dumps(entry, default=str).encode() + b"\n")
        await writer.drain()
        while sub is not None:
            entry = await sub.queue.get()
            if flt.matches(entry):
                writer.write(json.dumps(entry, default=str).encode() + b"\n")
                await writer.drain()
    finally:
        if sub is not None:
            HUB.unsubscribe(sub)


def stream_logs(filter_: dict, lines: int, follow: bool, path: Path | None = None):
    """Yield log entries from the running ``central up`` (see :func:`_stream_logs`)."""
    path = path or socket_path()
    if not path.exists():
        raise ControlError(f"no central up is running here (no control socket at {path})")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(path))
            s.sendall(json.dumps({"op": "logs", "filter": filter_, "lines": lines, "follow": follow}).encode()
                      + b"\n")
            if not follow:
                s.shutdown(socket.SHUT_WR)
            with s.makefile("rb") as reader:
                if not follow:
                    s.settimeout(10)
                for raw in reader:
                    try:
                        yield jsonguard.loads(raw)
                    except ValueError:
                        continue
    except OSError as exc:
        raise ControlError(f"no central up answers on {path} ({exc})") from exc


def _answers(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(str(path))
            return True
    except OSError:
        return False


def request(op: str, path: Path | None = None, timeout: float = 10.0, **fields) -> dict:
    """Send one request to the running ``central up``; ControlError when none listens."""
    path = path or socket_path()
    if not path.exists():
        raise ControlError(f"no central up is running here (no control socket at {path})")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(path))
            s.sendall(json.dumps({"op": op, **fields}).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        raise ControlError(f"no central up answers on {path} ({exc})") from exc
    try:
        return jsonguard.loads(data)
    except ValueError as exc:
        raise ControlError(f"unreadable answer from {path}") from exc
