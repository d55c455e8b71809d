"""Call controllers: glue a session, a pipeline and a concierge flow, and run the actions
that touch the outside world (originate the resident leg, transfer, log the outcome).

The visitor's session id travels to the resident leg as the return leg's AudioSocket
UUID: the originator dials the resident with ``AS_UUID=<visit id>`` and the return
extension's dialplan runs ``AudioSocket(${AS_UUID},<bind ip>:<return port>)``.  When that
connection arrives, :class:`VisitRegistry` pairs it with the waiting visitor.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from central.voice import metrics as voice_metrics
from central.voice.audiosocket.server import AudioSocketSession, CallHandler
from central.voice.config import ExtensionConfig, ResidentConfig
from central.voice.flows.concierge import (
    CallResident,
    EndCall,
    Finish,
    Outcome,
    ResidentFlow,
    Resolve,
    Transfer,
    UnknownVisitFlow,
    VisitorFlow,
)
from central.voice.pipeline import (
    FlowActions,
    InputDTMF,
    Interruption,
    NoInput,
    StartCall,
    TurnMetrics,
    build_pipeline,
)
from central.voice.vad import VADSettings

log = logging.getLogger(__name__)

RING_TIMEOUT = 40.0  # seconds the visitor waits for any news of the resident leg
#: After the PBX says the resident answered, the return leg's AudioSocket connection
#: follows within milliseconds (Answer(), then AudioSocket() in portaria-retorno); if it
#: does not come, the dialplan is wrong: a system failure, not "did not answer".
RETURN_LEG_TIMEOUT = 10.0
NO_INPUT_TIMEOUT = 10.0


class ResidentDidNotAnswer(Exception):
    """The resident's phone rang (or was busy) and nobody took the call."""


class OriginateFailed(Exception):
    """The resident could not be called at all (refused, bad channel, no PBX link, no
    answer from the PBX): a system failure, never "the resident did not answer"."""


class Originator(Protocol):
    """Telephony side effects; the lead wires it to the AMI client (central.telephony)."""

    async def originate_resident(
        self, *, visit_id: str, resident: ResidentConfig, extension: ExtensionConfig,
        return_host: str, return_port: int,
    ) -> None:
        """Dial ``resident`` and connect the answered leg to the return extension with the
        channel variable ``AS_UUID=visit_id``; its dialplan runs
        ``AudioSocket(${AS_UUID},<return_host>:<return_port>)``.  Return when the resident
        answered; raise :class:`ResidentDidNotAnswer` (rang, busy) or anything else for a
        failure (:class:`OriginateFailed`).  May return before or after the return leg
        connects: the two travel on different sockets."""

    async def transfer(self, *, call_uuid: str, to_extension: str, extension: ExtensionConfig) -> None:
        """Move the visitor's channel (AudioSocket UUID ``call_uuid``) to a human."""


class NoTelephony:
    """Default when no PBX link is wired: every originate fails (a system failure)."""

    async def originate_resident(self, **kwargs) -> None:
        raise OriginateFailed("no originator configured (no AMI link)")

    async def transfer(self, **kwargs) -> None:
        log.warning("transfer requested but no originator configured: %s", kwargs)


@dataclass
class VisitRecord:
    visit_id: str
    extension: str
    organization: str
    organization_id: int | None
    outcome: str
    visitor_name: str | None
    unit: str | None
    started_at: float
    ended_at: float
    audit: list = field(default_factory=list)


VisitSink = Callable[[VisitRecord], None]


def log_visit(record: VisitRecord) -> None:
    log.info("visit %s %s: %s (%s)", record.visit_id, record.unit, record.outcome, record.audit)


class CallContext:
    """What every call of an extension shares; swapped in place on refresh."""

    def __init__(self, extension: ExtensionConfig, providers, cache, *, vad: VADSettings | None = None) -> None:
        self.extension = extension
        self.providers = providers
        self.cache = cache
        self.vad = vad or VADSettings.from_dict(extension.providers.get("vad"))
        self.return_port = extension.return_port


class VoiceRuntime:
    """Process-wide state shared by listeners: visits waiting for residents, metrics."""

    def __init__(self, originator: Originator | None = None, visit_sink: VisitSink | None = None) -> None:
        self.originator = originator or NoTelephony()
        self.visit_sink = visit_sink or log_visit
        self.waiting: dict[str, VisitorCall] = {}
        #: ramal -> (host, port) of its return listener *now* (it can move on refresh,
        #: while a visitor who called before the move is still waiting).
        self.return_addresses: dict[str, tuple[str, int]] = {}
        self.turns: deque[dict] = deque(maxlen=200)
        self.visits: deque[VisitRecord] = deque(maxlen=200)
        self.ring_timeout = RING_TIMEOUT
        self.return_leg_timeout = RETURN_LEG_TIMEOUT
        self.no_input_timeout = NO_INPUT_TIMEOUT

    def record_turn(self, extension: str, metrics: TurnMetrics) -> None:
        self.turns.append({"ramal": extension, **metrics.as_dict()})
        voice_metrics.observe_turn(metrics)

    def record_visit(self, record: VisitRecord) -> None:
        self.visits.append(record)
        try:
            self.visit_sink(record)
        except Exception:
            log.exception("visit sink failed for %s", record.visit_id)


