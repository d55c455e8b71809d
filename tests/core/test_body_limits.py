"""Oversized bodies are refused before they are stored (finding 8).

A real ``central web`` (uvicorn + Django's ASGI handler) over a real socket, with its own
``TMPDIR``. Django's ASGI handler spools a whole body to ``$TMPDIR`` before any middleware
runs, so the measure is how many bytes the server process holds in temporary files (open
descriptors under its ``TMPDIR``, deleted or not) while a client pushes a big body.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from pathlib import Path

import pytest

from tests.support import free_port, migrated_env, start_central

MB = 1024 * 1024


def temp_bytes(pid: int, tmpdir: Path) -> int:
    """Bytes in files the process holds open under ``tmpdir`` plus files left there."""
    total = 0
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(fd_dir / fd)
            if target.startswith(str(tmpdir)):
                total += os.stat(fd_dir / fd).st_size
        except OSError:
            continue
    for path in tmpdir.rglob("*"):
        if path.is_file():
            total += path.stat().st_size
    return total


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    base = tmp_path_factory.mktemp("bodylimit")
    tmpdir = base / "tmp"
    tmpdir.mkdir()
    port = free_port()
    env = migrated_env(base / "data", TMPDIR=str(tmpdir), CENTRAL_MAX_IMPORT_BYTES=str(5 * MB))
    proc = start_central(["web", "--port", str(port)], env, port, base / "web.log")
    yield proc, port, tmpdir
    proc.stop()


def push(port: int, pid: int, tmpdir: Path, path: str, *, length: int | None, send_bytes: int,
         lang: str = "pt-BR") -> tuple[bytes, int, int]:
    """Send headers, then up to ``send_bytes`` of body in 256 KiB pieces (chunked when
    ``length`` is None), sampling the server's temp bytes after each piece. Returns
    ``(response bytes, peak temp growth, body bytes the socket accepted)``."""
    base = temp_bytes(pid, tmpdir)
    peak = 0
    sock = socket.create_connection(("127.0.0.1", port))
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Accept-Language: {lang}\r\n")
    head += f"Content-Length: {length}\r\n" if length is not None else "Transfer-Encoding: chunked\r\n"
    sock.sendall((head + "\r\n").encode())
    piece = b"x" * (256 * 1024)
    sent = 0
    response = b""
    sock.setblocking(False)
    try:
        while sent < send_bytes:
            try:
                response += sock.recv(65536)
                if response:
                    break  # the server answered: it will not read the rest
            except BlockingIOError:
                pass
            data = piece if length is not None else b"%x\r\n%s\r\n" % (len(piece), piece)
            sock.setblocking(True)
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                break
            finally:
                sock.setblocking(False)
            sent += len(piece)
            peak = max(peak, temp_bytes(pid, tmpdir) - base)
        sock.setblocking(True)
        sock.settimeout(30)
        if length is None and sent >= send_bytes:
            with contextlib.suppress(OSError):
                sock.sendall(b"0\r\n\r\n")
        while b"\r\n\r\n" not in response or not _complete(response):
            chunk = sock.recv(65536)
            if not chunk:
                break
            response += chunk
    except (ConnectionResetError, TimeoutError):
        pass  # reset after the answer, or no answer at all: the caller checks the response
    finally:
        peak = max(peak, temp_bytes(pid, tmpdir) - base)
        sock.close()
    return response, peak, sent


def _complete(response: bytes) -> bool:
    head, _, body = response.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def _error(response: bytes) -> tuple[int, dict]:
    head, _, body = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    return status, json.loads(body)["error"]


def test_content_length_lie_is_refused_before_the_body(web):
    """An anonymous 500 MB POST /api/v1/auth/token/: 413 at once, nothing spooled."""
    proc, port, tmpdir = web
    response, peak, sent = push(port, proc.proc.pid, tmpdir, "/api/v1/auth/token/", length=500 * MB,
                                send_bytes=40 * MB)
    status, error = _error(response)
    assert (status, error["code"]) == (413, "body_too_large")
    assert "limite" in error["message"]
    assert peak < 64 * 1024, f"server spooled {peak} bytes"
    assert sent < 40 * MB  # it answered and closed instead of reading 40 MB


def test_chunked_body_is_cut_at_the_limit_while_streaming(web):
    proc, port, tmpdir = web
    response, peak, sent = push(port, proc.proc.pid, tmpdir, "/api/v1/auth/token/", length=None,
                                send_bytes=40 * MB, lang="en")
    status, error = _error(response)
    assert (status, error["code"]) == (413, "body_too_large")
    assert "limit" in error["message"]  # English on request
    assert peak < 2 * MB, f"server spooled {peak} bytes"
    assert sent < 40 * MB


def test_uploads_have_their_own_limit_on_the_socket(web):
    """Upload paths take CENTRAL_MAX_IMPORT_BYTES (5 MB here), refused the same two ways."""
    proc, port, tmpdir = web
    path = "/api/v1/dialer/campaigns/1/import/"
    response, peak, sent = push(port, proc.proc.pid, tmpdir, path, length=300 * MB, send_bytes=40 * MB)
    assert response.startswith(b"HTTP/1.1 413"), (response[:200], peak, sent)
    assert peak < 64 * 1024, f"server spooled {peak} bytes"
    response, peak, sent = push(port, proc.proc.pid, tmpdir, path, length=None, send_bytes=40 * MB)
    assert response.startswith(b"HTTP/1.1 413"), (response[:200], peak, sent)
    assert peak < 6 * MB, f"server spooled {peak} bytes for a 5 MB upload limit"
