"""A small AudioSocket client that plays Asterisk's part in tests (real TCP).

Like Asterisk's AudioSocket() app it sends the UUID first, then a 20 ms audio frame every
20 ms (silence unless told to speak), and DTMF messages on demand
(audiosocket-session.frames.tsv).  It records every frame received with its arrival time.
The simulator's client (central.simulator.audiosocket_client) may replace it later.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
import uuid as uuid_mod
from collections import deque

from central.voice.audio import frame_size, parse_wav, resample, rms, split_frames
from central.voice.audiosocket.protocol import (
    DTMF,
    Audio,
    Connection,
    Hangup,
    ProtocolError,
    Role,
    UUIDMessage,
)


def espeak_pcm(text: str, rate: int = 8000, speed: int = 175) -> bytes:
    """Real pt-BR speech from espeak-ng, resampled to the call's rate."""
    out = subprocess.run(
        ["espeak-ng", "-v", "pt-br", "-s", str(speed), "--stdout", text], capture_output=True, check=True
    ).stdout
    pcm, src = parse_wav(out)
    return resample(pcm, src, rate)


class ASClient:
    def __init__(self, rate: int = 8000, send_media: bool = True) -> None:
        self.rate = rate
        self.send_media = send_media
        self.codec = Connection(Role.ASTERISK)
        self.received: list[tuple[float, bytes]] = []
        self.hangup_at: float | None = None
        self.eof_at: float | None = None
        self.protocol_error: str | None = None
        self.speech: deque[bytes] = deque()
        self.sent_voice_at: float | None = None
        self._tasks: list[asyncio.Task] = []
        self.uuid = uuid_mod.uuid4()

    async def connect(self, host: str, port: int, call_uuid: str | uuid_mod.UUID | None = None) -> ASClient:
        if call_uuid is not None:
            self.uuid = uuid_mod.UUID(str(call_uuid))
        self.reader, self.writer = await asyncio.open_connection(host, port)
        self._enc = Connection(Role.ASTERISK)  # encodes UUID/DTMF as Asterisk does
        self.writer.write(self._enc.send(UUIDMessage(self.uuid)))
        self._tasks.append(asyncio.create_task(self._read()))
        if self.send_media:
            self._tasks.append(asyncio.create_task(self._mic()))
        return self

    async def _read(self) -> None:
        try:
            while True:
                data = await self.reader.read(65536)
                now = time.monotonic()
                if not data:
                    self.eof_at = now
                    return
                try:
                    events = self.codec.receive_data(data)
                except ProtocolError as exc:
                    self.protocol_error = str(exc)
                    return
                for ev in events:
                    if isinstance(ev, Audio):
                        self.received.append((now, ev.pcm))
                    elif isinstance(ev, Hangup):
                        self.hangup_at = now
        except (ConnectionError, OSError):
            self.eof_at = time.monotonic()

    async def _mic(self) -> None:
        """Send one frame per 20 ms on a deadline clock, like a channel producing media."""
        size = frame_size(self.rate)
        silence = b"\x00" * size
        start = time.monotonic()
        k = 0
        try:
            while not self.writer.is_closing():
                if self.speech:
                    frame = self.speech.popleft()
                    if self.sent_voice_at is None:
                        self.sent_voice_at = time.monotonic()
                else:
                    frame = silence
                self.writer.write(self._enc.send(Audio(frame, self.rate)))
                k += 1
                delay = start + k * 0.02 - time.monotonic()
                await asyncio.sleep(max(0.0, delay))
        except (ConnectionError, OSError, ProtocolError):
            return

    def say(self, pcm: bytes) -> None:
        self.sent_voice_at = None
        self.speech.extend(split_frames(pcm, self.rate))

    async def dtmf(self, digits: str, gap: float = 0.05) -> None:
        for d in digits:
            self.writer.write(self._enc.send(DTMF(d)))
            await asyncio.sleep(gap)

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    # -- what we heard ------------------------------------------------------------------
    def voiced_frames(self, since: float = 0.0) -> list[tuple[float, bytes]]:
        return [(t, f) for t, f in self.received if t >= since and rms(f) > 200]

    def heard_audio(self, since: float = 0.0) -> bool:
        return bool(self.voiced_frames(since))

    async def wait_for(self, predicate, timeout: float = 10.0, step: float = 0.02) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("condition not met in time")
            await asyncio.sleep(step)

    async def wait_voice(self, since: float = 0.0, timeout: float = 10.0) -> float:
        await self.wait_for(lambda: self.heard_audio(since), timeout)
        return self.voiced_frames(since)[0][0]

    async def wait_closed(self, timeout: float = 10.0) -> None:
        await self.wait_for(lambda: self.eof_at is not None, timeout)

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
