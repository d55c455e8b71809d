"""asyncio TCP adapter: the simulated PBX on a socket, speaking AMI like Asterisk 22.

Thin by design: bytes -> ``AMIParser(role="server")`` -> :class:`SimulatedPBX` ->
``encode_message`` -> bytes. The only logic here is I/O and time:

* **Clock modes.** ``real``: a driver task sleeps until the next happening.
  ``virtual``: when every client is idle (no action received during a quiet window, all
  output flushed), the clock jumps straight to the next happening, so an hour of traffic
  runs in well under a second. ``manual``: time moves only when a test or bench calls
  :meth:`Simulator.advance`.
* **Controls for tests**: :meth:`Simulator.drop_connections` (reconnect tests),
  ``config.faults`` (drop the connection instead of answering, slow responses, garbage).
  Evidence: none, they are test controls (an RST is what an Asterisk restart looks like).

Evidence for the wire behaviour here: the banner and the Response-before-events order
are in every transcript of tests/fixtures/asterisk/; events go to every logged-in
session whose mask and filters want them, each session in the order they happened
(Asterisk 22.10.1 main/manager.c process_events(): one event queue, each session reads
it in order).

How ``central simulate-pbx`` calls it (``central.simulator.commands`` registers that
command; ``central up`` can do the same in-process)::

    from central.simulator import SimulatorConfig, serve
    from central.simulator.scenarios import demo_config
    config = demo_config(clock="real")            # users from CENTRAL_SIM_AMI_*, ramais move
    asyncio.run(serve("127.0.0.1", 5038, config))  # runs until cancelled

    # in-process, e.g. inside `central up` or a test:
    sim = await Simulator(config).start("127.0.0.1", 0)   # sim.port is the bound port
    ...
    await sim.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterable
from pathlib import Path

from central.simulator import recording
from central.simulator.audiosocket_client import FRAME_SECONDS, AudioSocketClient
from central.simulator.clock import RealClock, VirtualClock
from central.simulator.config import SimulatorConfig
from central.simulator.pbx import ActionResult, SessionState, SimulatedPBX, error, response
from central.simulator.render import Call, Event
from central.telephony.ami.protocol import AMIParser, ProtocolError, encode_message

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"  # first line of every fixture stream
READ_SIZE = 65536
# Event-loop turns granted to in-process clients before the virtual clock jumps: a
# loopback write, the client's read, its reply and our read take a handful of turns.
_IDLE_SPINS = 6


def encode_event(pairs: Event) -> bytes:
    """``encode_message`` with a fast path: the renderer's events are built from
    values that cannot hold line breaks, so one join plus one C-level count replaces
    the per-field checks (encoding was half the CPU of a virtual-clock run). Anything
    suspicious goes through ``encode_message``, which names the bad field."""
    text = "".join([f"{k}: {v}\r\n" for k, v in pairs])
    if text.count("\n") == len(pairs) and text.count("\r") == len(pairs):
        return (text + "\r\n").encode("utf-8")
    return encode_message(pairs)


#: Seconds an AudioSocket leg waits for the server's first words, then for the end of the
#: session. Evidence: none (test bounds; Asterisk itself waits as long as the call lasts).
LEG_PROMPT_WAIT = 15.0
LEG_MAX_SECONDS = 120.0


class Session:
    """One AMI connection."""

    def __init__(self, sim: Simulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sim = sim
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        sock = writer.get_extra_info("sockname") or ("127.0.0.1", 0)
        self.state = SessionState(peer=f"{peer[0]}/{peer[1]}", local=f"{sock[0]}/{sock[1]}")
        self.parser = AMIParser(role="server")
        self.closed = False
        self.pending_sync: dict[str, Event] = {}

    def send(self, pairs: Event) -> None:
        if not self.closed:
            self.writer.write(encode_event(pairs))

    def send_raw(self, data: bytes) -> None:
        if not self.closed:
            self.writer.write(data)

    def close(self, abort: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        transport = self.writer.transport
        if abort:
            transport.abort()
        else:
            transport.close()

    async def run(self) -> None:
        sim = self.sim
        self.send_raw(BANNER)
        try:
            while not self.closed:
                data = await self.reader.read(READ_SIZE)
                if not data:
                    break
                sim._activity += 1
                try:
                    messages = self.parser.receive_data(data)
                except ProtocolError as exc:
                    # Bad input: counted, connection kept (DESIGN principle 5); the
                    # messages parsed around it still run. A block with no Action
                    # gets Asterisk's answer (manager.c: "Missing action in request");
                    # an over-long line is dropped silently, as Asterisk's get_input
                    # does ("Dumping long line").
                    errors = exc.errors or [exc]
                    sim.stats["protocol_errors"] += len(errors)
                    log.info("simulator: bad AMI input from %s: %s", self.state.peer, exc)
                    messages = list(exc.messages or [])
                    for err in errors:
                        if err.kind in ("no_kind", "bad_header"):
                            self.send(error(None, "Missing action in request"))
                for msg in messages:
                    await sim._dispatch(self, msg)
                    if self.closed:
                        break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.closed = True
            sim.sessions.discard(self)
            with contextlib.suppress(Exception):  # already torn down
                self.writer.close()


class Simulator:
    """The running PBX simulator: a TCP server, its sessions and its clock."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        if self.config.clock == "real":
            self.clock: RealClock | VirtualClock = RealClock()
        else:
            self.clock = VirtualClock()
        self.pbx = SimulatedPBX(self.config, self.clock)
        self.pbx.on_resolved = self._resolved
        self.pbx.on_recording = self._write_recording
        self.recordings: list[Path] = []  # files written by MixMonitor, for tests and figures
        self.sessions: set[Session] = set()
        self.stats = {"connections": 0, "dropped": 0, "protocol_errors": 0, "events_sent": 0}
        self._server: asyncio.base_events.Server | None = None
        self._driver: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._activity = 0
        self._waiters: dict[str, tuple[Session, str | None]] = {}
        self._rng = random.Random(self.config.seed + 2)
        self._tasks: set[asyncio.Task] = set()
        self._legs: set[asyncio.Task] = set()  # AudioSocket legs (SimulatorConfig.audiosocket)
        self.legs: list[AudioSocketClient] = []  # every leg played, for tests and figures
        self.visitor_legs: list[AudioSocketClient] = []  # the last demo visitors
        self._stopping = False
        self.host = "127.0.0.1"
        self.port = 0

    # ------------------------------------------------------------------ lifecycle
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Simulator:
        self._server = await asyncio.start_server(self._accept, host, port)
        sock = self._server.sockets[0].getsockname()
        self.host, self.port = sock[0], sock[1]
        if self.config.clock in ("real", "virtual"):
            self._driver = asyncio.create_task(self._drive(), name="pbx-simulator-clock")
        if self.config.visitors.per_minute > 0:
            task = asyncio.create_task(self._visitor_traffic(), name="pbx-simulator-visitors")
            self._legs.add(task)
            task.add_done_callback(self._legs.discard)
        return self

    async def stop(self) -> None:
        # The flag, not only the cancel: on Python 3.11 a cancel that lands while the
        # driver's wait_for() is completing (an action just set _wake, e.g. a client's
        # Logoff) is swallowed and the loop would run on forever (CPython gh-86296).
        self._stopping = True
        if self._driver is not None:
            self._driver.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._driver
            self._driver = None
        for leg in list(self._legs):
            leg.cancel()
        if self._legs:
            await asyncio.wait(list(self._legs), timeout=2.0)
        if self._server is not None:
            self._server.close()
        for s in list(self.sessions):
            s.close(abort=True)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Simulator:
        if self._server is None:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(self, reader, writer)
        self.sessions.add(session)
        self.stats["connections"] += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await session.run()
        finally:
            if task is not None:
                self._tasks.discard(task)

    # -------------------------------------------------------------- controls
    def drop_connections(self) -> int:
        """Close every AMI connection now (RST), like an Asterisk restart would; the
        server keeps listening so clients can reconnect. Returns how many."""
        n = 0
        for s in list(self.sessions):
            s.close(abort=True)
            n += 1
        self.sessions.clear()
        self.stats["dropped"] += n
        return n

    async def advance(self, seconds: float) -> int:
        """Move the clock forward by ``seconds`` (virtual/manual modes), delivering each
        happening's events in order and letting in-process clients react between
        happenings. Returns the number of AMI events rendered."""
        if not isinstance(self.clock, VirtualClock):
            raise RuntimeError("advance() needs clock='virtual' or 'manual'")
        target = self.clock.now() + seconds
        count = 0
        while True:
            t = self.pbx.next_time()
            if t is None or t > target:
                break
            self.clock.set(t)
            count += self._step(t)
            await self._settle()
        self.clock.set(target)
        count += self._step(target)
        await self._settle()
        return count

    async def run_until(self, t: float) -> int:
        return await self.advance(max(0.0, t - self.clock.now()))

    # --------------------------------------------------------------- driving
    def _step(self, until: float) -> int:
        events = self.pbx.advance(until)
        self._broadcast(events)
        return len(events)

    async def _settle(self) -> None:
        """Let clients see and answer what was just sent before time moves on."""
        quiet = self.config.virtual_quiet
        while True:
            seen = self._activity
            for _ in range(_IDLE_SPINS):
                await asyncio.sleep(0)
            for s in list(self.sessions):
                if not s.closed:
                    try:
                        await s.writer.drain()
                    except ConnectionError:
                        s.closed = True
            if quiet > 0:
                await asyncio.sleep(quiet)
            if self._activity == seen:
                return

    async def _drive(self) -> None:
        try:
            while not self._stopping:
                if isinstance(self.clock, VirtualClock):
                    await self._settle()
                    t = self.pbx.next_time()
                    if t is None:
                        self._wake.clear()
                        await self._wake.wait()
                        continue
                    self.clock.set(t)
                    self._step(t)
                else:
                    t = self.pbx.next_time()
                    timeout = None if t is None else max(0.0, t - self.clock.now())
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout)
                    self._step(self.clock.now())
        except asyncio.CancelledError:
            raise
        except Exception:  # pragma: no cover - a bug must not kill the server silently
            log.exception("simulator clock driver crashed")
            raise

    # ------------------------------------------------------------- actions
    async def _dispatch(self, session: Session, msg) -> None:
        faults = self.config.faults
        name = (msg.get("Action") or "").lower()
        drop = session.state.authenticated and (
            name in {a.lower() for a in faults.drop_actions}
            or (faults.drop_probability and self._rng.random() < faults.drop_probability)
        )
        if drop:
            if faults.execute_before_drop:
                self._broadcast(self._execute(session, msg).broadcast)
            self.stats["dropped"] += 1
            session.close(abort=True)
            return
        if faults.response_delay:
            await asyncio.sleep(faults.response_delay)
        result = self._execute(session, msg)
        if result.delay:
            await asyncio.sleep(result.delay)
        # The Response goes out before the events the action caused (the transcripts
        # show "Originate successfully queued" before its OriginateResponse).
        if result.wait_for is None:
            for pairs in result.reply:
                session.send(pairs)
        self._broadcast(result.broadcast)
        if result.close:
            with contextlib.suppress(ConnectionError):
                await session.writer.drain()
            session.close()

    def _execute(self, session: Session, msg) -> ActionResult:
        # Bring the world up to "now" first so the action sees current state.
        if not isinstance(self.clock, VirtualClock):
            self._step(self.clock.now())
        result = self.pbx.handle(msg, session.state)
        if result.wait_for is not None:
            call = result.wait_for
            if call.reason is not None:  # resolved while handling (immediate failure)
                result.reply = [self._sync_reply(call)]
                result.wait_for = None
            else:
                self._waiters[call.call_id] = (session, msg.get("ActionID"))
        self._wake.set()
        return result

    @staticmethod
    def _sync_reply(call: Call) -> Event:
        # ami-login-and-actions.txt orig-sync-1 (answered: "Originate successfully
        # queued" once the call is up) and orig-fail-sync ("Originate failed").
        if call.reason == 4:
            return response(call.action_id, "Success", "Originate successfully queued")
        return error(call.action_id, "Originate failed")

    def _write_recording(self, file: str, seconds: float) -> None:
        """A monitored call hung up: MixMonitor's file is complete (a few hundred kB at
        most, written inline like Asterisk's own monitor thread would)."""
        path = recording.target_path(self.config.monitor_dir, file)
        if path is None:
            return
        try:
            recording.write_recording(path, min(seconds, self.config.recording_max_seconds))
        except OSError:
            log.warning("simulator: could not write the recording %s", path, exc_info=True)
            return
        self.recordings.append(path)

    def _resolved(self, call: Call) -> None:
        waiter = self._waiters.pop(call.call_id, None)
        if waiter is not None:
            session, _aid = waiter
            session.send(self._sync_reply(call))
        if call.reason == 4 and call.app is not None and call.app[0] == "AudioSocket" \
                and not self._stopping:
            task = asyncio.get_running_loop().create_task(self._audiosocket(call),
                                                          name=f"audiosocket-{call.call_id}")
            self._legs.add(task)
            task.add_done_callback(self._legs.discard)

    async def _audiosocket(self, call: Call) -> None:
        """The answered channel runs ``AudioSocket(<uuid>,<host:port>)``, then
        ``Hangup()``; the person on it is the world's resident: listens to the prompt,
        then presses 1, 2 or nothing (``WorldConfig.resident_*``).

        app_audiosocket: a connection that cannot be made ends the application (-1) and
        the channel hangs up; so does a server hangup (``00 00 00``) or a closed socket
        (audiosocket-session.md). Evidence for the person: none (a model)."""
        assert call.app is not None
        world = self.config.world
        uuid_text, _, target = call.app[1].partition(",")
        host, _, port_text = target.rpartition(":")
        u = self._rng.random()
        press = "1" if u < world.resident_authorize_rate else \
            "2" if u < world.resident_authorize_rate + world.resident_deny_rate else None
        think = self._rng.expovariate(1 / world.resident_think_mean) if world.resident_think_mean > 0 else 0.0
        try:
            leg = AudioSocketClient(host, int(port_text), call_uuid=uuid_text)
            await leg.connect()
        except (OSError, ValueError) as exc:
            log.info("simulator: AudioSocket(%s) of %s failed: %s", call.app[1], call.call_id, exc)
        else:
            self.legs.append(leg)
            del self.legs[:-50]
            try:
                heard = await self._heard(leg, LEG_PROMPT_WAIT)
                if heard and press is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(leg.closed.wait(), think)
                    if not leg.closed.is_set():
                        leg.dtmf(press)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(leg.closed.wait(), LEG_MAX_SECONDS)
            finally:
                await leg.close()
        if not self._stopping:
            if not isinstance(self.clock, VirtualClock):
                self._step(self.clock.now())
            self._broadcast(self.pbx.hangup_call(call.call_id))
            self._wake.set()

    async def _visitor_traffic(self) -> None:
        """Poisson arrivals of demo visitors (``SimulatorConfig.visitors``), real time."""
        traffic = self.config.visitors
        while not self._stopping:
            await asyncio.sleep(self._rng.expovariate(traffic.per_minute / 60.0))
            if not traffic.target or not traffic.units:
                continue  # nobody told us where the AI extension listens yet
            task = asyncio.get_running_loop().create_task(self._visitor(traffic))
            self._legs.add(task)
            task.add_done_callback(self._legs.discard)

    async def _visitor(self, traffic) -> None:
        unit = self._rng.choice(traffic.units)
        leaves = self._rng.random() < traffic.hangup_rate
        try:
            leg = await self._visitor_leg(traffic.target)
        except (OSError, ValueError) as exc:
            log.info("simulator: visitor's AudioSocket(%s) failed: %s", traffic.target, exc)
            return
        wait = self._rng.uniform(2.0, 8.0) if leaves else traffic.max_seconds
        await self._visit(leg, unit, wait)

    async def _visitor_leg(self, target: str) -> AudioSocketClient:
        host, _, port_text = target.rpartition(":")
        leg = AudioSocketClient(host, int(port_text))  # ${UUID()}: a fresh one
        await leg.connect()
        self.visitor_legs.append(leg)
        del self.visitor_legs[:-50]
        return leg

    async def _visit(self, leg: AudioSocketClient, unit: str, wait: float) -> None:
        """The visitor hears the greeting, keys ``<unit>#`` and stays until the AI
        extension hangs up or ``wait`` seconds pass (a visitor who gives up leaves a few
        seconds after keying the unit)."""
        try:
            if await self._heard(leg, LEG_PROMPT_WAIT):
                for digit in f"{unit}#":
                    leg.dtmf(digit)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(leg.closed.wait(), wait)
        finally:
            await leg.close()

    async def place_visitor(self, target: str, unit: str) -> str:
        """One visitor at the gate now, for the voice page's test call: the AI extension's
        context runs ``AudioSocket(${UUID()},<target>)`` like a demo visitor's
        (docs/telephony.md section 6); returns that UUID once the leg is connected, the
        visit itself goes on in the background. OSError when nothing listens there."""
        leg = await self._visitor_leg(target)
        task = asyncio.get_running_loop().create_task(self._visit(leg, unit, self.config.visitors.max_seconds))
        self._legs.add(task)
        task.add_done_callback(self._legs.discard)
        return str(leg.uuid)

    @staticmethod
    async def _heard(leg: AudioSocketClient, timeout: float) -> bool:
        """Until the server's first non-silent frame arrives (the briefing starts)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen = 0
        while not leg.closed.is_set() and loop.time() < deadline:
            audio = leg.record.received_audio
            if audio[seen:].strip(b"\0"):
                return True
            seen = len(audio)
            await asyncio.sleep(FRAME_SECONDS)
        return False

    def _broadcast(self, events: Iterable[Event]) -> None:
        sessions = [s for s in self.sessions if s.state.authenticated and not s.closed
                    and s.state.events is not None]
        if not sessions:
            return
        garbage = self.config.faults.garbage_probability
        # One write per session per batch: a call step is 5-30 events, and a send()
        # per event costs more than encoding them (profiled under the virtual clock).
        chunks: dict[Session, list[bytes]] = {s: [] for s in sessions}
        for ev in events:
            data = encode_event(ev)
            for s in sessions:
                if (s.state.filters or "all" not in (s.state.events or ())) \
                        and not s.state.wants(ev):
                    continue
                chunks[s].append(data)
                if garbage and self._rng.random() < garbage:
                    chunks[s].append(b"this line is not AMI\r\n\r\n")
        for s, parts in chunks.items():
            if parts:
                self.stats["events_sent"] += len(parts)
                s.writer.write(b"".join(parts))


async def serve(host: str, port: int, config: SimulatorConfig) -> None:
    """Run the simulator until cancelled: the entry point behind ``central simulate-pbx``."""
    sim = Simulator(config)
    await sim.start(host, port)
    log.info("PBX simulator listening on %s:%s (clock=%s)", sim.host, sim.port, config.clock)
    try:
        await sim.serve_forever()
    finally:
        await sim.stop()
