"""What-if planner: expected occupancy against abandonment for each pacing mode.

Runs the simulator's world (``central.simulator.world``) on a virtual clock with
the very ``decide()`` the engine uses, so what the dashboard promises is what the
engine does. Pure Python, no Django: the API view and the bench call it directly.

The loop per virtual tick (1 s): snapshot the world and the estimator, decide,
originate that many calls, advance the world one tick, feed the events back to
the estimator. The same loop is what ``bench/pacing.py`` measures.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace

from central.dialer.pacing import (
    MODE_LABELS,
    AgentView,
    PacingEstimator,
    PacingParams,
    PacingSnapshot,
    decide,
)
from central.simulator.world import World, WorldConfig, WorldEvent

__all__ = [
    "DEFAULT_RATIOS",
    "PlanScenario",
    "SimResult",
    "agent_views",
    "feed_world_event",
    "plan",
    "simulate",
    "tune_ratio",
]

#: Ratios tried when tuning the ratio mode (calls per free agent).
DEFAULT_RATIOS = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0)

_OUTCOME_KINDS = ("busy", "noanswer", "congestion", "failed")


@dataclass(frozen=True)
class PlanScenario:
    """A call center to simulate (defaults: the issue's reference campaign)."""

    agents: int = 10
    answer_rate: float = 0.30
    talk_time: float = 90.0
    wrapup_time: float = 5.0
    #: Spread of the agents' real wrap-up (``WorldConfig.wrapup_sigma``; 0: fixed).
    wrapup_sigma: float = 0.0
    #: What the pacing sees of wrap-up. None: the real one (the agent's page reports each
    #: disposition, ``AgentBoard.real_wrapup``). A number: the queue's fixed
    #: ``Wrapuptime`` in seconds, after which an agent still typing the disposition looks
    #: free (``AgentBoard`` without the page).
    queue_wrapup: float | None = None
    abandon_after: float = 2.0
    hours: float = 1.0
    ring_time: float = 12.0
    busy_rate: float = 0.10
    congestion_rate: float = 0.02
    no_answer_timeout: float = 30.0
    target_abandon: float = 0.03
    ratio: float = 2.0
    max_channels: int | None = None
    seed: int = 1

    def world_config(self) -> WorldConfig:
        return WorldConfig(
            agents=self.agents,
            answer_rate=self.answer_rate,
            busy_rate=self.busy_rate,
            congestion_rate=min(self.congestion_rate, 1.0 - self.answer_rate - self.busy_rate),
            ring_time_mean=self.ring_time,
            talk_time_mean=self.talk_time,
            wrapup_time=self.wrapup_time,
            wrapup_sigma=self.wrapup_sigma,
            abandon_after=self.abandon_after,
            no_answer_timeout=self.no_answer_timeout,
        )

    def params(self, mode: str, ratio: float | None = None) -> PacingParams:
        return PacingParams(
            mode=mode,
            ratio=self.ratio if ratio is None else ratio,
            max_channels=self.max_channels,
            target_abandon=self.target_abandon,
            abandon_after=self.abandon_after,
        )


@dataclass
class SimResult:
    mode: str
    agents: int
    hours: float
    occupancy: float  # talk time / logged time
    abandon_rate: float  # abandoned / answered
    dials: int
    answered: int
    connected: int
    abandoned: int
    ratio: float | None = None
    fallback_share: float = 0.0  # share of ticks predictive spent in fallback
    wall_seconds: float = 0.0
    reasons: dict = field(default_factory=dict)  # reason code -> ticks

    @property
    def calls_per_hour(self) -> float:
        return self.connected / self.hours if self.hours else 0.0

    def as_dict(self) -> dict:
        d = asdict(self)
        d["label"] = MODE_LABELS.get(self.mode, self.mode)
        d["calls_per_hour"] = round(self.calls_per_hour, 1)
        d["occupancy"] = round(self.occupancy, 4)
        d["abandon_rate"] = round(self.abandon_rate, 4)
        return d


def agent_views(world: World, now: float, queue_wrapup: float | None = None) -> list[AgentView]:
    """The agents as the pacing sees them: the world's truth (real wrap-up, reported by
    the agent's page), or with a fixed ``queue_wrapup`` after which an agent in wrap-up
    looks free, as the engine's ``AgentBoard`` sees a queue member without the page."""
    out = []
    for _, state, since in world.agent_states():
        if queue_wrapup is not None and state == "wrapup" and now - since >= queue_wrapup:
            out.append(AgentView("free", since + queue_wrapup))
        else:
            out.append(AgentView(state, since))
    return out


def feed_world_event(
    est: PacingEstimator, ev: WorldEvent, predictive_calls: set[str], wrap_start: dict[str, float],
    queue_wrapup: float | None = None,
) -> None:
    """Turn one world event into estimator input (the engine does the same from AMI).

    With a fixed ``queue_wrapup`` the estimator learns that fixed value, as the engine
    does from ``--wrapup``; otherwise the real wrap-up of each agent (the dispositions)."""
    if queue_wrapup is not None and ev.kind in ("agent_wrapup", "agent_free"):
        if ev.kind == "agent_wrapup":
            est.wrapup_ended(ev.t, queue_wrapup)
        return
    kind = ev.kind
    if kind == "dialing":
        est.dialed(ev.t)
    elif kind == "answered":
        est.call_result(ev.t, "answered", ev.data.get("ring", 0.0))
    elif kind in _OUTCOME_KINDS:
        est.call_result(ev.t, kind, ev.data.get("ring", 0.0))
    elif kind == "connected":
        est.queue_result(ev.t, False, ev.data.get("wait", 0.0), ev.call_id in predictive_calls)
    elif kind == "abandoned":
        est.queue_result(ev.t, True, ev.data.get("wait", 0.0), ev.call_id in predictive_calls)
    elif kind == "hangup":
        if ev.data.get("agent"):
            est.talk_ended(ev.t, ev.data.get("talk", 0.0))
    elif kind == "agent_wrapup":
        wrap_start[ev.data["agent"]] = ev.t
    elif kind == "agent_free":
        started = wrap_start.pop(ev.data["agent"], None)
        if started is not None:
            est.wrapup_ended(ev.t, ev.t - started)


def simulate(
    scenario: PlanScenario,
    params: PacingParams,
    *,
    seed: int | None = None,
    tick: float = 1.0,
    estimator: PacingEstimator | None = None,
) -> SimResult:
    """Run one shift of ``scenario.hours`` with ``params`` and measure it."""
    started = time.perf_counter()
    world = World(scenario.world_config(), seed=scenario.seed if seed is None else seed)
    est = estimator or PacingEstimator(target_abandon=params.target_abandon)
    predictive_calls: set[str] = set()
    wrap_start: dict[str, float] = {}
    end = scenario.hours * 3600.0
    n = 0
    t = 0.0
    fallback_ticks = ticks = 0
    reasons: dict[str, int] = {}
    while t < end:
        snap = PacingSnapshot(
            agents=agent_views(world, t, scenario.queue_wrapup),
            calls_in_flight=world.calls_in_flight(),
            queued=world.queue_length(),
            estimates=est.estimates(t) if params.mode == "predictive" else None,
        )
        d = decide(snap, params, t)
        ticks += 1
        reasons[d.reason] = reasons.get(d.reason, 0) + 1
        if params.mode == "predictive" and d.effective_mode != "predictive":
            fallback_ticks += 1
        flag = d.effective_mode == "predictive"
        for _ in range(d.calls_to_place):
            n += 1
            cid = f"sim-{n}"
            if flag:
                predictive_calls.add(cid)
            world.originate(cid, f"5511{n:09d}")
        t = min(end, t + tick)
        for ev in world.advance(t):
            feed_world_event(est, ev, predictive_calls, wrap_start, scenario.queue_wrapup)
            if ev.kind in ("abandoned", "hangup"):
                predictive_calls.discard(ev.call_id)
    counts = world.counts
    answered = counts["connected"] + counts["abandoned"]
    logged = scenario.agents * end
    return SimResult(
        mode=params.mode,
        agents=scenario.agents,
        hours=scenario.hours,
        occupancy=world.talk_seconds(end) / logged if logged else 0.0,
        abandon_rate=counts["abandoned"] / answered if answered else 0.0,
        dials=counts["dialing"],
        answered=answered,
        connected=counts["connected"],
        abandoned=counts["abandoned"],
        ratio=params.ratio if params.mode == "ratio" else None,
        fallback_share=fallback_ticks / ticks if ticks else 0.0,
        wall_seconds=time.perf_counter() - started,
        reasons=reasons,
    )


def tune_ratio(
    scenario: PlanScenario,
    ratios: tuple[float, ...] = DEFAULT_RATIOS,
    *,
    seed: int | None = None,
) -> tuple[SimResult, list[SimResult]]:
    """Best ratio (highest occupancy) whose abandonment stays within the target.

    Ratios are tried in increasing order and the sweep stops at the first one
    over the target: more calls per agent only abandon more.
    """
    tried: list[SimResult] = []
    best: SimResult | None = None
    for r in sorted(ratios):
        res = simulate(scenario, scenario.params("ratio", r), seed=seed)
        tried.append(res)
        if res.abandon_rate <= scenario.target_abandon:
            if best is None or res.occupancy > best.occupancy:
                best = res
        else:
            break
    if best is None:  # even the lowest ratio abandons too much: report it anyway
        best = tried[0]
    return best, tried


def plan(
    scenario: PlanScenario | None = None,
    modes: tuple[str, ...] = ("progressive", "ratio", "predictive"),
    *,
    tune: bool = False,
    **overrides,
) -> dict:
    """Expected occupancy and abandonment per pacing mode, for the dashboard and API.

    ``overrides`` replace scenario fields (``plan(agents=20, answer_rate=0.25)``).
    With ``tune=True`` the ratio mode reports the best ratio within the target
    instead of ``scenario.ratio``.
    """
    scenario = replace(scenario or PlanScenario(), **overrides)
    results: list[dict] = []
    for mode in modes:
        if mode == "preview":
            continue  # agent-driven: nothing to simulate
        if mode == "ratio" and tune:
            res, _ = tune_ratio(scenario)
        else:
            res = simulate(scenario, scenario.params(mode))
        results.append(res.as_dict())
    best = max(
        (r for r in results if r["abandon_rate"] <= scenario.target_abandon),
        key=lambda r: r["occupancy"],
        default=None,
    )
    return {
        "scenario": asdict(scenario),
        "results": results,
        "best_mode": best["mode"] if best else None,
    }
