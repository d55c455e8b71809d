"""The capacity-critical paths: the pacer's schedule (sans-I/O, on a virtual clock), the
codec's audio hot path, and the slow-reader rule now served by asyncio's flow control."""

from __future__ import annotations

import asyncio
import random
import socket

import pytest

from central.voice.audiosocket.protocol import Audio, Connection, Role, encode_frame
from central.voice.audiosocket.server import (
    FRAME_PERIOD,
    MAX_CATCH_UP,
    MAX_WRITE_BUFFER,
    PACER_SLOTS,
    CallHandler,
    Listener,
    PhaseClock,
)
from tests.telephony.fixtures import FIXTURES_DIR as FIXTURES
from tests.voice.test_audiosocket_limits import uuid_bytes

pytestmark = pytest.mark.backend_free  # sockets and the event loop only

STEP = FRAME_PERIOD / PACER_SLOTS


def served(clock: PhaseClock, now: float) -> list[tuple[int, int]]:
    first, last, _skipped = clock.due(now)
    return clock.frames_per_slot(first, last)


def test_on_time_wake_ups_serve_one_phase_each_without_drift():
    clock = PhaseClock(t0=100.0)
    for j in range(10_000):
        # Each wake-up comes late by up to 90 % of a phase; the schedule must not slide.
        now = clock.deadline(j) + random.Random(j).uniform(0, 0.9) * STEP
        assert served(clock, now) == [(j, 1)]
        assert clock.deadline(clock.next) == 100.0 + (j + 1) * STEP


def test_an_early_wake_up_still_serves_the_next_phase():
    clock = PhaseClock(t0=0.0)
    assert served(clock, -0.001) == [(0, 1)]  # the pacer wakes PACER_LEAD early on purpose
    assert clock.next == 1


def test_a_stall_is_caught_up_with_one_write_per_session():
    clock = PhaseClock(t0=0.0)
    served(clock, 0.0)
    # The loop stalls for three periods: every slot owes 3 frames, written together, in
    # deadline order, and no frame is dropped.
    first, last, skipped = clock.due(clock.deadline(3 * PACER_SLOTS) + STEP / 2)
    assert (first, last, skipped) == (1, 3 * PACER_SLOTS, 0)
    groups = clock.frames_per_slot(first, last)
    assert groups == [(j, 3) for j in range(1, 1 + PACER_SLOTS)]  # each slot once, 3 frames
    assert len({j % PACER_SLOTS for j, _n in groups}) == PACER_SLOTS
    # A partial period: the slots whose phase came round again owe one frame more.
    first, last, _ = clock.due(clock.deadline(clock.next + PACER_SLOTS + 2) + STEP / 2)
    groups = clock.frames_per_slot(first, last)
    assert [n for _j, n in groups] == [2, 2, 2] + [1] * (PACER_SLOTS - 3)


def test_a_stall_beyond_the_catch_up_limit_drops_the_oldest_frames():
    clock = PhaseClock(t0=0.0)
    served(clock, 0.0)
    stall = 100 * PACER_SLOTS  # 2 s: 100 periods
    first, last, skipped = clock.due(clock.deadline(stall) + STEP / 2)
    assert last == stall and last - first + 1 == MAX_CATCH_UP * PACER_SLOTS
    assert skipped == stall - MAX_CATCH_UP * PACER_SLOTS
    assert {n for _j, n in clock.frames_per_slot(first, last)} == {MAX_CATCH_UP}
    assert clock.next == stall + 1


def test_the_audio_hot_path_gives_what_the_full_parser_gives():
    """Feeding the Asterisk capture in random reads, trying ``receive_audio`` first (as the
    session does) and ``receive_data`` when it declines, yields the same audio."""
    data = (FIXTURES / "audiosocket-session.bin").read_bytes()
    whole = Connection(Role.SERVER).receive_data(data)
    want = [e.pcm for e in whole if isinstance(e, Audio)]
    ends, pos = [], 0  # where each message ends: reads like Asterisk's end there
    while pos < len(data):
        pos += 3 + int.from_bytes(data[pos + 1 : pos + 3], "big")
        ends.append(pos)
    rnd = random.Random(17)
    for _ in range(20):
        conn, got, pos, fast = Connection(Role.SERVER), [], 0, 0
        while pos < len(data):
            if rnd.random() < 0.7:  # one or two whole messages
                end = next((e for e in ends if e > pos), len(data))
                end = ends[min(ends.index(end) + rnd.randint(0, 1), len(ends) - 1)]
            else:  # any split
                end = pos + rnd.randint(1, 2000)
            chunk = data[pos:end]
            pos = end
            payloads = conn.receive_audio(chunk, 8000)
            if payloads is None:
                got += [e.pcm for e in conn.receive_data(chunk) if isinstance(e, Audio)]
            else:
                fast += 1
                got += payloads
        assert got == want
        assert fast  # the hot path did serve whole-frame reads
        assert conn.frames_in == len(whole)


