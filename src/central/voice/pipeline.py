"""The per-call pipeline: frames flow one way through processors (after Pipecat).

    transport in -> VAD -> STT -> Reply (engine + flow) -> TTS -> transport out

Every processor gets every frame and passes on what it does not consume, so a frame
type added upstream never needs plumbing in the middle.  Interruption is a frame too:
the VAD emits it when the caller starts speaking (or the reply stage when a DTMF key is
pressed); the TTS stage drops queued speech and the output stage empties the playback
queue, so barge-in is one pass through the chain and happens within one 20 ms tick.

The hot path (an inbound 20 ms frame) is synchronous; only provider calls run as tasks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from central.voice.flows.concierge import PHRASES, Action, Say
from central.voice.providers.base import Interpretation, ProviderError
from central.voice.providers.reply import RuleEngine
from central.voice.vad import EndOfTurn, Endpointer, Pause, SpeechStarted

log = logging.getLogger(__name__)


# -- metrics ------------------------------------------------------------------------------
@dataclass
class TurnMetrics:
    """One turn's latency budget: end of speech -> first audio byte out, and its parts."""

    source: str = "speech"  # "speech" or "dtmf"
    speech_end: float = 0.0
    end_of_turn: float = 0.0
    reason: str = ""
    stt_ms: float = 0.0
    reply_ms: float = 0.0
    tts_first_ms: float = 0.0
    cached: bool = False
    first_byte_at: float = 0.0
    text: str = ""

    @property
    def endpointing_ms(self) -> float:
        return (self.end_of_turn - self.speech_end) * 1000

    @property
    def total_ms(self) -> float:
        return (self.first_byte_at - self.speech_end) * 1000 if self.first_byte_at else 0.0

    @property
    def after_eot_ms(self) -> float:
        return (self.first_byte_at - self.end_of_turn) * 1000 if self.first_byte_at else 0.0

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "reason": self.reason,
            "endpointing_ms": round(self.endpointing_ms, 1),
            "stt_ms": round(self.stt_ms, 1),
            "reply_ms": round(self.reply_ms, 1),
            "tts_first_ms": round(self.tts_first_ms, 1),
            "cached": self.cached,
            "total_ms": round(self.total_ms, 1),
            "after_end_of_turn_ms": round(self.after_eot_ms, 1),
        }


# -- frames -------------------------------------------------------------------------------
@dataclass(slots=True)
class StartCall:
    at: float


@dataclass(slots=True)
class InputAudio:
    pcm: bytes
    at: float


@dataclass(slots=True)
class InputDTMF:
    digit: str
    at: float


@dataclass(slots=True)
class UserStartedSpeaking:
    at: float


@dataclass(slots=True)
class Interruption:
    at: float


@dataclass(slots=True)
class UserPaused:
    audio: bytes
    at: float


@dataclass(slots=True)
class UserTurn:
    audio: bytes
    metrics: TurnMetrics
    text: str | None = None
    interp: Interpretation | None = None


@dataclass(slots=True)
class Transcription:
    text: str
    metrics: TurnMetrics
    interp: Interpretation | None = None


@dataclass(slots=True)
class ProviderFailure:
    stage: str
    error: str
    metrics: TurnMetrics | None = None


@dataclass(slots=True)
class NoInput:
    at: float


@dataclass(slots=True)
class FlowActions:
    """Actions decided outside the pipeline (the resident answered) to run in order."""

    actions: list[Action]


@dataclass(slots=True)
class SpeakText:
    text: str
    key: str | None
    metrics: TurnMetrics | None = None


@dataclass(slots=True)
class OutputFrames:
    frames: tuple[bytes, ...]
    metrics: TurnMetrics | None = None


@dataclass(slots=True)
class Control:
    action: Action


Frame = object


class Processor:
    name = "processor"

    def __init__(self) -> None:
        self.next: Processor | None = None
        self.pipeline: Pipeline | None = None

    def process(self, frame: Frame) -> None:
        self.push(frame)

    def push(self, frame: Frame) -> None:
        if self.next is not None:
            self.next.process(frame)

    def spawn(self, coro) -> asyncio.Task:
        assert self.pipeline is not None
        return self.pipeline.spawn(coro)

    def close(self) -> None: ...

    def release(self) -> None:
        """Drop references once the call is over and its tasks have finished (see
        :meth:`Pipeline.close`); a subclass adds the callbacks and tasks it holds."""
        self.next = None
        self.pipeline = None


