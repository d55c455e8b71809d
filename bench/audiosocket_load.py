"""AudioSocket load: how many concurrent calls one core serves with on-time audio.

    .venv/bin/python bench/audiosocket_load.py [--sizes 100,500,1000] [--seconds 5]
        [--stacks naive,real] [--sched fifo|nice|normal] [--burner] [--conditions LIST]
        [--loop uvloop|asyncio] [--slice-us 300] [--client-wakeup clock|frames] [--profile DIR]
        [--sched-trace DIR] [--cotenant-pct 25] [--churn R] [--verbose]

Reproducing each condition of the capacity table (src/central/voice/README.md):

    quiet, SCHED_FIFO:          --sched fifo
    quiet, no real-time:        --sched normal     (or --sched nice: nice -15)
    busy neighbour, FIFO:       --sched fifo --burner
    busy neighbour, no RT:      --sched normal --burner
    the README's quiet table:   --conditions fifo,fifo+burner,normal,normal+burner
                                --sizes 100,500,1000,1200,1400 --seconds 5
                                (a table per condition, then per condition the largest N
                                up to which every row passed)
    a co-tenant on the core:    --conditions normal+cotenant,nice+cotenant,fifo+cotenant
                                --sizes 100,500,1000 --stacks real --seconds 5
    calls coming and going:     --conditions fifo+burner,normal+burner --sizes 1000
                                --stacks real --seconds 60 --churn 17 --verbose
                                (1,000 calls of 60 s on average end 17 a second; --verbose
                                prints the collector's runs: no full one at steady state)
    uvloop against asyncio:     --sched fifo --sizes 1000 --stacks real --loop asyncio
    who ran on the core:        add --sched-trace DIR to any of the above (perf sched)

Who runs where (2 cores):

* The server (a fresh subprocess per row, pinned to CPU 0) runs one of two stacks:
  ``real`` is the production per-call stack (codec, the shared paced writer, the pipeline
  with the VAD on every inbound frame, barge-in, a flow answering every utterance from
  the phrase cache); ``naive`` is the reference design (one asyncio timer per call, no
  VAD), kept in the same run to compare against.  ``--sched`` sets the server's
  scheduling: SCHED_FIFO (as audio servers such as JACK/PipeWire run) or plain
  SCHED_OTHER (a host that grants no real-time priority); under SCHED_OTHER it asks for
  the same short scheduler slice as ``central voice`` (``--slice-us``, 0: none).
* The client (this process, pinned to CPU 1) plays Asterisk: N AudioSocket calls, each
  sending a 20 ms slin8 frame every 20 ms (real pt-BR speech from espeak-ng alternating
  with silence, so the VAD does real work past its energy gate).  It runs SCHED_FIFO
  when allowed: it stands in for a PBX on its own host, not for the code under test.
  With the server under ``--sched fifo`` too, both cores run real-time tasks that leave
  ordinary processes little of either (the kernel keeps them 5 % of each second,
  ``sched_rt_runtime_us``): in a test suite run beside it on 1 Dec, a test of two
  workers sharing SQLite failed with "database is locked" (its busy timeout is 20 s),
  its only failure.  Run the bench on its
  own, or read its rows as those of a loaded machine and expect the other work to crawl.
* ``--burner`` keeps CPU 1 busy with a spinning process for the whole run (a noisy
  neighbour: shared caches, memory bus, an SMT sibling on a VM).
* ``+cotenant`` (in ``--conditions``) runs an ordinary nice-0 process on the server's
  own core, busy ``--cotenant-pct`` % of every 10 ms: whatever else a voice host runs
  (a log shipper, a backup, another service).  It shows what real-time scheduling or a
  large share buys: under SCHED_OTHER at nice 0 the server only gets its fair share.

Measured per row, over ``--seconds`` after a 1.5 s warm-up:

* server: lateness of each outbound frame against its 20 ms deadline clock (p50/p99/max),
  how late the pacer's tick started (``wake99``: what the event loop, not the writes, cost),
  frames the pacer dropped, CPU (user + system) over its own interval, RSS growth, and
  the time it was runnable but not running (``wait``, /proc/<pid>/schedstat: what the
  scheduler, not its own work, cost it) and ksoftirqd's time on its core (``sirqd``).
* client, what Asterisk would receive: the inter-arrival gap of each call's frames
  (p99 and max; 20 ms is on time), read from the kernel's receive timestamps
  (SO_TIMESTAMPNS) so the client's own scheduling does not blur them; calls that got
  fewer frames than the window holds ("missing").
* after the window: one full garbage collection, timed (how long the collector would
  stall every call at this N), and the machine's load average when the row started.

PASS = server p99 lateness < 5 ms, client gap p99 < 25 ms (5 ms late), no dropped or
missing frame, no call closed, and the client kept its own 20 ms schedule.  Every row
ends in bounded time: a server that cannot keep up is reported as FAIL with what was seen
(it is killed when it does not answer within ``--deadline`` seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import resource
import select
import socket
import struct
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from central.voice.priority import VOICE_SLICE_US  # noqa: E402  (after the path above)

FRAME = 320  # 20 ms slin8
WIRE_FRAME = FRAME + 3
PERIOD = 0.020
P99_LIMIT_MS = 5.0
GAP_P99_LIMIT_MS = PERIOD * 1000 + P99_LIMIT_MS
PHASES = 4  # client send slots per 20 ms (Asterisk channels keep their own timers)
WARMUP = 1.5
SERVER_CPU, CLIENT_CPU = 0, 1
SCHED_CHOICES = ("fifo", "nice", "normal")


def set_sched(policy: str) -> str:
    """``fifo``: SCHED_FIFO priority 10 where allowed (else falls back and says so);
    ``nice``: SCHED_OTHER at nice -15 (no real-time class, but ahead of ordinary work);
    ``normal``: SCHED_OTHER, nice 0.  Always set explicitly: a child inherits its parent's
    policy, and the client runs SCHED_FIFO."""
    if policy == "fifo":
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
            return "SCHED_FIFO"
        except (OSError, AttributeError):
            return "SCHED_OTHER (FIFO refused)"
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    nice = -15 if policy == "nice" else 0
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
        # With autogroups (kernel.sched_autogroup_enabled) a nice value only ranks the
        # process inside its session's group; against other sessions the group's own nice
        # counts, so the server (started in a session of its own) sets that too.
        with contextlib.suppress(OSError), open("/proc/self/autogroup", "w") as f:
            f.write(str(nice))
    except OSError:
        return "SCHED_OTHER nice 0 (nice refused)"
    return f"SCHED_OTHER nice {nice}"


def core_ticks(cpu: int) -> tuple[int, int]:
    """(busy, total) clock ticks of one CPU from /proc/stat: busy counts everything that
    ran there, the softirq work of loopback TCP and any other process included."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{cpu} "):
                v = [int(x) for x in line.split()[1:]]
                return sum(v) - v[3] - v[4], sum(v)  # minus idle and iowait
    return 0, 0


