"""On-demand upload over HTTP(S): the asyncio adapter around ``core.UploadCursor``.

Chunks are read and hashed in a worker thread (the event loop keeps the WebSocket and the
heartbeat going); before each chunk the file's (size, mtime) is compared with the one it had
when indexed, so a file that changes during the upload is reported stale, not sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from . import protocol as p
from .core import Finished, GiveUp, Retry, SendChunk, UploadCursor
from .indexer import stat_signature

log = logging.getLogger("central_agent.upload")


class FileChanged(Exception):
    """The file's size or mtime moved since it was indexed: re-index, send upload_stale."""


@dataclass(frozen=True)
class UploadResult:
    state: str  # "complete", "rejected", "error", "stale"
    code: str | None = None  # UploadErrorCode when state == "error"
    detail: str | None = None
    sent_bytes: int = 0
    resumed_from: int = 0


def chunk_sha256(data: bytes) -> str:
    """The value of ``HEADER_CHUNK_SHA256`` for one chunk."""
    return hashlib.sha256(data).hexdigest()


def read_chunk(path: str, offset: int, length: int,
               checksum: Callable[[bytes], str] = chunk_sha256) -> tuple[bytes, str]:
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read(length)
    return data, checksum(data)


def _status(response: httpx.Response) -> p.UploadStatus | None:
    try:
        return p.UploadStatus.from_dict(response.json())
    except (ValueError, p.ProtocolError):
        return None


async def upload(
    client: httpx.AsyncClient,
    base_url: str,
    token: str,
    transfer_id: str,
    path: str,
    size: int,
    signature: tuple[int, int],
    progress: Callable[[int, int, int], Awaitable[None]] | None = None,
    chunk_size: int = p.CHUNK_SIZE,
    cursor: UploadCursor | None = None,
    checksum: Callable[[bytes], str] = chunk_sha256,
) -> UploadResult:
    """Upload ``path`` for ``transfer_id``, resuming from Central's offset.

    ``signature`` is the (size, mtime_ns) the file had when indexed; ``progress(offset,
    size, attempt)`` is awaited after each accepted chunk. ``checksum`` computes the chunk
    header's value (the protocol's SHA-256; the upload bench also measures a cheaper one)."""
    url = base_url.rstrip("/") + p.upload_path(transfer_id)
    headers = {p.AUTH_HEADER: p.auth_header_value(token)}
    cursor = cursor or UploadCursor(size=size, chunk_size=chunk_size)
    sent = 0
    resumed_from = 0
    prefetch: tuple[tuple[int, int], asyncio.Future] | None = None
    # Ask where Central is first: after an agent restart the transfer may be half done.
    action = await _query(client, url, headers, cursor)
    if isinstance(action, SendChunk):
        resumed_from = action.offset
    while True:
        if isinstance(action, Finished):
            return UploadResult(action.state, detail=action.detail, sent_bytes=sent, resumed_from=resumed_from)
        if isinstance(action, GiveUp):
            return UploadResult("error", code=action.code, detail=action.detail, sent_bytes=sent)
        if isinstance(action, Retry):
            log.info("upload retry", extra={"transfer_id": transfer_id, "attempt": action.attempt,
                                            "delay": round(action.delay, 2)})
            await asyncio.sleep(action.delay)
            action = await _query(client, url, headers, cursor)
            if isinstance(action, SendChunk):
                log.info("upload resumed", extra={"transfer_id": transfer_id, "offset": action.offset,
                                                  "attempt": cursor.attempt})
            continue
        assert isinstance(action, SendChunk)
        if stat_signature(path) != signature:
            return UploadResult("stale", detail="file changed since it was indexed", sent_bytes=sent)
        try:
            if prefetch is not None and prefetch[0] == (action.offset, action.length):
                data, digest = await prefetch[1]
            else:
                data, digest = await asyncio.to_thread(read_chunk, path, action.offset, action.length, checksum)
        except OSError as exc:
            return UploadResult("error", code="unreadable", detail=str(exc), sent_bytes=sent)
        finally:
            if prefetch is not None and not prefetch[1].done():
                prefetch[1].cancel()
            prefetch = None
        if len(data) != action.length:
            return UploadResult("stale", detail="file shorter than indexed", sent_bytes=sent)
        # Read and hash the next chunk while this one travels (Central's answer usually says
        # "go on at offset + length"); dropped if it says anything else.
        following = action.offset + action.length
        if following < size:
            nxt = (following, min(chunk_size, size - following))
            prefetch = (nxt, asyncio.ensure_future(asyncio.to_thread(read_chunk, path, *nxt, checksum)))
        chunk_headers = {
            **headers,
            p.HEADER_OFFSET: str(action.offset),
            p.HEADER_LENGTH: str(size),
            p.HEADER_CHUNK_SHA256: digest,
            "Content-Type": p.CHUNK_CONTENT_TYPE,
        }
        try:
            response = await client.request(p.UPLOAD_METHOD, url, content=data, headers=chunk_headers)
        except (httpx.TransportError, OSError) as exc:
            action = cursor.on_failure(f"{type(exc).__name__}: {exc}")
            continue
        del data
        status = _status(response)
        if response.status_code == p.UPLOAD_OK and status is not None:
            sent += action.length
        action = cursor.on_status(response.status_code, status)
        if progress is not None and status is not None:
            await progress(cursor.offset, size, cursor.attempt)


async def _query(client: httpx.AsyncClient, url: str, headers: dict, cursor: UploadCursor):
    try:
        response = await client.get(url, headers=headers)
    except (httpx.TransportError, OSError) as exc:
        return cursor.on_failure(f"{type(exc).__name__}: {exc}")
    status = _status(response)
    if response.status_code == p.UPLOAD_OK and status is not None and status.state == "receiving":
        cursor.offset = status.offset
        if status.size != cursor.size:
            return GiveUp("gone", f"Central expects {status.size} bytes, the file has {cursor.size}")
        return cursor._send()
    return cursor.on_status(response.status_code, status)


class ProgressThrottle:
    """At most one progress message per ``interval`` seconds, plus the last one."""

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self._last = 0.0

    def due(self, offset: int, size: int) -> bool:
        now = time.monotonic()
        if offset >= size or now - self._last >= self.interval:
            self._last = now
            return True
        return False
