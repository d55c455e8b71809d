"""asyncio adapter around the AudioSocket codec: listeners, sessions, the paced writer.

* One :class:`AudioSocketSession` (an ``asyncio.Protocol``, cheaper than streams at
  hundreds of calls) per TCP connection.  A protocol error, a slow reader or a handler
  bug closes *that* session only (per-session isolation).
* One :class:`Pacer` per event loop writes exactly one 20 ms frame per session per tick
  on a deadline clock (``t0 + k * 20 ms``, so no drift).  Idle sessions get silence:
  ``audiosocket-edge-cases.frames.tsv`` session ``silent-leg-2s-timeout`` shows Asterisk
  hanging up 2.0 s after the last media.  One timer for all sessions keeps the wake-ups
  at 500 per second whatever the number of calls and the catch-up/drop policy in one
  place.  It is not where the capacity comes from: per call, one socket write and one
  read every 20 ms dominate (README "Capacity"; the bench's one-timer-per-call reference
  costs about the same CPU).  What keeps the frames on time at 1,000 calls is that the
  writes never wait behind the reads: every read callback runs a tick that has come due
  (:meth:`Pacer.write_if_due`), and the garbage collector runs right after a burst
  (``central.voice.collector``).
* Barge-in: :meth:`AudioSocketSession.interrupt` empties the playback queue, so the next
  tick (at most one frame later) already carries silence.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import math
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from central.voice.audio import silence
from central.voice.audiosocket.protocol import (
    DTMF,
    HANGUP_BYTES,
    Audio,
    Connection,
    ErrorMessage,
    Hangup,
    ProtocolError,
    Role,
    UUIDMessage,
    frame_bytes,
)
from central.voice.collector import CollectorSchedule

log = logging.getLogger(__name__)

FRAME_PERIOD = 0.020
#: The pacer wakes this much before each deadline.  The event loop wakes late by up to a
#: millisecond (epoll rounds timeouts up to whole ms) plus whatever callback runs first;
#: Asterisk reads frames into its own 20 ms timing, so a frame a little early is harmless
#: while a late one is the jitter we measure.  Lateness is counted against the deadline.
PACER_LEAD = 0.001
#: Phases of the 20 ms period over which sessions are spread (5 ms apart).  Fewer phases
#: mean fewer wake-ups of this process and of the reader for the same writes: at 1,000
#: calls bench/audiosocket_load.py measured 80-82 % of the core with 4 phases, 82 % with
#: 5 and 86-89 % with 10, while p99 lateness stayed 1-2 ms (2 phases: 4 ms, too close to
#: the 5 ms budget).
PACER_SLOTS = 4
#: Frames written in one tick when the loop stalled; beyond this a frame is dropped
#: (counted) rather than bursting seconds of audio at Asterisk.
MAX_CATCH_UP = 5
#: Unsent bytes allowed per session before it is closed as a slow reader (~2 s slin16).
MAX_WRITE_BUFFER = 64 * 1024
#: How long to wait for the first audio frame (which tells the call's sample rate:
#: slin8 for the AudioSocket() app, kind 0x12 for chan_audiosocket c(slin16), see
#: audiosocket-chan-slin16.bin) before assuming 8 kHz.
RATE_PROBE_TIMEOUT = 0.1
#: Ports tried after the configured one when it is taken.
PORT_TRIES = 20
#: Seconds a new connection has to send its UUID message.  Asterisk sends it 1 ms after
#: the connect (audiosocket-session.frames.tsv); anything slower is not Asterisk.
HANDSHAKE_TIMEOUT = 3.0
#: Seconds without one complete message (audio, DTMF, hangup) before the connection is
#: dropped.  Asterisk streams a frame every 20 ms and itself hangs up after 2 s without
#: media (audiosocket-edge-cases.frames.tsv, silent-leg-2s-timeout); a half frame, or a
#: peer trickling 1 byte/s, never completes a message and is dropped too.
IDLE_TIMEOUT = 5.0
#: Open connections one listener accepts (calls in progress plus handshakes); beyond it a
#: connection is closed at once, so idle sockets cannot exhaust the process's descriptors.
MAX_CONNECTIONS = 256


class LatencyHistogram:
    """Fixed 0.1 ms buckets up to 100 ms: O(1) record, exact-enough percentiles."""

    RESOLUTION = 0.0001
    BUCKETS = 1001

    def __init__(self) -> None:
        self.counts = [0] * self.BUCKETS
        self.total = 0
        self.max = 0.0

    def record(self, seconds: float) -> None:
        i = int(seconds / self.RESOLUTION) if seconds > 0 else 0
        self.counts[min(i, self.BUCKETS - 1)] += 1
        self.total += 1
        if seconds > self.max:
            self.max = seconds

    def percentile(self, p: float) -> float:
        if not self.total:
            return 0.0
        target = self.total * p / 100.0
        seen = 0
        for i, c in enumerate(self.counts):
            seen += c
            if seen >= target:
                return (i + 1) * self.RESOLUTION
        return self.max

    def reset(self) -> None:
        self.__init__()


@dataclass
class PacerStats:
    ticks: int = 0
    frames_sent: int = 0
    frames_dropped: int = 0
    catch_up_ticks: int = 0


class PhaseClock:
    """Sans-I/O schedule of the paced writer: which phase deadlines are due, and when next.

    Phase ``j`` is due at ``t0 + j * step`` (``step = period / slots``; sessions in slot
    ``j % slots``), computed from ``t0`` each time, so wake-ups that are late never shift
    the clock (no drift).  :meth:`due` returns the phases a wake-up at ``now`` must serve:
    at least the next one (the loop wakes a little early on purpose), everything up to
    ``now``, but never more than ``max_catch_up`` periods: older phases are skipped
    (their frames are dropped and counted) rather than bursting seconds of audio.
    """

    def __init__(self, t0: float, period: float = FRAME_PERIOD, slots: int = PACER_SLOTS,
                 max_catch_up: int = MAX_CATCH_UP) -> None:
        self.t0 = t0
        self.slots = slots
        self.step = period / slots
        self.limit = max_catch_up * slots
        self.next = 0  # the earliest phase not served yet

    def deadline(self, phase: int) -> float:
        return self.t0 + phase * self.step

    def due(self, now: float) -> tuple[int, int, int]:
        """``(first, last, skipped)``: serve phases ``first..last``; ``skipped`` phases
        before ``first`` were too old.  Advances the clock past ``last``."""
        first = self.next
        last = max(first, int((now - self.t0) / self.step))
        skipped = max(0, last - first + 1 - self.limit)
        self.next = last + 1
        return first + skipped, last, skipped

    def frames_per_slot(self, first: int, last: int) -> list[tuple[int, int]]:
        """Group the phases ``first..last`` by slot: ``(earliest phase, frames due)`` per
        slot in deadline order.  A session gets all its due frames in one write."""
        return [(j, (last - j) // self.slots + 1) for j in range(first, min(last, first + self.slots - 1) + 1)]


class Pacer:
    """Writes one frame per session every 20 ms, each session on its own deadline clock.

    Sessions are spread over ``slots`` phases of the 20 ms period (session deadlines are
    ``t0 + phase + k * 20 ms``) and the pacer wakes once per phase.  Writing every call's
    frame in one burst would make the last call of the burst late by N send() calls
    (about 8 us each on loopback: 8 ms at 1,000 calls); spread over ``PACER_SLOTS`` phases
    each burst is a fraction of that.  A missed wake-up is caught up (each session still gets every
    frame, in order, in one write) up to ``MAX_CATCH_UP`` periods; beyond that frames are
    dropped and counted.  The schedule itself is :class:`PhaseClock`.
    """

    def __init__(self, period: float = FRAME_PERIOD, lead: float = PACER_LEAD, slots: int = PACER_SLOTS) -> None:
        self.period = period
        self.lead = lead
        self.slots = slots
        self.sessions: set[AudioSocketSession] = set()
        self._slots: list[list[AudioSocketSession]] = [[] for _ in range(slots)]
        self.lateness = LatencyHistogram()
        #: How late each tick started against its due time: the part of the lateness the
        #: event loop (other callbacks, the collector, the scheduler) caused, where the
        #: rest is the burst of writes itself.
        self.wake = LatencyHistogram()
        self.stats = PacerStats()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self.clock = PhaseClock(0.0, period, slots)
        #: When the next tick is due (``time.monotonic()``; infinite with no session).
        #: Read callbacks compare it with the time they already took (:meth:`write_if_due`).
        self.due_at = math.inf
        self.collector = CollectorSchedule()

    def add(self, session: AudioSocketSession) -> None:
        if session in self.sessions:
            return
        self.sessions.add(session)
        min(self._slots, key=len).append(session)  # balance the phases
        if self._handle is None:
            self._loop = asyncio.get_running_loop()
            self.clock = PhaseClock(time.monotonic(), self.period, self.slots)
            self.collector.start()
            self._arm()

    def remove(self, session: AudioSocketSession) -> None:
        if session not in self.sessions:
            return
        self.sessions.discard(session)
        for slot in self._slots:
            if session in slot:
                slot.remove(session)
                break
        if not self.sessions and self._handle is not None:
            self._handle.cancel()
            self._idle()

    def _idle(self) -> None:
        """No session left: no timer, nothing due, collection back to CPython."""
        self._handle = None
        self.due_at = math.inf
        self.collector.stop()

    def _arm(self) -> None:
        """Set the timer for the next phase.  ``time.monotonic()``, not ``loop.time()``:
        uvloop's loop clock counts whole milliseconds (libuv's ``uv_now``), a fifth of a
        phase, so deadlines and the lateness measured against them would be off by up to
        1 ms; the timer itself still fires on the loop's millisecond clock."""
        assert self._loop is not None
        self.due_at = self.clock.deadline(self.clock.next) - self.lead
        self._handle = self._loop.call_later(self.due_at - time.monotonic(), self._tick)

    def write_if_due(self, now: float) -> None:
        """Run the tick now if it is due: called by every read callback with the time it
        took anyway.  The event loop runs a timer only after all the I/O callbacks of its
        current poll; at 1,000 calls those are a few hundred reads (VAD included) arriving
        together, which kept a due tick waiting up to 10 ms.  Checked between reads, the
        writes wait for one read at most; inbound audio waiting a few ms costs nothing,
        outbound audio late is what the caller hears."""
        if now >= self.due_at and self._handle is not None:
            self._handle.cancel()
            self._tick()

    def _tick(self) -> None:
        clock = self.clock
        monotonic = time.monotonic
        started = monotonic()
        self.wake.record(started - self.due_at)
        first, last, skipped = clock.due(started + self.lead)
        if skipped:
            self.stats.frames_dropped += skipped * len(self.sessions) // self.slots
        if last > first or skipped:
            self.stats.catch_up_ticks += 1
        slots, record = self._slots, self.lateness.record
        for j, n in clock.frames_per_slot(first, last):
            sessions = slots[j % self.slots]
            if not sessions:
                continue
            for session in tuple(sessions):  # a session may close (and leave) in its tick
                session.tick(n)
            self.stats.frames_sent += len(sessions) * n
            # Lateness of the last frame of this phase against its deadline (<= 0: early).
            now = monotonic()
            for k in range(n):
                record(now - clock.deadline(j + k * self.slots))
        self.stats.ticks += 1
        self.collector.after_burst()  # the slack before the next phase
        if self.sessions:
            self._arm()
        else:
            self._idle()