def sched_times(pid: int | str = "self") -> tuple[int, int]:
    """(ns on a CPU, ns runnable but waiting for one) of a task, /proc/<pid>/schedstat:
    the wait is what the scheduler, not the process's own work, costs it."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            run, wait, _slices = f.read().split()
        return int(run), int(wait)
    except (OSError, ValueError):
        return 0, 0


def ksoftirqd_pid(cpu: int) -> int | None:
    """The kernel thread that runs a CPU's deferred softirq work (loopback TCP receive
    processing lands there once the inline budget is spent)."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry.name}/comm") as f:
                if f.read().strip() == f"ksoftirqd/{cpu}":
                    return int(entry.name)
    return None


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# -- server side --------------------------------------------------------------------------
class NaiveSession(asyncio.Protocol):
    """The reference design: one timer per call writing its own frames, no VAD."""

    def __init__(self, frames: tuple[bytes, ...], lateness, counters: dict) -> None:
        from central.voice.audiosocket.protocol import Connection, Role

        self.codec = Connection(Role.SERVER)
        self.frames = frames
        self.lateness = lateness
        self.counters = counters
        self.transport = None
        self.handle = None
        self.k = 0
        self.t0 = 0.0

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.counters["sessions"] += 1

    def data_received(self, data: bytes) -> None:
        self.codec.receive_data(data)
        if self.handle is None and self.codec.uuid is not None:
            self.t0 = time.monotonic()  # as the pacer: uvloop's loop.time() counts whole ms
            self.handle = asyncio.get_running_loop().call_soon(self.tick)

    def tick(self) -> None:
        deadline = self.t0 + self.k * PERIOD
        self.transport.write(self.frames[self.k % len(self.frames)])
        now = time.monotonic()
        self.lateness.record(now - deadline)
        self.counters["frames_sent"] += 1
        self.k += 1
        self.handle = asyncio.get_running_loop().call_later(self.t0 + self.k * PERIOD - now, self.tick)

    def connection_lost(self, exc) -> None:
        if self.handle is not None:
            self.handle.cancel()
        self.counters["sessions"] -= 1


class GCPauses:
    """Garbage-collector runs and the longest pause (a full collection can stall the loop)."""

    def __init__(self) -> None:
        self.reset()
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def reset(self) -> None:
        self.runs = [0, 0, 0]
        self.max = 0.0
        self.max_by_gen = [0.0, 0.0, 0.0]
        self.total = 0.0
        self.collected = 0

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            took = time.perf_counter() - self._started
            gen = info["generation"]
            self.runs[gen] += 1
            self.total += took
            self.collected += info["collected"]
            self.max = max(self.max, took)
            self.max_by_gen[gen] = max(self.max_by_gen[gen], took)


