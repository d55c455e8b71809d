"""The simulator's AudioSocket client against a real TCP server that decodes with the
voice app's codec (independent implementation of the same wire format)."""

from __future__ import annotations

import asyncio
import math
import statistics
import struct
import uuid
import wave

import pytest

from central.simulator.audiosocket_client import AudioSocketClient, load_wav
from central.voice.audiosocket.protocol import DTMF, Audio, Connection, Hangup, Role, UUIDMessage

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free


class Server:
    """Records every decoded message with its arrival time; can reply audio and hang up."""

    def __init__(self, reply: bytes = b"", hangup_after: int | None = None) -> None:
        self.events: list[tuple[float, object]] = []
        self.raw = bytearray()
        self.reply = reply
        self.hangup_after = hangup_after
        self.closed_by_peer = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Connection(Role.SERVER)
        loop = asyncio.get_running_loop()
        sent_reply = False
        audio_frames = 0
        while True:
            data = await reader.read(4096)
            if not data:
                self.closed_by_peer.set()
                break
            self.raw += data
            for ev in conn.receive_data(data):
                self.events.append((loop.time(), ev))
                if isinstance(ev, Audio):
                    audio_frames += 1
            if self.reply and not sent_reply:
                for i in range(0, len(self.reply), 320):
                    writer.write(struct.pack(">BH", 0x10, 320) + self.reply[i:i + 320])
                sent_reply = True
            if self.hangup_after is not None and audio_frames >= self.hangup_after:
                writer.write(b"\x00\x00\x00")
                await writer.drain()
                await asyncio.sleep(0.05)
                writer.close()
                break


async def start(server: Server) -> tuple[asyncio.base_events.Server, int]:
    srv = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    return srv, srv.sockets[0].getsockname()[1]


def tone(seconds: float, hz: float = 440.0) -> bytes:
    n = int(8000 * seconds)
    return b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * i / 8000))) for i in range(n))


async def test_uuid_first_then_paced_slin_frames_dtmf_and_no_hangup_on_close() -> None:
    server = Server()
    srv, port = await start(server)
    call = uuid.UUID("a1b2c3d4-e5f6-4711-8899-aabbccddeeff")
    speech = tone(0.5)
    async with AudioSocketClient("127.0.0.1", port, call) as leg:
        leg.play(speech)
        await leg.wait_idle()
        leg.dtmf("1")
        leg.dtmf("#")
        await leg.run_for(0.2)
    await asyncio.wait_for(server.closed_by_peer.wait(), 2.0)
    srv.close()
    await srv.wait_closed()

    # session 1 starts "01 00 10 a1 b2 c3 d4 ..." (audiosocket-session.md)
    assert bytes(server.raw[:19]) == b"\x01\x00\x10" + call.bytes
    kinds = [type(ev) for _, ev in server.events]
    assert kinds[0] is UUIDMessage and server.events[0][1].uuid == call
    audio = [(t, ev) for t, ev in server.events if isinstance(ev, Audio)]
    assert all(len(ev.pcm) == 320 and ev.rate == 8000 for _, ev in audio)
    assert b"".join(ev.pcm for _, ev in audio).startswith(speech)
    gaps = [b[0] - a[0] for a, b in zip(audio, audio[1:], strict=False)]
    assert 0.017 < statistics.median(gaps) < 0.023
    # total time matches the frame count: deadline pacing does not drift
    assert abs((audio[-1][0] - audio[0][0]) - 0.02 * (len(audio) - 1)) < 0.06
    assert [ev.digit for _, ev in server.events if isinstance(ev, DTMF)] == ["1", "#"]
    assert b"\x03\x00\x011" in server.raw
    assert not any(isinstance(ev, Hangup) for _, ev in server.events)  # like Asterisk


async def test_records_server_audio_and_stops_on_server_hangup() -> None:
    reply = tone(0.2, 1000.0)
    server = Server(reply=reply, hangup_after=10)
    srv, port = await start(server)
    leg = await AudioSocketClient("127.0.0.1", port).connect()
    await asyncio.wait_for(leg.closed.wait(), 2.0)
    await leg.close()
    srv.close()
    await srv.wait_closed()
    assert leg.record.hangup_received
    assert bytes(leg.record.received_audio) == reply
    assert leg.record.frames_received == len(reply) // 320


def test_load_wav_checks_format(tmp_path) -> None:
    good, bad = tmp_path / "good.wav", tmp_path / "bad.wav"
    for path, rate in ((good, 8000), (bad, 16000)):
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(b"\x01\x00" * 800)
    assert load_wav(str(good)) == b"\x01\x00" * 800
    with pytest.raises(ValueError, match="need 8000 Hz"):
        load_wav(str(bad))


def test_dtmf_rejects_non_digits() -> None:
    leg = AudioSocketClient("127.0.0.1", 1)
    with pytest.raises(ValueError):
        leg.dtmf("x")