_pacers: dict[int, Pacer] = {}


def pacer_for_loop() -> Pacer:
    loop = asyncio.get_running_loop()
    pacer = _pacers.get(id(loop))
    if pacer is None or pacer._loop not in (None, loop):
        pacer = _pacers[id(loop)] = Pacer()
    return pacer


@dataclass
class ServerStats:
    sessions_total: int = 0
    sessions_active: int = 0
    protocol_errors: int = 0
    handler_errors: int = 0
    slow_readers: int = 0
    handshake_timeouts: int = 0
    idle_timeouts: int = 0
    refused_over_cap: int = 0


class CallHandler:
    """What a session tells the application; subclasses override what they need."""

    def on_start(self, now: float) -> None: ...
    def on_audio(self, pcm: bytes, now: float) -> None: ...
    def on_dtmf(self, digit: str, now: float) -> None: ...
    def on_close(self, reason: str) -> None: ...


HandlerFactory = Callable[["AudioSocketSession"], CallHandler]


class AudioSocketSession(asyncio.Protocol):
    def __init__(self, factory: HandlerFactory, stats: ServerStats, pacer: Pacer, label: str = "",
                 *, handshake_timeout: float = HANDSHAKE_TIMEOUT, idle_timeout: float = IDLE_TIMEOUT,
                 open_set: set | None = None, max_connections: int = MAX_CONNECTIONS,
                 call_set: set | None = None) -> None:
        self.factory = factory
        self.stats = stats
        self.pacer = pacer
        self.label = label
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self.open_set = open_set if open_set is not None else set()
        self.call_set = call_set if call_set is not None else set()  # from _start to _finish
        self.max_connections = max_connections
        self._watchdog: asyncio.TimerHandle | None = None
        self.last_message = time.monotonic()
        self.codec = Connection(Role.SERVER)
        self.transport: asyncio.Transport | None = None
        self.handler: CallHandler | None = None
        self.uuid: str | None = None
        self.rate = 8000
        self.playback: deque[bytes] = deque()
        self._silence = frame_bytes(silence(8000), 8000)
        self._drain_waiters: list[asyncio.Future] = []
        self._hangup_when_drained = False
        self._probe: asyncio.TimerHandle | None = None
        self.closed = False
        self.close_reason = ""
        self.started_at = time.monotonic()
        self.frames_out = 0
        self.frames_in = 0
        self.on_frame_sent: Callable[[], None] | None = None  # first-byte latency probe

    # -- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if len(self.open_set) >= self.max_connections:
            self.stats.refused_over_cap += 1
            log.warning("AudioSocket %s: %d connections open, refusing one more", self.label,
                        len(self.open_set))
            self.closed = True  # never counted as a session
            transport.abort()
            return
        self.open_set.add(self)
        self.last_message = time.monotonic()
        self._watchdog = asyncio.get_running_loop().call_later(self.handshake_timeout, self._check_alive)
        # asyncio's flow control watches the unsent bytes for us (pause_writing), so the
        # per-frame path never has to ask for the buffer size.
        transport.set_write_buffer_limits(high=MAX_WRITE_BUFFER)  # type: ignore[attr-defined]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Asterisk's app sets TCP_NODELAY too (audiosocket-session.md "Other notes"):
            # a 320 B frame must not wait for Nagle.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.stats.sessions_total += 1
        self.stats.sessions_active += 1

    def data_received(self, data: bytes) -> None:
        handler = self.handler
        if handler is not None:
            now = time.monotonic()
            self.pacer.write_if_due(now)  # due writes before this read's VAD
            # The hot path (50 reads/s per call): nothing but audio frames at the call's rate.
            payloads = self.codec.receive_audio(data, self.rate)
            if payloads is not None:
                self.last_message = now
                self.frames_in += len(payloads)
                try:
                    for pcm in payloads:
                        if self.closed:
                            return
                        handler.on_audio(pcm, now)
                except Exception:
                    self.stats.handler_errors += 1
                    log.exception("AudioSocket %s %s: handler failed, closing", self.label, self.uuid)
                    self.close("handler_error")
                return
        try:
            events = self.codec.receive_data(data)
        except ProtocolError as exc:
            self.stats.protocol_errors += 1
            log.warning("AudioSocket %s %s: protocol error, closing: %s", self.label, self.uuid, exc)
            self.close(f"protocol_error: {exc}")
            return
        loop_time = time.monotonic()
        if events:
            self.last_message = loop_time
        for event in events:
            if self.closed:
                return
            try:
                if isinstance(event, Audio):
                    self.frames_in += 1
                    if self.handler is None:
                        if self.uuid is not None:
                            self._start(event.rate)
                        continue
                    self.handler.on_audio(event.pcm, loop_time)
                elif isinstance(event, DTMF):
                    if self.handler is None:
                        self._start(8000)
                    self.handler.on_dtmf(event.digit, loop_time)  # type: ignore[union-attr]
                elif isinstance(event, UUIDMessage):
                    self.uuid = str(event.uuid)
                    if self._watchdog is not None:  # handshake done: idle checks from now
                        self._watchdog.cancel()
                    self._watchdog = asyncio.get_running_loop().call_later(
                        self.idle_timeout, self._check_alive
                    )
                    self._probe = asyncio.get_running_loop().call_later(
                        RATE_PROBE_TIMEOUT, self._start, 8000
                    )
                elif isinstance(event, Hangup | ErrorMessage):
                    self.close("peer_hangup" if isinstance(event, Hangup) else "peer_error", send_hangup=False)
            except Exception:
                self.stats.handler_errors += 1
                log.exception("AudioSocket %s %s: handler failed, closing", self.label, self.uuid)
                self.close("handler_error")

    def connection_lost(self, exc: Exception | None) -> None:
        # audiosocket-edge-cases.frames.tsv, caller-hangs-up-first: a far-end hangup is a
        # bare TCP FIN, never a hangup message.
        if self not in self.open_set and self.closed:
            return  # refused over the cap
        self._finish("peer_closed" if not self.close_reason else self.close_reason)

    def _check_alive(self) -> None:
        """One timer per connection: the UUID within the handshake time, then at least one
        complete message every ``idle_timeout`` seconds."""
        self._watchdog = None
        if self.closed:
            return
        if self.uuid is None:
            self.stats.handshake_timeouts += 1
            log.info("AudioSocket %s: no UUID in %.1f s, closing", self.label, self.handshake_timeout)
            self.close("handshake_timeout", send_hangup=False)
            return
        quiet = time.monotonic() - self.last_message
        if quiet >= self.idle_timeout:
            self.stats.idle_timeouts += 1
            log.info("AudioSocket %s %s: nothing received for %.1f s, closing", self.label, self.uuid, quiet)
            self.close("idle_timeout")
            return
        self._watchdog = asyncio.get_running_loop().call_later(self.idle_timeout - quiet, self._check_alive)

    # -- session control ----------------------------------------------------------------
    def _start(self, rate: int) -> None:
        if self.handler is not None or self.closed:
            return
        if self._probe is not None:
            self._probe.cancel()
        self.rate = rate
        self._silence = frame_bytes(silence(rate), rate)
        try:
            self.call_set.add(self)
            self.handler = self.factory(self)
            self.pacer.add(self)
            self.handler.on_start(time.monotonic())
        except Exception:
            self.stats.handler_errors += 1
            log.exception("AudioSocket %s %s: handler start failed", self.label, self.uuid)
            self.close("handler_error")

    def play(self, frames) -> None:
        """Queue ready-to-send frames (encoded at :attr:`rate`) for the pacer."""
        self.playback.extend(frames)

    def interrupt(self) -> int:
        """Barge-in: drop queued audio; the next tick sends silence.  Returns frames dropped."""
        dropped = len(self.playback)
        self.playback.clear()
        self._wake_drain_waiters()
        return dropped

    @property
    def playing(self) -> bool:
        return bool(self.playback)

    async def drained(self) -> None:
        if not self.playback or self.closed:
            return
        fut = asyncio.get_running_loop().create_future()
        self._drain_waiters.append(fut)
        await fut

    def hangup_after_playback(self) -> None:
        self._hangup_when_drained = True
        if not self.playback:
            self.close("hangup")

    def tick(self, n: int) -> None:
        """Called by the pacer: write ``n`` frames (normally 1) of playback or silence."""
        transport = self.transport
        if self.closed or transport is None:
            return
        pb = self.playback
        if not pb and self._drain_waiters:
            self._wake_drain_waiters()
        if not pb and self._hangup_when_drained:
            self.close("hangup")
            return
        if pb and self.on_frame_sent is not None:
            self.on_frame_sent()  # first-byte latency probe: playback leaves now
        if n == 1:
            data = pb.popleft() if pb else self._silence
        else:  # catching up after a stall: every frame due, in order, in one write
            data = b"".join([pb.popleft() if pb else self._silence for _ in range(n)])
        self.frames_out += n
        transport.write(data)  # may call pause_writing (slow reader) before it returns

    def pause_writing(self) -> None:
        """asyncio flow control: more than ``MAX_WRITE_BUFFER`` bytes are unsent, so the
        peer is not reading; a call cannot wait for it, close it."""
        if self.closed:
            return
        self.stats.slow_readers += 1
        log.warning("AudioSocket %s %s: peer not reading, closing", self.label, self.uuid)
        self.close("slow_reader", send_hangup=False)

    def _wake_drain_waiters(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def close(self, reason: str, send_hangup: bool = True) -> None:
        """Clean close: ``00 00 00`` then FIN (audiosocket-session.frames.tsv t=5.1007)."""
        if self.closed:
            return
        self.close_reason = reason
        if self.transport is not None and not self.transport.is_closing():
            if send_hangup:
                self.transport.write(HANGUP_BYTES)
            self.transport.close()
        self._finish(reason)

    def _finish(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_reason = self.close_reason or reason
        if self._probe is not None:
            self._probe.cancel()
        if self._watchdog is not None:
            self._watchdog.cancel()
        self.open_set.discard(self)
        self.call_set.discard(self)
        self.pacer.remove(self)
        self.stats.sessions_active -= 1
        self._wake_drain_waiters()
        handler, self.handler = self.handler, None
        if handler is not None:
            try:
                handler.on_close(self.close_reason)
            except Exception:
                self.stats.handler_errors += 1
                log.exception("AudioSocket %s %s: on_close failed", self.label, self.uuid)
        # The session, its handler, their timers and the playback probe refer to each
        # other; dropping the session's side of every pair lets reference counting free a
        # finished call at once.  Otherwise each one waits in the old generation for a
        # full collection, which then walks it (collector.py): the memory of hundreds of
        # ended calls, and a longer stall of every call in progress.
        self._watchdog = self._probe = self.on_frame_sent = None
        self.playback.clear()


class Listener:
    """One listening socket (an AI extension's or a return extension's)."""

    def __init__(self, factory: HandlerFactory, label: str = "", pacer: Pacer | None = None, *,
                 handshake_timeout: float = HANDSHAKE_TIMEOUT, idle_timeout: float = IDLE_TIMEOUT,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        self.factory = factory
        self.label = label
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        #: Every open connection, handshaking or in a call (``sessions`` has the calls).
        self.connections: set[AudioSocketSession] = set()
        self.stats = ServerStats()
        self.pacer = pacer
        self.server: asyncio.Server | None = None
        self.host = ""
        self.requested_port = 0
        self.port = 0
        self.sessions: set[AudioSocketSession] = set()

    def _protocol(self) -> AudioSocketSession:
        return AudioSocketSession(
            self.factory, self.stats, self.pacer or pacer_for_loop(), self.label,
            handshake_timeout=self.handshake_timeout, idle_timeout=self.idle_timeout,
            open_set=self.connections, max_connections=self.max_connections, call_set=self.sessions,
        )


    async def start(self, host: str, port: int, tries: int = PORT_TRIES) -> int:
        """Bind ``port`` or, when taken, the next free one; return the port in use.

        The dialplan must point at the port actually used, so callers report it (status
        API, log).
        """
        if self.pacer is None:
            self.pacer = pacer_for_loop()
        self.host, self.requested_port = host, port
        loop = asyncio.get_running_loop()
        last: OSError | None = None
        for candidate in [port] if port == 0 else range(port, min(port + tries, 65536)):
            try:
                self.server = await loop.create_server(self._protocol, host, candidate)
            except OSError as exc:
                if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
                    raise
                last = exc
                continue
            self.port = self.server.sockets[0].getsockname()[1]
            if self.port != port and port:
                log.warning("%s: port %d taken, listening on %s:%d", self.label, port, host, self.port)
            else:
                log.info("%s: listening on %s:%d", self.label, host, self.port)
            return self.port
        raise OSError(errno.EADDRINUSE, f"{self.label}: no free port in {port}..{port + tries - 1}: {last}")

    def stop_listening(self) -> None:
        """Stop accepting; calls in progress continue on their own transports."""
        if self.server is not None:
            self.server.close()
            self.server = None

    def close_all(self) -> None:
        self.stop_listening()
        for session in list(self.connections | self.sessions):
            session.close("shutdown")