def test_the_audio_hot_path_declines_everything_else():
    conn = Connection(Role.SERVER)
    audio = Connection(Role.ASTERISK).send(Audio(bytes(320), 8000))
    assert conn.receive_audio(audio, 8000) is None  # no UUID yet: the full rules apply
    conn.receive_data(uuid_bytes())
    assert conn.receive_audio(audio, 8000) == [bytes(320)]
    assert conn.receive_audio(audio[:100], 8000) is None  # half a frame
    assert conn.receive_audio(b"\x03\x00\x011", 8000) is None  # DTMF
    assert conn.receive_audio(audio + b"\x00\x00\x00", 8000) is None  # audio + hangup
    slin16 = Connection(Role.ASTERISK).send(Audio(bytes(640), 16000))
    assert conn.receive_audio(slin16, 8000) is None  # another rate than the call's
    same_size = encode_frame(0x11, bytes(320))  # slin12, as long as the frames before
    assert conn.receive_audio(same_size, 8000) is None
    assert conn.receive_audio(audio, 16000) is None  # the call's rate is part of the check
    assert conn.receive_audio(audio, 8000) == [bytes(320)]  # nothing was consumed


class Quiet(CallHandler):
    pass


async def test_a_peer_that_stops_reading_is_closed_as_a_slow_reader():
    lst = Listener(lambda session: Quiet(), "test")
    await lst.start("127.0.0.1", 0)
    peer = socket.socket()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # and it never reads
    try:
        peer.setblocking(False)
        await asyncio.get_running_loop().sock_connect(peer, ("127.0.0.1", lst.port))
        await asyncio.get_running_loop().sock_sendall(
            peer, uuid_bytes() + Connection(Role.ASTERISK).send(Audio(bytes(320), 8000)))
        while not lst.sessions:
            await asyncio.sleep(0.01)
        (session,) = lst.sessions
        lst.pacer.remove(session)  # the test drives the writes itself
        frames = 0
        while not session.closed:
            session.tick(100)  # a catch-up write of 2 s of audio
            frames += 100
            assert frames * 323 < 50 * MAX_WRITE_BUFFER, "never detected"
            await asyncio.sleep(0)
        assert session.close_reason == "slow_reader"
        assert lst.stats.slow_readers == 1
    finally:
        peer.close()
        lst.close_all()


def test_a_whole_visit_runs_on_the_voice_process_loop():
    """``central voice`` runs on uvloop (run_event_loop); the tests' loop is asyncio's, so
    one whole visit (greeting, DTMF, the resident's leg, clean hangup) runs on it here."""
    from central.voice.calls import VoiceRuntime
    from central.voice.runner import run_event_loop
    from central.voice.service import VoiceService
    from tests.voice.asclient import ASClient
    from tests.voice.helpers import SHARED_CACHES, FakeResidentPhone, config

    seen: dict = {}

    async def visit() -> None:
        import uvloop

        seen["loop"] = isinstance(asyncio.get_running_loop(), uvloop.Loop)
        phone = FakeResidentPhone()
        svc = VoiceService(loader=lambda: config(), runtime=VoiceRuntime(phone), caches=SHARED_CACHES)
        await svc.start()
        try:
            visitor = await ASClient().connect("127.0.0.1", svc.extensions["1003"].ai.port)
            await visitor.wait_voice(timeout=3)
            await visitor.dtmf("302#")
            await visitor.wait_closed(timeout=20)
            seen["outcome"] = svc.runtime.visits[-1].outcome
            seen["hangup"] = visitor.hangup_at is not None
        finally:
            await svc.stop()

    run_event_loop(visit())
    assert seen == {"loop": True, "outcome": "authorized", "hangup": True}


