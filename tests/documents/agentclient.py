"""A minimal site agent for Central's side of the tests, built only on the shared protocol
module (``central_agent.protocol``): enroll, one WebSocket, index batches, chunked uploads.

The full agent process is tested in tests/agent/; this client lets a test choose every
byte (tampered chunks, a cut at half, two agents at once) and wait on exact messages.
"""

from __future__ import annotations

import hashlib
import socket
import time
from dataclasses import dataclass, field

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from central_agent import protocol as P

TIMEOUT = 20.0


def enroll(base_url: str, code: str, hostname: str = "site-1") -> P.EnrollResponse:
    body = P.EnrollRequest(code=code, hostname=hostname, os="Linux", version="test").to_dict()
    response = httpx.post(base_url + P.ENROLL_PATH, json=body, timeout=TIMEOUT)
    assert response.status_code == 201, response.text
    return P.EnrollResponse.from_dict(response.json())


def entry(data: bytes, **meta) -> P.Entry:
    return P.Entry(size=len(data), mtime=time.time(), sha256=hashlib.sha256(data).hexdigest(), **meta)


@dataclass
class SiteAgent:
    """One agent connection. ``files`` maps (folder, path) to the bytes it would upload."""

    base_url: str
    token: str
    index_id: str = "idx-test"
    seq: int = 0
    files: dict[tuple[str, str], bytes] = field(default_factory=dict)
    received: list[P.Message] = field(default_factory=list)
    ws: object = None
    welcome: P.Welcome | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {P.AUTH_HEADER: P.auth_header_value(self.token)}

    def connect(self, heartbeat: float = P.HEARTBEAT_INTERVAL) -> P.Welcome:
        ws_url = self.base_url.replace("http://", "ws://") + P.WS_PATH
        self.ws = connect(ws_url, additional_headers=self.headers, open_timeout=TIMEOUT)
        hello = P.Hello(protocol=P.PROTOCOL_VERSION, version="test-1", os="Linux", hostname="site-1",
                        ips=["192.168.0.10"], heartbeat=heartbeat, started_at=time.time() - 60,
                        folders=[P.FolderStats(folder="docs", path="/srv/docs", files=len(self.files), bytes=0)])
        self.ws.send(P.encode(hello))
        self.welcome = self.expect(P.Welcome)
        return self.welcome

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
            self.ws = None

    def recv(self, timeout: float = TIMEOUT) -> P.Message:
        message = P.decode(self.ws.recv(timeout=timeout), P.CENTRAL_MESSAGES)
        self.received.append(message)
        return message

    def expect(self, kind: type[P.Message], timeout: float = TIMEOUT, **match) -> P.Message:
        """The next message of ``kind`` (matching ``match``); others are kept in ``received``."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no {kind.__name__} {match} in {timeout}s; got {self.received}"
            message = self.recv(left)
            if isinstance(message, kind) and all(getattr(message, k) == v for k, v in match.items()):
                return message

    def closed_code(self, timeout: float = TIMEOUT) -> int | None:
        """Read until the server closes; the close code."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.ws.recv(timeout=deadline - time.monotonic())
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None
        raise AssertionError("the server did not close the socket")

    def add(self, path: str, data: bytes, folder: str = "docs", **meta) -> P.Change:
        self.files[(folder, path)] = data
        return P.Change(op="added", folder=folder, path=path, entry=entry(data, **meta))

    def send_batch(self, changes: list[P.Change], *, reset: bool = False, seq: int | None = None) -> P.Message:
        """Send a batch and return Central's answer to it (IndexAck or Resync)."""
        if seq is None:
            self.seq += 1
            seq = self.seq
        self.ws.send(P.encode(P.IndexBatch(index_id=self.index_id, seq=seq, changes=changes, reset=reset)))
        while True:
            message = self.recv()
            if isinstance(message, P.IndexAck) and message.seq == seq or isinstance(message, P.Resync):
                return message

    # --- uploads ---------------------------------------------------------------------------

    def upload_url(self, transfer_id: str) -> str:
        return self.base_url + P.upload_path(transfer_id)

    def status(self, transfer_id: str) -> httpx.Response:
        return httpx.get(self.upload_url(transfer_id), headers=self.headers, timeout=TIMEOUT)

    @staticmethod
    def frames(chunks: list[bytes], checksums: list[str | None] | None = None) -> bytes:
        """The upload body: each chunk framed with its SHA-256 (or the hex digest given)."""
        checksums = checksums or [None] * len(chunks)
        return b"".join(P.chunk_frame(c, bytes.fromhex(d) if d else hashlib.sha256(c).digest()) + c
                        for c, d in zip(chunks, checksums, strict=True))

    def _upload_headers(self, offset: int, total: int) -> dict[str, str]:
        return {**self.headers, P.HEADER_OFFSET: str(offset), P.HEADER_LENGTH: str(total),
                "Content-Type": P.CHUNK_CONTENT_TYPE}

    def put_chunks(self, transfer_id: str, offset: int, chunks: list[bytes], total: int,
                   checksums: list[str | None] | None = None) -> httpx.Response:
        """One streamed upload request carrying ``chunks`` from ``offset``."""
        return httpx.request(P.UPLOAD_METHOD, self.upload_url(transfer_id), content=self.frames(chunks, checksums),
                             headers=self._upload_headers(offset, total), timeout=TIMEOUT)

    def put_chunk(self, transfer_id: str, offset: int, chunk: bytes, total: int,
                  checksum: str | None = None) -> httpx.Response:
        return self.put_chunks(transfer_id, offset, [chunk], total, [checksum])

    def cut_upload(self, transfer_id: str, offset: int, chunks: list[bytes], total: int) -> None:
        """A request announcing the whole rest of the file that carries ``chunks`` and half of
        one more frame, then the connection drops (a raw socket closed mid-body)."""
        body = self.frames(chunks)
        rest = total - offset
        announced = rest + P.FRAME_HEADER_SIZE * (len(chunks) + 1)
        partial = self.frames([b"z" * 1000])[: P.FRAME_HEADER_SIZE + 500]
        url = httpx.URL(self.upload_url(transfer_id))
        head = [f"{P.UPLOAD_METHOD} {url.raw_path.decode()} HTTP/1.1", f"Host: {url.host}:{url.port}",
                f"Content-Length: {announced}"]
        head += [f"{k}: {v}" for k, v in self._upload_headers(offset, total).items()]
        with socket.create_connection((url.host, url.port), timeout=TIMEOUT) as sock:
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body + partial)

    def upload(self, request: P.UploadRequest, data: bytes | None = None, chunk_size: int = 64 * 1024,
               stop_at: int | None = None) -> httpx.Response | None:
        """Upload from Central's offset: one request with the rest in ``chunk_size`` frames
        (``stop_at``: the connection drops after the chunks up to there)."""
        data = self.files[(request.folder, request.path)] if data is None else data
        offset = P.UploadStatus.from_dict(self.status(request.transfer_id).json()).offset
        end = len(data) if stop_at is None else stop_at
        chunks = [data[i:min(i + chunk_size, end)] for i in range(offset, end, chunk_size)]
        if stop_at is not None:
            self.cut_upload(request.transfer_id, offset, chunks, len(data))
            return None
        response = self.put_chunks(request.transfer_id, offset, chunks, len(data))
        assert response.status_code == P.UPLOAD_OK, response.text
        return response
