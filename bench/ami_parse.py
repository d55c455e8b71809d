"""Benchmark: AMI events parsed per second, Central's codec vs panoramisk, same bytes.

Run:  .venv/bin/python bench/ami_parse.py [--events 1000000] [--chunk 65536]

The input is every captured event stream in shared/fixtures/asterisk/ (banner removed
from all but the first), repeated until it holds at least ``--events`` messages, then fed
in ``--chunk``-byte reads as a socket would deliver it. Both parsers get the identical
byte chunks in the same process, in interleaved rounds, each best of ``--repeat`` runs;
rates are per second of CPU time of this process (one core).

panoramisk has no sans-I/O parser: its parsing lives in ``AMIProtocol.data_received``
(panoramisk/ami_protocol.py: decode the chunk, split on CRLFCRLF, ``Message.from_line``
per block, then ``handle_message`` which dispatches events to the manager). We drive
that method directly with a stub factory whose ``dispatch`` only counts, so no socket,
event loop or callback is involved on either side.

Two figures for Central: ``parse`` (bytes -> Message objects with all key/value pairs,
validated) and ``parse+lookup`` (also reads ``Uniqueid`` from every message, which builds
the per-message key index that the codec otherwise creates lazily on first lookup),
so the comparison with panoramisk (which always builds its dict) is fair either way.
A last line feeds every message through LiveState and CdrBuilder too (the whole
``central pbx`` pipeline minus the database), for capacity planning.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from central.telephony.ami.protocol import AMIParser  # noqa: E402

FIXTURES = Path(
    os.environ.get("CENTRAL_ASTERISK_FIXTURES", ROOT / "tests" / "fixtures" / "asterisk")
)
BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def build_input(min_events: int) -> tuple[bytes, int]:
    files = sorted(FIXTURES.glob("ami-event-stream-*.txt")) + [
        FIXTURES / "ami-queue-member-pause.txt"
    ]
    one = b"".join(f.read_bytes().split(b"\r\n", 1)[1] for f in files)
    per = one.count(b"\r\n\r\n")
    reps = -(-min_events // per)
    return BANNER + one * reps, per * reps


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def run_central(parts: list[bytes], lookup: bool) -> int:
    p = AMIParser()
    n = 0
    for part in parts:
        msgs = p.receive_data(part)
        if lookup:
            for m in msgs:
                m.get("Uniqueid")
        n += len(msgs)
    return n


def run_central_state(parts: list[bytes]) -> int:
    from central.telephony.cdr import CdrBuilder
    from central.telephony.state import LiveState

    p = AMIParser()
    state, cdr = LiveState("bench"), CdrBuilder("bench")
    n = records = 0
    now = 1_795_445_700.0
    for part in parts:
        for m in p.receive_data(part):
            state.feed(m, now)
            records += len(cdr.feed(m, now))
            now += 0.001
            n += 1
    assert records > 0
    return n


def run_panoramisk(parts: list[bytes]) -> int:
    from panoramisk.ami_protocol import AMIProtocol

    class CountingFactory:
        save_stream = None
        n = 0

        def dispatch(self, message):
            self.n += 1

    proto = AMIProtocol()
    proto.connection_made(None)
    factory = CountingFactory()
    proto.factory = factory
    # Responses (Login/Logoff) carry an ActionID no pending action matches; panoramisk
    # drops them in handle_message. Count them here so both sides count all messages.
    dropped = 0
    orig = proto.handle_message

    def handle(message):
        nonlocal dropped
        if "event" not in message:
            dropped += 1
        orig(message)

    proto.handle_message = handle
    proto.encoding = "utf-8"
    for part in parts:
        proto.data_received(part)
    return factory.n + dropped


def best(fn, repeat: int) -> tuple[float, int]:
    times = []
    n = 0
    for _ in range(repeat):
        gc.collect()
        # CPU time of this (single-threaded) process: "events/s on one core" even when
        # other processes share the machine; wall time would count their slices too.
        t0 = time.process_time()
        n = fn()
        times.append(time.process_time() - t0)
    return min(times), n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--chunk", type=int, default=65536)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    data, expected = build_input(args.events)
    parts = chunks(data, args.chunk)
    print(f"input: {len(data) / 1e6:.1f} MB, {expected:,} messages, {len(parts):,} reads "
          f"of {args.chunk} B, python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")

    # Interleaved rounds, best of each: background load (other processes on the same
    # cores) then hits both parsers alike.
    runs = {
        "central": lambda: run_central(parts, False),
        "central+lookup": lambda: run_central(parts, True),
        "central+state+cdr": lambda: run_central_state(parts),
        "panoramisk": lambda: run_panoramisk(parts),
    }
    results: dict[str, tuple[float, int]] = {}
    for _ in range(args.repeat):
        for label, fn in runs.items():
            t, n = best(fn, 1)
            if label not in results or t < results[label][0]:
                results[label] = (t, n)
    (t_c, n_c), (t_cl, n_cl), (t_s, n_s), (t_p, n_p) = (results[k] for k in runs)
    for label, n in (("central", n_c), ("central+lookup", n_cl), ("panoramisk", n_p)):
        if n != expected:
            print(f"WARNING: {label} produced {n:,} messages, expected {expected:,}")
    r_c, r_cl, r_p = n_c / t_c, n_cl / t_cl, n_p / t_p
    print(f"central  parse         {r_c:12,.0f} events/s  ({t_c:.2f} s CPU)")
    print(f"central  parse+lookup  {r_cl:12,.0f} events/s  ({t_cl:.2f} s CPU)")
    print(f"panoramisk 1.4         {r_p:12,.0f} events/s  ({t_p:.2f} s CPU)")
    print(f"central  parse+LiveState+CdrBuilder {n_s / t_s:,.0f} events/s  ({t_s:.2f} s CPU)")
    print(f"ratio parse/panoramisk        {r_c / r_p:.2f}x")
    print(f"ratio parse+lookup/panoramisk {r_cl / r_p:.2f}x")
    print(f"goal >=200,000 events/s: {'met' if r_c >= 200_000 else 'NOT met'}; "
          f"goal >=3x panoramisk: {'met' if r_c / r_p >= 3 else 'NOT met'}")


if __name__ == "__main__":
    main()