class BaseCall(CallHandler):
    kind = "call"

    def __init__(self, session: AudioSocketSession, ctx: CallContext, runtime: VoiceRuntime, flow) -> None:
        self.session = session
        self.ctx = ctx
        self.runtime = runtime
        self.flow = flow
        self.parts = build_pipeline(
            session=session, flow=flow, providers=ctx.providers, cache=ctx.cache,
            vad_settings=ctx.vad, on_control=self._control, on_turn=self._turn,
        )
        self.pipeline = self.parts.pipeline
        # Hot path (50 frames/s per call): the session hands inbound audio straight to the
        # pipeline's first stage, the VAD, without a hop through this object.  Nothing
        # arrives after on_close (the session marks itself closed first), so no per-frame
        # check of the pipeline's state is needed.
        self.on_audio = self.parts.vad.audio  # type: ignore[method-assign]
        self.pipeline.on_released = self._release
        self._actions: asyncio.Queue = asyncio.Queue()
        self._action_task: asyncio.Task | None = None
        self._idle_handle: asyncio.TimerHandle | None = None
        self.last_activity = time.monotonic()
        self.started_at = time.monotonic()

    # -- CallHandler ----------------------------------------------------------------------
    def on_start(self, now: float) -> None:
        self._action_task = self.pipeline.spawn(self._run_actions())
        self.pipeline.push(StartCall(now))
        self._schedule_idle()

    def on_dtmf(self, digit: str, now: float) -> None:
        self.last_activity = now
        self.pipeline.push(InputDTMF(digit, now))

    def on_close(self, reason: str) -> None:
        if self._idle_handle is not None:
            self._idle_handle.cancel()
        actions = self.flow.on_hangup(time.monotonic())
        for action in actions:
            self._side_effect_now(action)
        self.pipeline.close()

    def _release(self) -> None:
        """The pipeline has closed and its tasks have finished: drop what still points
        back at this call (its tasks, timers, the VAD shortcut), so reference counting
        frees the call when the session lets go of it, with no cycle left for a full
        collection to find (collector.py)."""
        self._action_task = None
        self._idle_handle = None
        self.__dict__.pop("on_audio", None)

    # -- actions --------------------------------------------------------------------------
    def _control(self, action) -> None:
        if isinstance(action, Finish):
            # Logged at once, never queued behind a slow action: a visit must reach the
            # log even if the caller hangs up before the queue gets to it.
            self._side_effect_now(action)
            return
        self._actions.put_nowait(action)

    async def _run_actions(self) -> None:
        while True:
            action = await self._actions.get()
            try:
                await self._execute(action)
            except Exception:
                log.exception("%s %s: action %r failed", self.kind, self.session.uuid, action)

    async def _execute(self, action) -> None:
        if isinstance(action, EndCall):
            self.session.hangup_after_playback()
        else:
            self._side_effect_now(action)

    def _side_effect_now(self, action) -> None: ...

    def _turn(self, metrics: TurnMetrics) -> None:
        self.runtime.record_turn(self.ctx.extension.number, metrics)

    def _schedule_idle(self) -> None:
        self._idle_handle = asyncio.get_running_loop().call_later(1.0, self._check_idle)

    def _check_idle(self) -> None:
        if self.session.closed:
            return
        now = time.monotonic()
        in_speech = self.parts.vad.endpointer.in_speech and not self.parts.keypad_only
        if self.session.playing or in_speech:
            self.last_activity = now
        elif now - self.last_activity >= self.runtime.no_input_timeout:
            self.last_activity = now
            self.pipeline.push(NoInput(now))
        self._schedule_idle()


