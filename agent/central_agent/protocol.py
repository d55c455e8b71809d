"""The site-agent protocol: the ONE definition shared by the agent and Central.

Central (``central.documents``) imports every path, header name, close code, limit and
message type from here; neither side spells these values again. Everything in this module
is pure (no I/O): ``encode``/``decode`` turn messages into WebSocket text frames and back,
and raise :class:`ProtocolError` on anything malformed, so both ends validate the same way.

Overview (``docs/site-agent.md`` has the prose version):

* Enrollment (HTTP): ``POST ENROLL_PATH`` with an :class:`EnrollRequest` JSON body; the
  answer is an :class:`EnrollResponse` carrying the long-lived agent token.
* Every later request carries ``Authorization: Agent <token>`` (:data:`AUTH_SCHEME`).
* The agent opens ONE WebSocket to :data:`WS_PATH`, sends :class:`Hello`; Central answers
  :class:`Welcome` with the index state it holds (``index_id``, ``last_seq``). The agent then
  sends :class:`IndexBatch` messages (one in flight at a time), each acknowledged by
  :class:`IndexAck`. After a reconnect only the changes since ``last_seq`` are sent; if the
  two sides disagree on the index (other ``index_id``, a gap) one of them asks for a full
  resynchronisation (:class:`Resync`, or a batch with ``reset=True``).
* Central asks for a file with :class:`UploadRequest`; the agent uploads it over HTTP(S) to
  ``upload_path(transfer_id)`` (never through the WebSocket) as ONE streamed request whose
  body is a sequence of framed chunks, each carrying its own SHA-256 (:func:`chunk_frame`,
  :class:`ChunkReader`); Central commits each chunk as it arrives, reporting :class:`UploadProgress`; a file changed since indexing is never sent:
  the agent re-indexes it and sends :class:`UploadStale` instead.
* Close codes in 4000-4999 tell the agent whether to reconnect (:func:`close_is_fatal`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import types
import typing
import unicodedata
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Union

PROTOCOL_VERSION = 2
"""Bumped on any incompatible change; Central closes with CLOSE_UNSUPPORTED_VERSION."""

# --- Paths ---------------------------------------------------------------------------------
# Central mounts each capability app's API at /api/v1/<app>/ (central/urls.py); the agent's
# endpoints live in the documents app. ``*_ROUTE`` are the Django route strings relative to
# the app's API root, ``*_PATH`` the absolute paths the agent calls: one definition each.
API_ROOT = "/api/v1/documents/"
ENROLL_ROUTE = "agent/enroll/"
WHOAMI_ROUTE = "agent/whoami/"
UPLOAD_ROUTE = "agent/uploads/<str:transfer_id>/"
ENROLL_PATH = API_ROOT + ENROLL_ROUTE
WHOAMI_PATH = API_ROOT + WHOAMI_ROUTE
WS_ROUTE = "ws/agent/"
WS_PATH = "/" + WS_ROUTE


def upload_path(transfer_id: str) -> str:
    """The absolute path of one transfer's upload endpoint (``UPLOAD_ROUTE`` filled in)."""
    if not _ID_RE.fullmatch(transfer_id):
        raise ProtocolError(f"bad transfer id {transfer_id!r}")
    return API_ROOT + UPLOAD_ROUTE.replace("<str:transfer_id>", transfer_id)


# --- Authentication ------------------------------------------------------------------------
AUTH_HEADER = "Authorization"
AUTH_SCHEME = "Agent"
"""``Authorization: Agent <token>``: a scheme of its own so the JWT authenticator of the
user API (``Bearer``) never mistakes an agent token for a user's."""


def auth_header_value(token: str) -> str:
    return f"{AUTH_SCHEME} {token}"


def parse_auth_header(value: str | None) -> str | None:
    """The token from an ``Authorization`` value, or ``None`` if it is not ``Agent <token>``."""
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != AUTH_SCHEME.lower() or not token or " " in token:
        return None
    return token