class Pipeline:
    def __init__(self, processors: list[Processor]) -> None:
        self.processors = processors
        for a, b in zip(processors, processors[1:], strict=False):
            a.next = b
        for p in processors:
            p.pipeline = self
        self.tasks: set[asyncio.Task] = set()
        self.closed = False
        #: Called once the pipeline is closed and its last task has finished.
        self.on_released: Callable[[], None] | None = None

    def push(self, frame: Frame) -> None:
        if not self.closed:
            self.processors[0].process(frame)

    def spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("pipeline task failed", exc_info=task.exception())
        if self.closed and not self.tasks:
            self._release()

    def close(self) -> None:
        """Stop the call's processing: processors closed, tasks cancelled.  When the last
        task has finished, every processor drops its references (to the next one, the
        call's callbacks, its tasks), so the call's objects form no cycle and reference
        counting frees them (AudioSocketSession._finish, collector.py)."""
        self.closed = True
        for p in self.processors:
            p.close()
        for task in list(self.tasks):
            task.cancel()
        if not self.tasks:
            self._release()

    def _release(self) -> None:
        processors, self.processors = self.processors, []
        for p in processors:
            p.release()
        callback, self.on_released = self.on_released, None
        if callback is not None:
            callback()


# -- processors ---------------------------------------------------------------------------
class VADProcessor(Processor):
    name = "vad"

    def __init__(self, endpointer: Endpointer, barge_in_allowed: Callable[[], bool]) -> None:
        super().__init__()
        self.endpointer = endpointer
        self.barge_in_allowed = barge_in_allowed
        self.utterance = 0  # bumps on every speech start, so stale speculation is dropped

    def process(self, frame: Frame) -> None:
        if type(frame) is InputAudio:
            self.audio(frame.pcm, frame.at)
        else:
            self.push(frame)

    def audio(self, pcm: bytes, at: float) -> None:
        """One inbound 20 ms frame; the call's hot path enters here directly (an
        :class:`InputAudio` frame would only be unpacked again)."""
        for event in self.endpointer.feed(pcm, at):
            if type(event) is SpeechStarted:
                self.utterance += 1
                self.push(UserStartedSpeaking(event.at))
                if self.barge_in_allowed():
                    self.push(Interruption(event.at))
            elif type(event) is Pause:
                self.push(UserPaused(event.audio, event.at))
            elif type(event) is EndOfTurn:
                self.push(self._turn(event))

    @staticmethod
    def _turn(event: EndOfTurn) -> UserTurn:
        metrics = TurnMetrics(speech_end=event.speech_end, end_of_turn=event.at, reason=event.reason)
        return UserTurn(event.audio, metrics)

    def end_turn_early(self, utterance: int, now: float) -> UserTurn | None:
        """Called by the STT stage when the words at a pause already make a full answer."""
        ep = self.endpointer
        if utterance != self.utterance or not ep.in_speech or not ep._paused:
            return None  # the caller went on speaking: keep listening
        event = ep.end_turn(now)
        return self._turn(event) if event else None


