"""Sans-I/O codec for Asterisk AudioSocket (app_audiosocket / chan_audiosocket).

No sockets here: bytes go in through :meth:`Connection.receive_data`, events come out;
events go in through :meth:`Connection.send`, bytes come out.  The same class serves both
ends of the wire, selected by :class:`Role`:

* ``Role.SERVER`` is Central: Asterisk connects to us, sends the UUID, audio and DTMF.
* ``Role.ASTERISK`` is the PBX side, used by the simulator and the tests' client.

Every rule below cites the capture that shows it (``tests/fixtures/asterisk/``):

* ``audiosocket-session.md`` "Framing": 1 byte kind, uint16 **big-endian** length, payload.
* ``audiosocket-session.bin`` starts ``01 00 10 a1 b2 ...``: the UUID is the first message,
  16 raw bytes, not the text form.
* ``audiosocket-edge-cases.frames.tsv`` session ``server-sends-kind-0x03``: Asterisk resets
  the call when the server sends any kind other than hangup (0x00) or audio (0x10-0x18).
  That is why the server-side encoder refuses every other kind.
"""

from __future__ import annotations

import enum
import struct
import uuid as uuid_mod
from dataclasses import dataclass

__all__ = [
    "AUDIO_KINDS",
    "DTMF_DIGITS",
    "HEADER_SIZE",
    "MAX_AUDIO_MS",
    "MAX_BUFFER",
    "Audio",
    "Connection",
    "DTMF",
    "ErrorMessage",
    "Event",
    "Hangup",
    "Kind",
    "ProtocolError",
    "Role",
    "UUIDMessage",
    "audio_kind_for_rate",
    "encode_frame",
    "frame_bytes",
]


class ProtocolError(Exception):
    """The one error type of the codec: a frame that breaks the AudioSocket rules.

    Raised for bad bytes received and for events we must not send.  The message names the
    problem; callers count it and close that session only.
    """


class Kind(enum.IntEnum):
    """Message kinds (``audiosocket-session.md`` table "kind / meaning")."""

    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    SLIN = 0x10  # 8 kHz, the only rate the AudioSocket() application uses
    SLIN12 = 0x11
    SLIN16 = 0x12  # audiosocket-chan-slin16.bin: chan_audiosocket with c(slin16)
    SLIN24 = 0x13
    SLIN32 = 0x14
    SLIN44 = 0x15
    SLIN48 = 0x16
    SLIN96 = 0x17
    SLIN192 = 0x18
    ERROR = 0xFF  # in Asterisk's header enum; no code in 22.10.1 emits it


#: kind -> sample rate (Hz) of signed 16-bit little-endian mono PCM.
AUDIO_KINDS: dict[int, int] = {
    Kind.SLIN: 8000,
    Kind.SLIN12: 12000,
    Kind.SLIN16: 16000,
    Kind.SLIN24: 24000,
    Kind.SLIN32: 32000,
    Kind.SLIN44: 44100,
    Kind.SLIN48: 48000,
    Kind.SLIN96: 96000,
    Kind.SLIN192: 192000,
}
_RATE_TO_KIND = {rate: kind for kind, rate in AUDIO_KINDS.items()}

HEADER_SIZE = 3
_HEADER = struct.Struct(">BH")

#: Largest audio payload accepted, in milliseconds of audio at the frame's own rate.
#: Asterisk sends 20 ms (320 B slin8, 640 B slin16: audiosocket-session.frames.tsv,
#: audiosocket-chan-slin16.bin) and accepts any size from us; 100 ms leaves room for peers
#: that batch frames while rejecting a length field that is obviously garbage.
MAX_AUDIO_MS = 100
#: Buffered, not yet parsed bytes allowed.  A frame header can announce at most 65 535 B;
#: with the audio cap above the largest legal frame is 38 403 B (slin192, 100 ms).
MAX_BUFFER = 64 * 1024
#: DTMF payload is one ASCII character (``03 00 01 31`` in audiosocket-session.bin).
DTMF_DIGITS = frozenset("0123456789*#ABCD")
#: The error kind's payload is an optional one-byte code (Asterisk's header enum).
MAX_ERROR_PAYLOAD = 1


def _max_audio_payload(rate: int) -> int:
    return rate * 2 * MAX_AUDIO_MS // 1000


_MAX_AUDIO_PAYLOAD = {kind: _max_audio_payload(rate) for kind, rate in AUDIO_KINDS.items()}


class Role(enum.Enum):
    SERVER = "server"  # Central, receiving from Asterisk
    ASTERISK = "asterisk"  # the PBX side (simulator / tests)


@dataclass(frozen=True, slots=True)
class UUIDMessage:
    uuid: uuid_mod.UUID


@dataclass(frozen=True, slots=True)
class DTMF:
    digit: str


@dataclass(frozen=True, slots=True)
class Audio:
    pcm: bytes
    rate: int = 8000

    @property
    def kind(self) -> int:
        return _RATE_TO_KIND[self.rate]


