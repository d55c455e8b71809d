"""Voice activity detection and end-of-turn detection (sans-I/O).

``Endpointer.feed(frame, now)`` takes one 20 ms inbound frame and returns events:

* :class:`SpeechStarted` after ``start_frames`` consecutive voiced frames: the pipeline
  turns it into an interruption (barge-in) that stops playback on the next outbound frame.
* :class:`Pause` once the caller has been quiet for ``pause_ms``: a chance to end the turn
  early if the words so far already make a complete utterance ("apartamento 302, bloco B").
  The pipeline decides and calls :meth:`Endpointer.end_turn`.
* :class:`EndOfTurn` when silence reaches ``silence_ms`` (the ceiling, default 1.5 s) or the
  utterance reaches ``max_utterance_ms``.

Time is passed in, so tests and the simulator can run on a virtual clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import webrtcvad

from central.voice.audio import FRAME_MS, audioop, frame_size, resample

#: What most frames yield (shared: the per-frame path allocates nothing for it).
_NO_EVENTS: tuple = ()
#: Sample rates webrtcvad accepts directly; others are resampled to 16 kHz for detection.
_VAD_RATES = (8000, 16000, 32000, 48000)


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    at: float


@dataclass(frozen=True, slots=True)
class Pause:
    at: float
    audio: bytes


@dataclass(frozen=True, slots=True)
class EndOfTurn:
    at: float  # when the end of turn was decided
    speech_end: float  # time of the last voiced frame
    audio: bytes
    reason: str  # "silence", "early", "max_length"


@dataclass
class VADSettings:
    aggressiveness: int = 2
    start_frames: int = 3  # 60 ms of voice before we call it speech (and barge in)
    pause_ms: int = 400
    silence_ms: int = 1500  # ceiling: end of turn after this much silence
    max_utterance_ms: int = 15000
    preroll_frames: int = 10
    #: Energy gate: webrtcvad alone calls faint line hiss speech (it has no level
    #: threshold), which would barge in on every prompt.  RMS 100 is about -50 dBFS.
    min_rms: int = 100

    @classmethod
    def from_dict(cls, data: dict | None) -> VADSettings:
        data = data or {}
        known = {k: int(v) for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class Endpointer:
    rate: int = 8000
    settings: VADSettings = field(default_factory=VADSettings)

    def __post_init__(self) -> None:
        self._vad = webrtcvad.Vad(self.settings.aggressiveness)
        self._vad_rate = self.rate if self.rate in _VAD_RATES else 16000
        self._preroll: deque[bytes] = deque(maxlen=self.settings.preroll_frames)
        self.reset()

    def reset(self) -> None:
        self.in_speech = False
        self._voiced_run = 0
        self._silent_ms = 0
        self._speech_ms = 0
        self._paused = False
        self._last_voice = 0.0
        self._utterance: list[bytes] = []

    def is_voiced(self, frame: bytes) -> bool:
        if audioop.rms(frame, 2) < self.settings.min_rms:
            return False
        if self._vad_rate != self.rate:
            # webrtcvad needs exactly 10/20/30 ms; ratecv may be a sample short or long.
            frame = resample(frame, self.rate, self._vad_rate)
            want = frame_size(self._vad_rate)
            frame = frame[:want].ljust(want, b"\x00")
        try:
            return self._vad.is_speech(frame, self._vad_rate)
        except Exception:  # webrtcvad raises a bare Error on a frame of the wrong size
            return False

    def feed(self, frame: bytes, now: float) -> Sequence[SpeechStarted | Pause | EndOfTurn]:
        voiced = self.is_voiced(frame)
        s = self.settings
        if not self.in_speech:
            self._preroll.append(frame)
            if voiced:
                self._voiced_run += 1
                if self._voiced_run >= s.start_frames:
                    self.in_speech = True
                    self._utterance = list(self._preroll)
                    self._preroll.clear()
                    self._silent_ms = 0
                    self._speech_ms = self._voiced_run * FRAME_MS
                    self._last_voice = now
                    return [SpeechStarted(now)]
            else:
                self._voiced_run = 0
            return _NO_EVENTS
        self._utterance.append(frame)
        self._speech_ms += FRAME_MS
        if voiced:
            self._silent_ms = 0
            self._paused = False
            self._last_voice = now
        else:
            self._silent_ms += FRAME_MS
        if self._silent_ms >= s.silence_ms:
            return [self._end(now, "silence")]
        if self._speech_ms >= s.max_utterance_ms:
            return [self._end(now, "max_length")]
        if not self._paused and self._silent_ms >= s.pause_ms:
            self._paused = True
            return [Pause(now, b"".join(self._utterance))]
        return _NO_EVENTS

    def end_turn(self, now: float) -> EndOfTurn | None:
        """End the current utterance early (the pipeline found it complete at a Pause)."""
        if not self.in_speech:
            return None
        return self._end(now, "early")

    def _end(self, now: float, reason: str) -> EndOfTurn:
        event = EndOfTurn(now, self._last_voice, b"".join(self._utterance), reason)
        self.reset()
        return event