# --- Upload (HTTP, streamed framed chunks, resumable) ---------------------------------------
# ``PATCH upload_path(id)`` with ``Upload-Offset`` (where the body starts) and ``Upload-Length``
# (the whole size); the body is the rest of the file as framed chunks, back to back:
#
#     frame = length (8 bytes, big-endian) | SHA-256 of the data (32 bytes) | data (length bytes)
#
# Central verifies each chunk against its digest as it arrives and commits it (the partial
# file and the transfer's offset) before reading on, so the link never idles waiting for a
# per-chunk answer, and a cut connection loses at most the chunk in flight: ``GET
# upload_path(id)`` answers the committed offset (an UploadStatus) to resume from.
UPLOAD_METHOD = "PATCH"
HEADER_OFFSET = "Upload-Offset"
"""Request: where the body's first chunk starts. Response: the next offset Central expects."""
HEADER_LENGTH = "Upload-Length"
"""The whole file's size in bytes (as indexed)."""
CHUNK_CONTENT_TYPE = "application/vnd.central-agent.chunks"
FRAME_HEADER_SIZE = 40
"""8-byte big-endian data length + 32-byte raw SHA-256 of the data."""
CHUNK_SIZE = 16 * 1024 * 1024
"""Data bytes per frame the agent sends. Frames cost nothing on the wire (40 bytes each) and
no round trip; a smaller chunk loses less on a cut, a larger one commits less often."""
MAX_CHUNK_SIZE = 16 * 1024 * 1024
"""Central refuses a frame announcing more (413): what it holds in memory per chunk."""
UPLOAD_ATTEMPTS = 3
"""Attempts per transfer (each resumes from Central's offset), with backoff between them."""

# HTTP answers of the upload endpoint and what the agent does with each (always with an
# UploadStatus body carrying Central's committed offset, except 401/410/413):
UPLOAD_OK = 200  # state tells receiving (continue at offset) / complete / rejected
UPLOAD_OFFSET_MISMATCH = 409  # the body did not start at Central's offset: continue from there
UPLOAD_CHUNK_CORRUPT = 422  # a chunk's SHA-256 differs: resend from the offset (an attempt)
UPLOAD_GONE = 410  # the transfer was cancelled or expired: stop, do not retry
UPLOAD_TOO_LARGE = 413
UPLOAD_BAD_FRAME = 400  # a malformed frame or a body ending inside one


def chunk_frame(data: bytes, digest: bytes) -> bytes:
    """The 40-byte header that precedes ``data`` in the body (``digest``: raw SHA-256)."""
    if len(digest) != 32 or not 0 < len(data) <= MAX_CHUNK_SIZE:
        raise ProtocolError("bad chunk frame")
    return len(data).to_bytes(8, "big") + digest


class ChunkReader:
    """Sans-I/O parser of an upload body: :meth:`feed` it the bytes as they arrive; it
    returns the chunks completed so far as ``(hex SHA-256 announced, data)``.

    Memory is bounded: at most one frame (``max_chunk`` + header) is buffered, and a frame
    announcing more than ``max_chunk`` (or nothing) raises :class:`ProtocolError` before any
    of its data is kept. The digest is only announced here: the receiver checks it."""

    def __init__(self, max_chunk: int = MAX_CHUNK_SIZE) -> None:
        self.max_chunk = max_chunk
        self._buf = bytearray()
        self._need: int | None = None  # data length of the frame being read
        self._digest = ""

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        self._buf += data
        done: list[tuple[str, bytes]] = []
        while True:
            if self._need is None:
                if len(self._buf) < FRAME_HEADER_SIZE:
                    return done
                length = int.from_bytes(self._buf[:8], "big")
                if length > self.max_chunk:
                    raise ChunkTooLarge(f"chunk of {length} bytes (limit {self.max_chunk})")
                if length == 0:
                    raise ProtocolError("empty chunk")
                self._need, self._digest = length, bytes(self._buf[8:FRAME_HEADER_SIZE]).hex()
                del self._buf[:FRAME_HEADER_SIZE]
            if len(self._buf) < self._need:
                return done
            done.append((self._digest, bytes(self._buf[:self._need])))
            del self._buf[:self._need]
            self._need = None

    @property
    def at_boundary(self) -> bool:
        """True when no frame is half read (a body may only end here)."""
        return self._need is None and not self._buf

UploadState = Literal["receiving", "complete", "rejected"]
UPLOAD_STATES: tuple[str, ...] = typing.get_args(UploadState)
"""``complete``: all bytes received and the whole file's SHA-256 equals the indexed one.
``rejected``: all bytes received but the SHA-256 differs (tampered or changed file)."""

# --- WebSocket close codes -----------------------------------------------------------------
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_SERVICE_RESTART = 1012
CLOSE_TOKEN_INVALID = 4001
"""Unknown or revoked token: the agent stops with a clear message (no retrying forever)."""
CLOSE_PROTOCOL_ERROR = 4002
"""A malformed or unexpected message: the agent reconnects (a full resync follows)."""
CLOSE_UNSUPPORTED_VERSION = 4003
"""Central does not speak this agent's PROTOCOL_VERSION: stop, the agent must be upgraded."""
CLOSE_REPLACED = 4004
"""Another connection with the same token took over: stop, two processes share one token."""
CLOSE_HELLO_TIMEOUT = 4005
"""No Hello within HELLO_TIMEOUT seconds: reconnect."""

FATAL_CLOSE_CODES: dict[int, str] = {
    CLOSE_TOKEN_INVALID: "the agent token is invalid or was revoked; enroll again with a new code",
    CLOSE_UNSUPPORTED_VERSION: "Central does not support this agent version; upgrade central-agent",
    CLOSE_REPLACED: "another agent process connected with the same token; only one may run",
}


def close_is_fatal(code: int | None) -> bool:
    """Whether the agent must stop (not reconnect) after a close with this code."""
    return code in FATAL_CLOSE_CODES


def close_reason(code: int | None) -> str:
    """A human message for a close code (for the agent's log and ``status``)."""
    if code in FATAL_CLOSE_CODES:
        return FATAL_CLOSE_CODES[code]
    return {
        CLOSE_NORMAL: "closed normally",
        CLOSE_GOING_AWAY: "server going away",
        CLOSE_SERVICE_RESTART: "server restarting",
        CLOSE_PROTOCOL_ERROR: "protocol error",
        CLOSE_HELLO_TIMEOUT: "no hello in time",
    }.get(code or 0, f"connection closed (code {code})")


# --- Timings and limits --------------------------------------------------------------------
HEARTBEAT_INTERVAL = 30.0
"""Default seconds between Heartbeat messages (the agent's ``heartbeat`` setting overrides
it and announces its value in Hello so Central can tell when it is late)."""
OFFLINE_AFTER_MISSED = 3
"""Central marks an agent offline after this many heartbeat intervals without a message."""
HELLO_TIMEOUT = 10.0
MAX_MESSAGE_BYTES = 1024 * 1024
"""Largest WebSocket text frame either side sends; batches are split to stay below it."""
MAX_BATCH_CHANGES = 500
MAX_PATH_CHARS = 1024
MAX_TEXT_CHARS = 1000  # titles, authors, error details: longer values are cut by the agent

# --- Index entries -------------------------------------------------------------------------
ChangeOp = Literal["added", "modified", "renamed", "deleted"]
CHANGE_OPS: tuple[str, ...] = typing.get_args(ChangeOp)

EntryError = Literal["empty", "not_pdf", "encrypted", "broken_pdf"]
ENTRY_ERRORS: tuple[str, ...] = typing.get_args(EntryError)
"""A file indexed with a reason: it is listed (with its SHA-256) but has no usable metadata."""
SkipReason = Literal["unreadable", "symlink_loop", "not_regular", "vanished", "bad_name"]
SKIP_REASONS: tuple[str, ...] = typing.get_args(SkipReason)
"""A file not indexed at all; counted per reason in FolderStats and logged by the agent."""

