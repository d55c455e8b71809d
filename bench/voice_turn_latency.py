"""Per-turn latency with the offline providers: end of speech -> first audio byte out.

    .venv/bin/python bench/voice_turn_latency.py [--calls 12] [--concurrency 3]

Real calls over TCP on 127.0.0.1: a client plays Asterisk's part and speaks real pt-BR
speech synthesized by espeak-ng; the server runs the production pipeline (VAD, STT, rule
reply engine, espeak-ng TTS, phrase cache, paced writer).  Speech-to-text is the scripted
fake (no STT model can be installed on this machine), so ``stt`` here is the pipeline's
overhead around a provider, not a model's inference time.

Scenarios:
  early      name + unit in one sentence: complete at the first pause, early end of turn,
             reply from the phrase cache ("Estou chamando o morador")
  ceiling    unit only: not complete, end of turn at the 1.5 s silence ceiling, cached reply
  live_tts   ambiguous unit: the reply names the blocks, synthesized live by espeak-ng
  dtmf       "101#"-style keypad turn: no endpointing, cached reply

Server-side parts come from the pipeline's own TurnMetrics (status API ``turns``);
``client`` is measured at the client: last voiced frame sent -> first voiced frame heard.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

# The voice modules read Django settings at import (central.core.parsers), as in
# ``central voice``; no database is touched.
import os  # noqa: E402

import django  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "central.settings")
django.setup()

from tests.voice.asclient import ASClient, espeak_pcm  # noqa: E402

from central.voice.audio import rms  # noqa: E402
from central.voice.calls import VoiceRuntime  # noqa: E402
from central.voice.config import ExtensionConfig, ResidentConfig, UnitConfig, VoiceConfig  # noqa: E402
from central.voice.providers.stt import ScriptedSTT  # noqa: E402
from central.voice.service import VoiceService  # noqa: E402

SCENARIOS = {
    "early": "meu nome é João Pereira apartamento trezentos e dois bloco B",
    "ceiling": "apartamento trezentos e dois bloco B",
    "live_tts": "apartamento cento e um",
}


class PerUtteranceSTT(ScriptedSTT):
    """Scripted STT that returns the text the call is speaking (set per call)."""

    def __init__(self) -> None:
        super().__init__()
        self.current = ""

    async def transcribe(self, pcm: bytes, rate: int) -> str:
        await asyncio.sleep(0)
        return self.current


def trim(pcm: bytes) -> bytes:
    i = 0
    while i < len(pcm) and rms(pcm[i : i + 320]) < 300:
        i += 320
    j = len(pcm)
    while j > i and rms(pcm[j - 320 : j]) < 300:
        j -= 320
    return pcm[i:j]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round((len(values) - 1) * p / 100))]


async def one_call(svc: VoiceService, scenario: str, speech: dict[str, bytes], stt: PerUtteranceSTT) -> float:
    port = svc.extensions["1003"].ai.port
    client = await ASClient().connect("127.0.0.1", port)
    try:
        await client.wait_voice(timeout=5)
        if scenario == "dtmf":
            await client.dtmf("302", gap=0.1)
            await client.wait_for(lambda: not client.heard_audio(time.monotonic() - 0.1), timeout=5)
            t = time.monotonic()
            await client.dtmf("#", gap=0)
            heard = await client.wait_voice(since=t, timeout=5)
            return heard - t
        await client.dtmf("*")  # stop the greeting: what we hear next is the reply
        await asyncio.sleep(0.1)
        stt.current = SCENARIOS[scenario]
        if scenario == "live_tts":
            for cache in svc.caches.values():  # the reply text must be synthesized live
                cache._dynamic.clear()
        client.say(speech[scenario])
        await client.wait_for(lambda: client.sent_voice_at is not None and not client.speech, timeout=10)
        last_voice = time.monotonic()
        heard = await client.wait_voice(since=last_voice + 0.01, timeout=6)
        return heard - last_voice
    finally:
        await client.close()


async def main(calls: int, concurrency: int) -> None:
    units = (
        UnitConfig("302", "B", (ResidentConfig("Ana", "1101"),)),
        UnitConfig("101", "A", (ResidentConfig("Bruno", "1201"),)),
        UnitConfig("101", "B", (ResidentConfig("Carla", "1202"),)),
    )
    ext = ExtensionConfig(number="1003", return_number="1004", bind_ip="127.0.0.1", port=0, return_port=0,
                          greeting="Olá, portaria virtual.", units=units, concierge_extension="1000")
    stt = PerUtteranceSTT()
    runtime = VoiceRuntime()
    svc = VoiceService(loader=lambda: VoiceConfig((ext,)), runtime=runtime, stt_override=stt)
    t = time.monotonic()
    await svc.start()
    print(f"phrase cache warmed at start: {len(next(iter(svc.caches.values())))} phrases "
          f"in {time.monotonic() - t:.2f} s (espeak-ng)")
    speech = {k: trim(espeak_pcm(v)) for k, v in SCENARIOS.items()}
    rows = []
    for scenario in ("early", "ceiling", "live_tts", "dtmf"):
        runtime.turns.clear()
        client_ms: list[float] = []
        # live_tts clears the phrase cache before each call, so its calls run one at a time
        sem = asyncio.Semaphore(1 if scenario == "live_tts" else concurrency)

        async def run(sc=scenario, sem=sem, out=client_ms):
            async with sem:
                out.append(1000 * await one_call(svc, sc, speech, stt))

        await asyncio.gather(*(run() for _ in range(calls)))
        turns = [t for t in runtime.turns if t["source"] == ("dtmf" if scenario == "dtmf" else "speech")
                 and t["total_ms"] > 0]
        if scenario == "dtmf":
            turns = [t for t in turns if t["reason"] == "dtmf" and t["after_end_of_turn_ms"] > 0]
            turns = turns[-calls:]
        rows.append((scenario, turns, client_ms))
    await svc.stop()

    print(f"\n{calls} calls per scenario, {concurrency} at a time; ms, p50 / p95")
    head = ("scenario", "endpointing", "stt", "reply", "tts_first", "after_EOT", "total(server)", "client", "cached")
    print("{:<9} {:>13} {:>11} {:>11} {:>11} {:>13} {:>15} {:>13} {:>7}".format(*head))
    for scenario, turns, client_ms in rows:
        def col(key, turns=turns):
            vals = [t[key] for t in turns]
            return f"{pct(vals, 50):.0f} / {pct(vals, 95):.0f}"

        cached = sum(t["cached"] for t in turns)
        client_col = f"{pct(client_ms, 50):.0f} / {pct(client_ms, 95):.0f}"
        print(f"{scenario:<9} {col('endpointing_ms'):>13} {col('stt_ms'):>11} {col('reply_ms'):>11} "
              f"{col('tts_first_ms'):>11} {col('after_end_of_turn_ms'):>13} {col('total_ms'):>15} "
              f"{client_col:>13} {cached:>4}/{len(turns)}")
    cached_after = [t["after_end_of_turn_ms"] for sc, turns, _ in rows if sc in ("early", "ceiling", "dtmf")
                    for t in turns if t["cached"]]
    print(f"\ncached replies, end-of-turn -> first audio byte out: p50 {statistics.median(cached_after):.0f} ms, "
          f"p95 {pct(cached_after, 95):.0f} ms (goal < 300 ms)")


if __name__ == "__main__":
    import logging

    logging.getLogger("central.voice").setLevel(logging.ERROR)  # "no originator" is expected here
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=12)
    ap.add_argument("--concurrency", type=int, default=3)
    args = ap.parse_args()
    asyncio.run(main(args.calls, args.concurrency))
