"""The simulator's call-center world: a discrete-event model on a virtual clock.

Pure Python, no I/O, no asyncio, no Django. The AMI simulator renders the
:class:`WorldEvent` stream as Asterisk AMI events, the dialer bench and the
what-if planner drive it directly. Time is a float of seconds passed in by the
caller; nothing here reads a clock, so an 8-hour shift runs in seconds.

WHY a heap of happenings: a shift has tens of thousands of calls; each call is a
handful of scheduled happenings (ringing, outcome, abandon, hangup, wrap-up end),
so ``heapq`` keeps ``advance`` O(log n) per happening. Happenings that were
overtaken (an abandon timer for a call an agent already took, the outcome of a
call hung up through AMI) are cancelled lazily: each carries the call's or the
agent's generation number and is skipped when it no longer matches.

Outcome shapes follow the captured streams in tests/fixtures/asterisk/:
busy is cause 17 (ami-event-stream-busy.txt), congestion cause 34
(ami-event-stream-congestion.txt), no answer cause 19
(ami-event-stream-noanswer-timeout.txt), an answered call joins queue ``sales``
and is bridged to the longest-idle member ``Local/agentN@agent-phones``
(ami-event-stream-answered-queue-agent.txt), AgentComplete reasons are
``caller`` or ``agent`` (ami-event-stream-customer-hangup.txt).

Evidence: the world is a traffic *model*, not Asterisk behaviour. The outcome shapes
above follow the captures; the timings and the queue discipline are assumptions
(``Evidence: none`` at each constant and at :meth:`World._connect_next`); what a client
sees of them on the wire is rendered by ``render.py`` from the captures.

Deterministic: every random draw comes from one ``random.Random(seed)`` in the
order the caller drives the world, so the same calls in the same order give the
same events.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field

__all__ = [
    "CAUSES",
    "OUTCOMES",
    "World",
    "WorldConfig",
    "WorldError",
    "WorldEvent",
]

#: Forced outcomes accepted in ``WorldConfig.numbers``.
OUTCOMES = ("answer", "busy", "noanswer", "congestion", "fail")

#: Q.850 cause code and text per terminal kind, as Asterisk reports them
#: (fixtures: busy 17, congestion 34, no answer 19; a failed Originate gives 0).
CAUSES: dict[str, tuple[int, str]] = {
    "busy": (17, "User busy"),
    "congestion": (34, "Circuit/channel congestion"),
    "noanswer": (19, "User alerting, no answer"),
    "failed": (0, "Unknown"),
}

# Seconds from dial to the first ring: a real trunk takes about a second of
# post-dial delay before alerting. Capped to half the outcome time.
# Evidence: none (an assumption; the captures ring Local channels almost at once).
_POST_DIAL_DELAY = 1.0
# Busy and congestion come back fast (fixtures: both inside ~1 s on Local channels;
# on a real trunk a few seconds). Means of the exponential-ish draws below.
# Evidence: none for the means (assumptions); the ~1 s is ami-event-stream-busy.txt and
# ami-event-stream-congestion.txt.
_BUSY_MEAN = 4.0
_CONGESTION_MEAN = 1.5
# Spread of the answer-time lognormal (sigma of log): real ring times to answer are
# right-skewed; 0.5 gives a 12 s mean a 5-95 % range of roughly 5-26 s.
# Evidence: none (a model assumption, not a measurement).
_RING_SIGMA = 0.5


class WorldError(Exception):
    """A call the world cannot place or find (duplicate id, unknown call or agent)."""


@dataclass
class WorldConfig:
    """Parameters of the simulated call center.

    Rates are probabilities per dial; what is left after answer, busy and
    congestion rings until ``no_answer_timeout`` (or the originate's own timeout).
    """

    agents: int = 5
    queue: str = "sales"
    answer_rate: float = 0.30
    busy_rate: float = 0.10
    congestion_rate: float = 0.02
    ring_time_mean: float = 12.0
    talk_time_mean: float = 90.0
    wrapup_time: float = 5.0
    #: 0: every wrap-up lasts ``wrapup_time`` (the queue's fixed ``Wrapuptime``). Above 0:
    #: the agent's real wrap-up (until they save the disposition on their page) is drawn
    #: lognormal with mean ``wrapup_time`` and this sigma of log. Evidence: none (a model
    #: of people typing, not of Asterisk, which has no event for it).
    wrapup_sigma: float = 0.0
    abandon_after: float = 2.0
    no_answer_timeout: float = 30.0
    numbers: dict[str, str] = field(default_factory=dict)
    #: Share of connected calls ended by the customer (AgentComplete Reason: caller).
    caller_hangup_share: float = 0.6
    #: A resident reached through an AudioSocket context (``SimulatorConfig.audiosocket``,
    #: Central's ``[portaria-retorno]``) who hears the concierge's briefing presses 1
    #: (authorize) with this probability, 2 (deny) with the next one, else stays silent;
    #: ``resident_think_mean``: mean seconds of listening before pressing.
    #: Evidence: none (a model of people, not of Asterisk); the keys travel as AudioSocket
    #: DTMF frames as Asterisk sends them (audiosocket-session.md).
    resident_authorize_rate: float = 0.6
    resident_deny_rate: float = 0.25
    resident_think_mean: float = 2.0

    def __post_init__(self) -> None:
        if self.agents < 0:
            raise ValueError("agents must be >= 0")
        total = self.answer_rate + self.busy_rate + self.congestion_rate
        if min(self.answer_rate, self.busy_rate, self.congestion_rate) < 0 or total > 1.0 + 1e-9:
            raise ValueError("answer_rate + busy_rate + congestion_rate must be within [0, 1]")
        for number, outcome in self.numbers.items():
            if outcome not in OUTCOMES:
                raise ValueError(f"number {number}: unknown forced outcome {outcome!r}")


@dataclass(frozen=True, slots=True)
class WorldEvent:
    """Something that happened in the world, at virtual time ``t``.

    ``call_id`` is the originate's pre-assigned id ("" for agent-only events).
    """

    t: float
    kind: str
    call_id: str
    data: dict


@dataclass(slots=True)
class _Agent:
    name: str
    state: str = "free"  # free | talking | wrapup | paused
    since: float = 0.0
    talk_started: float | None = None
    call_id: str = ""
    gen: int = 0
    pause_pending: bool = False
    pause_reason: str = ""
    talk_seconds: float = 0.0  # completed talk time
    calls: int = 0


@dataclass(slots=True)
class _Call:
    call_id: str
    number: str
    dialed_at: float
    state: str = "dialing"  # dialing | ringing | queued | connected
    since: float = 0.0
    gen: int = 0
    agent: str = ""
    answered_at: float | None = None
    timeout: float = 30.0
    outcome: str = ""  # drawn at dial time, revealed when its happening fires
    queue: bool = True  # answered: join the queue (False: an application holds it, "up")
    abandon_after: float | None = None  # this call's wait limit in the queue (None: the config's)


# Happening kinds (internal): "dial", "ring", "outcome", "abandon", "talk_end",
# "wrapup_end". Heap entries are (t, seq, kind, key, gen).


class World:
    """A call center: a trunk that dials numbers and a queue of agents.

    Drive it with :meth:`originate`, :meth:`hangup`, :meth:`pause_agent` at
    ``self.now`` and :meth:`advance` to move the clock forward; ``advance``
    returns the :class:`WorldEvent` list in time order.
    """

    def __init__(self, config: WorldConfig, seed: int = 0, start: float = 0.0) -> None:
        self.config = config
        self.now = float(start)
        self._rng = random.Random(seed)
        self._heap: list[tuple[float, int, str, str, int]] = []
        self._seq = 0
        self.agents: list[str] = [f"agent{i}" for i in range(1, config.agents + 1)]
        self._agents: dict[str, _Agent] = {
            name: _Agent(name=name, since=self.now) for name in self.agents
        }
        # Longest-idle order: agents become free in time order, so a FIFO of
        # (gen-stamped) free agents gives the longest-idle one at the head.
        self._free: list[str] = list(self.agents)
        self._calls: dict[str, _Call] = {}
        self._queue: list[str] = []  # call ids waiting for an agent, FIFO
        self._pending: list[WorldEvent] = []
        self.counts: dict[str, int] = {
            k: 0
            for k in (
                "dialing",
                "answered",
                "busy",
                "congestion",
                "noanswer",
                "failed",
                "connected",
                "abandoned",
                "hangup",
            )
        }
        self._ring_mu = math.log(max(config.ring_time_mean, 1e-3)) - _RING_SIGMA**2 / 2

    # -- commands ---------------------------------------------------------

    def originate(self, call_id: str, number: str, timeout: float | None = None,
                  queue: bool = True, abandon_after: float | None = None) -> None:
        """Place a call at ``self.now``; its events come out of the next ``advance``.

        ``queue=False``: once answered the call stays ``up`` (an application such as
        AudioSocket holds it) until :meth:`hangup`, instead of joining the agents' queue.
        ``abandon_after``: seconds this call waits in the queue (else the config's)."""
        if call_id in self._calls:
            raise WorldError(f"call id {call_id!r} is already in use")
        if not call_id:
            raise WorldError("call id must not be empty")
        call = _Call(
            call_id=call_id,
            number=number,
            dialed_at=self.now,
            since=self.now,
            timeout=self.config.no_answer_timeout if timeout is None else float(timeout),
            queue=queue,
            abandon_after=abandon_after,
        )
        self._calls[call_id] = call
        self._push(self.now, "dial", call_id, call.gen)

    def hangup(self, call_id: str) -> None:
        """AMI ``Hangup`` of a live call, at ``self.now`` (cause 16, by "system")."""
        call = self._calls.get(call_id)
        if call is None:
            raise WorldError(f"no such call {call_id!r}")
        call.gen += 1  # cancels its scheduled ring/outcome/abandon/talk_end
        t = self.now
        if call.state == "connected":
            agent = self._agents[call.agent]
            talk = t - (agent.talk_started if agent.talk_started is not None else t)
            self._end_talk(call, agent, t, by="system", talk=talk)
            return
        if call.state == "queued":
            self._queue.remove(call_id)
        del self._calls[call_id]
        self.counts["hangup"] += 1
        self._emit(t, "hangup", call_id, {"by": "system", "talk": 0.0, "state": call.state})

    def pause_agent(self, agent: str, paused: bool, reason: str = "") -> None:
        """QueuePause/unpause. A busy agent is paused when their call and wrap-up end."""
        a = self._agents.get(agent)
        if a is None:
            raise WorldError(f"no such agent {agent!r}")
        t = self.now
        if paused:
            if a.state == "free":
                self._free.remove(agent)
                a.state, a.since = "paused", t
                a.pause_reason = reason
                self._emit(t, "agent_paused", "", {"agent": agent, "reason": reason})
            elif a.state in ("talking", "wrapup"):
                a.pause_pending, a.pause_reason = True, reason
        else:
            if a.state == "paused":
                self._emit(t, "agent_unpaused", "", {"agent": agent, "reason": reason})
                self._set_free(a, t)
            a.pause_pending = False

    # -- clock ------------------------------------------------------------

    def next_time(self) -> float | None:
        """Time of the next scheduled happening (cancelled ones included), or None."""
        if self._pending:
            return self.now
        return self._heap[0][0] if self._heap else None

    def advance(self, until: float) -> list[WorldEvent]:
        """Run every happening up to and including ``until``; return events in time order."""
        if until < self.now:
            raise WorldError(f"cannot go back in time ({until} < {self.now})")
        heap = self._heap
        while heap and heap[0][0] <= until:
            t, _seq, kind, key, gen = heapq.heappop(heap)
            self.now = t
            self._happen(t, kind, key, gen)
        self.now = until
        out, self._pending = self._pending, []
        return out

    # -- views ------------------------------------------------------------

    def snapshot(self) -> dict:
        """Live state: agents, calls in progress and queue length."""
        return {
            "now": self.now,
            "agents": {
                a.name: {
                    "state": a.state,
                    "since": a.since,
                    "talk_started": a.talk_started,
                    "call_id": a.call_id,
                    "pause_pending": a.pause_pending,
                }
                for a in self._agents.values()
            },
            "calls": {
                c.call_id: {
                    "state": c.state,
                    "number": c.number,
                    "dialed_at": c.dialed_at,
                    "since": c.since,
                    "agent": c.agent,
                }
                for c in self._calls.values()
            },
            "queue": len(self._queue),
            "counts": dict(self.counts),
        }

    def agent_states(self) -> list[tuple[str, str, float]]:
        """(name, state, since) per agent: the cheap view the pacing loop needs."""
        return [(a.name, a.state, a.since) for a in self._agents.values()]

    def calls_in_flight(self) -> list[float]:
        """Dial times of calls placed but not yet answered or ended."""
        return [c.dialed_at for c in self._calls.values() if c.state in ("dialing", "ringing")]

    def queue_length(self) -> int:
        return len(self._queue)

    def talk_seconds(self, until: float | None = None) -> float:
        """Total agent talk time so far, counting calls still in progress up to ``until``."""
        t = self.now if until is None else until
        total = 0.0
        for a in self._agents.values():
            total += a.talk_seconds
            if a.state == "talking" and a.talk_started is not None:
                total += max(0.0, t - a.talk_started)
        return total

    # -- internals --------------------------------------------------------

    def _push(self, t: float, kind: str, key: str, gen: int) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, kind, key, gen))

    def _emit(self, t: float, kind: str, call_id: str, data: dict) -> None:
        self._pending.append(WorldEvent(t, kind, call_id, data))

    def _draw_outcome(self, number: str) -> str:
        forced = self.config.numbers.get(number)
        if forced is not None:
            return {"answer": "answered", "fail": "failed"}.get(forced, forced)
        cfg = self.config
        u = self._rng.random()
        if u < cfg.answer_rate:
            return "answered"
        u -= cfg.answer_rate
        if u < cfg.busy_rate:
            return "busy"
        u -= cfg.busy_rate
        if u < cfg.congestion_rate:
            return "congestion"
        return "noanswer"

    def _happen(self, t: float, kind: str, key: str, gen: int) -> None:
        if kind in ("wrapup_end",):
            agent = self._agents[key]
            if agent.gen != gen:
                return
            self._wrapup_end(agent, t)
            return
        call = self._calls.get(key)
        if call is None or call.gen != gen:
            return  # overtaken (hung up, connected before the abandon timer...)
        if kind == "dial":
            self._dial(call, t)
        elif kind == "ring":
            call.state, call.since = "ringing", t
            self._emit(t, "ringing", key, {"number": call.number})
        elif kind == "outcome":
            self._outcome(call, t)
        elif kind == "abandon":
            self._abandon(call, t)
        elif kind == "talk_end":
            agent = self._agents[call.agent]
            by = "caller" if self._rng.random() < self.config.caller_hangup_share else "agent"
            self._end_talk(call, agent, t, by=by, talk=t - (agent.talk_started or t))

    def _dial(self, call: _Call, t: float) -> None:
        self.counts["dialing"] += 1
        self._emit(t, "dialing", call.call_id, {"number": call.number})
        outcome = self._draw_outcome(call.number)
        rng = self._rng
        timeout = call.timeout
        if outcome == "answered":
            ring = rng.lognormvariate(self._ring_mu, _RING_SIGMA)
            if ring >= timeout:  # would have rung past the originate timeout
                ring = max(0.1, timeout * rng.uniform(0.5, 0.95))
            at = t + ring
        elif outcome == "busy":
            at = t + min(timeout, rng.expovariate(1 / _BUSY_MEAN) + 1.0)
        elif outcome == "congestion":
            at = t + min(timeout, rng.expovariate(1 / _CONGESTION_MEAN) + 0.2)
        elif outcome == "failed":
            at = t
        else:
            at = t + timeout
        call.outcome = outcome
        if outcome in ("answered", "noanswer"):
            self._push(t + min(_POST_DIAL_DELAY, (at - t) / 2), "ring", call.call_id, call.gen)
        self._push(at, "outcome", call.call_id, call.gen)

    def _outcome(self, call: _Call, t: float) -> None:
        outcome = call.outcome
        cid = call.call_id
        if outcome != "answered":
            del self._calls[cid]
            self.counts[outcome] += 1
            cause, cause_txt = CAUSES[outcome]
            self._emit(
                t,
                outcome,
                cid,
                {
                    "number": call.number,
                    "cause": cause,
                    "cause_txt": cause_txt,
                    "ring": t - call.dialed_at,
                },
            )
            return
        self.counts["answered"] += 1
        call.answered_at = t
        self._emit(t, "answered", cid, {"number": call.number, "ring": t - call.dialed_at})
        if not call.queue:
            call.state, call.since = "up", t
            return
        call.state, call.since = "queued", t
        self._queue.append(cid)
        self._emit(t, "queued", cid, {"queue": self.config.queue, "position": len(self._queue)})
        if self._free:
            self._connect_next(t)
        if call.state == "queued":
            limit = self.config.abandon_after if call.abandon_after is None else call.abandon_after
            self._push(t + limit, "abandon", cid, call.gen)

    def _abandon(self, call: _Call, t: float) -> None:
        self._queue.remove(call.call_id)
        del self._calls[call.call_id]
        self.counts["abandoned"] += 1
        wait = t - (call.answered_at if call.answered_at is not None else t)
        self._emit(t, "abandoned", call.call_id, {"queue": self.config.queue, "wait": wait})

    def _connect_next(self, t: float) -> None:
        """Bridge queued callers (FIFO) with free agents (longest idle first).

        Evidence: FIFO callers is app_queue's order for callers of equal priority
        (Asterisk 22.10.1 apps/app_queue.c join_queue() / insert_entry()). The member choice is NOT:
        the captured queue is ``rrmemory`` (``Strategy: rrmemory`` in ami-queue-actions.txt
        QueueParams), which ``calc_metric()`` rings in round-robin order after the last
        member called; longest-idle is ``leastrecent``. Evidence: none for this choice
        (a model simplification; pacing only depends on how many agents are free)."""
        while self._queue and self._free:
            cid = self._queue.pop(0)
            name = self._free.pop(0)
            call = self._calls[cid]
            agent = self._agents[name]
            call.gen += 1  # cancel the abandon timer
            call.state, call.since, call.agent = "connected", t, name
            agent.state, agent.since, agent.talk_started = "talking", t, t
            agent.call_id = cid
            agent.calls += 1
            self.counts["connected"] += 1
            wait = t - (call.answered_at if call.answered_at is not None else t)
            self._emit(
                t, "connected", cid, {"agent": name, "queue": self.config.queue, "wait": wait}
            )
            talk = self._rng.expovariate(1 / self.config.talk_time_mean)
            self._push(t + talk, "talk_end", cid, call.gen)

    def _end_talk(self, call: _Call, agent: _Agent, t: float, by: str, talk: float) -> None:
        del self._calls[call.call_id]
        self.counts["hangup"] += 1
        agent.talk_seconds += talk
        agent.talk_started = None
        agent.call_id = ""
        self._emit(t, "hangup", call.call_id, {"by": by, "talk": talk, "agent": agent.name})
        agent.gen += 1
        if self.config.wrapup_time > 0:
            wrap = self.config.wrapup_time
            sigma = self.config.wrapup_sigma
            if sigma > 0:  # drawn only then: the fixed model keeps its random sequence
                wrap = self._rng.lognormvariate(math.log(wrap) - sigma**2 / 2, sigma)
            agent.state, agent.since = "wrapup", t
            self._emit(t, "agent_wrapup", "", {"agent": agent.name})
            self._push(t + wrap, "wrapup_end", agent.name, agent.gen)
        else:
            self._wrapup_end(agent, t)

    def _wrapup_end(self, agent: _Agent, t: float) -> None:
        # Evidence: app_queue's wrapuptime only keeps the member from the next call
        # (Asterisk 22.10.1 apps/app_queue.c can_ring_entry(): time(NULL) - lastcall <
        # wrapuptime); no AMI event marks its start or end, so render.py shows none.
        if agent.pause_pending:
            agent.pause_pending = False
            agent.state, agent.since = "paused", t
            self._emit(t, "agent_paused", "", {"agent": agent.name, "reason": agent.pause_reason})
            return
        self._set_free(agent, t)

    def _set_free(self, agent: _Agent, t: float) -> None:
        agent.state, agent.since = "free", t
        agent.talk_started = None
        self._free.append(agent.name)
        self._emit(t, "agent_free", "", {"agent": agent.name})
        if self._queue:
            self._connect_next(t)