class STTProcessor(Processor):
    """Transcribes a finished turn; at a pause, transcribes speculatively to end early."""

    name = "stt"

    def __init__(self, stt, is_complete: Callable[[Interpretation], bool], vad: VADProcessor,
                 keypad_only: bool = False) -> None:
        super().__init__()
        self.stt = stt
        self.is_complete = is_complete
        self.vad = vad
        self._speculative: asyncio.Task | None = None
        #: No speech-to-text provider configured: turns are not transcribed; the first one
        #: is reported once (the flow apologizes and offers the keypad), the rest ignored.
        self.keypad_only = keypad_only
        self._told = False

    def release(self) -> None:
        super().release()
        self._speculative = None

    def process(self, frame: Frame) -> None:
        if self.keypad_only and type(frame) in (UserPaused, UserTurn):
            if type(frame) is UserTurn and not self._told:
                self._told = True
                self.push(ProviderFailure("stt", KEYPAD_ONLY, frame.metrics))
            return
        if type(frame) is UserPaused:
            if self._speculative is None or self._speculative.done():
                self._speculative = self.spawn(self._speculate(frame, self.vad.utterance))
        elif type(frame) is UserTurn:
            self.spawn(self._transcribe(frame))
        else:
            self.push(frame)

    async def _speculate(self, frame: UserPaused, utterance: int) -> None:
        started = time.monotonic()
        try:
            text = await self.stt.transcribe(frame.audio, self.vad.endpointer.rate)
        except ProviderError:
            return  # the full turn will try again (and report the failure)
        interp = RuleEngine.interpret_now(text)
        if not text or not self.is_complete(interp):
            return
        turn = self.vad.end_turn_early(utterance, time.monotonic())
        if turn is None:
            return
        turn.text, turn.interp = text, interp
        turn.metrics.stt_ms = (time.monotonic() - started) * 1000
        self.push(Transcription(text, turn.metrics, interp))

    async def _transcribe(self, turn: UserTurn) -> None:
        started = time.monotonic()
        try:
            text = await self.stt.transcribe(turn.audio, self.vad.endpointer.rate)
        except ProviderError as exc:
            self.push(ProviderFailure("stt", str(exc), turn.metrics))
            return
        turn.metrics.stt_ms = (time.monotonic() - started) * 1000
        self.push(Transcription(text, turn.metrics))


#: What the audit trail says, once per call, when no speech-to-text provider is configured.
KEYPAD_ONLY = "no speech-to-text provider configured: keypad only"


class ReplyProcessor(Processor):
    """Reply engine + flow: understanding in, actions out (as Speak/Control frames)."""

    name = "reply"

    def __init__(self, flow, engine) -> None:
        super().__init__()
        self.flow = flow
        self.engine = engine
        self._lock = asyncio.Lock()

    def emit(self, actions: list[Action], metrics: TurnMetrics | None = None) -> None:
        for action in actions:
            if isinstance(action, Say):
                self.push(SpeakText(action.text, action.key, metrics))
                metrics = None  # first-byte latency belongs to the first phrase only
            else:
                self.push(Control(action))

    def process(self, frame: Frame) -> None:
        t = type(frame)
        if t is InputDTMF:
            if self.flow.barge_in_allowed:
                self.push(Interruption(frame.at))
            started = time.monotonic()
            actions = self.flow.on_dtmf(frame.digit, frame.at)
            if actions:
                m = TurnMetrics("dtmf", speech_end=frame.at, end_of_turn=frame.at, reason="dtmf")
                m.reply_ms = (time.monotonic() - started) * 1000
                m.text = frame.digit
                self.emit(actions, m)
        elif t is Transcription:
            self.spawn(self._reply(frame))
        elif t is ProviderFailure:
            self.emit(self.flow.on_provider_failure(frame.error, time.monotonic()), frame.metrics)
        elif t is StartCall:
            self.emit(self.flow.start(frame.at))
        elif t is NoInput:
            self.emit(self.flow.on_no_input(frame.at))
        elif t is FlowActions:
            self.emit(frame.actions)
        else:
            self.push(frame)

    async def _reply(self, frame: Transcription) -> None:
        async with self._lock:
            started = time.monotonic()
            interp = frame.interp
            if interp is None:
                try:
                    interp = await self.engine.interpret(frame.text, self.flow.context())
                except ProviderError as exc:
                    self.emit(self.flow.on_provider_failure(str(exc), time.monotonic()), frame.metrics)
                    return
            frame.metrics.reply_ms = (time.monotonic() - started) * 1000
            frame.metrics.text = frame.text
            self.emit(self.flow.on_utterance(frame.text, interp, time.monotonic()), frame.metrics)