def serve(port: int, stack: str, sched: str, loop_kind: str, max_connections: int, slice_us: int) -> None:
    os.sched_setaffinity(0, {SERVER_CPU})
    policy = set_sched(sched)
    from central.voice.priority import request_short_slice

    if request_short_slice(slice_us):  # as ``central voice`` does at start
        policy += f", slice {slice_us} us"
    # The voice modules read Django settings at import (central.core.parsers, as in
    # ``central voice``); no database is touched.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
    import logging

    import django

    django.setup()
    logging.getLogger("central").setLevel(logging.WARNING)  # not one line per listener in the table
    from central.voice.audiosocket.server import LatencyHistogram, Listener, pacer_for_loop
    from central.voice.calls import BaseCall, CallContext, VoiceRuntime
    from central.voice.config import ExtensionConfig
    from central.voice.flows.concierge import Say
    from central.voice.phrases import PhraseCache
    from central.voice.providers.registry import build_providers
    from central.voice.runner import freeze_startup_heap

    greeting, answer = "Olá, pode falar.", "Entendi. Pode falar de novo."

    class EchoFlow:
        """Never ends: greets, then answers every utterance from the cache."""

        barge_in_allowed = True

        def context(self):
            return {}

        def start(self, now):
            return [Say(greeting)]

        def is_complete(self, interp):
            return False

        def on_utterance(self, text, interp, now):
            return [Say(answer)]

        def on_dtmf(self, digit, now):
            return []

        def on_provider_failure(self, error, now):
            return [Say(answer)]

        def on_no_input(self, now):
            return []

        def on_hangup(self, now):
            return []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        ext = ExtensionConfig(number="bench", providers={"scripted_stt": "oi"})
        providers = build_providers(ext.providers)
        cache = PhraseCache(providers.tts)
        await cache.warm([greeting, answer])
        runtime = VoiceRuntime()
        runtime.no_input_timeout = 1e9
        turns = [0]
        record_turn = runtime.record_turn

        def count_turn(extension, metrics) -> None:
            turns[0] += 1
            record_turn(extension, metrics)

        runtime.record_turn = count_turn  # runtime.turns keeps only the last 200
        gc_pause = GCPauses()
        if stack == "naive":
            lateness, counters = LatencyHistogram(), {"sessions": 0, "frames_sent": 0}
            wake = LatencyHistogram()  # one timer per call: no tick to measure
            frames = cache.get(greeting, 8000)
            server = await loop.create_server(lambda: NaiveSession(frames, lateness, counters),
                                              "127.0.0.1", port, backlog=1024)
            bound = server.sockets[0].getsockname()[1]

            def counts() -> dict:
                return {"sessions": counters["sessions"], "frames_sent": counters["frames_sent"],
                        "frames_dropped": 0, "turns": 0}
        else:
            ctx = CallContext(ext, providers, cache)
            listener = Listener(lambda s: BaseCall(s, ctx, runtime, EchoFlow()), "bench",
                                max_connections=max_connections)
            bound = await listener.start("127.0.0.1", port)
            pacer = pacer_for_loop()
            lateness = pacer.lateness
            wake = pacer.wake

            def counts() -> dict:
                return {"sessions": len(listener.sessions), "frames_sent": pacer.stats.frames_sent,
                        "gc_by_pacer": list(pacer.collector.collections),
                        "frames_dropped": pacer.stats.frames_dropped, "turns": turns[0],
                        "protocol_errors": listener.stats.protocol_errors}
        freeze_startup_heap()  # as run_voice does once the voice process is up
        rss_ready = rss_bytes()
        print(json.dumps({"ready": bound, "policy": policy, "loop": type(loop).__module__}), flush=True)
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        base = None
        softirqd = ksoftirqd_pid(SERVER_CPU)
        while line := (await reader.readline()).decode().strip():
            if line == "RESET":
                lateness.reset()
                wake.reset()
                gc_pause.reset()
                base = (os.times(), counts(), time.monotonic(), core_ticks(SERVER_CPU),
                        sched_times(), sched_times(softirqd) if softirqd else (0, 0))
            elif line == "STATS" and base is not None:
                t, now, core = os.times(), counts(), core_ticks(SERVER_CPU)
                busy, total = core[0] - base[3][0], core[1] - base[3][1]
                wall = time.monotonic() - base[2]
                run_ns, wait_ns = (a - b for a, b in zip(sched_times(), base[4], strict=True))
                sirq_ns = (sched_times(softirqd)[0] - base[5][0]) if softirqd else 0
                gc_runs, gc_max = list(gc_pause.runs), gc_pause.max
                gc_detail = {"gc_max_by_gen_ms": [round(x * 1000, 2) for x in gc_pause.max_by_gen],
                             "gc_total_ms": gc_pause.total * 1000, "gc_collected": gc_pause.collected,
                             "gc_young": gc.get_count()}
                # After the window: how long one full collection stalls the loop at this
                # many calls (the garbage collector decides when; production sees this).
                started = time.perf_counter()
                gc.collect()
                full_gc = time.perf_counter() - started
                print(json.dumps({
                    "wall_s": wall, "user_s": t.user - base[0].user, "sys_s": t.system - base[0].system,
                    "core_busy_pct": 100 * busy / total if total else 0.0,
                    "wait_pct": wait_ns / 1e7 / wall, "ksoftirqd_pct": sirq_ns / 1e7 / wall,
                    "p50_ms": lateness.percentile(50) * 1000, "p99_ms": lateness.percentile(99) * 1000,
                    "max_ms": lateness.max * 1000, "wake_p99_ms": wake.percentile(99) * 1000, "rss_growth": rss_bytes() - rss_ready,
                    "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                    "gc_runs": gc_runs, "gc_max_ms": gc_max * 1000, **gc_detail,
                    "full_gc_ms": full_gc * 1000, "gc_tracked": len(gc.get_objects()),
                    **{k: (v - base[1][k] if k in ("frames_sent", "frames_dropped", "turns") else v)
                       for k, v in now.items()},
                }), flush=True)

    if loop_kind == "uvloop":
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())


# -- client side --------------------------------------------------------------------------
def speech_loop() -> list[bytes]:
    """~1.5 s of espeak-ng speech, then 2 s of silence: frames ready to send."""
    from central.voice.audio import parse_wav, resample

    wav = subprocess.run(["espeak-ng", "-v", "pt-br", "--stdout", "apartamento trezentos e dois"],
                         capture_output=True, check=True).stdout
    pcm, rate = parse_wav(wav)
    pcm = resample(pcm, rate, 8000)
    pcm = pcm[: len(pcm) // FRAME * FRAME]
    frames = [pcm[i : i + FRAME] for i in range(0, len(pcm), FRAME)]
    frames += [b"\x00" * FRAME] * 100
    hdr = struct.pack(">BH", 0x10, FRAME)
    return [hdr + f for f in frames]


#: Linux's SO_TIMESTAMPNS (asm-generic/socket.h); Python 3.11 does not export it.  The
#: control message it produces has the same number (SCM_TIMESTAMPNS): a struct timespec.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_TS = struct.Struct("qq")
_CMSG_SPACE = socket.CMSG_SPACE(_TS.size)


class Call:
    """One simulated Asterisk channel: counts frames and their kernel arrival times."""

    __slots__ = ("sock", "rx_bytes", "frames", "last_ts", "closed", "window_frames", "born", "first_rx")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.born = time.monotonic()
        self.first_rx = 0.0  # when its first frame was read
        self.rx_bytes = 0
        self.frames = 0
        self.last_ts = 0.0
        self.closed = False
        self.window_frames = 0


@dataclass
class Row:
    stack: str
    n: int
    server: dict = field(default_factory=dict)
    gap_p99_ms: float = 0.0
    gap_max_ms: float = 0.0
    missing: int = 0
    closed: int = 0
    coalesced_pct: float = 0.0
    replaced: int = 0
    start_max_ms: float = 0.0  # --churn: longest connect-to-first-frame of a new call
    missing_detail: list = field(default_factory=list)
    profile: tuple[Path, int] | None = None
    sched_trace: list[str] = field(default_factory=list)
    client_late_p99_ms: float = 0.0
    failure: str = ""
    load: float = field(default_factory=lambda: os.getloadavg()[0])

    @property
    def cpu_pct(self) -> float:
        s = self.server
        return (s["user_s"] + s["sys_s"]) / s["wall_s"] * 100 if s.get("wall_s") else 0.0

    @property
    def passed(self) -> bool:
        s = self.server
        return (not self.failure and s.get("p99_ms", 1e9) < P99_LIMIT_MS and s.get("frames_dropped", 1) == 0
                and self.gap_p99_ms < GAP_P99_LIMIT_MS and self.missing == 0 and self.closed == 0)


class Client:
    """Single-threaded epoll client with hard deadlines: it cannot hang on a stuck server."""

    def __init__(self, args, frames: list[bytes]) -> None:
        from central.voice.audiosocket.server import LatencyHistogram

        self.args = args
        self.frames = frames
        self.hist_cls = LatencyHistogram
        self.profiler: Profiler | None = None
        self.tracer: SchedTrace | None = None

    def run(self, stack: str, n: int, sched: str) -> Row:
        row = Row(stack, n)
        args = self.args
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--stack", stack, "--sched", sched,
             "--loop", args.loop, "--max-connections", str(n + 10), "--slice-us", str(args.slice_us)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True,
        )
        calls: list[Call] = []
        try:
            ready = self._read_json(proc, time.monotonic() + 30)
            if ready is None:
                row.failure = "server did not start"
                return row
            row.server["policy"], row.server["loop"] = ready["policy"], ready["loop"]
            calls = self._connect(ready["ready"], n, time.monotonic() + 10 + n / 50)
            if len(calls) < n:
                row.failure = f"only {len(calls)} of {n} calls connected"
                return row
            self._drive(proc, calls, row, ready["ready"])
        finally:
            if self.profiler is not None:
                self.profiler.finish()
                self.profiler = None
            if self.tracer is not None:
                row.sched_trace = self.tracer.finish()
                self.tracer = None
            for c in calls:
                c.sock.close()
            with contextlib.suppress(OSError):
                proc.stdin.close()
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return row

    @staticmethod
    def _read_json(proc, deadline: float) -> dict | None:
        fd = proc.stdout.fileno()
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            buf += chunk
        return json.loads(buf.split(b"\n", 1)[0])

    @staticmethod
    def _call(port: int, timeout: float) -> Call | None:
        """One new channel: connect, the UUID message (audiosocket-session.bin), no audio."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(max(0.1, timeout))
        try:
            sock.connect(("127.0.0.1", port))
        except OSError:
            sock.close()
            return None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.sendall(b"\x01\x00\x10" + uuid.uuid4().bytes)
        sock.setblocking(False)
        return Call(sock)

    def _connect(self, port: int, n: int, deadline: float) -> list[Call]:
        calls = []
        for i in range(n):
            if time.monotonic() > deadline:
                break
            call = self._call(port, deadline - time.monotonic())
            if call is None:
                break
            calls.append(call)
            if i % 50 == 49:
                time.sleep(0.01)  # let the server accept (its backlog is finite)
        return calls

    def _drive(self, proc, calls: list[Call], row: Row, port: int) -> None:
        """Stream audio, read everything, RESET/STATS the server, all on one clock.

        ``--client-wakeup clock`` (default): the client sleeps on its own 5 ms send clock
        and then collects whatever arrived (``ep.poll(0)``), as a PBX on its own host
        costs the voice host nothing to wake.  ``frames``: it sleeps on the calls'
        sockets, so the server's writes wake it (on a VM, an inter-processor interrupt
        charged to the server's core), as a PBX on the same host would.  Arrival times
        come from the kernel's receive timestamps either way.

        ``--churn R``: from halfway through the warm-up, R calls a second hang up (a bare
        FIN, as a caller hanging up first: audiosocket-edge-cases.frames.tsv) and are
        replaced by new ones, round robin, so the server keeps N calls while their
        objects come and go as on a live PBX.
        """
        ep = select.epoll()  # the calls' sockets
        by_fd = {}
        for c in calls:
            ep.register(c.sock.fileno(), select.EPOLLIN)
            by_fd[c.sock.fileno()] = c
        ctl = proc.stdout.fileno()
        sleep_on = select.epoll()  # what the client waits on between its send slots
        sleep_on.register(ctl, select.EPOLLIN)
        if self.args.client_wakeup == "frames":
            sleep_on.close()
            sleep_on = ep
            ep.register(ctl, select.EPOLLIN)
        frames, nframes = self.frames, len(self.frames)
        gaps = self.hist_cls()
        late = self.hist_cls()  # the client's own send lateness (it must keep up)
        reads = coalesced = 0
        measuring = False
        ctl_buf = b""
        start = time.monotonic()
        t_reset = start + WARMUP
        t_stats = t_reset + self.args.seconds
        t_give_up = t_stats + self.args.deadline
        stats_sent = False
        k = 0
        ncalls = len(calls)
        window_start = window_end = 0.0
        churn_every = 1 / self.args.churn if self.args.churn > 0 else float("inf")
        next_churn, victim = start + WARMUP / 2, 0
        try:
            while True:
                now = time.monotonic()
                if now >= next_churn and not stats_sent:
                    next_churn += churn_every
                    old = calls[victim]
                    if not old.closed:
                        ep.unregister(old.sock.fileno())
                        del by_fd[old.sock.fileno()]
                    old.sock.close()
                    new = self._call(port, 1.0)
                    if new is None:
                        row.failure = "the server refused a replacement call"
                        break
                    calls[victim] = new
                    ep.register(new.sock.fileno(), select.EPOLLIN)
                    by_fd[new.sock.fileno()] = new
                    victim = (victim + 1) % ncalls
                    if measuring:
                        row.replaced += 1
                    continue
                due = start + k * PERIOD / PHASES
                if now >= due:
                    if measuring:
                        late.record(now - due)
                    slot, frame_no = k % PHASES, k // PHASES
                    for i in range(slot, ncalls, PHASES):
                        c = calls[i]
                        if not c.closed:
                            try:
                                c.sock.send(frames[(frame_no + i * 7) % nframes])
                            except BlockingIOError:
                                pass  # server not reading: shows up as its lateness/misses
                            except OSError:
                                c.closed = True
                    k += 1
                    continue
                if not measuring and now >= t_reset:
                    proc.stdin.write(b"RESET\n")
                    proc.stdin.flush()
                    measuring, window_start = True, now
                    if self.args.profile:
                        self.profiler = Profiler(self.args.profile, row, proc.pid, self.args.seconds)
                    if self.args.sched_trace:
                        self.tracer = SchedTrace(self.args.sched_trace, row, self.args.seconds)
                    gaps.reset()
                    for c in calls:
                        c.window_frames = 0
                    reads = coalesced = 0
                if measuring and not stats_sent and now >= t_stats:
                    proc.stdin.write(b"STATS\n")
                    proc.stdin.flush()
                    stats_sent, window_end = True, now
                    for c in calls:
                        c.frames, c.window_frames = c.window_frames, 0  # freeze the window
                if stats_sent and now >= t_give_up:
                    row.failure = f"server did not answer STATS within {self.args.deadline:.0f} s"
                    break
                ready = sleep_on.poll(max(0.0, due - now))
                if sleep_on is not ep:
                    ready += ep.poll(0)
                for fd, _ev in ready:
                    if fd == ctl:
                        chunk = os.read(ctl, 65536)
                        if not chunk:
                            row.failure = "server exited"
                            return
                        ctl_buf += chunk
                        continue
                    c = by_fd[fd]
                    try:
                        data, anc, _flags, _addr = c.sock.recvmsg(65536, _CMSG_SPACE)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data, anc = b"", []
                    if not data:
                        c.closed = True
                        ep.unregister(fd)
                        continue
                    ts = c.last_ts
                    for level, kind, payload in anc:
                        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                            sec, nsec = _TS.unpack(payload)
                            ts = sec + nsec * 1e-9
                    before = c.rx_bytes // WIRE_FRAME
                    c.rx_bytes += len(data)
                    got = c.rx_bytes // WIRE_FRAME - before
                    if not got:
                        continue
                    if not c.first_rx:
                        c.first_rx = time.monotonic()
                    reads += 1
                    if got > 1:
                        coalesced += 1
                    if c.last_ts and measuring and not stats_sent:
                        # Several frames in one read: the kernel stamps the last one; the
                        # gap is charged to the first (conservative), the others arrive at 0.
                        gaps.record(ts - c.last_ts)
                        for _ in range(got - 1):
                            gaps.record(0.0)
                    c.last_ts = ts
                    if measuring and not stats_sent:
                        c.window_frames += got
                if b"\n" in ctl_buf:
                    row.server.update(json.loads(ctl_buf.split(b"\n", 1)[0]))
                    break
        finally:
            ep.close()
            sleep_on.close()
        window_end = window_end or time.monotonic()
        window_start = window_start or window_end
        row.gap_p99_ms = gaps.percentile(99) * 1000
        row.gap_max_ms = gaps.max * 1000
        # ±2 frames of window skew.  A call born in the window (--churn) counts from its
        # first frame, how long that took after its connect is reported on its own; one
        # that never got a frame counts from its connect, so it is missing.
        def since(c: Call) -> float:
            return max(window_start, c.first_rx or c.born)

        short = [c for c in calls if c.frames < (window_end - since(c)) / PERIOD - 3]
        row.missing = len(short)
        row.missing_detail = [  # --verbose: (counted from, s into the window; got; expected)
            (round(since(c) - window_start, 3), c.frames, round((window_end - since(c)) / PERIOD, 1))
            for c in short[:5]]
        starts = [c.first_rx - c.born for c in calls if c.born > window_start and c.first_rx]
        row.start_max_ms = max(starts, default=0.0) * 1000
        row.closed = sum(c.closed for c in calls)
        row.coalesced_pct = 100 * coalesced / reads if reads else 0.0
        row.client_late_p99_ms = late.percentile(99) * 1000
        if not row.failure and row.client_late_p99_ms > P99_LIMIT_MS:
            row.failure = f"client fell behind its own schedule (p99 {row.client_late_p99_ms:.1f} ms)"


HEADER = (f"{'stack':<6} {'N':>5} {'p50':>6} {'p99':>6} {'max':>6} {'wake99':>6} {'gap99':>6} {'gapmax':>6} "
          f"{'drop':>5} {'miss':>5} {'CPU':>6} {'core':>5} {'wait':>5} {'sirqd':>5} {'CPU/ses':>8} {'KB/ses':>7} {'turns':>5} {'gcmax':>5} {'fullgc':>6} {'load':>5}  result")


def format_row(r: Row) -> str:
    s = r.server
    kb = s.get("rss_growth", 0) / 1024 / r.n if s else 0
    verdict = "PASS" if r.passed else "FAIL" + (f" ({r.failure})" if r.failure else "")
    if r.replaced:
        verdict += (f", {r.replaced} calls replaced in the window, their first frame at most "
                    f"{r.start_max_ms:.0f} ms after the connect")
    return (f"{r.stack:<6} {r.n:>5} {s.get('p50_ms', 0):>6.2f} {s.get('p99_ms', 0):>6.2f} "
            f"{s.get('max_ms', 0):>6.2f} {s.get('wake_p99_ms', 0):>6.2f} {r.gap_p99_ms:>6.2f} {r.gap_max_ms:>6.2f} "
            f"{s.get('frames_dropped', 0):>5} {r.missing:>5} {r.cpu_pct:>5.1f}% {s.get('core_busy_pct', 0):>4.0f}% "
            f"{s.get('wait_pct', 0):>4.1f}% {s.get('ksoftirqd_pct', 0):>4.1f}% {r.cpu_pct / r.n:>7.3f}% {kb:>7.1f} {s.get('turns', 0):>5} {s.get('gc_max_ms', 0):>5.1f} {s.get('full_gc_ms', 0):>6.1f} {r.load:>5.2f}  {verdict}")


class Profiler:
    """py-spy (test extra) sampling the server over the measured window, without pausing
    it (``--nonblocking``), from the client's core at a priority above the client's."""

    def __init__(self, directory: str, row: Row, pid: int, seconds: float) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.row = row
        self.out = Path(directory) / f"{row.stack}-{row.n}.txt"
        exe = Path(sys.executable).with_name("py-spy")

        def placement() -> None:
            os.sched_setaffinity(0, {CLIENT_CPU})
            with contextlib.suppress(OSError):
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(20))

        self.proc = subprocess.Popen(
            [str(exe), "record", "--nonblocking", "-p", str(pid), "-d", str(int(seconds)), "-r", "250",
             "-f", "raw", "-o", str(self.out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=placement,
        )

    def finish(self, top: int = 8) -> None:
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.row.profile = self.out, top


class SchedTrace:
    """``perf sched record`` on the server's core over the measured window: which tasks
    ran there, for how long, and how long each waited to run once runnable (the server's
    "max delay" is the scheduler's part of its lateness).  From the client's core, like
    :class:`Profiler`; traced rows are diagnostics, not capacity figures."""

    def __init__(self, directory: str, row: Row, seconds: float) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.row = row
        self.out = Path(directory) / f"{row.stack}-{row.n}-{time.strftime('%H%M%S')}.sched"

        def placement() -> None:
            os.sched_setaffinity(0, {CLIENT_CPU})

        self.proc = subprocess.Popen(
            ["perf", "sched", "record", "-C", str(SERVER_CPU), "-o", str(self.out), "--", "sleep", str(seconds)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=placement,
        )

    def finish(self, top: int = 6) -> list[str]:
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        report = subprocess.run(["perf", "sched", "latency", "-i", str(self.out), "--sort", "runtime"],
                                capture_output=True, text=True).stdout
        rows = [line.strip() for line in report.splitlines() if line.count("|") >= 5 and " ms " in line]
        return ["#   " + " ".join(line.split()) for line in rows[:top]]


def profile_top(path: Path, top: int) -> list[str]:
    """The functions where the server's samples were (self time), from py-spy's raw output."""
    from collections import Counter

    own: Counter[str] = Counter()
    total = 0
    with contextlib.suppress(OSError), open(path) as f:
        for line in f:
            stack, _, count = line.rstrip().rpartition(" ")
            total += int(count)
            own[stack.rsplit(";", 1)[-1]] += int(count)
    return [f"#   {100 * c / total:5.1f}%  {name}" for name, c in own.most_common(top)] if total else []


class Burner:
    """A spinning process: on the client's core, the busy neighbour (``+burner``); on the
    server's core at a duty cycle, a co-tenant (``+cotenant``: what shares a real voice
    host, a log shipper or a backup, at nice 0)."""

    def __init__(self, cpu: int = CLIENT_CPU, duty_pct: int = 100) -> None:
        def placement() -> None:  # an ordinary process, not the client's SCHED_FIFO
            os.sched_setaffinity(0, {cpu})
            set_sched("normal")

        if duty_pct >= 100:
            code = "while True: pass"
        else:  # busy duty_pct % of every 10 ms, asleep the rest
            busy, idle = duty_pct / 1e4, (100 - duty_pct) / 1e4
            code = (f"import time\nwhile True:\n    end = time.monotonic() + {busy!r}\n"
                    f"    while time.monotonic() < end: pass\n    time.sleep({idle!r})")
        self.proc = subprocess.Popen([sys.executable, "-c", code], preexec_fn=placement)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def run_condition(args, client: Client, sched: str, extras: set[str], client_policy: str) -> dict[str, Row | None]:
    """Every size and stack under one condition (server scheduling, burner or not);
    returns per stack the largest row up to which every row passed (a pass above a
    failure is printed, not counted).  A stack that failed two sizes in a row is not
    tried at larger ones (it would only fail slower)."""
    burner = Burner() if "burner" in extras else None
    cotenant = Burner(SERVER_CPU, args.cotenant_pct) if "cotenant" in extras else None
    sizes = [int(x) for x in args.sizes.split(",")]
    stacks = args.stacks.split(",")
    load = os.getloadavg()
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, load average {load[0]:.2f} "
          f"{load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores; server --sched {sched} "
          f"--loop {args.loop} on CPU {SERVER_CPU}; client {client_policy} on CPU {CLIENT_CPU}; "
          f"burner on CPU {CLIENT_CPU}: {'yes' if burner else 'no'}"
          + (f"; co-tenant at nice 0 busy {args.cotenant_pct} % on CPU {SERVER_CPU}" if cotenant else ""))
    print(HEADER, flush=True)
    best: dict[str, Row | None] = dict.fromkeys(stacks)
    failures = dict.fromkeys(stacks, 0)
    held = dict.fromkeys(stacks, True)
    try:
        for n in sizes:
            for stack in stacks:
                if failures[stack] >= 2:
                    continue
                row = client.run(stack, n, sched)
                print(format_row(row), flush=True)
                if args.verbose:
                    print("#", json.dumps(row.server), flush=True)
                    if row.missing_detail:
                        print("# calls short of frames (counted from, s into the window; frames; expected):",
                              row.missing_detail, flush=True)
                if row.sched_trace:
                    print(f"# tasks on CPU {SERVER_CPU} over the window (perf sched latency: task, run time, "
                          "switches, average and longest wait to run once runnable):")
                    print("\n".join(row.sched_trace), flush=True)
                if row.profile is not None:
                    print(f"# profile of the server (self time; py-spy, {row.profile[0]}):")
                    print("\n".join(profile_top(*row.profile)), flush=True)
                if row.passed:
                    failures[stack] = 0
                    if held[stack]:
                        best[stack] = row
                else:
                    failures[stack] += 1
                    held[stack] = False
    finally:
        for spinner in (burner, cotenant):
            if spinner is not None:
                spinner.stop()
    print(f"# load average at the end: {os.getloadavg()[0]:.2f}")
    for stack, row in best.items():
        if row is None:
            print(f"{stack}: no N passed")
        else:
            print(f"{stack}: every row passed up to N {row.n} (of {args.sizes}), server CPU "
                  f"{row.cpu_pct / row.n:.3f}% of a core per call, scheduling {row.server.get('policy')}")
    return best


def client_main(args) -> None:
    os.sched_setaffinity(0, {CLIENT_CPU})
    client_policy = set_sched("fifo")
    gc.freeze()
    client = Client(args, speech_loop())
    print("# p50/p99/max: server lateness (ms); wake99: how late the pacer's tick started, p99 (ms; "
          "the event loop's part of the lateness, the rest is the burst of writes; naive: none); gap99/gapmax: inter-arrival gap at the client (ms); "
          "CPU: the server process, % of its core; core: that core busy with anything "
          "(loopback softirq work, neighbours); wait: time the server was runnable but not running "
          "(/proc schedstat: what the scheduler cost it); sirqd: ksoftirqd on the server's core; KB/ses: server RSS growth per call; gcmax: longest GC run "
          "(ms, wall clock: includes any preemption during it); fullgc: one full collection timed after "
          "the window (ms); load: the machine's 1-minute load average when the row started")
    conditions = args.conditions.split(",") if args.conditions else [args.sched + ("+burner" if args.burner else "")]
    summary = []
    for condition in conditions:
        sched, *extras = condition.split("+")
        if sched not in SCHED_CHOICES or not set(extras) <= {"burner", "cotenant"}:
            raise SystemExit(f"unknown condition {condition!r} (e.g. fifo, fifo+burner, normal+burner, "
                             "normal+cotenant)")
        summary.append((condition, run_condition(args, client, sched, set(extras), client_policy)))
        print(flush=True)
    if len(summary) > 1:
        print("# per condition, the largest N up to which every row passed (stack: N, server CPU per call)")
        for condition, best in summary:
            cells = [f"{stack}: {row.n}, {row.cpu_pct / row.n:.3f}%" if row else f"{stack}: none"
                     for stack, row in best.items()]
            print(f"{condition:<14} " + "; ".join(cells))

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--max-connections", type=int, default=2000, help=argparse.SUPPRESS)
    ap.add_argument("--stack", default="real", help=argparse.SUPPRESS)
    ap.add_argument("--sizes", default="100,500,1000", help="concurrent calls per row, comma separated")
    ap.add_argument("--stacks", default="naive,real", help="naive (reference), real (production stack)")
    ap.add_argument("--seconds", type=float, default=5.0, help="measured window per row")
    ap.add_argument("--sched", choices=SCHED_CHOICES, default="fifo",
                    help="server scheduling: SCHED_FIFO, SCHED_OTHER nice -15, SCHED_OTHER nice 0")
    ap.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop", help="server event loop")
    ap.add_argument("--slice-us", type=int, default=VOICE_SLICE_US,
                    help="scheduler slice the server asks for under SCHED_OTHER, as central voice does "
                         "(EEVDF, Linux 6.12+; 0: the kernel's default)")
    ap.add_argument("--burner", action="store_true", help="keep the other core busy (noisy neighbour)")
    ap.add_argument("--churn", type=float, default=0.0, metavar="R",
                    help="calls a second that hang up and are replaced (1,000 calls of 60 s: about 17)")
    ap.add_argument("--cotenant-pct", type=int, default=25,
                    help="duty cycle of the +cotenant process on the server's core (%% of every 10 ms)")
    ap.add_argument("--conditions", metavar="LIST",
                    help="several conditions in one run, each a --sched value with an optional +burner, "
                         "e.g. fifo,fifo+burner,normal,normal+burner (overrides --sched and --burner)")
    ap.add_argument("--profile", metavar="DIR",
                    help="sample the server with py-spy over each window (raw stacks in DIR); "
                         "figures of profiled rows are not capacity figures")
    ap.add_argument("--sched-trace", metavar="DIR",
                    help="record the scheduler on the server's core over each window (perf sched, in DIR) "
                         "and print which tasks ran there and how long each waited")
    ap.add_argument("--client-wakeup", choices=("clock", "frames"), default="clock",
                    help="clock: the client sleeps on its own send clock and collects what arrived "
                         "(a PBX on its own host); frames: every frame the server writes wakes it "
                         "(a PBX on the same host, the default before 30 Nov 18:40 UTC)")
    ap.add_argument("--verbose", action="store_true", help="print the server's raw figures per row")
    ap.add_argument("--deadline", type=float, default=5.0,
                    help="seconds the server has to answer after the window before the row FAILs")
    args = ap.parse_args()
    if args.serve:
        serve(args.port, args.stack, args.sched, args.loop, args.max_connections, args.slice_us)
    else:
        client_main(args)


if __name__ == "__main__":
    main()