async def test_the_voice_process_takes_its_startup_heap_out_of_full_collections(tmp_path):
    """A full collection stalls every call's audio for as long as it walks the tracked
    objects: at 1,000 calls bench/audiosocket_load.py timed 120 ms with Django's and the
    app's startup objects in the heap, 42 ms without them.  Once up, ``run_voice`` has
    frozen them (gc.freeze), so collections walk only what calls create."""
    import gc

    from central.voice.runner import run_voice
    from tests.voice.helpers import config

    gc.unfreeze()
    ready, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_voice(api_port=0, snapshot_path=str(tmp_path / "voice.json"),
                                         loader=lambda: config(), use_database=False,
                                         ready=ready, stop=stop))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        assert gc.get_freeze_count() > 10_000  # this process's modules, Django, the service
    finally:
        stop.set()
        await task
        gc.unfreeze()  # the rest of the test session collects as before


def test_the_first_byte_probe_is_armed_for_one_frame_per_turn():
    """The pacer calls the session's first-byte probe only while a turn waits for its
    first frame out, not for every frame of every prompt (one call per frame was 1.5 %
    of the voice process at 800 calls)."""
    from central.voice.audiosocket.server import AudioSocketSession, Pacer, ServerStats
    from central.voice.pipeline import OutputFrames, OutputProcessor, TurnMetrics

    session = AudioSocketSession(lambda s: Quiet(), ServerStats(), Pacer())
    turns: list[TurnMetrics] = []
    out = OutputProcessor(session, on_control=lambda action: None, on_turn=turns.append)
    frames = (encode_frame(0x10, bytes(320)),) * 3
    out.process(OutputFrames(frames))  # a prompt nobody times
    assert session.on_frame_sent is None
    metrics = TurnMetrics(speech_end=1.0)
    out.process(OutputFrames(frames, metrics))
    assert session.on_frame_sent is not None
    session.on_frame_sent()  # the pacer sends the turn's first frame
    assert turns == [metrics] and metrics.first_byte_at > 0
    assert session.on_frame_sent is None


def test_the_voice_process_asks_for_a_short_scheduler_slice():
    """Without SCHED_FIFO the pacer's wake-up waits for whatever runs on its core to end
    its slice (1.4 ms by default here, more under load); ``central voice`` asks the fair
    scheduler for a short one, which needs no privilege.  Checked in a child process so
    this test process keeps its own scheduling."""
    import subprocess
    import sys

    from central.voice.priority import VOICE_SLICE_US

    code = ("from central.voice.priority import configured_slice_us, request_short_slice\n"
            "took = request_short_slice(configured_slice_us())\n"
            "print(took, [l.split()[-1] for l in open('/proc/self/sched') if l.startswith('se.slice')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin"}).stdout.split(maxsplit=1)
    assert out == ["True", f"['{VOICE_SLICE_US * 1000}']\n"]
    off = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "CENTRAL_VOICE_SLICE_US": "0"}).stdout
    assert off.startswith("False")


class SeesFramesOut(CallHandler):
    """Notes how many frames its session had written when each inbound frame reached it."""

    def __init__(self, session) -> None:
        self.session = session
        self.seen: list[int] = []

    def on_audio(self, pcm: bytes, now: float) -> None:
        self.seen.append(self.session.frames_out)


async def test_a_due_write_goes_out_before_the_read_that_finds_it_due():
    """At 1,000 calls a few hundred reads arrive together and the event loop runs its
    timers only after all of them, which kept the pacer up to 10 ms late (bench: p99 8-11
    ms).  Each read callback now writes what is due first.  Here the loop is held past the
    next tick; the read that comes then finds the frame already written."""
    import time

    handlers: list[SeesFramesOut] = []
    lst = Listener(lambda session: handlers.append(SeesFramesOut(session)) or handlers[-1], "test")
    await lst.start("127.0.0.1", 0)
    peer = socket.socket()
    try:
        peer.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(peer, ("127.0.0.1", lst.port))
        frame = Connection(Role.ASTERISK).send(Audio(bytes(320), 8000))
        await loop.sock_sendall(peer, uuid_bytes() + frame)  # this frame starts the call
        async with asyncio.timeout(5):
            while not handlers:
                await asyncio.sleep(0.001)
            await loop.sock_sendall(peer, frame)
            while not handlers[0].seen:
                await asyncio.sleep(0.001)
        (session,) = lst.sessions
        pacer = lst.pacer
        written = session.frames_out
        time.sleep(2 * FRAME_PERIOD)  # hold the loop: the pacer's timer cannot fire
        assert time.monotonic() >= pacer.due_at and session.frames_out == written
        session.data_received(frame)
        assert session.frames_out > written  # written before this read was handled...
        assert handlers[0].seen[-1] == session.frames_out  # ...and the handler saw it
        assert pacer.due_at > time.monotonic() - FRAME_PERIOD  # re-armed on the schedule
    finally:
        peer.close()
        lst.close_all()