class VisitorCall(BaseCall):
    kind = "visitor"

    def __init__(self, session: AudioSocketSession, ctx: CallContext, runtime: VoiceRuntime) -> None:
        self.visit_id = str(uuid.uuid4())
        super().__init__(session, ctx, runtime, VisitorFlow(ctx.extension, self.visit_id))
        self._ring_timer: asyncio.TimerHandle | None = None
        self.recorded = False
        self.resident_call: ResidentCall | None = None

    def on_close(self, reason: str) -> None:
        super().on_close(reason)
        if not self.recorded:  # a Finish still queued behind speech when the caller left
            self._record(self.flow.outcome or Outcome.ABANDONED)
        if self._ring_timer is not None:
            self._ring_timer.cancel()
        self.runtime.waiting.pop(self.visit_id, None)
        if self.resident_call is not None:
            self.resident_call.visitor_left()

    def _release(self) -> None:
        super()._release()
        self._ring_timer = None
        self.resident_call = None

    async def _execute(self, action) -> None:
        if isinstance(action, CallResident):
            # Its own task: the Originate waits for the PBX's answer (up to the ring time)
            # while the resident's leg may already be talking; the action queue must keep
            # serving the visitor (EndCall after "authorized") meanwhile.
            self.pipeline.spawn(self._call_resident(action))
        elif isinstance(action, Transfer):
            await self.session.drained()
            await self.runtime.originator.transfer(
                call_uuid=self.session.uuid or "", to_extension=action.extension, extension=self.ctx.extension
            )
        else:
            await super()._execute(action)

    def _side_effect_now(self, action) -> None:
        if isinstance(action, Finish):
            self._record(action.outcome)
            self.runtime.waiting.pop(self.visit_id, None)
            if self._ring_timer is not None:
                self._ring_timer.cancel()

    async def _call_resident(self, action: CallResident) -> None:
        self.runtime.waiting[self.visit_id] = self
        self._arm(self.runtime.ring_timeout, "no_news_from_pbx")
        ext = self.ctx.extension
        host, port = self.runtime.return_addresses.get(ext.number, (ext.bind_ip, self.ctx.return_port))
        try:
            await self.runtime.originator.originate_resident(
                visit_id=self.visit_id, resident=action.residents[0], extension=ext,
                return_host=host, return_port=port,
            )
        except ResidentDidNotAnswer as exc:
            self._audit("resident_not_answered", str(exc))
            self.resident_answered(Outcome.NO_ANSWER)
        except Exception as exc:
            if self.resident_call is not None:
                return  # the leg is here: whatever AMI says, the resident decides
            log.warning("visit %s: originate failed: %s", self.visit_id, exc)
            self._audit("originate_failed", f"{type(exc).__name__}: {exc}")
            self.resident_answered(Outcome.FAILED)
        else:
            self._audit("resident_phone_answered", "")
            if self.resident_call is None and not self.session.closed:
                self._arm(self.runtime.return_leg_timeout, "return_leg_missing")

    def _audit(self, event: str, detail: str) -> None:
        self.flow.audit.append((round(time.monotonic(), 3), event, detail[:200]))

    def _arm(self, seconds: float, why: str) -> None:
        """(Re)start the one timer that ends a visit nobody reported on."""
        if self._ring_timer is not None:
            self._ring_timer.cancel()
        self._ring_timer = asyncio.get_running_loop().call_later(seconds, self._timed_out, why)

    def _timed_out(self, why: str) -> None:
        self._audit(why, "")
        # No OriginateResponse by the ring time, or an answered phone whose return leg
        # never connected: something is broken, the resident did not decline.
        self.resident_answered(Outcome.FAILED)

    def resident_connected(self) -> None:
        if self._ring_timer is not None:
            self._ring_timer.cancel()

    def resident_answered(self, outcome: Outcome) -> None:
        """From the resident leg (or the ring timer): tell the visitor."""
        if self._ring_timer is not None:
            self._ring_timer.cancel()
        if self.session.closed:
            return
        self.pipeline.push(FlowActions(self.flow.on_resident_answer(outcome, time.monotonic())))

    def _record(self, outcome: Outcome) -> None:
        if self.recorded:
            return
        self.recorded = True
        flow = self.flow
        ext = self.ctx.extension
        wall = time.time() - time.monotonic()  # audit times are monotonic; store wall clock
        self.runtime.record_visit(
            VisitRecord(
                visit_id=self.visit_id, extension=ext.number, organization=ext.organization,
                organization_id=ext.organization_id, outcome=outcome.value,
                visitor_name=flow.visitor_name, unit=flow.unit.label if flow.unit else flow.unit_number,
                started_at=self.started_at + wall, ended_at=time.time(),
                audit=[(round(t + wall, 3), event, detail) for t, event, detail in flow.audit],
            )
        )


class ResidentCall(BaseCall):
    kind = "resident"

    def __init__(self, session: AudioSocketSession, ctx: CallContext, runtime: VoiceRuntime) -> None:
        self.visitor = runtime.waiting.get(session.uuid or "")
        if self.visitor is None:
            flow = UnknownVisitFlow()
        else:
            v = self.visitor.flow
            flow = ResidentFlow(
                visit_id=self.visitor.visit_id, visitor_name=v.visitor_name or "Um visitante",
                unit_label=v.unit.label if v.unit else (v.unit_number or ""),
                organization=ctx.extension.organization,
            )
            self.visitor.resident_connected()
            self.visitor.resident_call = self
        super().__init__(session, ctx, runtime, flow)

    def _release(self) -> None:
        super()._release()
        self.visitor = None

    def visitor_left(self) -> None:
        if not self.session.closed and isinstance(self.flow, ResidentFlow) and not self.flow.done:
            now = time.monotonic()
            self.pipeline.push(Interruption(now))  # cut the briefing short
            self.pipeline.push(FlowActions(self.flow.on_visitor_left(now)))

    def _side_effect_now(self, action) -> None:
        if isinstance(action, Resolve) and self.visitor is not None:
            self.visitor.flow.audit.extend(self.flow.audit)
            self.flow.audit = []
            self.visitor.resident_answered(action.outcome)
