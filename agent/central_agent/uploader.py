"""On-demand upload over HTTP(S): the asyncio adapter around ``core.UploadCursor``.

Each attempt is ONE streamed request carrying the rest of the file as framed chunks
(``protocol.chunk_frame``), so the link never idles waiting for a per-chunk answer. Chunks
are read and hashed in a worker thread, the next one while the current one is on the wire
(the event loop keeps the WebSocket and the heartbeat going; at most two chunks in memory).
Before each chunk the file's (size, mtime) is compared with the one it had when indexed, so
a file that changes during the upload is reported stale, not sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx

from . import protocol as p
from .core import Finished, GiveUp, Retry, SendChunk, UploadCursor
from .indexer import stat_signature

log = logging.getLogger("central_agent.upload")


class FileChanged(Exception):
    """The file's size or mtime moved since it was indexed: re-index, send upload_stale."""


class _Unreadable(Exception):
    pass


@dataclass(frozen=True)
class UploadResult:
    state: str  # "complete", "rejected", "error", "stale"
    code: str | None = None  # UploadErrorCode when state == "error"
    detail: str | None = None
    sent_bytes: int = 0
    resumed_from: int = 0


def chunk_sha256(data: bytes) -> bytes:
    """The raw SHA-256 a chunk's frame carries."""
    return hashlib.sha256(data).digest()


def read_chunk(path: str, offset: int, length: int) -> tuple[bytes, bytes]:
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read(length)
    return data, chunk_sha256(data)


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
) -> UploadResult:
    """Upload ``path`` for ``transfer_id``, resuming from Central's offset.

    ``signature`` is the (size, mtime_ns) the file had when indexed; ``progress(offset,
    size, attempt)`` is awaited after each chunk handed to the connection and after each
    answer (then with Central's committed offset)."""
    url = base_url.rstrip("/") + p.upload_path(transfer_id)
    headers = {p.AUTH_HEADER: p.auth_header_value(token)}
    cursor = cursor or UploadCursor(size=size, chunk_size=chunk_size)
    sent = 0
    resumed_from = 0

    async def frames(offset: int) -> AsyncIterator[bytes]:
        nonlocal sent
        position = offset
        ahead = asyncio.ensure_future(asyncio.to_thread(read_chunk, path, position, min(chunk_size, size - position)))
        try:
            while position < size:
                length = min(chunk_size, size - position)
                try:
                    data, digest = await ahead
                except OSError as exc:
                    raise _Unreadable(str(exc)) from exc
                if len(data) != length or stat_signature(path) != signature:
                    raise FileChanged("file changed since it was indexed")
                following = position + length
                if following < size:  # read and hash the next chunk while this one travels
                    ahead = asyncio.ensure_future(
                        asyncio.to_thread(read_chunk, path, following, min(chunk_size, size - following)))
                yield p.chunk_frame(data, digest)
                yield data
                del data
                sent += length
                position = following
                if progress is not None:
                    await progress(position, size, cursor.attempt)
        finally:
            if not ahead.done():
                ahead.cancel()

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
        stream_headers = {
            **headers,
            p.HEADER_OFFSET: str(action.offset),
            p.HEADER_LENGTH: str(size),
            "Content-Type": p.CHUNK_CONTENT_TYPE,
            "Content-Length": str(action.length + p.FRAME_HEADER_SIZE * -(-action.length // chunk_size)),
        }
        try:
            response = await client.request(p.UPLOAD_METHOD, url, content=frames(action.offset),
                                            headers=stream_headers)
        except FileChanged as exc:
            return UploadResult("stale", detail=str(exc), sent_bytes=sent)
        except _Unreadable as exc:
            return UploadResult("error", code="unreadable", detail=str(exc), sent_bytes=sent)
        except (httpx.TransportError, OSError) as exc:
            action = cursor.on_failure(f"{type(exc).__name__}: {exc}")
            continue
        status = _status(response)
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
