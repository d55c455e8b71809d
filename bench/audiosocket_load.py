"""AudioSocket load: how many concurrent calls one core serves with on-time audio.

    .venv/bin/python bench/audiosocket_load.py [--sizes 100,200,...] [--seconds 5]

The server (a subprocess pinned to CPU 0) runs the real voice stack per call: codec,
shared paced writer, pipeline with the VAD on every inbound frame, barge-in, a flow that
answers each utterance from the phrase cache.  The client (this process, pinned to CPU 1)
opens N AudioSocket sessions and streams 20 ms slin8 frames every 20 ms: real pt-BR
speech from espeak-ng (so the VAD does real work, past the energy gate) alternating with
silence, while counting the frames it receives.

For each N: server-side p99 lateness of outbound frames against the 20 ms deadline clock,
dropped frames (pacer catch-up overflow or frames missing at the client), and server CPU
per session.  Pass = p99 < 5 ms and no dropped frame.  Prints the largest passing N.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

FRAME = 320  # 20 ms slin8
P99_LIMIT_MS = 5.0
PHASES = 4  # client send slots per 20 ms


# -- server side --------------------------------------------------------------------------
def isolate(cpu: int) -> str:
    """Pin to one core and take real-time priority where allowed, as audio servers do
    (JACK/PipeWire run SCHED_FIFO).  This machine is shared: without it the bench measures
    the neighbours' load, not our code.  The kernel's RT throttling still leaves others 5 %.
    The voice process itself can be run the same way: ``chrt -f 10 central voice``."""
    os.sched_setaffinity(0, {cpu})
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        return "SCHED_FIFO"
    except (OSError, AttributeError):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, 0, -15)
        return "nice -15"


def serve(port: int) -> None:
    isolate(0)
    from central.voice.audiosocket.server import Listener, pacer_for_loop
    from central.voice.calls import BaseCall, CallContext, VoiceRuntime
    from central.voice.config import ExtensionConfig
    from central.voice.flows.concierge import Say
    from central.voice.phrases import PhraseCache
    from central.voice.providers.registry import build_providers

    class EchoFlow:
        """Never ends: greets, then answers every utterance from the cache."""

        barge_in_allowed = True

        def context(self):
            return {}

        def start(self, now):
            return [Say("Olá, pode falar.")]

        def is_complete(self, interp):
            return False

        def on_utterance(self, text, interp, now):
            return [Say("Entendi. Pode falar de novo.")]

        def on_dtmf(self, digit, now):
            return []

        def on_provider_failure(self, error, now):
            return [Say("Entendi. Pode falar de novo.")]

        def on_no_input(self, now):
            return []

        def on_hangup(self, now):
            return []

    async def main() -> None:
        if os.environ.get("BENCH_DEBUG"):
            loop = asyncio.get_running_loop()
            loop.set_debug(True)
            loop.slow_callback_duration = float(os.environ["BENCH_DEBUG"])
        ext = ExtensionConfig(number="bench", providers={"scripted_stt": "oi"})
        providers = build_providers(ext.providers)
        cache = PhraseCache(providers.tts)
        await cache.warm(["Olá, pode falar.", "Entendi. Pode falar de novo."])
        ctx = CallContext(ext, providers, cache)
        runtime = VoiceRuntime()
        runtime.no_input_timeout = 1e9
        listener = Listener(lambda s: BaseCall(s, ctx, runtime, EchoFlow()), "bench")
        await listener.start("127.0.0.1", port)
        pacer = pacer_for_loop()
        listener.pacer = pacer
        print(f"READY {listener.port}", flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        base = (time.process_time(), dict(vars(pacer.stats)), time.monotonic())
        while line := (await reader.readline()).decode().strip():
            if line == "RESET":
                pacer.lateness.reset()
                base = (time.process_time(), dict(vars(pacer.stats)), time.monotonic())
                print("OK", flush=True)
            elif line == "STATS":
                cpu = time.process_time() - base[0]
                stats = {k: v - base[1][k] for k, v in vars(pacer.stats).items()}
                print(json.dumps({
                    "cpu_s": cpu, "wall_s": time.monotonic() - base[2], "sessions": len(listener.sessions),
                    "p50_ms": pacer.lateness.percentile(50) * 1000,
                    "p99_ms": pacer.lateness.percentile(99) * 1000,
                    "max_ms": pacer.lateness.max * 1000,
                    "turns": len(runtime.turns), "protocol_errors": listener.stats.protocol_errors,
                    "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **stats,
                }), flush=True)

    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        cProfile.runctx("asyncio.run(main())", globals(), locals(), os.environ["BENCH_PROFILE"])
    else:
        asyncio.run(main())


# -- client side --------------------------------------------------------------------------
class Caller(asyncio.Protocol):
    def __init__(self) -> None:
        self.received = 0
        self.transport = None
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(b"\x01\x00\x10" + uuid.uuid4().bytes)

    def data_received(self, data: bytes) -> None:
        self.received += len(data)

    def connection_lost(self, exc) -> None:
        self.closed = True


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


async def run_size(port: int, n: int, seconds: float, server, frames: list[bytes]) -> dict:
    loop = asyncio.get_running_loop()
    callers: list[Caller] = []
    for i in range(n):
        _, c = await loop.create_connection(Caller, "127.0.0.1", port)
        callers.append(c)
        if i % 50 == 49:
            await asyncio.sleep(0.02)
    stop = asyncio.Event()

    async def mic():
        # Asterisk's channels keep their own 20 ms timers, so frames from different calls
        # do not arrive in one burst: callers are spread over PHASES slots of the period.
        start, k = time.monotonic(), 0
        while not stop.is_set():
            slot = k % PHASES
            frame_no = k // PHASES
            for i in range(slot, len(callers), PHASES):
                c = callers[i]
                if not c.closed:
                    c.transport.write(frames[(frame_no + i * 7) % len(frames)])
            k += 1
            await asyncio.sleep(max(0.0, start + k * 0.02 / PHASES - time.monotonic()))

    task = asyncio.create_task(mic())
    await asyncio.sleep(1.5)  # warm-up: greetings start, VADs settle
    server.stdin.write(b"RESET\n")
    server.stdin.flush()
    await loop.run_in_executor(None, server.stdout.readline)
    before = [c.received for c in callers]
    t0 = time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - t0
    server.stdin.write(b"STATS\n")
    server.stdin.flush()
    stats = json.loads(await loop.run_in_executor(None, server.stdout.readline))
    got = [(c.received - b) / (FRAME + 3) for c, b in zip(callers, before, strict=True)]
    closed_early = sum(c.closed for c in callers)
    stop.set()
    await task
    for c in callers:
        c.transport.close()
    await asyncio.sleep(0.5)
    expected = elapsed * 50
    stats["client_frames_min"] = min(got)
    stats["client_missing"] = sum(1 for g in got if g < expected - 3)  # ±2 frames of window skew
    stats["closed"] = closed_early
    stats["n"] = n
    stats["cpu_core_pct"] = stats["cpu_s"] / stats["wall_s"] * 100  # the server's own interval
    stats["cpu_per_session_pct"] = stats["cpu_core_pct"] / n
    stats["pass"] = (stats["p99_ms"] < P99_LIMIT_MS and stats["frames_dropped"] == 0
                     and stats["client_missing"] == 0 and stats["closed"] == 0)
    return stats


async def client(sizes: list[int], seconds: float) -> None:
    policy = isolate(1)
    server = subprocess.Popen([sys.executable, __file__, "--serve", "--port", "0"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=False)
    port = int(server.stdout.readline().split()[1])
    frames = speech_loop()
    best, per_session = 0, 0.0
    print(f"{'N':>5} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'dropped':>7} {'missing':>7} "
          f"{'CPU core':>8} {'CPU/sess':>8} {'turns':>6}  result")
    try:
        failures = 0
        for n in sizes:
            for _attempt in range(2):  # one retry: other work on a shared machine can stall a run
                s = await run_size(port, n, seconds, server, frames)
                print(f"{n:>5} {s['p50_ms']:>7.2f} {s['p99_ms']:>7.2f} {s['max_ms']:>7.2f} "
                      f"{s['frames_dropped']:>7} {s['client_missing']:>7} {s['cpu_core_pct']:>7.1f}% "
                      f"{s['cpu_per_session_pct']:>7.3f}% {s['turns']:>6}  {'PASS' if s['pass'] else 'FAIL'}",
                      flush=True)
                if s["pass"]:
                    break
            if s["pass"]:
                best, failures = n, 0
                per_session = s["cpu_per_session_pct"]
            else:
                failures += 1
                if failures >= 2:
                    break
    finally:
        server.stdin.close()
        server.wait(10)
    if per_session:
        print(f"CPU-bound estimate at that N: {int(80 / per_session)} sessions at 80% of one core")
    print(f"(scheduling: {policy}, server pinned to CPU 0, client to CPU 1; load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")
    print(f"\nlargest N with p99 outbound lateness < {P99_LIMIT_MS} ms and no dropped frame "
          f"on one core: {best} (goal >= 500); server CPU per session at that N: "
          f"{per_session:.3f}% of a core")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--sizes", default="50,100,200,300,400,500,600,700,800")
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    if args.serve:
        serve(args.port)
    else:
        asyncio.run(client([int(x) for x in args.sizes.split(",")], args.seconds))


if __name__ == "__main__":
    main()