@dataclass(frozen=True, slots=True)
class Hangup:
    pass


@dataclass(frozen=True, slots=True)
class ErrorMessage:
    code: bytes = b""


Event = UUIDMessage | DTMF | Audio | Hangup | ErrorMessage


def audio_kind_for_rate(rate: int) -> int:
    try:
        return _RATE_TO_KIND[rate]
    except KeyError:
        raise ProtocolError(f"no AudioSocket audio kind for sample rate {rate} Hz") from None


def encode_frame(kind: int, payload: bytes = b"") -> bytes:
    """Low-level framing with no policy; :meth:`Connection.send` decides what may be sent."""
    if len(payload) > 0xFFFF:
        raise ProtocolError(f"payload of {len(payload)} B does not fit the 16-bit length field")
    return _HEADER.pack(kind, len(payload)) + payload


def frame_bytes(pcm: bytes, rate: int = 8000) -> bytes:
    """Encode one audio frame (fast path used by the paced writer)."""
    return _HEADER.pack(_RATE_TO_KIND[rate], len(pcm)) + pcm


HANGUP_BYTES = b"\x00\x00\x00"  # audiosocket-session.frames.tsv t=5.1007 tx 0x00 len 0


class Connection:
    """One AudioSocket connection's framing state.

    ``receive_data`` is incremental: any split of the byte stream yields the same events
    (tests feed ``audiosocket-session.bin`` one byte at a time).  After a hangup is sent or
    received, or after a :class:`ProtocolError`, the connection is closed and further input
    is an error.
    """

    def __init__(self, role: Role = Role.SERVER) -> None:
        self.role = role
        self._buf = bytearray()
        self.uuid: uuid_mod.UUID | None = None
        self.closed = False
        self.frames_in = 0
        self.frames_out = 0
        # receive_audio's shortcut: the last single frame it validated (rate, size, header).
        self._frame_rate = 0
        self._frame_len = 0
        self._frame_header = b""

    # -- input -------------------------------------------------------------------------
    def receive_data(self, data: bytes) -> list[Event]:
        if self.closed:
            if not data:
                return []
            raise ProtocolError("data received after the connection was closed")
        buf = self._buf
        if not buf and self.uuid is not None:
            fast = self._fast_audio(data)
            if fast is not None:
                return fast
        buf += data
        events: list[Event] = []
        pos = 0
        end = len(buf)
        try:
            while end - pos >= HEADER_SIZE:
                kind, length = _HEADER.unpack_from(buf, pos)
                self._check_header(kind, length)
                if end - pos - HEADER_SIZE < length:
                    break
                start = pos + HEADER_SIZE
                payload = bytes(buf[start : start + length])
                pos = start + length
                events.append(self._event(kind, payload))
                self.frames_in += 1
                if self.closed:
                    if pos != end:
                        raise ProtocolError("data after hangup")
                    break
        except ProtocolError:
            self.closed = True
            buf.clear()
            raise
        del buf[:pos]
        if len(buf) > MAX_BUFFER:
            self.closed = True
            raise ProtocolError(f"more than {MAX_BUFFER} B buffered without a complete frame")
        return events

    def receive_audio(self, data: bytes, rate: int) -> list[bytes] | None:
        """The hot path of an established call: the PCM payloads of ``data`` when it is
        whole audio frames at ``rate`` and nothing else (no event objects are built).

        Returns ``None`` without consuming anything otherwise (a partial frame, another
        kind, a bad length, bytes already buffered): pass the same ``data`` to
        :meth:`receive_data`, which applies every rule.
        """
        if self._buf or self.uuid is None or self.closed:
            return None
        if rate == self._frame_rate and len(data) == self._frame_len and data.startswith(self._frame_header):
            # The usual read: one frame with the very header the last one had (checked
            # then); comparing 3 bytes is all it takes.
            self.frames_in += 1
            return [data[HEADER_SIZE:]]
        kind = _RATE_TO_KIND.get(rate)
        if kind is None:
            return None
        limit = _MAX_AUDIO_PAYLOAD[kind]
        payloads: list[bytes] = []
        pos, end = 0, len(data)
        unpack = _HEADER.unpack_from
        while pos < end:
            if end - pos < HEADER_SIZE:
                return None
            k, length = unpack(data, pos)
            if k != kind or length > limit or length & 1 or end - pos - HEADER_SIZE < length:
                return None
            pos += HEADER_SIZE
            payloads.append(data[pos : pos + length])
            pos += length
        if len(payloads) == 1:
            self._frame_rate, self._frame_len, self._frame_header = rate, end, data[:HEADER_SIZE]
        self.frames_in += len(payloads)
        return payloads

    def _fast_audio(self, data: bytes) -> list[Event] | None:
        """The hot path: whole audio frames and nothing else, straight from ``data``.

        Asterisk sends one 20 ms frame per message (audiosocket-session.frames.tsv), and a
        read usually returns exactly the frames that arrived; this skips the buffer copies.
        Anything unusual (partial frame, another kind, a bad length) takes the full path.
        """
        events: list[Event] = []
        pos, end = 0, len(data)
        unpack = _HEADER.unpack_from
        while pos < end:
            if end - pos < HEADER_SIZE:
                return None
            kind, length = unpack(data, pos)
            rate = AUDIO_KINDS.get(kind)
            if rate is None or length > _MAX_AUDIO_PAYLOAD[kind] or length & 1 or end - pos - 3 < length:
                return None
            pos += HEADER_SIZE
            events.append(Audio(data[pos : pos + length], rate))
            pos += length
        self.frames_in += len(events)
        return events

    def _check_header(self, kind: int, length: int) -> None:
        """Reject a bad header before waiting for its payload (oversized or unknown kind)."""
        if self.role is Role.SERVER and self.uuid is None and kind != Kind.UUID:
            # audiosocket-session.bin: the UUID is always the first message.
            raise ProtocolError(f"kind 0x{kind:02x} before the UUID message")
        limit = _MAX_AUDIO_PAYLOAD.get(kind)
        if limit is not None:
            if length > limit:
                raise ProtocolError(
                    f"audio frame of {length} B exceeds {limit} B ({MAX_AUDIO_MS} ms at "
                    f"{AUDIO_KINDS[kind]} Hz)"
                )
            return
        if kind == Kind.UUID:
            if length != 16:
                raise ProtocolError(f"UUID message must carry 16 raw bytes, got {length}")
        elif kind == Kind.DTMF:
            if length != 1:
                raise ProtocolError(f"DTMF message must carry 1 byte, got {length}")
        elif kind == Kind.HANGUP:
            if length != 0:
                raise ProtocolError(f"hangup message must be empty, got {length} B")
        elif kind == Kind.ERROR:
            if length > MAX_ERROR_PAYLOAD:
                raise ProtocolError(f"error message of {length} B (at most {MAX_ERROR_PAYLOAD})")
        else:
            raise ProtocolError(f"unknown message kind 0x{kind:02x}")

    def _event(self, kind: int, payload: bytes) -> Event:
        rate = AUDIO_KINDS.get(kind)
        if rate is not None:
            if len(payload) & 1:
                raise ProtocolError(f"audio payload of odd length {len(payload)} (16-bit PCM)")
            return Audio(payload, rate)
        if kind == Kind.HANGUP:
            self.closed = True
            return Hangup()
        if self.role is Role.ASTERISK:
            # audiosocket-edge-cases.frames.tsv, server-sends-kind-0x03: Asterisk accepts
            # only hangup and audio from the server ("message other than hangup or audio").
            raise ProtocolError(f"kind 0x{kind:02x} sent to Asterisk (only hangup and audio)")
        if kind == Kind.UUID:
            if self.uuid is not None:
                raise ProtocolError("second UUID message")
            self.uuid = uuid_mod.UUID(bytes=payload)
            return UUIDMessage(self.uuid)
        if kind == Kind.DTMF:
            digit = chr(payload[0])
            if digit not in DTMF_DIGITS:
                raise ProtocolError(f"invalid DTMF digit byte 0x{payload[0]:02x}")
            return DTMF(digit)
        self.closed = True
        return ErrorMessage(payload)

    # -- output ------------------------------------------------------------------------
    def send(self, event: Event) -> bytes:
        """Encode one event.  The server may send only :class:`Audio` and :class:`Hangup`."""
        if self.closed:
            raise ProtocolError("cannot send on a closed connection")
        if isinstance(event, Audio):
            if len(event.pcm) & 1:
                raise ProtocolError("audio payload must be whole 16-bit samples")
            data = encode_frame(audio_kind_for_rate(event.rate), event.pcm)
        elif isinstance(event, Hangup):
            self.closed = True
            data = HANGUP_BYTES
        elif self.role is Role.SERVER:
            # audiosocket-edge-cases.frames.tsv, server-sends-kind-0x03: any other kind is
            # answered by a TCP reset and the call is dropped.
            raise ProtocolError(
                f"refusing to send {type(event).__name__} to Asterisk: only hangup and audio"
            )
        elif isinstance(event, UUIDMessage):
            data = encode_frame(Kind.UUID, event.uuid.bytes)
        elif isinstance(event, DTMF):
            if event.digit not in DTMF_DIGITS:
                raise ProtocolError(f"invalid DTMF digit {event.digit!r}")
            data = encode_frame(Kind.DTMF, event.digit.encode("ascii"))
        elif isinstance(event, ErrorMessage):
            data = encode_frame(Kind.ERROR, event.code)
        else:  # pragma: no cover - exhaustive over Event
            raise ProtocolError(f"unknown event {event!r}")
        self.frames_out += 1
        return data
