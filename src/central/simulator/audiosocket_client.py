"""AudioSocket client: plays the part Asterisk's ``AudioSocket()`` application plays.

Asterisk is the TCP *client* of an AudioSocket server (audiosocket-session.md): it
connects, sends the call's UUID, then streams the caller's audio and DTMF, and receives
the server's audio. This module does the same so Central's voice attendant can be tested
and demoed without Asterisk:

* first message: kind ``0x01`` with the 16 **binary** UUID bytes ("UUID arrived 1 ms
  after accept", session 1 starts ``01 00 10 a1 b2 c3 ...``);
* audio: kind ``0x10``, 320-byte frames of signed 16-bit little-endian slin at 8 kHz,
  one every 20 ms, paced on a deadline clock (``next += 20 ms``) so that scheduling
  jitter does not accumulate into drift (Asterisk: median interval 20.0 ms);
* DTMF: kind ``0x03`` with ONE ASCII digit, sent on digit end (``03 00 01 31``);
* closing: a plain TCP close, **without** a hangup message: Asterisk never sends
  ``00 00 00`` ("Asterisk never sent it"; caller hang-up = "no hangup message: just a
  TCP FIN").
* receiving: audio frames are recorded; a hangup (``00 00 00``) from the server ends
  the session, as it ends the AudioSocket app.

Framing is ``kind (1 byte) | length (uint16 big-endian) | payload``. The encoder here is
three lines on purpose: the full codec lives in ``central.voice.audiosocket.protocol``
and the simulator must not depend on the code it is used to test.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import uuid as uuid_mod
import wave
from dataclasses import dataclass, field

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_SLIN = 0x10
FRAME_BYTES = 320  # 20 ms of slin 8 kHz: 160 samples x 2 bytes
FRAME_SECONDS = 0.020
SILENCE = bytes(FRAME_BYTES)
DTMF_DIGITS = "0123456789*#ABCD"


def encode(kind: int, payload: bytes = b"") -> bytes:
    return struct.pack(">BH", kind, len(payload)) + payload


def load_wav(path: str) -> bytes:
    """PCM of a WAV file that is already 8 kHz, mono, 16-bit (what AudioSocket carries)."""
    with wave.open(path, "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (8000, 1, 2):
            raise ValueError(
                f"{path}: need 8000 Hz mono 16-bit PCM, got {w.getframerate()} Hz, "
                f"{w.getnchannels()} channel(s), {8 * w.getsampwidth()}-bit"
            )
        return w.readframes(w.getnframes())


@dataclass
class SessionRecord:
    """What the client saw: for assertions in tests and figures in benches."""

    received_audio: bytearray = field(default_factory=bytearray)
    frames_received: int = 0
    frames_sent: int = 0
    dtmf_sent: list[str] = field(default_factory=list)
    hangup_received: bool = False
    other_kinds: list[int] = field(default_factory=list)
    late_frames: int = 0  # frames sent more than one interval behind schedule


class AudioSocketClient:
    """One simulated call leg talking to an AudioSocket server.

    Usage::

        async with AudioSocketClient("127.0.0.1", 9092) as leg:
            leg.play(pcm)           # queued as the caller's speech
            leg.dtmf("1")
            await leg.wait_idle()   # until everything queued was sent
        leg.record.received_audio   # what the server said
    """

    def __init__(self, host: str, port: int, call_uuid: uuid_mod.UUID | str | None = None,
                 send_silence: bool = True, frame_seconds: float = FRAME_SECONDS) -> None:
        self.host, self.port = host, port
        self.uuid = uuid_mod.UUID(str(call_uuid)) if call_uuid is not None else uuid_mod.uuid4()
        self.send_silence = send_silence
        self.frame_seconds = frame_seconds
        self.record = SessionRecord()
        self._outbox: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
        self._pending_audio = bytearray()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: list[asyncio.Task] = []
        self.closed = asyncio.Event()

    async def connect(self) -> AudioSocketClient:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        sock = self._writer.get_extra_info("socket")
        if sock is not None:  # like app_audiosocket (TCP_NODELAY)
            import socket
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._writer.write(encode(KIND_UUID, self.uuid.bytes))
        self._tasks = [asyncio.create_task(self._send_loop()), asyncio.create_task(self._recv_loop())]
        return self

    async def __aenter__(self) -> AudioSocketClient:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------ caller side
    def play(self, pcm: bytes) -> None:
        """Queue caller speech (slin 8 kHz); it goes out in 320-byte frames every 20 ms."""
        self._pending_audio += pcm

    def play_wav(self, path: str) -> None:
        self.play(load_wav(path))

    def dtmf(self, digit: str) -> None:
        if len(digit) != 1 or digit.upper() not in DTMF_DIGITS:
            raise ValueError(f"not a DTMF digit: {digit!r}")
        self._outbox.put_nowait((KIND_DTMF, digit.upper().encode("ascii")))

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until all queued audio and DTMF were sent (or the session ended)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (self._pending_audio or not self._outbox.empty()) and not self.closed.is_set():
            if loop.time() > deadline:
                raise TimeoutError("audio still queued")
            await asyncio.sleep(self.frame_seconds)

    async def run_for(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closed.wait(), seconds)

    async def close(self) -> None:
        """Hang up like Asterisk does: close the TCP connection, no hangup message."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await task
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        self.closed.set()

    # ---------------------------------------------------------------- loops
    async def _send_loop(self) -> None:
        assert self._writer is not None
        loop = asyncio.get_running_loop()
        writer = self._writer
        next_at = loop.time()
        try:
            while not self.closed.is_set():
                while not self._outbox.empty():
                    kind, payload = self._outbox.get_nowait()
                    writer.write(encode(kind, payload))
                    if kind == KIND_DTMF:
                        self.record.dtmf_sent.append(payload.decode())
                if self._pending_audio:
                    frame = bytes(self._pending_audio[:FRAME_BYTES]).ljust(FRAME_BYTES, b"\0")
                    del self._pending_audio[:FRAME_BYTES]
                elif self.send_silence:
                    frame = SILENCE
                else:
                    frame = b""
                if frame:
                    writer.write(encode(KIND_SLIN, frame))
                    self.record.frames_sent += 1
                # Deadline pacing: the next frame is due one interval after the last
                # deadline, not after "now", so sleep overruns do not add up.
                next_at += self.frame_seconds
                delay = next_at - loop.time()
                if delay < -self.frame_seconds:
                    self.record.late_frames += 1
                await asyncio.sleep(max(0.0, delay))
        except ConnectionError:
            self.closed.set()

    async def _recv_loop(self) -> None:
        assert self._reader is not None
        reader = self._reader
        try:
            while True:
                header = await reader.readexactly(3)
                kind, length = struct.unpack(">BH", header)
                payload = await reader.readexactly(length) if length else b""
                if kind == KIND_HANGUP:
                    self.record.hangup_received = True
                    break
                if 0x10 <= kind <= 0x18:
                    self.record.received_audio += payload
                    self.record.frames_received += 1
                else:
                    self.record.other_kinds.append(kind)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.closed.set()
