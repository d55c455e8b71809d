"""The call scenarios captured from Asterisk 22.10.1, as simulator settings.

The fixture peer's dialplan (``[customers]`` context) decided each number's fate; the
simulator reproduces that by forcing the World's outcome per number. Tests use these
to replay every ``ami-event-stream-*.txt``; demos use them so that dialing a known
number shows a known result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from central.simulator.config import ExtensionConfig, SimulatorConfig
from central.simulator.world import WorldConfig


@dataclass(frozen=True)
class Scenario:
    fixture: str
    number: str
    outcome: str  # forced World outcome
    timeout_ms: int = 30000  # the Originate's Timeout in the capture
    ring_limit: float | None = None  # network release (cause 19) after this many seconds
    caller_hangs_up: bool | None = None  # who ends a connected call
    ami_hangup: bool = False  # the call was ended by `Action: Hangup`
    notes: str = ""


SCENARIOS: dict[str, Scenario] = {
    s.fixture: s
    for s in (
        Scenario("ami-event-stream-answered-queue-agent.txt", "5511999990001", "answer",
                 caller_hangs_up=False, notes="agent hangs up: AgentComplete Reason agent"),
        Scenario("ami-event-stream-customer-hangup.txt", "5511999990005", "answer",
                 caller_hangs_up=True, notes="customer hangs up: AgentComplete Reason caller"),
        Scenario("ami-event-stream-busy.txt", "5511999990002", "busy",
                 notes="DialEnd BUSY, OriginateResponse Reason 5, cause 17"),
        Scenario("ami-event-stream-noanswer-timeout.txt", "5511999990003", "noanswer",
                 timeout_ms=15000, notes="Originate timeout: Reason 3, NO DialEnd"),
        Scenario("ami-event-stream-noanswer-cause19.txt", "5511999990000", "noanswer",
                 ring_limit=8.0, notes="network cause 19: Reason 0, then DialEnd NOANSWER"),
        Scenario("ami-event-stream-congestion.txt", "5511999990004", "congestion",
                 notes="DialEnd CONGESTION, OriginateResponse Reason 8, cause 34"),
        Scenario("ami-event-stream-ami-hangup.txt", "5511999990001", "answer", ami_hangup=True,
                 notes="Action: Hangup Cause 16 on ;1 while bridged"),
    )
}

# Every number the fixture dialplan knew, with its fate (5511999990006 answers too:
# ami-login-and-actions.txt orig-async-1).
FIXTURE_NUMBERS: dict[str, str] = {s.number: s.outcome for s in SCENARIOS.values()}
FIXTURE_NUMBERS["5511999990006"] = "answer"
FIXTURE_RING_LIMITS: dict[str, float] = {
    s.number: s.ring_limit for s in SCENARIOS.values() if s.ring_limit is not None
}


def fixture_config(**overrides: object) -> SimulatorConfig:
    """A simulator shaped like the capture peer: queue ``sales`` with agent1..3, the
    fixture numbers forced, extensions 1001-1003 in context ``ramais``."""
    cfg = SimulatorConfig(
        world=WorldConfig(agents=3, numbers=dict(FIXTURE_NUMBERS)),
        ring_limits=dict(FIXTURE_RING_LIMITS),
        extensions=ExtensionConfig(extensions=["1001", "1002", "1003"]),
    )
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg


@dataclass
class DemoSettings:
    agents: int = 5
    extensions: list[str] = field(default_factory=lambda: [str(n) for n in range(1001, 1013)])
    churn_interval: float = 15.0
    background_calls_per_minute: float = 0.0  # the CLI turns it on (6/min)


def demo_config(settings: DemoSettings | None = None, **overrides: object) -> SimulatorConfig:
    """Real clock, extensions that change state every few seconds so a dashboard shows
    movement, the fixture numbers forced (everything else follows the probabilities)."""
    s = settings or DemoSettings()
    cfg = SimulatorConfig.from_env(
        clock="real",
        world=WorldConfig(agents=s.agents, numbers=dict(FIXTURE_NUMBERS)),
        ring_limits=dict(FIXTURE_RING_LIMITS),
        extensions=ExtensionConfig(extensions=list(s.extensions), churn_interval=s.churn_interval,
                                   hint_tech="PJSIP"),
        background_calls_per_minute=s.background_calls_per_minute,
    )
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg
