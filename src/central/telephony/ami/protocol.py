"""Sans-I/O codec for the Asterisk Manager Interface (AMI).

Bytes in, :class:`Message` objects out (:meth:`AMIParser.receive_data`); messages in,
bytes out (:func:`encode_message`, :func:`encode_action`). No socket, no clock, no
asyncio: the asyncio client (``central.telephony.ami.client``), the PBX simulator and
the benchmarks all drive the same object. The shape follows ``h11/_connection.py``.

The wire format, as captured from Asterisk 22.10.1 in ``tests/fixtures/asterisk/``:

* On connect the server sends ONE banner line ``Asterisk Call Manager/11.0.0\\r\\n``
  with no blank line after it (every ``ami-event-stream-*.txt`` starts with it).
* A message is a run of ``Key: Value\\r\\n`` lines closed by an empty ``\\r\\n`` line.
  There is no length prefix; the blank line is the only framing, which is also what
  lets the parser resynchronise after garbage.
* The first line names the kind: ``Response:`` (answer to an action), ``Event:``.
  Actions sent by a client start with ``Action:`` by convention, but Asterisk accepts
  the ``Action`` header anywhere, so the server side looks it up.
* Keys repeat: ``Output:`` once per line of CLI output (``ami-login-and-actions.txt``,
  Command ``core show version``), ``Variable:`` / ``ChanVariable`` per variable
  (``ami-core-show-channels.txt``). :class:`Message` keeps every pair in order.
* A value may itself contain ``": "``: the Filter action in ``ami-login-and-actions.txt``
  sends ``Filter: Event: OriginateResponse``. Only the first ``": "`` separates.
* ``Response: Follows`` is the pre-Asterisk-14 form of Command output: headers, then
  raw CLI text lines ending in ``\\n``, then ``--END COMMAND--\\r\\n\\r\\n``.
  Asterisk 22 never sends it (the fixture shows ``Response: Success`` with ``Output:``
  lines), but Asterisk 13 does, so the parser still accepts it and turns each body
  line into an ``Output`` pair: callers read ``msg.getall("Output")`` on both versions.
* Text is UTF-8 (caller names such as "João"). The parser only decodes whole messages:
  the terminator bytes ``\\r\\n\\r\\n`` are ASCII and never occur inside a multi-byte
  sequence, so a character split across two reads is always reassembled first.

Errors: there is ONE exception type, :class:`ProtocolError`, with a ``kind`` code (for
metrics labels) and a message naming the problem. Recovery is documented on
:meth:`AMIParser.receive_data`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Literal

__all__ = [
    "MAX_LINE_BYTES",
    "MAX_MESSAGE_BYTES",
    "MAX_ACTION_LINE_BYTES",
    "AMIParser",
    "Message",
    "ProtocolError",
    "encode_action",
    "encode_message",
]

# Limits. AMI has no length prefix, so without a cap a peer that never sends the blank
# line (or sends a 10 MB line) would make us buffer forever.
#
# MAX_LINE_BYTES: Asterisk builds outgoing events with a growable ast_str and has no
# line limit of its own; the longest legitimate lines are channel variable dumps and
# CLI ``Output:`` lines, a few hundred bytes in every fixture. 64 KiB is 100x that and
# is what asyncio's StreamReader uses as its default line limit.
MAX_LINE_BYTES = 64 * 1024
# MAX_MESSAGE_BYTES: the largest single message is Command output, which is ONE
# response with one ``Output:`` line per CLI line: ``core show hints`` on a 10,000
# extension PBX is ~10,000 x 100 bytes = 1 MB. 4 MiB leaves room while bounding memory.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
# Server side (parsing actions, as the simulator does): Asterisk itself reads action
# lines into ``char inbuf[1025]`` (main/manager.c, struct mansession_session) and
# rejects longer ones, so a client that works against Asterisk never exceeds 1 KiB.
MAX_ACTION_LINE_BYTES = 1024

_BANNER_PREFIX = b"Asterisk Call Manager/"
# Longest banner we wait for before deciding the peer is not an AMI server.
_MAX_BANNER_BYTES = 256
# Line-start marker used by the parser's fast path (never valid in AMI text).
_MARK = "\x00"
_FOLLOWS_HEAD = b"Response: Follows\r\n"
_END_COMMAND = b"--END COMMAND--\r\n\r\n"

Kind = Literal["response", "event", "action"]

_KIND_BY_KEY: dict[str, Kind] = {"Response": "response", "Event": "event", "Action": "action"}


class ProtocolError(Exception):
    """The peer sent bytes that are not AMI (or we were asked to send such bytes).

    ``kind`` is a short stable code, used as a metrics label: ``bad_banner``,
    ``line_too_long``, ``message_too_long``, ``bad_header``, ``no_kind``,
    ``bad_field`` (encoding side) and ``closed``.
    ``messages`` holds the good messages decoded in the same ``receive_data`` call
    (before and after the bad part) so that nothing valid is lost.
    """

    def __init__(self, msg: str, kind: str = "protocol") -> None:
        super().__init__(msg)
        self.kind = kind
        self.messages: list[Message] = []
        self.errors: list[ProtocolError] = [self]


class Message:
    """One AMI message: ordered (key, value) pairs plus its kind and name.

    ``msg["Key"]`` and ``msg.get("Key")`` return the FIRST value of a key (lookups
    are case-sensitive first, then case-insensitive, because Asterisk spells some
    keys differently across modules, e.g. ``Uniqueid``/``UniqueID``).
    ``msg.getall("Variable")`` returns every value of a repeated key; ``msg.pairs``
    all pairs in wire order.
    """

    # _flat is [key0, value0, key1, value1, ...] with EVERY key prefixed by _MARK (the
    # parser's fast path produces the marker at each line start, see
    # AMIParser._parse_chunk). One list per message instead of one tuple per line keeps
    # parsing fast and the garbage collector idle (a call emits ~170 events of ~17
    # lines each); lookups add the marker to the key instead of stripping it from all.
    __slots__ = ("kind", "name", "_flat", "_first", "_lower")

    def __init__(
        self,
        pairs: Iterable[tuple[str, str]] | Iterable[list[str]],
        kind: Kind | None = None,
        name: str | None = None,
    ) -> None:
        flat: list[str] = []
        for key, value in pairs:
            flat.append(_MARK + key)
            flat.append(value)
        self._flat = flat
        self._first: dict[str, str] | None = None
        self._lower: dict[str, str] | None = None
        if kind is None:
            kind, name = _classify(self.pairs, self.to_dict())
            if kind is None:
                raise ProtocolError(
                    "message has no Event, Response or Action header: "
                    + _preview(flat[0][1:] if flat else ""),
                    "no_kind",
                )
        self.kind: Kind = kind
        self.name: str = name if name is not None else ""

    @classmethod
    def _fast(cls, flat: list[str], kind: Kind, name: str) -> Message:
        # The parser inlines this; ``flat`` must be validated and marked. The two
        # indexes are built on first lookup.
        m = cls.__new__(cls)
        m._flat = flat
        m._first = m._lower = None
        m.kind = kind
        m.name = name
        return m

    def _keys(self) -> list[str]:
        return [k[1:] for k in self._flat[::2]]

    def _index(self) -> dict[str, str]:
        # Built on demand only (keys(), "in"): single lookups scan ``_flat`` instead,
        # which beats building a dict for the few fields a consumer reads per event.
        # Built from the reversed pairs so that the FIRST value of a repeated key wins.
        d = self._first
        if d is None:
            f = self._flat
            d = self._first = dict(zip(f[-2::-2], f[-1::-2]))  # noqa: B905 (same length)
        return d

    def _lower_index(self) -> dict[str, str]:
        # Case-insensitive fallback, built on the first miss only (C-level build).
        d = self._lower
        if d is None:
            f = self._flat
            d = self._lower = dict(zip(map(str.lower, f[-2::-2]), f[-1::-2]))  # noqa: B905
        return d

    def _find(self, marked: str) -> int:
        # Index of the value of the first key equal to ``marked``, or -1. Keys sit at
        # even positions; a value never starts with _MARK when it came from the parser,
        # but a hand-built one might, hence the parity check.
        f = self._flat
        start = 0
        while True:
            try:
                i = f.index(marked, start)
            except ValueError:
                return -1
            if not i & 1:
                return i + 1
            start = i + 1

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """All (key, value) pairs in wire order, repeated keys included."""
        return list(zip(self._keys(), self._flat[1::2]))  # noqa: B905

    # -- mapping-like access ---------------------------------------------------------
    def __getitem__(self, key: str) -> str:
        i = self._find(_MARK + key)
        if i >= 0:
            return self._flat[i]
        return self._lower_index()[_MARK + key.lower()]

    def get(self, key: str, default: str | None = None) -> str | None:
        f = self._flat
        try:
            i = f.index(_MARK + key)  # the hot path of every consumer: no extra call
        except ValueError:
            return self._lower_index().get(_MARK + key.lower(), default)
        if i & 1:
            i = self._find(_MARK + key) - 1
            if i < 0:
                return self._lower_index().get(_MARK + key.lower(), default)
        return f[i + 1]

    def get_exact(self, key: str, default: str | None = None, within: int | None = None) -> str | None:
        """Like ``get`` without the case-insensitive fallback, optionally looking only
        at the first ``within`` headers: for hot paths reading a key whose spelling
        and place are fixed (``Timestamp`` is the third header when present), so a
        miss stays cheap."""
        f = self._flat
        try:
            i = f.index(_MARK + key, 0, len(f) if within is None else 2 * within)
        except ValueError:
            return default
        return f[i + 1] if not i & 1 else self.get(key, default)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        return self._find(_MARK + key) >= 0 or _MARK + key.lower() in self._lower_index()

    def getall(self, key: str) -> list[str]:
        """Every value of ``key`` in order (``Variable``, ``Output``, ``ChanVariable``...)."""
        low = key.lower()
        return [v for k, v in self.pairs if k == key or k.lower() == low]

    def keys(self) -> list[str]:
        return list(dict.fromkeys(self._keys()))

    def items(self) -> list[tuple[str, str]]:
        return self.pairs

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._flat) // 2

    def to_dict(self) -> dict[str, str]:
        """First value of every key, in first-seen order (JSON friendly)."""
        out: dict[str, str] = {}
        for k, v in zip(self._keys(), self._flat[1::2]):  # noqa: B905
            out.setdefault(k, v)
        return out

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    @property
    def event(self) -> str | None:
        """The event name, or None for responses and actions."""
        return self.name if self.kind == "event" else None

    def to_bytes(self) -> bytes:
        return encode_message(self.pairs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.kind == other.kind and self.items() == other.items()

    def __hash__(self) -> int:  # pragma: no cover - messages are not dict keys
        return hash((self.kind, tuple(self.items())))

    def __repr__(self) -> str:
        return f"<Message {self.kind} {self.name!r} {self.items()!r}>"


def _classify(pairs: Sequence[tuple[str, str]], first: Mapping[str, str]) -> tuple[Kind | None, str]:
    if pairs:
        k0 = pairs[0][0]
        kind = _KIND_BY_KEY.get(k0)
        if kind is not None:
            return kind, pairs[0][1]
    # Asterisk accepts the Action header in any position (main/manager.c astman_get_header
    # scans all headers), so clients like telnet users may send ActionID first.
    for key, kind in (("Action", "action"), ("Event", "event"), ("Response", "response")):
        if key in first:
            return kind, first[key]  # type: ignore[return-value]
    for k, v in pairs:
        kind = _KIND_BY_KEY.get(k.capitalize())
        if kind is not None:
            return kind, v
    return None, ""


def _preview(s: str | bytes, n: int = 60) -> str:
    if isinstance(s, bytes):
        s = s.decode("utf-8", "replace")
    s = repr(s)
    return s if len(s) <= n else s[:n] + "...'"


class AMIParser:
    """Incremental AMI parser for either side of the connection.

    ``role="client"`` (default) parses what Asterisk sends: first the banner line,
    then responses and events framed by ``\\r\\n\\r\\n``. ``role="server"`` parses
    actions sent by a client (used by the simulator); like Asterisk's ``get_input``
    it also accepts bare ``\\n`` line endings, since people type actions in telnet/nc.

    Pass ``expect_banner=False`` on the client side to parse a stream that does not
    start with the banner (tests feeding single messages).
    """

    def __init__(
        self,
        role: Literal["client", "server"] = "client",
        *,
        expect_banner: bool | None = None,
        max_line: int | None = None,
        max_message: int = MAX_MESSAGE_BYTES,
    ) -> None:
        if role not in ("client", "server"):
            raise ValueError(f"role must be 'client' or 'server', not {role!r}")
        self.role = role
        self.banner: str | None = None
        self.ami_version: str | None = None
        self._need_banner = (role == "client") if expect_banner is None else expect_banner
        self.max_line = max_line if max_line is not None else (
            MAX_LINE_BYTES if role == "client" else MAX_ACTION_LINE_BYTES
        )
        self.max_message = max_message
        self._buf = bytearray()
        self._discarding = False  # skipping bytes until the next blank line
        self._failed: ProtocolError | None = None
        #: counters for observability; the asyncio client exports them to Prometheus.
        self.messages_parsed = 0
        self.errors_seen = 0
        self.utf8_replaced = 0

    # ------------------------------------------------------------------ public API
    def receive_data(self, data: bytes) -> list[Message]:
        """Feed bytes from the peer; return the complete messages they finish.

        Raises :class:`ProtocolError` if the bytes held something that is not AMI:
        a line longer than ``max_line``, a message longer than ``max_message``, a
        header line without ``:``, a message with no Event/Response/Action header.
        Before raising, the parser has already skipped the bad part by resynchronising
        at the next blank line (the only AMI frame boundary) and parsed everything
        after it that was complete; ``exc.messages`` holds those good messages, in
        order, and ``exc.errors`` every problem seen in this call. The parser stays
        usable: keep calling ``receive_data``.

        The one FATAL error is a bad banner on the client side (the peer is not an
        Asterisk manager): every later call raises the same error; close the socket.
        """
        if self._failed is not None:
            raise self._failed
        buf = self._buf
        buf += data
        out: list[Message] = []
        errors: list[ProtocolError] = []

        if self._need_banner and not self._read_banner():
            if self._failed is not None:
                raise self._failed
            return out

        if self.role == "server" and b"\n" in buf:
            # Asterisk's get_input accepts "\r\n" or bare "\n" from clients: normalise
            # to "\r\n" so one framing rule applies. A trailing lone "\r" waits for
            # its "\n" in the next read.
            norm = bytes(buf).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            buf[:] = norm

        # Only Asterisk sends "Response: Follows"; actions from clients never do.
        follows = self.role == "client"
        while True:
            if self._discarding:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    # Keep 3 bytes: the terminator may straddle this read and the next.
                    del buf[: max(0, len(buf) - 3)]
                    break
                del buf[: end + 4]
                self._discarding = False
            if not buf:
                break
            if buf.startswith(b"\r\n"):
                # Stray empty line between messages (seen after a Follows body in some
                # Asterisk 1.8 builds): harmless, skip it.
                del buf[:2]
                continue
            if follows and (buf.startswith(_FOLLOWS_HEAD) or (
                len(buf) < len(_FOLLOWS_HEAD) and _FOLLOWS_HEAD.startswith(bytes(buf))
            )):
                if not self._take_follows(out, errors):
                    break
                continue
            end = buf.rfind(b"\r\n\r\n")
            if end < 0:
                break
            follows_at = buf.find(b"\r\n\r\n" + _FOLLOWS_HEAD, 0, end + 4) if follows else -1
            if follows_at >= 0:
                # A legacy Follows response is inside this batch: parse only up to it,
                # then let the loop handle it with its own framing.
                end = follows_at
            # In a run of blank lines the message ends at the FIRST terminator; the extra
            # "\r\n"s stay in the buffer and are skipped above.
            while end >= 2 and buf[end - 2 : end] == b"\r\n":
                end -= 2
            with memoryview(buf) as view:  # decode in place, no intermediate copy
                text = self._decode(view[:end])
            del buf[: end + 4]
            self._parse_chunk(text, out, errors)

        self._check_pending(errors)
        self.messages_parsed += len(out)
        if errors:
            self.errors_seen += len(errors)
            exc = errors[0]
            exc.messages = out
            exc.errors = errors
            raise exc
        return out

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the end of a message (for tests and metrics)."""
        return len(self._buf)

    # ------------------------------------------------------------------ internals
    def _read_banner(self) -> bool:
        buf = self._buf
        nl = buf.find(b"\r\n")
        if nl < 0:
            if len(buf) > _MAX_BANNER_BYTES or (
                buf and not _BANNER_PREFIX.startswith(bytes(buf[: len(_BANNER_PREFIX)]))
            ):
                self._fail_banner(bytes(buf[:80]))
            return False
        line = bytes(buf[:nl])
        if not line.startswith(_BANNER_PREFIX):
            self._fail_banner(line)
            return False
        # Banner: "Asterisk Call Manager/11.0.0" on Asterisk 22 (every event stream
        # fixture starts with it). The number is the AMI version, not Asterisk's.
        self.banner = line.decode("ascii", "replace")
        self.ami_version = self.banner[len(_BANNER_PREFIX) :].strip()
        del buf[: nl + 2]
        self._need_banner = False
        return True

    def _fail_banner(self, got: bytes) -> None:
        self.errors_seen += 1
        self._failed = ProtocolError(
            "expected the AMI banner 'Asterisk Call Manager/<version>', got "
            + _preview(got)
            + "; the peer is not an Asterisk manager port",
            "bad_banner",
        )

    def _decode(self, chunk: bytes | memoryview) -> str:
        try:
            return str(chunk, "utf-8")
        except UnicodeDecodeError:
            # Not an error worth dropping a call event for (old SIP phones send Latin-1
            # caller names): replace the bad bytes and count it.
            self.utf8_replaced += 1
            return str(chunk, "utf-8", "replace")

    def _parse_chunk(self, text: str, out: list[Message], errors: list[ProtocolError]) -> None:
        # Hot path: the batch was decoded once; one split per message.
        append = out.append
        cls = Message
        new = Message.__new__
        kinds = _KIND_BY_KEY
        max_line = self.max_line
        max_message = self.max_message
        mark = _MARK
        join = "".join
        for block in text.split("\r\n\r\n"):
            # Fast path, all C-level string operations: turn every line break into a
            # ": " + marker and split once, giving [key, value, \0key, value, ...]
            # (Message keeps the marker on every key, see Message._flat).
            # The block is well formed (every line is exactly "Key: Value") iff there are
            # two tokens per line and no marker landed in a value position: n line
            # starts, n even slots, so each even slot starts exactly one line. A value
            # containing ": " (e.g. "Filter: Event: X") or a line without ": " fails the
            # check and takes the strict line-by-line path.
            marked = block.replace("\r\n", ": \x00")
            n = len(marked) - len(block)  # each 2-char break became 3 chars: n breaks
            flat = marked.split(": ")
            if len(flat) != 2 * n + 2 or mark in join(flat[1::2]):
                msg = self._slow_block(block, errors)
                if msg is not None:
                    append(msg)
                continue
            k0 = flat[0]
            kind = kinds.get(k0)
            if kind is None or len(block) > max_line and (
                len(block) > max_message or max(map(len, block.split("\r\n"))) > max_line
            ):
                msg = self._slow_block(block, errors)
                if msg is not None:
                    append(msg)
                continue
            flat[0] = mark + k0
            m = new(cls)
            m._flat = flat
            m._first = m._lower = None
            m.kind = kind
            m.name = flat[1]
            append(m)

    def _slow_block(self, block: str, errors: list[ProtocolError]) -> Message | None:
        """Validate a block the fast path rejected; return a Message or record an error."""
        # Extra blank lines between messages give empty blocks or leading "\r\n": skip.
        block = block.lstrip("\r\n")
        if not block:
            return None
        if len(block.encode("utf-8", "replace")) > self.max_message:
            errors.append(ProtocolError(
                f"message of {len(block)} characters exceeds the {self.max_message} byte "
                "limit; skipped", "message_too_long"))
            return None
        pairs: list[list[str]] = []
        for line in block.split("\r\n"):
            if len(line) > self.max_line:
                errors.append(ProtocolError(
                    f"line of {len(line)} characters exceeds the {self.max_line} byte limit "
                    f"(starts {_preview(line[:40])}); message skipped", "line_too_long"))
                return None
            # Same rule as the fast path: the key ends at the first ": ". Tolerated
            # here only: "Key:" with nothing after it, or "Key:value" without the space.
            key, sep, value = line.partition(": ")
            if not sep:
                key, sep, value = line.partition(":")
                if not key:
                    sep = ""
            if not sep:
                errors.append(ProtocolError(
                    f"header line without 'Key: Value' form: {_preview(line)}; message skipped",
                    "bad_header"))
                return None
            pairs.append([key, value])
        try:
            return Message(pairs)
        except ProtocolError as exc:
            errors.append(exc)
            return None

    def _take_follows(self, out: list[Message], errors: list[ProtocolError]) -> bool:
        """Legacy Command output (Asterisk <= 13): ``Response: Follows`` ... ``--END COMMAND--``."""
        buf = self._buf
        end = buf.find(_END_COMMAND)
        if end < 0:
            return False
        raw = self._decode(bytes(buf[:end]))
        del buf[: end + len(_END_COMMAND)]
        pairs: list[tuple[str, str]] = []
        body_start = 0
        lines = raw.split("\n")
        # Headers are "Key: Value\r\n" lines (Response, Privilege, optional ActionID);
        # the first line that is not such a header starts the CLI text.
        for i, line in enumerate(lines):
            line = line.rstrip("\r")
            key, sep, value = line.partition(": ")
            if sep and key in ("Response", "Privilege", "ActionID", "Message"):
                pairs.append((key, value))
                body_start = i + 1
            else:
                break
        body = lines[body_start:]
        if body and body[-1] == "":
            body.pop()
        for line in body:
            pairs.append(("Output", line.rstrip("\r")))
        out.append(Message(pairs, "response", "Follows"))
        return True

    def _check_pending(self, errors: list[ProtocolError]) -> None:
        buf = self._buf
        n = len(buf)
        if self._discarding or n <= min(self.max_line, self.max_message):
            return
        if n > self.max_message:
            errors.append(ProtocolError(
                f"no end of message after {n} bytes (limit {self.max_message}); "
                "skipping to the next blank line", "message_too_long"))
        elif buf.startswith(_FOLLOWS_HEAD):
            return  # legacy CLI body: "\n" line endings, bounded by max_message only
        else:
            last_nl = buf.rfind(b"\r\n")
            if n - (last_nl + 2) <= self.max_line:
                return
            errors.append(ProtocolError(
                f"line longer than {self.max_line} bytes without end of line (starts "
                f"{_preview(bytes(buf[max(0, last_nl + 2):][:40]))}); skipping to the next "
                "blank line", "line_too_long"))
        # Resynchronise: drop what we hold and skip until a blank line arrives.
        del buf[: max(0, n - 3)]
        self._discarding = True


