"""End-of-turn detection on real pt-BR speech (espeak-ng), on a virtual clock."""

import pytest

from central.voice.audio import split_frames
from central.voice.vad import EndOfTurn, Endpointer, Pause, SpeechStarted, VADSettings
from tests.voice.asclient import espeak_pcm

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free

SILENCE = b"\x00" * 320


def run(ep: Endpointer, frames, t0=0.0):
    events, t = [], t0
    for f in frames:
        t += 0.02
        events += [(round(t, 2), e) for e in ep.feed(f, t)]
    return events


def test_speech_then_silence_ceiling_ends_turn():
    speech = split_frames(espeak_pcm("apartamento trezentos e dois"), 8000)
    ep = Endpointer(8000)
    events = run(ep, [SILENCE] * 10 + speech + [SILENCE] * 100)
    kinds = [type(e) for _, e in events]
    assert kinds[0] is SpeechStarted and kinds[-1] is EndOfTurn and Pause in kinds
    start_t = events[0][0]
    assert 0.2 <= start_t <= 0.4  # a few frames after the speech begins
    end = events[-1][1]
    assert end.reason == "silence"
    assert abs((end.at - end.speech_end) - 1.5) < 0.03  # default ceiling 1.5 s
    assert len(end.audio) >= len(b"".join(speech)) * 0.8


def test_configurable_ceiling_and_early_end():
    speech = split_frames(espeak_pcm("bloco B"), 8000)
    ep = Endpointer(8000, VADSettings.from_dict({"silence_ms": 600, "pause_ms": 200}))
    events = run(ep, speech + [SILENCE] * 40)
    end = [e for _, e in events if isinstance(e, EndOfTurn)][0]
    assert abs((end.at - end.speech_end) - 0.6) < 0.03
    ep2 = Endpointer(8000)
    events = run(ep2, speech + [SILENCE] * 25)
    pause_t = [t for t, e in events if isinstance(e, Pause)][0]
    early = ep2.end_turn(pause_t)
    assert early is not None and early.reason == "early" and not ep2.in_speech


def test_silence_and_low_noise_are_not_speech():
    import random
    import struct

    rnd = random.Random(1)
    noise = [struct.pack("<160h", *(rnd.randint(-30, 30) for _ in range(160))) for _ in range(100)]
    assert run(Endpointer(8000), [SILENCE] * 50 + noise) == []


def test_sixteen_khz_and_resampled_rates():
    for rate in (16000, 12000):
        speech = split_frames(espeak_pcm("pode subir", rate), rate)
        silence = b"\x00" * (rate * 2 // 50)
        events = run(Endpointer(rate), speech + [silence] * 90)
        assert isinstance(events[0][1], SpeechStarted) and isinstance(events[-1][1], EndOfTurn)