UploadErrorCode = Literal["not_found", "unreadable", "attempts_exhausted", "gone", "unauthorized"]
UPLOAD_ERROR_CODES: tuple[str, ...] = typing.get_args(UploadErrorCode)
StaleReason = Literal["modified", "deleted"]
STALE_REASONS: tuple[str, ...] = typing.get_args(StaleReason)

EnrollErrorCode = Literal["invalid_code", "expired_code"]
ENROLL_ERRORS: tuple[str, ...] = typing.get_args(EnrollErrorCode)

ResyncReason = Literal["index_mismatch", "seq_gap", "server_reset"]
RESYNC_REASONS: tuple[str, ...] = typing.get_args(ResyncReason)

WatchMode = Literal["native", "polling"]

_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")


class ProtocolError(ValueError):
    """A message or value that does not follow this protocol."""


class ChunkTooLarge(ProtocolError):
    """An upload frame announced more than MAX_CHUNK_SIZE (answered UPLOAD_TOO_LARGE)."""


def normalize_path(path: str) -> str:
    """The wire form of a path inside a watched folder: relative, ``/``-separated, NFC.

    NFC because macOS and some SMB shares hand out decomposed names (``Relato\u0301rio``)
    while Windows and Linux usually hold the composed ones; one form keeps the identity of a
    document stable across both.
    """
    return unicodedata.normalize("NFC", path.replace("\\", "/"))


def check_path(path: str) -> str:
    """Validate a wire path (relative, no ``..``, no empty part, NFC); returns it."""
    if not path or len(path) > MAX_PATH_CHARS or "\x00" in path or "\\" in path:
        raise ProtocolError(f"bad path {path!r}")
    if path.startswith("/") or re.match(r"[A-Za-z]:", path):
        raise ProtocolError(f"absolute path {path!r}")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ProtocolError(f"bad path {path!r}")
    if unicodedata.normalize("NFC", path) != path:
        raise ProtocolError(f"path not in NFC {path!r}")
    return path


# --- Message base and validation -----------------------------------------------------------


