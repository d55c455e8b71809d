"""``/ws/agent/``: the site agent's one outbound WebSocket (protocol in ``central_agent.protocol``).

Authenticated by the agent token (``Authorization: Agent <token>``), never by a user
session: the socket is routed outside the browser origin check and the session
middleware (``central/asgi.py``). The socket is accepted before any check so that every
refusal reaches the agent as the protocol's close code (a refused handshake would be a
bare HTTP 403 the agent cannot tell from a proxy error): an unknown or revoked token is
``CLOSE_TOKEN_INVALID`` and the agent stops instead of retrying forever.

Per connection: ``Hello`` within ``HELLO_TIMEOUT`` (else ``CLOSE_HELLO_TIMEOUT``), then
``Welcome`` with the index state Central holds; index batches are applied exactly once
and acknowledged (``services.apply_index``); three missed heartbeats close the socket.
A second socket with the same token takes over and the first is closed with
``CLOSE_REPLACED``. Orders from the rest of Central (a document requested, a token
revoked, a transfer cancelled) reach the consumer through the agent's channel-layer
group (``services.agent_group``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils.dateparse import parse_datetime

from central.core.ids import parse_id
from central.core.jsonguard import JSONRejected, loads
from central.core.metrics import BAD_INPUT
from central_agent import protocol as P

from . import services
from .models import Agent

log = logging.getLogger(__name__)


class _Meta:
    """Just enough of a request for ``central.core.clientaddr.client_ip``."""

    def __init__(self, scope) -> None:
        headers = dict(scope.get("headers") or [])
        client = scope.get("client") or ("", 0)
        self.META = {
            "REMOTE_ADDR": client[0] or "",
            "HTTP_X_FORWARDED_FOR": headers.get(b"x-forwarded-for", b"").decode("latin-1"),
            "HTTP_USER_AGENT": headers.get(b"user-agent", b"").decode("latin-1"),
        }


def token_from_scope(scope) -> str | None:
    name = P.AUTH_HEADER.lower().encode()
    for key, value in scope.get("headers") or []:
        if key == name:
            return P.parse_auth_header(value.decode("latin-1"))
    return None


def _when(ts: float | None) -> datetime | None:
    if ts is None or not (0 < ts < 32_503_680_000):  # year 3000: nonsense beyond
        return None
    return datetime.fromtimestamp(ts, tz=UTC)


def _clip(value: str | None, limit: int) -> str:
    return (value or "")[:limit]


def entry_from_protocol(entry: P.Entry) -> services.IndexEntry:
    """A wire entry as the index stores it: bounded text, parsed dates, error with detail."""
    created = None
    if entry.created:
        try:
            created = parse_datetime(entry.created[:40])
        except ValueError:
            created = None
        if created is not None and created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
    error = entry.error or ""
    if error and entry.detail:
        error = f"{error}: {entry.detail}"
    return services.IndexEntry(
        size=min(entry.size, 2**62), mtime=_when(entry.mtime), sha256=entry.sha256 or "",
        title=_clip(entry.title, 500), author=_clip(entry.author, 300),
        pages=entry.pages if entry.pages is not None and entry.pages < 2**31 else None,
        created=created, error=_clip(error, 500),
    )


def change_from_protocol(change: P.Change) -> services.IndexChange:
    entry = entry_from_protocol(change.entry) if change.entry is not None else None
    op = {"added": "upsert", "modified": "upsert", "renamed": "rename", "deleted": "delete"}[change.op]
    return services.IndexChange(op=op, folder=change.folder, path=change.path, entry=entry,
                                old_path=change.old_path)


def folder_stats(folders: list[P.FolderStats]) -> list[dict]:
    return [{"folder": f.folder, "path": _clip(f.path, 500), "files": f.files, "bytes": f.bytes,
             "errors": f.errors, "skipped": dict(list(f.skipped.items())[:10]), "readable": f.readable,
             "watch": f.watch} for f in folders[:32]]


def upload_request(tr) -> P.UploadRequest:
    return P.UploadRequest(transfer_id=str(tr.pk), folder=tr.document.folder, path=tr.document.path,
                           sha256=tr.sha256, size=tr.size)


@database_sync_to_async
def _authenticate(token):
    return services.authenticate(token)


@database_sync_to_async
def _connected(agent, ip, hello: P.Hello):
    connection_id = services.connected(agent, public_ip=ip)
    started = _when(hello.started_at)
    uptime = int(max(0.0, time.time() - hello.started_at)) if started else 0
    services.reported(agent, {
        "version": hello.version, "os": hello.os, "hostname": hello.hostname, "local_ips": hello.ips,
        "uptime_seconds": uptime, "folders": folder_stats(hello.folders),
        "heartbeat_interval": hello.heartbeat,
    }, heartbeat=False)
    agent.refresh_from_db()
    owed = [upload_request(tr) for tr in services.dispatch_waiting(agent)]
    return connection_id, agent, owed


@database_sync_to_async
def _heartbeat(agent, beat: P.Heartbeat):
    services.reported(agent, {"uptime_seconds": int(beat.uptime), "folders": folder_stats(beat.folders),
                              "last_error": beat.last_error or ""}, heartbeat=True)


@database_sync_to_async
def _apply(agent, batch: P.IndexBatch):
    return services.apply_index(agent, batch.index_id, batch.seq,
                                [change_from_protocol(c) for c in batch.changes], reset=batch.reset)


@database_sync_to_async
def _order(agent, transfer_id):
    tr = services.order_for(transfer_id, agent)
    return upload_request(tr) if tr is not None else None


@database_sync_to_async
def _disconnected(agent_id, connection_id, reason):
    services.disconnected(agent_id, connection_id, reason=reason)


@database_sync_to_async
def _upload_error(agent, message: P.UploadError):
    transfer_id = parse_id(message.transfer_id)
    if transfer_id is not None:
        services.agent_failed(agent, transfer_id, f"{message.code}: {message.detail or ''}".strip(": "))


@database_sync_to_async
def _upload_stale(agent, message: P.UploadStale):
    transfer_id = parse_id(message.transfer_id)
    if transfer_id is not None:
        services.agent_stale(agent, transfer_id, deleted=message.reason == "deleted", sha256=message.sha256)


@database_sync_to_async
def _agent_error(agent, message: P.Error):
    services.reported(agent, {"last_error": f"{message.code}: {message.detail or ''}"}, heartbeat=True)


class AgentConsumer(AsyncWebsocketConsumer):
    agent: Agent | None = None
    connection_id: str = ""
    joined: bool = False

    async def connect(self) -> None:
        await self.accept()
        self.last_message = time.monotonic()
        self.agent = await _authenticate(token_from_scope(self.scope))
        if self.agent is None:
            BAD_INPUT.labels("agent_ws", "token").inc()
            await self.close(code=P.CLOSE_TOKEN_INVALID)
            return
        self.ip = _client_ip(self.scope)
        self.watchdog = asyncio.create_task(self._hello_deadline())

    async def _hello_deadline(self) -> None:
        """No Hello within HELLO_TIMEOUT: close (the agent reconnects)."""
        await asyncio.sleep(P.HELLO_TIMEOUT)
        if not self.connection_id:
            await self.close(code=P.CLOSE_HELLO_TIMEOUT)

    async def _watch_heartbeats(self) -> None:
        """Silent for OFFLINE_AFTER_MISSED of the agent's heartbeat intervals: offline, close."""
        while True:
            interval = self.heartbeat * P.OFFLINE_AFTER_MISSED
            idle = time.monotonic() - self.last_message
            if idle >= interval:
                await self._leave("heartbeat timeout")
                await self.close(code=P.CLOSE_GOING_AWAY)
                return
            await asyncio.sleep(interval - idle)

    async def disconnect(self, code: int) -> None:
        task = getattr(self, "watchdog", None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        await self._leave(f"closed ({code})")

    async def _leave(self, reason: str) -> None:
        if self.joined:
            self.joined = False
            await self.channel_layer.group_discard(services.agent_group(self.agent.pk), self.channel_name)
        if self.agent is not None and self.connection_id:
            connection_id, self.connection_id = self.connection_id, ""
            await _disconnected(self.agent.pk, connection_id, reason)

    async def _protocol_error(self, detail: str) -> None:
        BAD_INPUT.labels("agent_ws", "protocol").inc()
        log.warning("documents: agent %s protocol error: %s", getattr(self.agent, "pk", None), detail[:200])
        await self._send(P.Error(code="protocol_error", detail=detail[:300]))
        await self._leave("protocol error")
        await self.close(code=P.CLOSE_PROTOCOL_ERROR)

    async def _send(self, message: P.Message) -> None:
        await self.send(text_data=P.encode(message))

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if self.agent is None:
            return
        self.last_message = time.monotonic()
        raw = text_data if text_data is not None else bytes_data
        try:
            if raw is None or len(raw) > P.MAX_MESSAGE_BYTES:
                raise P.ProtocolError("message too large")
            loads(raw)  # the one JSON depth guard before the protocol's own parser
            message = P.decode(raw, P.AGENT_MESSAGES)
        except (P.ProtocolError, JSONRejected) as exc:
            await self._protocol_error(str(exc))
            return
        if not self.connection_id:
            if not isinstance(message, P.Hello):
                await self._protocol_error("the first message must be hello")
                return
            await self._hello(message)
            return
        if isinstance(message, P.Heartbeat):
            await _heartbeat(self.agent, message)
        elif isinstance(message, P.IndexBatch):
            outcome = await _apply(self.agent, message)
            if outcome in (services.APPLIED, services.DUPLICATE):
                await self._send(P.IndexAck(index_id=message.index_id, seq=message.seq))
            else:
                await self._send(P.Resync(reason=outcome, detail=f"batch {message.seq}"))
        elif isinstance(message, P.UploadError):
            await _upload_error(self.agent, message)
        elif isinstance(message, P.UploadStale):
            await _upload_stale(self.agent, message)
        elif isinstance(message, P.Error):
            await _agent_error(self.agent, message)
        elif isinstance(message, P.Hello):
            await self._protocol_error("hello twice")
        # UploadProgress: Central counts the bytes it received itself; nothing to store.

    async def _hello(self, hello: P.Hello) -> None:
        if hello.protocol != P.PROTOCOL_VERSION:
            await self.close(code=P.CLOSE_UNSUPPORTED_VERSION)
            return
        self.heartbeat = min(max(hello.heartbeat, 1.0), 3600.0)
        connection_id, agent, owed = await _connected(self.agent, self.ip, hello)
        self.agent, self.connection_id = agent, connection_id
        group = services.agent_group(agent.pk)
        # Any older socket of this agent stops (CLOSE_REPLACED) before this one joins.
        await self.channel_layer.group_send(group, {"type": services.AGENT_REPLACED_EVENT,
                                                    "connection": connection_id})
        await self.channel_layer.group_add(group, self.channel_name)
        self.joined = True
        self.watchdog.cancel()
        self.last_message = time.monotonic()
        self.watchdog = asyncio.create_task(self._watch_heartbeats())
        await self._send(P.Welcome(agent_id=str(agent.pk), name=agent.name, index_id=agent.index_id or None,
                                   last_seq=agent.index_seq, server_time=time.time()))
        for order in owed:
            await self._send(order)

    # --- orders from the rest of Central (channel layer) -----------------------------------

    async def documents_request(self, event: dict) -> None:
        if self.connection_id:
            order = await _order(self.agent, event["transfer"])
            if order is not None:
                await self._send(order)

    async def documents_cancel(self, event: dict) -> None:
        if self.connection_id:
            await self._send(P.UploadCancel(transfer_id=str(event["transfer"])))

    async def documents_revoked(self, event: dict) -> None:
        await self._leave("token revoked")
        await self.close(code=P.CLOSE_TOKEN_INVALID)

    async def documents_replaced(self, event: dict) -> None:
        if self.connection_id and event.get("connection") != self.connection_id:
            self.connection_id = ""  # the new socket speaks for the agent now: no offline mark
            await self._leave("replaced")
            await self.close(code=P.CLOSE_REPLACED)


def _client_ip(scope) -> str | None:
    from central.core.clientaddr import client_ip

    return client_ip(_Meta(scope))
