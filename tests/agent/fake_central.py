"""A small in-test stand-in for Central's agent endpoints (ASGI, served by a real uvicorn).

Only for agent behaviour tests that do not need the whole of Central; the end-to-end tests
(tests/agent/test_e2e_*.py) run the real ``central web``. It follows the protocol rules of
docs/site-agent.md (seq/ack/resync, chunk checks, offsets) with the shared constants.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import secrets
import socket
from dataclasses import dataclass, field

import uvicorn

from central_agent import protocol as p
from central_agent.core import apply_changes


@dataclass
class Transfer:
    transfer_id: str
    folder: str
    path: str
    sha256: str
    size: int
    data: bytearray = field(default_factory=bytearray)
    state: str = "receiving"
    fail_at: int | None = None  # answer 503 once when a chunk would cross this offset (a cut)
    chunks: list[int] = field(default_factory=list)  # offsets of accepted chunks
    requests: list[int] = field(default_factory=list)  # where each upload request's body started


@dataclass
class AgentRecord:
    agent_id: str
    token: str
    index_id: str | None = None
    last_seq: int = 0
    entries: dict = field(default_factory=dict)
    batches: list[p.IndexBatch] = field(default_factory=list)
    hellos: list[p.Hello] = field(default_factory=list)
    heartbeats: int = 0
    messages: list[p.Message] = field(default_factory=list)
    revoked: bool = False


class FakeCentral:
    def __init__(self) -> None:
        self.codes: dict[str, str] = {}
        self.agents: dict[str, AgentRecord] = {}  # by token
        self.transfers: dict[str, Transfer] = {}
        self.sockets: dict[str, asyncio.Queue] = {}  # agent_id -> outgoing queue
        self.changed = asyncio.Condition()
        self.refuse_ws = False
        self.refused = 0
        self.server: uvicorn.Server | None = None
        self.port = 0

    # --- test helpers ----------------------------------------------------------------------

    def new_code(self) -> str:
        code = secrets.token_hex(4)
        self.codes[code] = f"a{len(self.codes) + 1}"
        return code

    def add_agent(self) -> AgentRecord:
        record = AgentRecord(agent_id=f"a{len(self.agents) + 1}", token=secrets.token_urlsafe(24))
        self.agents[record.token] = record
        return record

    async def notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def wait_for(self, predicate, timeout: float = 20.0):
        """Wait (on events, not sleeps) until ``predicate()`` is truthy; returns its value."""
        async def waiter():
            async with self.changed:
                while not (value := predicate()):
                    await self.changed.wait()
                return value
        return await asyncio.wait_for(waiter(), timeout)

    async def send(self, record: AgentRecord, message: p.Message) -> None:
        await self.sockets[record.agent_id].put(p.encode(message))

    async def close(self, record: AgentRecord, code: int) -> None:
        await self.sockets[record.agent_id].put(code)

    def request(self, record: AgentRecord, folder: str, path: str, fail_at: int | None = None,
                sha256: str | None = None) -> Transfer:
        entry = record.entries[(folder, path)]
        transfer = Transfer(transfer_id=secrets.token_hex(6), folder=folder, path=path,
                            sha256=sha256 or entry.sha256, size=entry.size, fail_at=fail_at)
        self.transfers[transfer.transfer_id] = transfer
        return transfer

    # --- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        token = p.parse_auth_header(headers.get(p.AUTH_HEADER.lower()))
        record = self.agents.get(token or "")
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send, record)
        else:
            await self._http(scope, receive, send, record, headers)

    async def _websocket(self, scope, receive, send, record):
        await receive()  # websocket.connect
        if self.refuse_ws:
            self.refused += 1
            await send({"type": "websocket.close", "code": 1013})
            await self.notify()
            return
        await send({"type": "websocket.accept"})
        if record is None or record.revoked:
            await send({"type": "websocket.close", "code": p.CLOSE_TOKEN_INVALID})
            return
        queue: asyncio.Queue = asyncio.Queue()
        self.sockets[record.agent_id] = queue

        async def pump():
            while True:
                item = await queue.get()
                if isinstance(item, int):
                    await send({"type": "websocket.close", "code": item})
                    return
                await send({"type": "websocket.send", "text": item})

        pumper = asyncio.create_task(pump())
        try:
            while True:
                event = await receive()
                if event["type"] == "websocket.disconnect":
                    return
                message = p.decode(event.get("text") or event.get("bytes"), p.AGENT_MESSAGES)
                record.messages.append(message)
                if isinstance(message, p.Hello):
                    record.hellos.append(message)
                    await queue.put(p.encode(p.Welcome(agent_id=record.agent_id, name="Loja",
                                                       index_id=record.index_id,
                                                       last_seq=record.last_seq)))
                elif isinstance(message, p.Heartbeat):
                    record.heartbeats += 1
                elif isinstance(message, p.IndexBatch):
                    await queue.put(p.encode(self._apply(record, message)))
                await self.notify()
        finally:
            pumper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pumper
            await self.notify()

    def _apply(self, record: AgentRecord, batch: p.IndexBatch) -> p.Message:
        if batch.reset:
            record.entries = {}
        elif batch.index_id != record.index_id or batch.seq > record.last_seq + 1:
            return p.Resync(reason="seq_gap")
        elif batch.seq <= record.last_seq:
            return p.IndexAck(index_id=batch.index_id, seq=batch.seq)
        record.batches.append(batch)
        apply_changes(record.entries, batch.changes)
        record.index_id, record.last_seq = batch.index_id, batch.seq
        return p.IndexAck(index_id=batch.index_id, seq=batch.seq)

    async def _http(self, scope, receive, send, record, headers):
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        path, method = scope["path"], scope["method"]
        status, answer = 404, {"detail": "not found"}
        if path == p.ENROLL_PATH and method == "POST":
            request = p.EnrollRequest.from_dict(json.loads(body))
            agent_id = self.codes.pop(request.code, None)
            if agent_id is None:
                status, answer = 400, p.EnrollError(error="invalid_code").to_dict()
            else:
                rec = self.add_agent()
                status, answer = 201, p.EnrollResponse(agent_id=rec.agent_id, name="Loja",
                                                       token=rec.token).to_dict()
        elif record is None or record.revoked:
            status, answer = 401, {"detail": "invalid token"}
        elif path == p.WHOAMI_PATH:
            status, answer = 200, p.WhoAmI(agent_id=record.agent_id, name="Loja", organization="A").to_dict()
        elif path.startswith(p.API_ROOT + "agent/uploads/"):
            transfer = self.transfers.get(path.rstrip("/").rsplit("/", 1)[-1])
            if transfer is None:
                status, answer = 404, {"detail": "no transfer"}
            elif method == "GET":
                status, answer = 200, self._status(transfer)
            elif method == p.UPLOAD_METHOD:
                status, answer = self._chunk(transfer, headers, body)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})
        await self.notify()

    def _status(self, transfer: Transfer) -> dict:
        return p.UploadStatus(offset=len(transfer.data), size=transfer.size, state=transfer.state).to_dict()

    def _chunk(self, transfer: Transfer, headers: dict, body: bytes) -> tuple[int, dict]:
        """The framed chunks of one streamed request, parsed by the protocol's ChunkReader;
        each chunk is checked and committed in turn, as Central does."""
        offset = int(headers[p.HEADER_OFFSET.lower()])
        if offset != len(transfer.data):
            return p.UPLOAD_OFFSET_MISMATCH, self._status(transfer)
        try:
            chunks = p.ChunkReader().feed(body)
        except p.ChunkTooLarge:
            return p.UPLOAD_TOO_LARGE, {"detail": "too large"}
        transfer.requests.append(offset)
        for digest, data in chunks:
            if hashlib.sha256(data).hexdigest() != digest:
                return p.UPLOAD_CHUNK_CORRUPT, self._status(transfer)
            if transfer.fail_at is not None and offset + len(data) > transfer.fail_at:
                # The connection drops inside this chunk: committed chunks stay, this one is lost.
                transfer.fail_at = None
                return 503, {"detail": "cut"}
            transfer.data += data
            transfer.chunks.append(offset)
            offset += len(data)
        if len(transfer.data) == transfer.size:
            ok = hashlib.sha256(transfer.data).hexdigest() == transfer.sha256
            transfer.state = "complete" if ok else "rejected"
        return p.UPLOAD_OK, self._status(transfer)

    # --- serving ---------------------------------------------------------------------------

    async def start(self, port: int = 0) -> None:
        """Listen at once (the socket is bound here, so no waiting for uvicorn's start-up:
        connections queue in the backlog until it serves)."""
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(64)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self, log_level="warning", ws="websockets-sansio", lifespan="on")
        self.server = uvicorn.Server(config)
        self._task = asyncio.create_task(self.server.serve(sockets=[sock]))

    async def stop(self) -> None:
        assert self.server is not None
        self.server.should_exit = True
        await self._task

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
