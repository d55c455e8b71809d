"""AudioSocket listeners against peers that are not Asterisk, over real TCP sockets.

Asterisk connects, sends its UUID 1 ms later and then a frame every 20 ms
(audiosocket-session.frames.tsv); it hangs up by itself after 2 s without media
(audiosocket-edge-cases.frames.tsv, silent-leg-2s-timeout).  A connection that sends no
UUID, stops inside a frame, trickles bytes or just sits there is dropped; a listener holds
at most ``max_connections`` open; the compatibility pair listens on loopback only.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from central.voice.audiosocket import server
from central.voice.audiosocket.protocol import Audio, Connection, Role, UUIDMessage
from central.voice.audiosocket.server import CallHandler, Listener
from central.voice.config import COMPAT_BIND_IP, compat_config
from tests.voice.asclient import ASClient
from tests.voice.helpers import SHARED_CACHES

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free


class Quiet(CallHandler):
    pass


async def listener(**kw) -> Listener:
    lst = Listener(lambda session: Quiet(), "test", **kw)
    await lst.start("127.0.0.1", 0)
    return lst


async def closed_after(reader: asyncio.StreamReader, limit: float) -> float:
    """Seconds until the server closes the connection (EOF or reset)."""
    t0 = time.monotonic()
    try:
        while await asyncio.wait_for(reader.read(65536), limit):
            pass
    except (ConnectionResetError, BrokenPipeError):
        pass
    return time.monotonic() - t0


def uuid_bytes() -> bytes:
    return Connection(Role.ASTERISK).send(UUIDMessage(uuid.uuid4()))


def test_the_production_limits_follow_asterisk():
    # UUID 1 ms after connect; 2 s without media and Asterisk hangs up itself.
    assert 1.0 <= server.HANDSHAKE_TIMEOUT <= 5.0
    assert 2.0 < server.IDLE_TIMEOUT <= 10.0
    assert 50 <= server.MAX_CONNECTIONS <= 1000


async def test_a_connection_that_never_sends_its_uuid_is_dropped():
    lst = await listener(handshake_timeout=0.5)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", lst.port)
        took = await closed_after(reader, 5)
        assert 0.4 <= took < 2.0
        assert lst.stats.handshake_timeouts == 1 and not lst.connections
        writer.close()
    finally:
        lst.close_all()


async def test_a_half_frame_is_dropped():
    lst = await listener(idle_timeout=0.5)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", lst.port)
        frame = Connection(Role.ASTERISK).send(Audio(bytes(320), 8000))
        writer.write(uuid_bytes() + frame[:100])  # then nothing: the rest never comes
        took = await closed_after(reader, 5)
        assert 0.4 <= took < 2.0
        assert lst.stats.idle_timeouts == 1 and not lst.connections
        writer.close()
    finally:
        lst.close_all()


async def test_a_one_byte_at_a_time_sender_is_dropped_although_bytes_keep_coming():
    lst = await listener(idle_timeout=0.5)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", lst.port)
        writer.write(uuid_bytes())
        frame = Connection(Role.ASTERISK).send(Audio(bytes(320), 8000))

        async def trickle():
            for byte in frame:
                writer.write(bytes([byte]))
                await asyncio.sleep(0.05)  # the pace of the attack, not a synchronisation

        sender = asyncio.create_task(trickle())
        took = await closed_after(reader, 5)
        sender.cancel()
        assert took < 2.0 and lst.stats.idle_timeouts == 1
        writer.close()
    finally:
        lst.close_all()


async def test_a_real_call_with_media_is_never_dropped():
    lst = await listener(idle_timeout=0.3)
    try:
        call = await ASClient().connect("127.0.0.1", lst.port)  # a frame every 20 ms
        await call.wait_for(lambda: call.received, timeout=5)
        await call.wait_for(lambda: len(call.received) >= 50, timeout=5)  # 1 s > 3 idle periods
        assert call.eof_at is None and lst.stats.idle_timeouts == 0
        await call.close()
    finally:
        lst.close_all()


async def test_connections_over_the_cap_are_refused_and_calls_still_work_after():
    lst = await listener(max_connections=20, handshake_timeout=30)
    socks = []
    try:
        for _ in range(30):
            socks.append(await asyncio.open_connection("127.0.0.1", lst.port))
        refused = 0
        for reader, _ in socks[20:]:
            refused += await closed_after(reader, 5) < 5
        assert refused == 10 and lst.stats.refused_over_cap == 10
        assert len(lst.connections) == 20
        for _, writer in socks:
            writer.close()
        await ASClient().connect("127.0.0.1", lst.port)  # a slot frees up once one closes
        await asyncio.wait_for(_until(lambda: len(lst.connections) <= 1), 5)
    finally:
        lst.close_all()


async def _until(predicate) -> None:
    while not predicate():
        await asyncio.sleep(0.01)


async def test_five_hundred_idle_connections_cannot_hold_the_default_listener():
    # The report: 500 idle connections all stayed open.  With the production settings
    # the listener holds at most MAX_CONNECTIONS, and those go after HANDSHAKE_TIMEOUT.
    lst = await listener()
    socks = []
    try:
        for _ in range(500):
            socks.append(await asyncio.open_connection("127.0.0.1", lst.port))
        assert len(lst.connections) <= server.MAX_CONNECTIONS
        assert lst.stats.refused_over_cap == 500 - server.MAX_CONNECTIONS
        await asyncio.wait_for(_until(lambda: not lst.connections), server.HANDSHAKE_TIMEOUT + 3)
        assert lst.stats.handshake_timeouts == server.MAX_CONNECTIONS
    finally:
        for _, writer in socks:
            writer.close()
        lst.close_all()


def test_the_compatibility_pair_listens_on_loopback():
    assert COMPAT_BIND_IP == "127.0.0.1"
    (ext,) = compat_config().extensions
    assert ext.bind_ip == "127.0.0.1"


async def test_the_default_voice_service_binds_loopback(tmp_path):
    from central.voice.service import VoiceService

    svc = VoiceService(loader=None, snapshot_path=str(tmp_path / "none.json"), caches=SHARED_CACHES)
    await svc.start()
    try:
        rt = svc.extensions["compat"]
        assert [lst.server.sockets[0].getsockname()[0] for lst in (rt.ai, rt.ret)] == ["127.0.0.1"] * 2
    finally:
        await svc.stop()
