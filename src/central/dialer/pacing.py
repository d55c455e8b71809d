"""Pacing: how many calls a campaign should place right now (pure, sans-I/O).

``decide(snapshot, params, now)`` is a pure function of a state snapshot and the
time; the engine, the bench and the what-if planner all call the same function.
``PacingEstimator`` is the stateful but pure companion that learns answer rate,
ring/talk/wrap-up time distributions and rolling abandonment from call outcomes
fed to it with their times.

Modes
-----
* ``preview``: never dials by itself; the agent asks for the next contact.
* ``progressive``: one call per free agent minus the calls already in flight, so
  every answered call has an agent waiting: no abandonment by construction.
* ``ratio``: ``round(ratio * free agents)`` minus calls in flight (the legacy
  ``impulse_factor``), capped by ``max_channels``.
* ``predictive``: dial ahead for agents who are free *or about to be*.

The predictive model
--------------------
Industry practice (FCC/Ofcom 3 % of live answers, 2 s to connect; vendors such as
Cisco's ``callAbandonLimit`` / ``predictiveCorrection``) is to project agent
availability over the ring-time horizon and correct the dialing level by the
measured abandonment. We do the projection per agent and per call instead of
with averages:

* A new call, if answered, is answered after ``h`` seconds, ``h`` drawn from the
  learned ring-time distribution of answered calls (we evaluate a few quantiles).
* **Supply** at ``h``: agents free now, plus each agent in wrap-up or talking
  with the probability that they are free by ``h + abandon_after`` given the time
  they have already spent (``P(T <= e + x | T > e)`` under the learned talk-time
  distribution: an agent 80 s into a call is "partly free").
* **Demand** before the new call: callers already queued, plus each call in
  flight with its probability of being answered within ``h`` given its elapsed
  ring time, plus the other new calls of this batch answered earlier.
* Supply minus demand is a sum of Bernoullis, approximated as normal with an
  Edgeworth skew term (rare events are skewed; measured +1-2 points occupancy
  for 5 agents), so the risk that the k-th new call finds no agent is about
  ``Phi((0.5 - mean_k) / sd_k)``. O(agents + calls) per decision, no numpy.
* We place call k while its risk is at most ``theta``. ``theta`` is the knob a
  feedback controller (in the estimator) moves after every answered call so
  the realised abandonment converges to the target: a stochastic-approximation
  integral controller ``log theta += gain * (setpoint - abandoned)``. The model
  decides *where* to take risk (when agents are about to free up), the
  controller decides *how much*. The controller's theta is relative to a
  10-agent team (the best threshold falls as ~agents^-0.3, measured with
  bench/pacing.py), its per-call gain shrinks with the call volume, and its
  setpoint keeps a reserve of a few abandons in the budget window.
* Predictive never places fewer calls than progressive would.

Predictive falls back to progressive while the estimates are unreliable (few
calls, or less than two minutes of history: before that only quick outcomes are
known) or when the abandonment budget over the window (default 24 h, as Ofcom
measures it) is spent; as the budget nears exhaustion theta is tapered (like
VICIdial's ADAPT_TAPERED) so the hard fallback stays the exception. Talk times
early in the day are estimated with the calls still in progress (censored
exponential), since only the short calls have ended yet.

What the engine needs for the Brazilian short-call guard is exposed by the
estimator: ``abandonment(now, window)``, ``abandonment_since(midnight, now)``
and ``short_calls(now)`` (connected calls of 6 s or less).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from central.dialer.core import SHORT_CALL_SECONDS

__all__ = [
    "AGENT_STATES",
    "MODES",
    "MODE_LABELS",
    "RESULTS",
    "REASONS",
    "AbandonStats",
    "AgentView",
    "DurationModel",
    "Estimates",
    "PacingDecision",
    "PacingError",
    "PacingEstimator",
    "PacingParams",
    "PacingSnapshot",
    "decide",
]

MODES = ("preview", "progressive", "ratio", "predictive")
AGENT_STATES = ("free", "talking", "wrapup", "paused", "offline")
RESULTS = ("answered", "busy", "noanswer", "congestion", "failed")
# Spellings other components use for the same results ("abandoned" is a call
# that was answered but found no agent: it counts as answered here).
_RESULT_ALIASES = {
    "no_answer": "noanswer",
    "abandoned": "answered",
    "chanunavail": "failed",
    "cancel": "noanswer",
}

#: Machine-readable reason codes and their pt-BR explanation (templates take
#: the decision's ``details``).
REASONS: dict[str, str] = {
    "inactive": "Campanha não está ativa.",
    "outside_hours": "Fora do horário de discagem da campanha.",
    "preview": "Modo prévia: o agente solicita o próximo contato.",
    "no_agents": "Nenhum agente disponível na fila (todos ausentes ou em pausa).",
    "no_contacts": "Nenhum contato disponível para discar agora.",
    "no_free_agents": "Nenhum agente livre no momento.",
    "covered": "As chamadas em andamento já cobrem os agentes livres.",
    "no_capacity": "Nenhum agente livre ou prestes a ficar livre a tempo de atender.",
    "warming_up": (
        "Estimativas ainda pouco confiáveis ({answered} atendidas de {dials} discagens): "
        "discando em modo progressivo."
    ),
    "abandon_budget": (
        "Taxa de abandono {abandon_pct:.1f}% na janela atingiu a meta de "
        "{target_pct:.1f}%: discando em modo progressivo."
    ),
    "channel_cap": "Limite de canais atingido ({channels_in_use} de {max_channels} em uso).",
    "cps_cap": "Limite de chamadas por segundo atingido ({max_cps:g}/s).",
    "contacts_cap": "Apenas {contacts_due} contato(s) disponível(is) agora.",
    "dialing": "Discando {calls} chamada(s) em modo {mode_pt}.",
}

#: pt-BR names of the modes, for the dashboard.
MODE_LABELS = {
    "preview": "prévia",
    "progressive": "progressivo",
    "ratio": "proporcional",
    "predictive": "preditivo",
}

_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)


class PacingError(ValueError):
    """Invalid pacing parameters or snapshot (names the offending field)."""


def _phi(x: float) -> float:
    """Standard normal CDF."""
    return 0.5 * math.erfc(-x / _SQRT2)


def _pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / _SQRT2PI


# ---------------------------------------------------------------------------
# Durations
# ---------------------------------------------------------------------------


class DurationModel:
    """An empirical distribution of durations with an exponential tail.

    WHY empirical: talk times are rarely exponential in practice (scripts give
    humps, hang-ups give a spike at a few seconds), and the conditional
    probability an agent finishes soon given their elapsed time depends on the
    shape. Past the last few samples we switch to an exponential tail with the
    sample mean, which is exact for exponential talk times (memoryless) and a
    sane guess otherwise.
    """

    __slots__ = ("_cache", "mean", "n", "samples", "tail_mean", "tail_start")

    #: Survivors needed beyond ``elapsed`` to trust the empirical conditional;
    #: with fewer the estimate is mostly noise, so the tail takes over.
    MIN_TAIL = 40

    def __init__(self, samples: Iterable[float]) -> None:
        self.samples: tuple[float, ...] = tuple(sorted(max(0.0, float(s)) for s in samples))
        self.n = len(self.samples)
        if self.n == 0:
            raise PacingError("DurationModel needs at least one sample")
        self.mean = sum(self.samples) / self.n
        # Exponential tail fitted on the top MIN_TAIL samples (mean excess over
        # the point where they start): exact for exponential talk times, and it
        # follows heavier tails (mean residual life grows) when there are any.
        k = min(self.n, self.MIN_TAIL)
        top = self.samples[self.n - k :]
        self.tail_start = self.samples[self.n - k - 1] if self.n > k else 0.0
        self.tail_mean = max(1e-6, sum(top) / k - self.tail_start)
        self._cache: dict[tuple[float, float], float] = {}

    @classmethod
    def exponential(cls, mean: float, n: int = 400) -> DurationModel:
        """Quantiles of an exponential distribution (a prior, or for tests)."""
        return cls(-mean * math.log(1.0 - (i + 0.5) / n) for i in range(n))

    @classmethod
    def constant(cls, value: float) -> DurationModel:
        return cls([value])

    def cdf(self, x: float) -> float:
        return bisect_right(self.samples, x) / self.n

    def quantile(self, q: float) -> float:
        i = min(self.n - 1, max(0, int(q * self.n)))
        return self.samples[i]

    def p_within(self, elapsed: float, h: float) -> float:
        """P(T <= elapsed + h | T > elapsed): chance to end in the next ``h`` seconds."""
        if h <= 0.0:
            return 0.0
        key = (round(elapsed, 1), round(h, 2))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        samples = self.samples
        n = self.n
        alive = n - bisect_right(samples, elapsed)
        if alive >= self.MIN_TAIL or (n < self.MIN_TAIL and alive > 0):
            done = bisect_right(samples, elapsed + h) - (n - alive)
            p = done / alive
        else:
            p = 1.0 - math.exp(-h / self.tail_mean)
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[key] = p
        return p


class AbandonStats(NamedTuple):
    answered: int
    abandoned: int

    @property
    def rate(self) -> float:
        return self.abandoned / self.answered if self.answered else 0.0


@dataclass(frozen=True)
class Estimates:
    """What the estimator has learned, frozen at one instant (part of a snapshot)."""

    answer_rate: float
    dials: int  # dials whose outcome is known, in the answer-rate window
    answered: int  # answered among them
    ring: DurationModel | None  # dial -> answer, answered calls
    unanswered: DurationModel | None  # dial -> end, calls not answered
    talk: DurationModel | None
    wrapup: DurationModel | None
    abandon: AbandonStats  # over the estimator's budget window
    theta: float  # controller output: max risk accepted for one more call
    total_dials: int = 0
    total_answered: int = 0
    dial_rate: float = 0.0  # calls placed per second, recent
    observed: float = 0.0  # seconds since the first dial seen
    #: memo shared by the snapshots of one fit (the estimator clears it on refit)
    cache: dict = field(default_factory=dict, compare=False, repr=False)

    def p_answer_within(self, elapsed: float, h: float) -> float:
        """P(a call ringing for ``elapsed`` s is answered within ``h`` more seconds).

        Bayes over the two ways a call still ringing can go: answered later
        (answer rate times the ring-time survival) or ended unanswered later.
        """
        ring, unans = self.ring, self.unanswered
        # quantized so the memo survives small moves of the live rate
        p = round(self.answer_rate * 200.0) / 200.0
        if ring is None or p <= 0.0:
            return 0.0
        key = (round(elapsed, 1), h, p)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        ring_alive = 1.0 - ring.cdf(elapsed)
        un_alive = 1.0 if unans is None else 1.0 - unans.cdf(elapsed)
        den = p * ring_alive + (1.0 - p) * un_alive
        q = 0.0 if den <= 1e-12 else p * (ring.cdf(elapsed + h) - ring.cdf(elapsed)) / den
        if len(self.cache) > 50_000:
            self.cache.clear()
        self.cache[key] = q
        return q


class _Window:
    """Answered/abandoned counts over a sliding time window."""

    __slots__ = ("abandoned", "answered", "events", "span")

    def __init__(self, span: float) -> None:
        self.span = span
        self.events: deque[tuple[float, bool]] = deque()
        self.answered = 0
        self.abandoned = 0

    def add(self, t: float, abandoned: bool) -> None:
        self.events.append((t, abandoned))
        self.answered += 1
        self.abandoned += abandoned

    def stats(self, now: float) -> AbandonStats:
        ev = self.events
        limit = now - self.span
        while ev and ev[0][0] <= limit:
            _, ab = ev.popleft()
            self.answered -= 1
            self.abandoned -= ab
        return AbandonStats(self.answered, self.abandoned)


class _Samples:
    """The last ``size`` samples, kept both in arrival order and sorted."""

    __slots__ = ("order", "size", "sorted")

    def __init__(self, size: int) -> None:
        self.size = size
        self.order: deque[float] = deque()
        self.sorted: list[float] = []

    def add(self, x: float) -> None:
        self.order.append(x)
        insort(self.sorted, x)
        if len(self.order) > self.size:
            old = self.order.popleft()
            del self.sorted[bisect_left(self.sorted, old)]

    def __len__(self) -> int:
        return len(self.order)


class PacingEstimator:
    """Learns the campaign's live statistics from outcomes fed with their times.

    Feed it from the PBX events (engine) or the world events (bench, planner):
    ``dialed``, ``call_result`` (answered or not, with the ring time),
    ``queue_result`` (connected or abandoned), ``talk_ended``, ``wrapup_ended``.
    Pure: it never reads a clock, ``now`` is always passed in.

    It also holds the abandonment feedback controller (``theta``), because the
    controller is driven by the same outcome stream; ``decide`` only reads it.
    """

    WINDOWS = (3600.0, 86400.0)
    #: answered calls per hour at which the controller runs at full ``gain``
    GAIN_REFERENCE = 150.0

    def __init__(
        self,
        *,
        target_abandon: float = 0.03,
        setpoint_share: float = 0.9,
        setpoint_cap: float = 0.97,
        reserve_abandons: float = 6.0,
        budget_window: float = 86400.0,
        rate_window: int = 600,
        sample_size: int = 400,
        refit_every: float = 30.0,
        theta: float = 0.035,
        gain: float = 0.2,
        theta_bounds: tuple[float, float] = (0.005, 0.6),
        short_call_seconds: float = SHORT_CALL_SECONDS,
    ) -> None:
        self.target_abandon = target_abandon
        self.setpoint_share = setpoint_share
        self.setpoint_cap = setpoint_cap
        self.reserve_abandons = reserve_abandons
        self.budget_window = budget_window
        self.refit_every = refit_every
        self.theta = theta
        self.gain = gain
        self.theta_bounds = theta_bounds
        self.short_call_seconds = short_call_seconds
        self._results: deque[bool] = deque(maxlen=rate_window)  # answered?
        self._ring = _Samples(sample_size)
        self._unanswered = _Samples(sample_size)
        self._talk = _Samples(sample_size)
        self._wrapup = _Samples(sample_size)
        spans = set(self.WINDOWS) | {budget_window}
        self._windows = {s: _Window(s) for s in spans}
        self._day: deque[tuple[float, bool]] = deque()  # 24 h of answered outcomes
        self._short: deque[float] = deque()  # times of short calls, 24 h
        self.total_dials = 0
        self.total_answered = 0
        self.total_abandoned = 0
        self._models: tuple | None = None
        self._cache: dict = {}
        self._dial_times: deque[float] = deque()
        self._first_dial: float | None = None
        self.unknown_results: dict[str, int] = {}
        # talks in progress (count, sum of start times) and completed totals:
        # early in the day only the short calls have ended, so the samples alone
        # would make agents look about to finish and the dialer over-dial.
        self._talking = 0
        self._talk_starts = 0.0
        self._talk_completed = 0
        self._talk_total = 0.0
        self.talk_mature = sample_size // 2
        self.dial_rate_window = 60.0
        self._fitted_at = -math.inf
        self._dirty = True

    # -- feeding ----------------------------------------------------------

    def dialed(self, t: float) -> None:
        if self._first_dial is None:
            self._first_dial = t
        self.total_dials += 1
        self._dial_times.append(t)

    def call_result(self, t: float, outcome: str, ring: float) -> None:
        """Outcome of a dial: "answered" or a terminal non-answer, after ``ring`` s."""
        outcome = _RESULT_ALIASES.get(outcome, outcome)
        if outcome not in RESULTS:
            # Never crash the engine's event loop over a label: count it, treat
            # it as not answered (the safe side for pacing), remember the name.
            self.unknown_results[outcome] = self.unknown_results.get(outcome, 0) + 1
            outcome = "failed"
        answered = outcome == "answered"
        self._results.append(answered)
        (self._ring if answered else self._unanswered).add(max(0.0, ring))
        self.total_answered += answered
        self._dirty = True

    def queue_result(
        self, t: float, abandoned: bool, wait: float = 0.0, predictive: bool = True
    ) -> None:
        """An answered call was connected to an agent or abandoned.

        ``predictive`` says whether the call was placed by predictive pacing;
        only those move the controller, so a progressive fallback (which never
        abandons) does not wind it up.
        """
        if not abandoned:  # a talk starts: exposure for the censored talk-time estimate
            self._talking += 1
            self._talk_starts += t
        for w in self._windows.values():
            w.add(t, abandoned)
        self._day.append((t, abandoned))
        self.total_abandoned += abandoned
        if predictive:
            # Aim below the target by a reserve of a few abandons in the budget
            # window (bursts of abandons come in handfuls, whatever the volume):
            # a big team can run close to the target, a small one keeps a margin.
            budget = self._windows[self.budget_window].stats(t).answered * self.target_abandon
            share = 1.0 - self.reserve_abandons / budget if budget > 0 else 0.0
            share = min(self.setpoint_cap, max(self.setpoint_share, share))
            setpoint = self.target_abandon * share
            # Per-call gain shrinks with the call volume: a big team answers
            # thousands of calls an hour and would otherwise make theta wander
            # (the noise of each step adds up faster than the correction).
            hour = self._windows[3600.0].stats(t).answered
            gain = self.gain * math.sqrt(self.GAIN_REFERENCE / max(self.GAIN_REFERENCE, hour))
            step = gain * ((setpoint - 1.0) if abandoned else setpoint)
            lo, hi = self.theta_bounds
            self.theta = min(hi, max(lo, self.theta * math.exp(step)))

    def talk_ended(self, t: float, talk: float) -> None:
        if self._talking > 0:
            self._talking -= 1
            self._talk_starts -= t - talk
        self._talk_completed += 1
        self._talk_total += max(0.0, talk)
        self._talk.add(max(0.0, talk))
        if int(max(0.0, talk)) <= self.short_call_seconds:  # whole seconds, truncated like a CDR
            self._short.append(t)
        self._dirty = True

    def wrapup_ended(self, t: float, seconds: float) -> None:
        self._wrapup.add(max(0.0, seconds))
        self._dirty = True

    # -- reading ----------------------------------------------------------

    def abandonment(self, now: float, window: float = 3600.0) -> AbandonStats:
        """Answered and abandoned calls over the last ``window`` seconds (<= 24 h)."""
        w = self._windows.get(window)
        if w is not None:
            return w.stats(now)
        return self.abandonment_since(now - window, now)

    def abandonment_since(self, since: float, now: float) -> AbandonStats:
        """Counts since ``since`` (e.g. local midnight for "today"), within 24 h."""
        self._trim_day(now)
        answered = abandoned = 0
        for t, ab in self._day:
            if t > since:
                answered += 1
                abandoned += ab
        return AbandonStats(answered, abandoned)

    def short_calls(self, now: float, window: float = 86400.0) -> int:
        """Connected calls of ``short_call_seconds`` or less (Anatel guard metric)."""
        self._trim_day(now)
        limit = now - window
        return sum(1 for t in self._short if t > limit)

    def _trim_day(self, now: float) -> None:
        limit = now - 86400.0
        while self._day and self._day[0][0] <= limit:
            self._day.popleft()
        while self._short and self._short[0] <= limit:
            self._short.popleft()

    def estimates(self, now: float) -> Estimates:
        """Freeze the current estimates (distributions refitted every ``refit_every`` s)."""
        if self._models is None or (self._dirty and now - self._fitted_at >= self.refit_every):
            self._models = tuple(
                DurationModel(s.sorted) if len(s) else None
                for s in (self._ring, self._unanswered, self._talk, self._wrapup)
            )
            self._fitted_at = now
            self._dirty = False
            self._cache = {}
        ring, unanswered, talk, wrapup = self._models
        if talk is not None and self._talk_completed < self.talk_mature:
            # Censored exponential MLE: all talk time observed so far (ended and
            # ongoing) over the number of talks that ended.
            exposure = self._talk_total + max(0.0, self._talking * now - self._talk_starts)
            mean = exposure / self._talk_completed
            key = ("talk-prior", round(mean))
            talk = self._cache.get(key)
            if talk is None:
                talk = self._cache[key] = DurationModel.exponential(mean, n=200)
        dials = len(self._results)
        answered = sum(self._results)
        dt = self._dial_times
        limit = now - self.dial_rate_window
        while dt and dt[0] <= limit:
            dt.popleft()
        return Estimates(
            answer_rate=answered / dials if dials else 0.0,
            dials=dials,
            answered=answered,
            ring=ring,
            unanswered=unanswered,
            talk=talk,
            wrapup=wrapup,
            abandon=self.abandonment(now, self.budget_window),
            theta=self.theta,
            total_dials=self.total_dials,
            total_answered=self.total_answered,
            dial_rate=len(dt) / self.dial_rate_window,
            observed=0.0 if self._first_dial is None else now - self._first_dial,
            cache=self._cache,
        )


# ---------------------------------------------------------------------------
# Snapshot, parameters, decision
# ---------------------------------------------------------------------------


class AgentView(NamedTuple):
    """One queue member: state is free | talking | wrapup | paused (| offline)."""

    state: str
    since: float  # when the agent entered this state


@dataclass(frozen=True)
class PacingSnapshot:
    """Everything the decision needs, captured at one instant."""

    agents: Sequence[AgentView]
    calls_in_flight: Sequence[float] = ()  # dial times of calls not yet answered
    queued: int = 0  # answered callers waiting for an agent
    contacts_due: int | None = None  # None: plenty / not counted
    within_hours: bool = True
    active: bool = True
    originated_last_second: int = 0
    estimates: Estimates | None = None

    def __post_init__(self) -> None:
        if self.queued < 0:
            raise PacingError("queued must be >= 0")
        if self.contacts_due is not None and self.contacts_due < 0:
            raise PacingError("contacts_due must be >= 0 or None")
        if self.originated_last_second < 0:
            raise PacingError("originated_last_second must be >= 0")
        for a in self.agents:
            if a.state not in AGENT_STATES:
                raise PacingError(
                    f"unknown agent state {a.state!r}; expected one of {AGENT_STATES}"
                )


@dataclass(frozen=True)
class PacingParams:
    mode: str = "predictive"
    ratio: float = 2.0  # calls per free agent in ratio mode (legacy impulse_factor)
    max_channels: int | None = None
    max_cps: float | None = None
    target_abandon: float = 0.03
    abandon_after: float = 2.0  # seconds an answered caller waits before abandoning
    # reliability of the estimates before predictive dialing starts
    min_dials: int = 30
    min_answered: int = 10
    min_talk_samples: int = 5
    # and this long since the first dial: before that only the quick outcomes
    # (busy, short rings, short talks) are known and every estimate is biased
    min_observed: float = 120.0
    # the budget is "spent" when the window rate reaches the target on at least
    # this many answered calls (fewer calls: one abandon would be a false alarm)
    budget_min_answered: int = 100
    # ring-time quantiles at which a new call's answer is evaluated
    horizon_quantiles: tuple[float, ...] = (0.2, 0.5, 0.8)
    max_lines_per_agent: float = 8.0  # hard safety cap on calls per logged agent
    # share of the recent dial rate expected to compete from calls placed later
    # but answered sooner (see _predictive_calls)
    # (measured no better on the bench: off)
    future_share: float = 0.0
    # variance added to supply - demand (keeps the normal sane with few terms)
    var_floor: float = 0.25
    skew: float = 1.0  # weight of the Edgeworth skew correction
    # abandonment budget taper: below this many abandons left in the window,
    # theta shrinks by exp(-taper_strength * missing)
    taper_abandons: float = 6.0
    taper_strength: float = 0.35
    theta_reference_agents: float = 10.0
    theta_size_exponent: float = 0.3
    idle_weight: float = 0.0  # extra risk accepted per agent idle right now (0: off)
    # free-form knobs; {"trace": True} lists each accepted call's risk in details
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise PacingError(f"mode must be one of {MODES}, not {self.mode!r}")
        if self.ratio <= 0:
            raise PacingError("ratio must be > 0")
        if not 0.0 < self.target_abandon < 1.0:
            raise PacingError("target_abandon must be within (0, 1)")
        if self.max_channels is not None and self.max_channels < 0:
            raise PacingError("max_channels must be >= 0")
        if self.max_cps is not None and self.max_cps < 0:
            raise PacingError("max_cps must be >= 0")


@dataclass(frozen=True)
class PacingDecision:
    calls_to_place: int
    mode: str  # requested mode
    effective_mode: str  # mode actually used (predictive may fall back)
    reason: str  # code from REASONS
    message: str  # pt-BR explanation for the dashboard
    notes: tuple[str, ...] = ()  # further reason codes that applied (fallback, caps)
    details: dict = field(default_factory=dict)


def _decision(calls: int, params: PacingParams, effective: str, reason: str, notes=(), **details):
    details.setdefault("calls", calls)
    details.setdefault("mode_pt", MODE_LABELS[effective])
    details.setdefault("target_pct", params.target_abandon * 100)
    try:
        message = REASONS[reason].format(**details)
    except (KeyError, ValueError):
        message = REASONS[reason].split("(")[0].strip()
    return PacingDecision(
        calls_to_place=calls,
        mode=params.mode,
        effective_mode=effective,
        reason=reason,
        message=message,
        notes=tuple(notes),
        details=details,
    )


def decide(snapshot: PacingSnapshot, params: PacingParams, now: float) -> PacingDecision:
    """How many calls to place now, and why (pure: same inputs, same answer)."""
    if not snapshot.active:
        return _decision(0, params, params.mode, "inactive")
    if not snapshot.within_hours:
        return _decision(0, params, params.mode, "outside_hours")
    if params.mode == "preview":
        return _decision(0, params, "preview", "preview")

    free = talking = wrapup = logged = 0
    for a in snapshot.agents:
        if a.state == "free":
            free += 1
        elif a.state == "talking":
            talking += 1
        elif a.state == "wrapup":
            wrapup += 1
        else:
            continue
        logged += 1
    if logged == 0:
        return _decision(0, params, params.mode, "no_agents")
    if snapshot.contacts_due is not None and snapshot.contacts_due <= 0:
        return _decision(0, params, params.mode, "no_contacts", contacts_due=0)

    in_flight = len(snapshot.calls_in_flight)
    pending = in_flight + snapshot.queued
    details: dict = {
        "free": free,
        "talking": talking,
        "wrapup": wrapup,
        "in_flight": in_flight,
        "queued": snapshot.queued,
    }
    notes: list[str] = []
    effective = params.mode

    if params.mode == "predictive":
        est = snapshot.estimates
        fallback = _fallback_reason(est, params)
        if fallback is not None:
            notes.append(fallback)
            effective = "progressive"
            if est is not None:
                details.update(
                    answered=est.answered,
                    dials=est.dials,
                    abandon_pct=est.abandon.rate * 100,
                )
            else:
                details.update(answered=0, dials=0, abandon_pct=0.0)
        else:
            assert est is not None
            # never slower than progressive: a call per free agent not yet covered
            # cannot be abandoned, whatever the model says
            wanted = max(free - pending, _predictive_calls(snapshot, params, now, est, details))

    if effective == "progressive":
        wanted = free - pending
    elif effective == "ratio":
        wanted = math.floor(params.ratio * free + 0.5) - pending
    wanted = max(0, wanted)
    details["wanted"] = wanted

    # caps, in the order an operator would look for them
    calls = wanted
    cap_reason = None
    safety = int(params.max_lines_per_agent * logged) - pending
    if calls > safety:
        calls = max(0, safety)
    if params.max_channels is not None:
        in_use = pending + talking
        room = params.max_channels - in_use
        details.update(channels_in_use=in_use, max_channels=params.max_channels)
        if calls > room:
            calls, cap_reason = max(0, room), "channel_cap"
    if params.max_cps is not None:
        room = int(params.max_cps) - snapshot.originated_last_second
        details["max_cps"] = params.max_cps
        if calls > room:
            calls, cap_reason = max(0, room), "cps_cap"
    if snapshot.contacts_due is not None and calls > snapshot.contacts_due:
        calls, cap_reason = snapshot.contacts_due, "contacts_cap"
        details["contacts_due"] = snapshot.contacts_due
    if cap_reason:
        notes.append(cap_reason)

    if calls == 0 and cap_reason and wanted > 0:
        reason = cap_reason
    elif notes and notes[0] in ("warming_up", "abandon_budget"):
        reason = notes[0]
    elif wanted == 0:
        if effective == "predictive":
            reason = "no_capacity"
        elif free == 0:
            reason = "no_free_agents"
        else:
            reason = "covered"
    elif cap_reason:
        reason = cap_reason
    else:
        reason = "dialing"
    return _decision(calls, params, effective, reason, notes, **details)


def _excess(model: DurationModel, h: float, cache: dict) -> float:
    """E[(h - R)+]: expected seconds a call placed uniformly in (0, h) beats h."""
    key = ("excess", id(model), h)
    v = cache.get(key)
    if v is None:
        i = bisect_right(model.samples, h)
        v = sum(h - r for r in model.samples[:i]) / model.n
        cache[key] = v
    return v


def _fallback_reason(est: Estimates | None, params: PacingParams) -> str | None:
    if (
        est is None
        or est.ring is None
        or est.talk is None
        or est.dials < params.min_dials
        or est.answered < params.min_answered
        or est.talk.n < params.min_talk_samples
        or est.observed < params.min_observed
    ):
        return "warming_up"
    ab = est.abandon
    if ab.answered >= params.budget_min_answered and ab.rate >= params.target_abandon:
        return "abandon_budget"
    return None


def _predictive_calls(
    snap: PacingSnapshot, params: PacingParams, now: float, est: Estimates, details: dict
) -> int:
    """Largest N such that the N-th new call's abandon risk stays within theta."""
    assert est.ring is not None and est.talk is not None
    talk, ring = est.talk, est.ring
    wrap = est.wrapup
    wrap_mean = wrap.mean if wrap is not None else 0.0
    a = params.abandon_after
    p = est.answer_rate
    theta = est.theta

    free = 0
    wrap_elapsed: list[float] = []
    talk_elapsed: list[float] = []
    for ag in snap.agents:
        if ag.state == "free":
            free += 1
        elif ag.state == "wrapup":
            wrap_elapsed.append(max(0.0, now - ag.since))
        elif ag.state == "talking":
            talk_elapsed.append(max(0.0, now - ag.since))
    ring_elapsed = [max(0.0, now - t) for t in snap.calls_in_flight]

    # per horizon: (mean, variance, third cumulant of supply - demand,
    # q = P(another new call is answered before this one))
    terms: list[tuple[float, float, float, float]] = []
    exp_free = exp_answers = 0.0
    for qh in params.horizon_quantiles:
        h = ring.quantile(qh)
        x = h + a
        m_s, v_s, k_s = float(free), 0.0, 0.0
        for e in wrap_elapsed:
            q = wrap.p_within(e, x) if wrap is not None else 1.0
            m_s += q
            pq = q * (1.0 - q)
            v_s += pq
            k_s += pq * (1.0 - 2.0 * q)
        xt = x - wrap_mean
        if xt > 0:
            for e in talk_elapsed:
                q = talk.p_within(e, xt)
                m_s += q
                pq = q * (1.0 - q)
                v_s += pq
                k_s += pq * (1.0 - 2.0 * q)
        m_d, v_d, k_d = float(snap.queued), 0.0, 0.0
        for e in ring_elapsed:
            q = est.p_answer_within(e, h)
            m_d += q
            pq = q * (1.0 - q)
            v_d += pq
            k_d += pq * (1.0 - 2.0 * q)
        # Calls placed in the next seconds that ring shorter get answered first
        # and take agents this call counts on; expect them at the recent dial
        # rate: lambda * p * E[(h - R)+], Poisson (variance = third cumulant = mean).
        fut = params.future_share * est.dial_rate * p * _excess(ring, h, est.cache)
        m_d += fut
        v_d += fut
        k_d += fut
        qn = p * ring.cdf(h)
        terms.append((m_s - m_d, v_s + v_d, k_s - k_d, qn))
        exp_free += m_s
        exp_answers += m_d
    k = len(terms)
    details.update(
        expected_free=round(exp_free / k, 2),
        expected_answers=round(exp_answers / k, 2),
        theta=round(theta, 4),
        answer_rate=round(p, 4),
    )
    if p <= 0.0:
        return 0

    limit = int(params.max_lines_per_agent * max(1, len(snap.agents)))
    # Team-size prior: with more agents each call's risk is diluted among more
    # calls, so the optimal threshold falls (measured on the simulator: about
    # 0.055 for 5 agents, 0.04 for 10, 0.035 for 20, 0.028 for 50, i.e.
    # ~ agents^-0.3). The controller's theta is relative to 10 agents, so it
    # stays valid as agents log in and out during the day.
    logged = len(talk_elapsed) + len(wrap_elapsed) + free
    theta *= (params.theta_reference_agents / max(1, logged)) ** params.theta_size_exponent
    theta *= 1.0 + params.idle_weight * free
    # Taper (as VICIdial's ADAPT_TAPERED does): as the window's abandonment
    # budget nears exhaustion, accept less risk, so the hard progressive
    # fallback is the last resort rather than a routine oscillation.
    ab = est.abandon
    if ab.answered >= params.budget_min_answered and params.taper_abandons > 0:
        slack = params.target_abandon * ab.answered - ab.abandoned
        if slack < params.taper_abandons:
            theta *= math.exp(-params.taper_strength * (params.taper_abandons - slack))
        details["budget_slack"] = round(slack, 2)
    details["theta_effective"] = round(theta, 4)
    n = 0
    risk = 0.0
    trace = [] if params.extra.get("trace") else None
    while n < limit:
        # risk for call n+1 given n other new calls
        total = 0.0
        for mu, var, k3, qn in terms:
            m = mu - n * qn
            pq = qn * (1.0 - qn)
            v = var + n * pq + params.var_floor
            sd = math.sqrt(v)
            z = (0.5 - m) / sd
            # Edgeworth: sums of rare Bernoullis are skewed, the normal misses the tail
            g = (k3 - n * pq * (1.0 - 2.0 * qn)) / (v * sd)
            total += min(1.0, max(0.0, _phi(z) - params.skew * _pdf(z) * g / 6.0 * (z * z - 1.0)))
        r = total / k
        if r > theta:
            break
        risk = r
        n += 1
        if trace is not None:
            trace.append(r)
    details["marginal_risk"] = round(risk, 4)
    if trace is not None:
        details["risks"] = trace
    return n