# ---------------------------------------------------------------------- encoding
def _check_field(key: str, value: str) -> None:
    # A CR or LF inside a value would end the line early and let the rest be read as
    # new headers, even a new Action (header injection from e.g. a contact's name).
    if "\r" in key or "\n" in key or ":" in key or not key:
        raise ProtocolError(f"invalid AMI key {_preview(key)}", "bad_field")
    if "\r" in value or "\n" in value:
        raise ProtocolError(
            f"value of {key!r} contains a line break: {_preview(value)}", "bad_field"
        )


def encode_message(pairs: Iterable[tuple[str, str]] | Mapping[str, str]) -> bytes:
    """Encode pairs as ``Key: Value\\r\\n`` lines plus the terminating ``\\r\\n``.

    Exactly the byte shape of the fixtures; used by the simulator for events and
    responses and by :func:`encode_action`. Raises :class:`ProtocolError` for a key
    or value that would break framing.
    """
    if isinstance(pairs, Mapping):
        pairs = pairs.items()
    parts = []
    for key, value in pairs:
        value = "" if value is None else str(value)
        _check_field(key, value)
        parts.append(f"{key}: {value}\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("utf-8")


FieldValue = str | int | Sequence[str] | None


def encode_action(
    name: str,
    fields: Mapping[str, FieldValue] | Iterable[tuple[str, str]] | None = None,
    action_id: str | None = None,
) -> bytes:
    """Encode an action: ``Action``, then ``ActionID``, then ``fields`` in order.

    A list/tuple value repeats the key (``Variable: A=1`` / ``Variable: B=2``), which is
    how Originate takes several channel variables; ``None`` values are left out.
    """
    pairs: list[tuple[str, str]] = [("Action", name)]
    if action_id is not None:
        pairs.append(("ActionID", action_id))
    if fields:
        items = fields.items() if isinstance(fields, Mapping) else fields
        for key, value in items:
            if value is None:
                continue
            if isinstance(value, (list, tuple)):
                pairs.extend((key, str(v)) for v in value)
            else:
                pairs.append((key, str(value)))
    return encode_message(pairs)