class _Record:
    """Base of every wire record: dataclass fields are validated from their type hints."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _dump(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ProtocolError(f"{cls.__name__}: expected an object")
        hints = typing.get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        names = set()
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if not f.init:
                continue
            names.add(f.name)
            if f.name in data:
                kwargs[f.name] = _load(hints[f.name], data[f.name], f"{cls.__name__}.{f.name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ProtocolError(f"{cls.__name__}: missing field {f.name!r}")
        # Unknown fields are ignored so a newer peer may add optional ones within a version.
        obj = cls(**kwargs)
        obj.validate()
        return obj

    def validate(self) -> None:
        """Checks beyond types (ranges, formats); raises ProtocolError."""


def _dump(value: Any) -> Any:
    if isinstance(value, _Record):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


def _load(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _load(option, value, where)
            except ProtocolError as exc:
                errors.append(str(exc))
        raise ProtocolError("; ".join(errors) or f"{where}: unexpected null")
    if origin is Literal:
        if value not in typing.get_args(hint):
            raise ProtocolError(f"{where}: {value!r} is not one of {typing.get_args(hint)}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ProtocolError(f"{where}: expected a list")
        (item,) = typing.get_args(hint)
        return [_load(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ProtocolError(f"{where}: expected an object")
        key_t, val_t = typing.get_args(hint)
        return {_load(key_t, k, where): _load(val_t, v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(hint, type) and issubclass(hint, _Record):
        return hint.from_dict(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ProtocolError(f"{where}: expected true/false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProtocolError(f"{where}: expected an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ProtocolError(f"{where}: expected a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ProtocolError(f"{where}: expected a string")
        return value
    if hint is Any:
        return value
    raise TypeError(f"unsupported hint {hint!r} at {where}")  # a bug in this module


def _nonneg(name: str, value: int | float | None) -> None:
    if value is not None and value < 0:
        raise ProtocolError(f"{name} must not be negative")


def _check_id(name: str, value: str) -> None:
    if not _ID_RE.fullmatch(value):
        raise ProtocolError(f"bad {name} {value!r}")


def _check_sha(name: str, value: str | None) -> None:
    if value is not None and not _SHA256_RE.fullmatch(value):
        raise ProtocolError(f"{name} must be 64 lower-case hex digits")


# --- Records that travel inside messages ---------------------------------------------------


@dataclass(frozen=True)
class Entry(_Record):
    """What the agent knows about one file: the index row Central stores.

    ``sha256`` is ``None`` only when the file could not be read to the end (then ``error``
    says why). ``error`` set means indexed-with-a-reason: listed, not usable as a PDF.
    ``created`` is the PDF's creation date as ISO 8601 (``None`` when absent/unparseable).
    """

    size: int
    mtime: float
    sha256: str | None
    title: str | None = None
    author: str | None = None
    pages: int | None = None
    created: str | None = None
    error: EntryError | None = None
    detail: str | None = None

    def validate(self) -> None:
        _nonneg("size", self.size)
        _nonneg("pages", self.pages)
        _check_sha("sha256", self.sha256)
        if self.sha256 is None and self.error is None:
            raise ProtocolError("an entry without sha256 must carry an error")


@dataclass(frozen=True)
class Change(_Record):
    """One index change. ``entry`` is required except for ``deleted``; ``old_path`` only and
    always for ``renamed``."""

    op: ChangeOp
    folder: str
    path: str
    entry: Entry | None = None
    old_path: str | None = None

    def validate(self) -> None:
        _check_id("folder", self.folder)
        check_path(self.path)
        if self.op == "deleted":
            if self.entry is not None or self.old_path is not None:
                raise ProtocolError("deleted carries neither entry nor old_path")
        elif self.entry is None:
            raise ProtocolError(f"{self.op} needs an entry")
        if self.op == "renamed":
            if self.old_path is None:
                raise ProtocolError("renamed needs old_path")
            check_path(self.old_path)
        elif self.old_path is not None:
            raise ProtocolError("old_path only for renamed")


@dataclass(frozen=True)
class FolderStats(_Record):
    """One watched folder as the agent sees it (Hello and Heartbeat)."""

    folder: str
    path: str  # the local path, shown to operators as is (not a wire path)
    files: int
    bytes: int
    errors: int = 0  # files indexed with an EntryError
    skipped: dict[str, int] = field(default_factory=dict)  # SkipReason -> count
    readable: bool = True
    watch: WatchMode = "native"

    def validate(self) -> None:
        _check_id("folder", self.folder)
        for name in ("files", "bytes", "errors"):
            _nonneg(name, getattr(self, name))
        for reason, count in self.skipped.items():
            if reason not in SKIP_REASONS:
                raise ProtocolError(f"unknown skip reason {reason!r}")
            _nonneg("skipped", count)


@dataclass(frozen=True)
class UploadStatus(_Record):
    """Body of the upload endpoint's answers (GET and PATCH): Central's view of a transfer."""

    offset: int
    size: int
    state: UploadState
    detail: str | None = None

    def validate(self) -> None:
        _nonneg("offset", self.offset)
        _nonneg("size", self.size)
        if self.offset > self.size:
            raise ProtocolError("offset beyond size")


@dataclass(frozen=True)
class EnrollRequest(_Record):
    """``POST ENROLL_PATH`` body: the one-time code from the dashboard and who is asking."""

    code: str
    hostname: str
    os: str
    version: str
    protocol: int = PROTOCOL_VERSION

    def validate(self) -> None:
        if not self.code.strip() or len(self.code) > 200:
            raise ProtocolError("bad enrollment code")


@dataclass(frozen=True)
class EnrollResponse(_Record):
    """201 answer to an enrollment: the long-lived token (shown once, stored 0600)."""

    agent_id: str
    name: str
    token: str

    def validate(self) -> None:
        _check_id("agent_id", self.agent_id)
        if not self.token or " " in self.token:
            raise ProtocolError("bad token")


@dataclass(frozen=True)
class EnrollError(_Record):
    """400 answer to an enrollment (unknown, used or expired code)."""

    error: EnrollErrorCode
    detail: str | None = None


@dataclass(frozen=True)
class WhoAmI(_Record):
    """``GET WHOAMI_PATH`` answer (``central-agent check``); 401 when the token is invalid."""

    agent_id: str
    name: str
    organization: str


# --- WebSocket messages --------------------------------------------------------------------


@dataclass(frozen=True)
class Message(_Record):
    """Base of WebSocket messages; ``TYPE`` is the ``"type"`` field on the wire."""

    TYPE: ClassVar[str] = ""


# Agent -> Central


@dataclass(frozen=True)
class Hello(Message):
    """First message after connecting: who the agent is and what it watches."""

    TYPE: ClassVar[str] = "hello"
    protocol: int
    version: str
    os: str
    hostname: str
    ips: list[str]
    folders: list[FolderStats]
    heartbeat: float = HEARTBEAT_INTERVAL
    started_at: float | None = None  # unix time the agent process started (for uptime)

    def validate(self) -> None:
        if self.heartbeat <= 0:
            raise ProtocolError("heartbeat must be positive")


@dataclass(frozen=True)
class Heartbeat(Message):
    """Every ``heartbeat`` seconds; carries fresh counters so the monitor stays current."""

    TYPE: ClassVar[str] = "heartbeat"
    uptime: float
    folders: list[FolderStats]
    pending_changes: int = 0
    active_uploads: int = 0
    last_error: str | None = None


@dataclass(frozen=True)
class IndexBatch(Message):
    """A batch of changes. ``seq`` is consecutive per ``index_id`` (the agent's local index
    database identity), starting at 1. ``reset=True``: forget everything you hold for this
    agent, then apply (the first batch of a full resynchronisation)."""

    TYPE: ClassVar[str] = "index_batch"
    index_id: str
    seq: int
    changes: list[Change]
    reset: bool = False

    def validate(self) -> None:
        _check_id("index_id", self.index_id)
        if self.seq < 1:
            raise ProtocolError("seq starts at 1")
        if len(self.changes) > MAX_BATCH_CHANGES:
            raise ProtocolError("too many changes in one batch")


@dataclass(frozen=True)
class UploadProgress(Message):
    TYPE: ClassVar[str] = "upload_progress"
    transfer_id: str
    offset: int
    size: int
    attempt: int = 1

    def validate(self) -> None:
        _check_id("transfer_id", self.transfer_id)
        _nonneg("offset", self.offset)


@dataclass(frozen=True)
class UploadError(Message):
    """The agent gave up on a transfer (file gone, unreadable, attempts exhausted...)."""

    TYPE: ClassVar[str] = "upload_error"
    transfer_id: str
    code: UploadErrorCode
    detail: str | None = None

    def validate(self) -> None:
        _check_id("transfer_id", self.transfer_id)


@dataclass(frozen=True)
class UploadStale(Message):
    """The requested file changed (or vanished) since it was indexed: not uploaded. The new
    state was sent in an IndexBatch just before; ``sha256`` is the new digest (``None`` if
    deleted), so Central may request it again."""

    TYPE: ClassVar[str] = "upload_stale"
    transfer_id: str
    folder: str
    path: str
    reason: StaleReason
    sha256: str | None = None

    def validate(self) -> None:
        _check_id("transfer_id", self.transfer_id)
        _check_id("folder", self.folder)
        check_path(self.path)
        _check_sha("sha256", self.sha256)


# Central -> agent


@dataclass(frozen=True)
class Welcome(Message):
    """Answer to Hello: the index state Central holds for this agent. ``index_id`` is
    ``None`` when Central has nothing; then the agent sends everything with ``reset``."""

    TYPE: ClassVar[str] = "welcome"
    agent_id: str
    name: str
    index_id: str | None
    last_seq: int
    server_time: float | None = None

    def validate(self) -> None:
        _check_id("agent_id", self.agent_id)
        if self.index_id is not None:
            _check_id("index_id", self.index_id)
        _nonneg("last_seq", self.last_seq)


@dataclass(frozen=True)
class IndexAck(Message):
    """Central applied (durably) the batch with this ``seq``. A repeated batch (seq already
    applied) is acknowledged again without applying it twice."""

    TYPE: ClassVar[str] = "index_ack"
    index_id: str
    seq: int


@dataclass(frozen=True)
class Resync(Message):
    """Central cannot apply what it got (another index_id, a gap in seq): the agent sends
    its whole index again, the first batch with ``reset=True``."""

    TYPE: ClassVar[str] = "resync"
    reason: ResyncReason
    detail: str | None = None


@dataclass(frozen=True)
class UploadRequest(Message):
    """Send this file to ``upload_path(transfer_id)``. ``sha256``/``size`` are what Central
    has indexed; if the file no longer matches, the agent answers UploadStale."""

    TYPE: ClassVar[str] = "upload_request"
    transfer_id: str
    folder: str
    path: str
    sha256: str
    size: int

    def validate(self) -> None:
        _check_id("transfer_id", self.transfer_id)
        _check_id("folder", self.folder)
        check_path(self.path)
        _check_sha("sha256", self.sha256)
        _nonneg("size", self.size)


@dataclass(frozen=True)
class UploadCancel(Message):
    TYPE: ClassVar[str] = "upload_cancel"
    transfer_id: str


@dataclass(frozen=True)
class Error(Message):
    """Either side: something went wrong that is not worth closing for (logged, shown)."""

    TYPE: ClassVar[str] = "error"
    code: str
    detail: str | None = None


AGENT_MESSAGES: tuple[type[Message], ...] = (
    Hello, Heartbeat, IndexBatch, UploadProgress, UploadError, UploadStale, Error,
)
CENTRAL_MESSAGES: tuple[type[Message], ...] = (
    Welcome, IndexAck, Resync, UploadRequest, UploadCancel, Error,
)
MESSAGE_TYPES: dict[str, type[Message]] = {m.TYPE: m for m in AGENT_MESSAGES + CENTRAL_MESSAGES}


def encode(message: Message) -> str:
    """A message as one WebSocket text frame (compact JSON, UTF-8 names kept as is)."""
    message.validate()
    data = {"type": message.TYPE, **message.to_dict()}
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if len(text.encode()) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"{message.TYPE} message larger than {MAX_MESSAGE_BYTES} bytes")
    return text


def decode(text: str | bytes, allowed: tuple[type[Message], ...] | None = None) -> Message:
    """Parse and validate one frame. ``allowed``: the message types this side may receive
    (``CENTRAL_MESSAGES`` on the agent, ``AGENT_MESSAGES`` on Central)."""
    if isinstance(text, bytes):
        if len(text) > MAX_MESSAGE_BYTES:
            raise ProtocolError("message too large")
        try:
            text = text.decode()
        except UnicodeDecodeError as exc:
            raise ProtocolError("message is not UTF-8") from exc
    if len(text) > MAX_MESSAGE_BYTES:
        raise ProtocolError("message too large")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ProtocolError("a message is an object with a string 'type'")
    cls = MESSAGE_TYPES.get(data["type"])
    if cls is None or (allowed is not None and cls not in allowed):
        raise ProtocolError(f"unexpected message type {data['type']!r}")
    body = {k: v for k, v in data.items() if k != "type"}
    return cls.from_dict(body)


def split_changes(changes: list[Change], limit: int = MAX_BATCH_CHANGES) -> list[list[Change]]:
    """Cut a change list into batch-sized pieces that also fit MAX_MESSAGE_BYTES."""
    pieces: list[list[Change]] = []
    current: list[Change] = []
    size = 0
    budget = MAX_MESSAGE_BYTES - 4096  # room for the envelope
    for change in changes:
        cost = len(json.dumps(change.to_dict(), ensure_ascii=False).encode()) + 1
        if current and (len(current) >= limit or size + cost > budget):
            pieces.append(current)
            current, size = [], 0
        current.append(change)
        size += cost
    if current:
        pieces.append(current)
    return pieces
