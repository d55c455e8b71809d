"""Configuration of the PBX simulator.

Why a dataclass and not Django settings: the simulator runs without Django
(``python -m central.simulator``), inside tests and benches, and as a process started by
``central simulate-pbx``. Everything it needs is here, filled from arguments or the
environment by :meth:`SimulatorConfig.from_env`.

Secrets: AMI users come from arguments or ``CENTRAL_SIM_AMI_USERS``
(``user:secret,user2:secret2``) / ``CENTRAL_SIM_AMI_USER`` + ``CENTRAL_SIM_AMI_SECRET``.
The only built-in account is :data:`DEMO_USERS`, a clearly-marked demo default that exists
so ``central up`` works on a laptop with zero configuration; it is not a real credential.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from central.simulator.dialplan import DEFAULT_DIALPLAN
from central.simulator.world import WorldConfig
from central.telephony import chanvars

# DEMO DEFAULT, not a secret: the simulator is a fake PBX for demos and tests.
DEMO_USERS: dict[str, str] = {"central": "central-demo"}

ClockMode = Literal["real", "virtual", "manual"]


@dataclass
class FaultConfig:
    """Fault injection, for tests of the AMI client's resilience.

    Evidence: none. These are test controls, off by default, not Asterisk behaviour
    (a dropped TCP connection is what an Asterisk restart or a network cut looks like).

    * ``drop_probability``: per received action, chance that the server closes the
      connection *instead of answering* (the action may or may not have been executed,
      exactly the ambiguity the client must handle after a reconnect).
    * ``execute_before_drop``: when dropping, run the action first (an Originate then dials
      although the client never saw the Response).
    * ``response_delay``: seconds (real time) added before every Response.
    * ``garbage_probability``: per event sent, chance to also send one malformed line.
    * ``drop_actions``: action names (case-insensitive) that always get the drop
      treatment, e.g. ``("Originate",)``: deterministic "connection lost mid-action".
    """

    drop_probability: float = 0.0
    drop_actions: tuple[str, ...] = ()
    execute_before_drop: bool = True
    response_delay: float = 0.0
    garbage_probability: float = 0.0


@dataclass
class ExtensionConfig:
    """Extensions (ramais) with hints on custom device states, like the fixture's
    ``[ramais]`` context (ami-extension-state.txt): ``exten => 1001,hint,Custom:1001``."""

    extensions: list[str] = field(default_factory=lambda: [str(n) for n in range(1001, 1011)])
    context: str = "ramais"
    # What the hints watch: "Custom" (Custom:1001, set with `devstate change`, as in the
    # fixtures) or "PJSIP" (PJSIP/1001 phones: PJSIPShowEndpoints lists them and
    # ContactStatus Reachable/Unreachable follows their availability; docs-based).
    hint_tech: str = "Custom"
    # Demo movement: mean seconds between two state changes of one extension (0 = static).
    # Evidence: none for the movement; each change is rendered like the captured ones.
    churn_interval: float = 0.0


@dataclass
class AudioSocketApp:
    """A context whose extension runs ``Answer()``, ``AudioSocket(<uuid>,<target>)``,
    ``Hangup()``: Central's ``[portaria-retorno]`` (docs/telephony.md section 6). Both
    fields may use ``${VAR}`` of the Originate's variables, expanded as the dialplan does;
    the defaults are the documented line ``AudioSocket(${AS_UUID},${CENTRAL_RETURN})``.

    Evidence: audiosocket-session.md (the client side: UUID first, slin frames, DTMF,
    close without a hangup message; a server hangup ``00 00 00`` ends the app and the
    dialplan goes on to ``Hangup()``); the leg is played by ``audiosocket_client``."""

    uuid: str = f"${{{chanvars.AUDIOSOCKET_UUID}}}"
    target: str = f"${{{chanvars.VISIT_RETURN}}}"


@dataclass
class VisitorTraffic:
    """Demo visitors at the gate: each dials the AI extension, whose context runs
    ``AudioSocket(${UUID()},<target>)`` (docs/telephony.md section 6, ``[portaria-ia]``),
    hears the greeting and keys a unit number followed by ``#``; a share of them hang up
    while the resident is being called. ``target`` (``host:port`` of the AI extension's
    listener) is set by whoever knows it (``central up``: the voice process once ready).

    Evidence: none for the traffic (demo movement); the AudioSocket side is
    ``audiosocket_client`` (audiosocket-session.md)."""

    per_minute: float = 0.0
    target: str = ""
    units: tuple[str, ...] = ()
    hangup_rate: float = 0.1
    max_seconds: float = 120.0


@dataclass
class SimulatorConfig:
    users: dict[str, str] = field(default_factory=lambda: dict(DEMO_USERS))
    world: WorldConfig = field(default_factory=WorldConfig)
    seed: int = 0
    clock: ClockMode = "real"
    # Virtual mode: real seconds with no client activity before the clock jumps to the
    # next happening. 0 = only yield to the event loop (in-process clients); a client in
    # another process needs a few milliseconds to react to an event.
    virtual_quiet: float = 0.0
    # ami-login-failure.txt: Asterisk answers a wrong secret after 1.001 s, then closes
    # (Asterisk 22.10.1 main/manager.c action_login(): sleep(1), then return -1).
    login_failure_delay: float = 1.0
    extensions: ExtensionConfig = field(default_factory=ExtensionConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    # Dialplan contexts that "exist". An Originate into any other context fails like the
    # fixture's `nonexistent-ctx` (ami-login-and-actions.txt orig-fail-target). Evidence
    # for the list: the capture's dialplan (tests/fixtures/asterisk/README.md) plus
    # "default"/"from-internal"; a real PBX has its own.
    contexts: tuple[str, ...] = (
        "customers", "discador-out", "agent-phones", "ramais", "ai", "ai-caller",
        "default", "from-internal",
    )
    # Extensions per context, where they matter (central.simulator.dialplan): an Originate
    # whose Context/Exten does not exist is refused with "Extension does not exist."
    # (main/manager.c action_originate). Contexts not listed accept any extension.
    dialplan: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_DIALPLAN))
    # Contexts that run AudioSocket() once the Originate's channel answers (context ->
    # app). Empty: none, and an answered call joins the queue as in the captures. The
    # context must also be in ``contexts`` (or ``dialplan``) to exist at all.
    audiosocket: dict[str, AudioSocketApp] = field(default_factory=dict)
    visitors: VisitorTraffic = field(default_factory=VisitorTraffic)
    # Network release of unanswered calls: after this many seconds of ringing the
    # carrier hangs up with cause 19 (ami-event-stream-noanswer-cause19.txt: Reason 0,
    # then DialEnd NOANSWER) unless the Originate's own Timeout fires first (Reason 3,
    # no DialEnd: ami-event-stream-noanswer-timeout.txt). None = never.
    # Demo traffic: calls the simulator places by itself (Poisson), 0 = none.
    # Evidence: none (demo movement, as if another dialer shared the PBX).
    background_calls_per_minute: float = 0.0
    ring_limit: float | None = None
    ring_limits: dict[str, float] = field(default_factory=dict)  # per number
    system_name: str = ""
    asterisk_version: str = "22.10.1"
    max_calls: int = 500
    agent_names: dict[str, str] = field(default_factory=dict)  # agent1 -> "Agent One"
    # The directory MixMonitor writes to (Asterisk's <astspooldir>/monitor, where a relative
    # ``File`` lands: apps/app_mixmonitor.c filename_parse()). Empty: the action answers
    # as Asterisk does but no file is written (central.simulator.recording).
    monitor_dir: str = ""
    # Longest generated recording in seconds (the WAV is synthetic; docs/recordings.md).
    recording_max_seconds: float = 10.0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> SimulatorConfig:
        """Build a config from ``CENTRAL_SIM_*`` variables; keyword overrides win."""
        env = os.environ if environ is None else environ
        cfg = cls()
        users = _parse_users(env.get("CENTRAL_SIM_AMI_USERS", ""))
        if env.get("CENTRAL_SIM_AMI_USER") and env.get("CENTRAL_SIM_AMI_SECRET"):
            users[env["CENTRAL_SIM_AMI_USER"]] = env["CENTRAL_SIM_AMI_SECRET"]
        if users:
            cfg.users = users
        if env.get("CENTRAL_SIM_CLOCK") in ("real", "virtual", "manual"):
            cfg.clock = env["CENTRAL_SIM_CLOCK"]  # type: ignore[assignment]
        if env.get("CENTRAL_SIM_SEED", "").isdigit():
            cfg.seed = int(env["CENTRAL_SIM_SEED"])
        if env.get("CENTRAL_SIM_AGENTS", "").isdigit():
            cfg.world.agents = int(env["CENTRAL_SIM_AGENTS"])
        for key, value in overrides.items():
            if not hasattr(cfg, key):
                raise TypeError(f"unknown simulator setting: {key}")
            setattr(cfg, key, value)
        return cfg


def _parse_users(text: str) -> dict[str, str]:
    users: dict[str, str] = {}
    for item in text.split(","):
        name, sep, secret = item.strip().partition(":")
        if sep and name and secret:
            users[name] = secret
    return users


_ONES = ["Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten"]


def agent_display_name(agent: str, overrides: dict[str, str] | None = None) -> str:
    """``agent3`` -> ``Agent Three`` (the MemberName the fixture queue uses)."""
    if overrides and agent in overrides:
        return overrides[agent]
    digits = agent.removeprefix("agent")
    if digits.isdigit() and int(digits) < len(_ONES):
        return f"Agent {_ONES[int(digits)]}"
    return f"Agent {digits}" if digits else agent
