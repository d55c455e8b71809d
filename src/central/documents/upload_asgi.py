"""The site agent's streamed upload (``PATCH protocol.upload_path(id)``), served in front of Django.

Why not a Django view: Django's ``ASGIHandler`` reads the whole request body into a spooled
temporary file before any view runs. One request carrying the rest of a 200 MB file as framed
chunks would be written to ``$TMPDIR`` first and committed only at its end, so a cut would
lose all of it. This ASGI wrapper reads the body as it arrives instead: the protocol's
:class:`~central_agent.protocol.ChunkReader` splits it into chunks (at most one frame of
``MAX_CHUNK_SIZE`` buffered, a larger one refused 413 before its data is kept), and each
chunk goes to :func:`services.receive_chunk` (per-chunk SHA-256, offset check, the partial
file, the transfer's committed offset; the whole-file SHA-256 at the end) while the next one
is being received: at most two chunks in memory. A cut therefore loses only the chunk in
flight, and ``GET upload_path(id)`` (the Django view) answers the committed offset to resume
from. Every other request passes through to Django untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from channels.db import database_sync_to_async
from django.utils.translation import gettext as _

from central.core.ids import parse_id
from central.core.metrics import BAD_INPUT
from central_agent import protocol as P

from . import services

log = logging.getLogger(__name__)

UPLOAD_PREFIX = P.API_ROOT + P.UPLOAD_ROUTE.split("<", 1)[0]

_ERROR_STATUS = {"gone": P.UPLOAD_GONE, "chunk_checksum": P.UPLOAD_CHUNK_CORRUPT, "too_large": P.UPLOAD_TOO_LARGE}


def status_body(result: services.UploadResult) -> dict:
    """The protocol's UploadStatus for a transfer (also the GET answer of the Django view)."""
    state = result.state if result.state in P.UPLOAD_STATES else "receiving"
    return P.UploadStatus(offset=result.offset, size=result.size, state=state,
                          detail=result.detail or None).to_dict()


def _error(code: str, message: str, status: int, result: services.UploadResult | None = None) -> tuple[int, dict]:
    """An error answer; with Central's committed offset when the transfer is known."""
    body: dict = {"error": {"code": code, "message": message}}
    if result is not None:
        body.update(status_body(result))
    return status, body


@database_sync_to_async
def _authenticate(token: str):
    return services.authenticate(token)


@database_sync_to_async
def _current(agent, transfer_id: int | None) -> services.UploadResult:
    return services.upload_status(services.upload_target(agent, transfer_id))


@database_sync_to_async
def _commit(agent, transfer_id: int | None, offset: int, digest: str, data: bytes,
            length: int) -> services.UploadResult:
    return services.receive_chunk(agent, transfer_id, offset, [data], digest, length=length,
                                  max_chunk=P.MAX_CHUNK_SIZE)


class AgentUploadASGI:
    """Routes ``UPLOAD_METHOD`` on the upload path here; everything else to ``app``."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if (scope["type"] != "http" or scope["method"] != P.UPLOAD_METHOD
                or not scope["path"].startswith(UPLOAD_PREFIX)):
            await self.app(scope, receive, send)
            return
        answer = await upload(scope, receive)
        if answer is None:
            return  # the agent went away: nobody to answer; committed chunks stay
        status, body = answer
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})


async def upload(scope, receive) -> tuple[int, dict] | None:
    """Read the framed chunks of one request and commit each; the answer (status, body)."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    agent = await _authenticate(P.parse_auth_header(headers.get(P.AUTH_HEADER.lower())) or "")
    if agent is None:
        return _error("token_invalid", _("Token de agente inválido."), 401)
    transfer_id = parse_id(scope["path"][len(UPLOAD_PREFIX):].rstrip("/"))
    try:
        offset = int(headers.get(P.HEADER_OFFSET.lower(), ""))
        length = int(headers[P.HEADER_LENGTH.lower()]) if P.HEADER_LENGTH.lower() in headers else None
    except ValueError:
        BAD_INPUT.labels("agent_upload", "headers").inc()
        return _error("bad_headers", _("Cabeçalhos de envio inválidos."), 400)
    try:
        result = await _current(agent, transfer_id)
    except services.TransferRefused as exc:
        return _error(exc.code, exc.message, _ERROR_STATUS.get(exc.code, exc.status))
    if result.state == services.COMPLETE:
        return P.UPLOAD_OK, status_body(result)  # the last answer was lost: it is done
    if offset != result.offset:
        return P.UPLOAD_OFFSET_MISMATCH, status_body(result)

    reader = P.ChunkReader(P.MAX_CHUNK_SIZE)
    pending: asyncio.Task | None = None  # the chunk being committed while the next arrives

    async def settle() -> tuple[int, dict] | None:
        """Wait for the chunk in commit; an answer when it ended the request."""
        nonlocal pending, result
        task, pending = pending, None
        if task is None:
            return None
        try:
            result = await task
        except services.TransferRefused as exc:
            if exc.code in ("chunk_checksum", "too_large", "bad_checksum_header", "length_mismatch"):
                BAD_INPUT.labels("agent_upload", exc.code).inc()
            known = await _current_or_none(agent, transfer_id)
            return _error(exc.code, exc.message, _ERROR_STATUS.get(exc.code, exc.status), known)
        if result.state == "offset_mismatch":
            return P.UPLOAD_OFFSET_MISMATCH, status_body(result)
        if result.state in (services.COMPLETE, services.REJECTED):
            return P.UPLOAD_OK, status_body(result)
        return None

    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                await settle()  # a chunk fully received is still committed
                return None
            try:
                chunks = reader.feed(message.get("body", b""))
            except P.ChunkTooLarge:
                BAD_INPUT.labels("agent_upload", "too_large").inc()
                return (await settle()) or _error("too_large", _("Bloco grande demais."), P.UPLOAD_TOO_LARGE,
                                                  await _current_or_none(agent, transfer_id))
            except P.ProtocolError:
                BAD_INPUT.labels("agent_upload", "bad_frame").inc()
                return (await settle()) or _error("bad_frame", _("Bloco malformado."), P.UPLOAD_BAD_FRAME,
                                                  await _current_or_none(agent, transfer_id))
            for digest, data in chunks:
                answer = await settle()
                if answer is not None:
                    return answer
                pending = asyncio.ensure_future(_commit(agent, transfer_id, offset, digest, data, length))
                offset += len(data)
            if not message.get("more_body"):
                break
        answer = await settle()
        if answer is not None:
            return answer
        if not reader.at_boundary:
            BAD_INPUT.labels("agent_upload", "bad_frame").inc()
            return _error("bad_frame", _("Bloco malformado."), P.UPLOAD_BAD_FRAME,
                          await _current_or_none(agent, transfer_id))
        return P.UPLOAD_OK, status_body(result)
    finally:
        if pending is not None:  # cancelled mid-request (server shutdown): let the commit finish
            with contextlib.suppress(Exception):
                await asyncio.shield(pending)


async def _current_or_none(agent, transfer_id: int | None) -> services.UploadResult | None:
    try:
        return await _current(agent, transfer_id)
    except services.TransferRefused:
        return None
