"""Benchmark: memory of the live telephony state, per extension and per tracked channel.

Run:  .venv/bin/python bench/ami_state_memory.py [--extensions 10000] [--channels 10000]

Builds a LiveState with N extensions (each: hint ``PJSIP/<n>``, registered contact, a
device state) and M live channels (Newchannel, Newstate Up, NewCallerid, the dialer's
CENTRAL_ATTEMPT_ID VarSet), plus a CdrBuilder tracking M/2 calls in progress, and reports
what tracemalloc attributes to them. The AMI Message objects fed in are freed before
measuring, so the figures are what stays resident.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from central.telephony import chanvars  # noqa: E402
from central.telephony.ami.protocol import Message  # noqa: E402
from central.telephony.cdr import CdrBuilder  # noqa: E402
from central.telephony.state import LiveState  # noqa: E402


def ev(name: str, *pairs: tuple[str, str]) -> Message:
    return Message([("Event", name), *pairs])


def extension_events(n: int):
    for i in range(n):
        ext = str(10000 + i)
        yield ev("ExtensionStatus", ("Exten", ext), ("Context", f"tenant{i % 50}"),
                 ("Hint", f"PJSIP/{ext}"), ("Status", "0"), ("StatusText", "Idle"))
        yield ev("ContactStatus", ("URI", f"sip:{ext}@10.1.{i // 250}.{i % 250}:5060"),
                 ("ContactStatus", "Reachable"), ("AOR", ext), ("EndpointName", ext))
        yield ev("DeviceStateChange", ("Device", f"PJSIP/{ext}"), ("State", "INUSE"))


def channel_events(n: int):
    for i in range(n):
        call = i // 2
        leg = i % 2 + 1
        uid = f"1795445700.{i}"
        linked = f"1795445700.{call * 2}"
        chan = f"Local/55119{call:08d}@customers-{call:08x};{leg}"
        common = (("Channel", chan), ("Uniqueid", uid), ("Linkedid", linked))
        yield ev("Newchannel", *common, ("ChannelState", "0"), ("CallerIDNum", "<unknown>"),
                 ("Context", "customers"), ("Exten", f"55119{call:08d}"))
        yield ev("NewCallerid", *common, ("CallerIDNum", "1100"), ("CallerIDName", "Discador"))
        yield ev("Newstate", *common, ("ChannelState", "6"), ("CallerIDNum", "1100"))
        yield ev("VarSet", *common, ("Variable", chanvars.ATTEMPT_ID), ("Value", f"att-{call}"))


def measure(label: str, build, count: int, unit: str) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    t0 = time.perf_counter()
    obj = build()
    dt = time.perf_counter() - t0
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    used = sum(s.size_diff for s in after.compare_to(before, "filename"))
    per = used / count
    print(f"{label:38s} {used / 1e6:8.2f} MB  {per:8.0f} B per {unit}  (built in {dt:.2f} s)")
    del obj
    return per


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--extensions", type=int, default=10_000)
    ap.add_argument("--channels", type=int, default=10_000)
    args = ap.parse_args()

    def build_extensions():
        st = LiveState("bench")
        for m in extension_events(args.extensions):
            st.feed(m, 1.0)
        assert len(st.extensions) == args.extensions
        assert all(e.registration == "registered" for e in st.extensions.values())
        return st

    def build_channels():
        st = LiveState("bench")
        for m in channel_events(args.channels):
            st.feed(m, 2.0)
        assert len(st.channels) == args.channels
        return st

    def build_calls():
        b = CdrBuilder("bench")
        for m in channel_events(args.channels):
            b.feed(m, 2.0)
        assert b.active_calls == args.channels // 2
        return b

    print(f"python {sys.version.split()[0]}, tracemalloc, resident after feeding")
    measure(f"LiveState, {args.extensions:,} extensions", build_extensions,
            args.extensions, "extension")
    measure(f"LiveState, {args.channels:,} channels", build_channels, args.channels, "channel")
    measure(f"CdrBuilder, {args.channels // 2:,} calls in progress", build_calls,
            args.channels // 2, "call (2 legs)")


if __name__ == "__main__":
    main()