class TTSProcessor(Processor):
    """Speech in order: cached phrases pass straight through, others are synthesized."""

    name = "tts"

    def __init__(self, cache, rate: int) -> None:
        super().__init__()
        self.cache = cache
        self.rate = rate
        self.queue: deque = deque()
        self._worker: asyncio.Task | None = None

    def release(self) -> None:
        super().release()
        self.queue.clear()
        self._worker = None

    def process(self, frame: Frame) -> None:
        t = type(frame)
        if t is SpeakText or t is Control:
            if not self.queue and (self._worker is None or self._worker.done()):
                if t is Control:
                    self.push(frame)
                    return
                started = time.monotonic()
                frames = self.cache.get(frame.text, self.rate)
                if frames is not None:
                    self._out(frame, frames, started, cached=True)
                    return
            self.queue.append(frame)
            if self._worker is None or self._worker.done():
                self._worker = self.spawn(self._work())
        elif t is Interruption:
            # Barge-in: drop speech not yet queued for playback, keep control actions.
            self.queue = deque(f for f in self.queue if type(f) is Control)
            if self._worker is not None and not self._worker.done() and not self.queue:
                self._worker.cancel()
            self.push(frame)
        else:
            self.push(frame)

    def _out(self, frame: SpeakText, frames, started: float, cached: bool) -> None:
        if frame.metrics is not None:
            frame.metrics.tts_first_ms = (time.monotonic() - started) * 1000
            frame.metrics.cached = cached
        self.push(OutputFrames(frames, frame.metrics))

    async def _work(self) -> None:
        while self.queue:
            frame = self.queue.popleft()
            if type(frame) is Control:
                self.push(frame)
                continue
            started = time.monotonic()
            frames = self.cache.get(frame.text, self.rate)
            cached = frames is not None
            if frames is None:
                try:
                    frames = await self.cache.synthesize(frame.text, self.rate)
                except ProviderError as exc:
                    log.warning("TTS failed, playing the cached apology: %s", exc)
                    frames = self.cache.get(PHRASES["apology"], self.rate)
                    if frames is None:
                        continue
            self._out(frame, frames, started, cached)


def _ignore(_value) -> None:
    """What a released output stage calls (nothing reaches it after release)."""


class OutputProcessor(Processor):
    """The transport sink: audio to the session's playback queue, actions to the call."""

    name = "output"

    def __init__(self, session, on_control: Callable[[Action], None], on_turn: Callable[[TurnMetrics], None]) -> None:
        super().__init__()
        self.session = session
        self.on_control = on_control
        self.on_turn = on_turn
        self.pending_metrics: TurnMetrics | None = None
        self.interruptions = 0

    def release(self) -> None:
        super().release()
        self.on_control = self.on_turn = _ignore
        self.pending_metrics = None

    def process(self, frame: Frame) -> None:
        t = type(frame)
        if t is OutputFrames:
            if frame.metrics is not None:
                # Arm the session's first-byte probe for this turn only: the pacer calls
                # it for the next frame sent, not for every frame of every prompt.
                self.pending_metrics = frame.metrics
                self.session.on_frame_sent = self._frame_sent
            self.session.play(frame.frames)
        elif t is Interruption:
            if self.session.interrupt():
                self.interruptions += 1
        elif t is Control:
            self.on_control(frame.action)

    def _frame_sent(self) -> None:
        self.session.on_frame_sent = None
        m = self.pending_metrics
        if m is not None:
            self.pending_metrics = None
            m.first_byte_at = time.monotonic()
            self.on_turn(m)


@dataclass
class PipelineParts:
    pipeline: Pipeline
    vad: VADProcessor
    reply: ReplyProcessor
    output: OutputProcessor
    extra: dict = field(default_factory=dict)
    keypad_only: bool = False


def build_pipeline(*, session, flow, providers, cache, vad_settings, on_control, on_turn) -> PipelineParts:
    # Without speech-to-text, sound is not input: it neither interrupts prompts (a
    # continuous tone would cut every one) nor counts as activity (calls.BaseCall).
    keypad_only = not providers.stt.providers
    vad = VADProcessor(Endpointer(session.rate, vad_settings),
                       lambda: flow.barge_in_allowed and not keypad_only)
    stt = STTProcessor(providers.stt, flow.is_complete, vad, keypad_only)
    reply = ReplyProcessor(flow, providers.reply)
    tts = TTSProcessor(cache, session.rate)
    out = OutputProcessor(session, on_control, on_turn)
    return PipelineParts(Pipeline([vad, stt, reply, tts, out]), vad, reply, out, keypad_only=keypad_only)
