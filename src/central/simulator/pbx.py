"""The simulated Asterisk: AMI actions in, responses and events out. No sockets.

:class:`SimulatedPBX` owns the :class:`~central.simulator.world.World` (calls and
agents), the :class:`~central.simulator.render.Renderer` (channels, queue members) and
the extensions (ramais, custom device states). The asyncio server
(``ami_server.py``) feeds it parsed actions and a time, and writes out what it returns.
Keeping this sans-I/O means every action's response shape is testable without a
socket and the same object runs under the real or the virtual clock.

Response shapes are copied from the transcripts in ``tests/fixtures/asterisk/``; each
handler names the file and the exchange it reproduces, or, for what was not captured,
the Asterisk 22.10.1 source function it follows, or says ``Evidence: none``
(docs/telephony.md has the table).
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from central.simulator.clock import Clock
from central.simulator.config import SimulatorConfig, agent_display_name
from central.simulator.dialplan import expand_variables, extension_exists, matching_patterns
from central.simulator.render import (
    AGENT,
    CALL,
    STATE_DESC,
    UP,
    Call,
    Channel,
    Event,
    QueueMember,
    Renderer,
)
from central.simulator.world import World, WorldError, WorldEvent
from central.telephony import chanvars
from central.telephony.ami.protocol import Message

# ExtensionStatus codes per device state (ami-extension-state.txt,
# ami-event-stream-extension-state.txt): state -> (Status, StatusText).
EXTENSION_STATUS = {
    "NOT_INUSE": (0, "Idle"), "UNKNOWN": (0, "Idle"), "INUSE": (1, "InUse"),
    "BUSY": (2, "Busy"), "UNAVAILABLE": (4, "Unavailable"), "INVALID": (4, "Unavailable"),
    "RINGING": (8, "Ringing"), "RINGINUSE": (9, "InUse&Ringing"), "ONHOLD": (16, "Hold"),
}
# Queue member Status (ast_device_state numbers) per device state.
MEMBER_STATUS = {
    "UNKNOWN": 0, "NOT_INUSE": 1, "INUSE": 2, "BUSY": 3, "INVALID": 4, "UNAVAILABLE": 5,
    "RINGING": 6, "RINGINUSE": 7, "ONHOLD": 8,
}
KNOWN_TECHS = ("Local", "PJSIP", "IAX2", "DAHDI")
ACTION_NAMES = (
    "Challenge", "Command", "CoreSettings", "CoreShowChannels", "CoreStatus",
    "DeviceStateList", "Events", "ExtensionState", "ExtensionStateList", "Filter", "Getvar",
    "Hangup", "ListCommands", "Login", "Logoff", "MixMonitor", "Originate", "PJSIPShowEndpoints", "Ping",
    "QueueAdd", "QueuePause", "QueueRemove", "QueueStatus", "QueueSummary", "Setvar",
    "ShowDialPlan", "Status",
)
_CALLERID = re.compile(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$')
_CHURN_STATES = ["INUSE", "INUSE", "RINGING", "ONHOLD", "BUSY", "UNAVAILABLE"]


# Event classes in bit order (Asterisk 22.10.1 include/asterisk/manager.h EVENT_FLAG_*;
# main/manager.c perms[] gives the names). A numeric mask selects classes by bit.
EVENT_CLASSES = {
    "system": 1 << 0, "call": 1 << 1, "log": 1 << 2, "verbose": 1 << 3, "command": 1 << 4,
    "agent": 1 << 5, "user": 1 << 6, "config": 1 << 7, "dtmf": 1 << 8, "reporting": 1 << 9,
    "cdr": 1 << 10, "dialplan": 1 << 11, "originate": 1 << 12, "agi": 1 << 13, "cc": 1 << 15,
    "aoc": 1 << 16, "test": 1 << 17, "security": 1 << 18, "message": 1 << 30,
}
_TRUE = ("yes", "true", "y", "t", "1", "on")  # main/utils.c ast_true()
_FALSE = ("no", "false", "n", "f", "0", "off")  # main/utils.c ast_false()


def event_mask(text: str | None) -> set[str] | None | bool:
    """An ``Events:``/``EventMask:`` value as Asterisk 22.10.1 main/manager.c
    strings_to_mask() reads it: ``False`` when empty (invalid: the mask is left as it
    was), a number selects classes by bit ("1" is *system* only), ast_false() values turn
    events off (``None``), ast_true() values turn them all on (``{"all"}``), anything
    else is a comma list of class names, unknown names ignored (none known = off)."""
    value = (text or "").strip()
    if not value:
        return False
    if value.isdigit():
        bits = int(value)
        names = {name for name, bit in EVENT_CLASSES.items() if bits & bit}
        return names or None
    low = value.lower()
    if low in _FALSE:
        return None
    if low in _TRUE:
        return {"all"}
    names = {part.strip() for part in low.split(",")} & (set(EVENT_CLASSES) | {"all"})
    return names or None


@dataclass
class SessionState:
    """Per-connection AMI state (manager.c's mansession, reduced)."""

    peer: str = "127.0.0.1:0"
    local: str = "127.0.0.1:5038"
    authenticated: bool = False
    username: str = ""
    events: set[str] | None = field(default_factory=lambda: {"all"})  # None = off
    filters: list[tuple[bool, re.Pattern[str]]] = field(default_factory=list)
    challenge: str = ""
    session_id: str = ""

    def wants(self, event: Event) -> bool:
        """Events mask then Filter, as Asterisk 22.10.1 main/manager.c process_events()
        and should_send_event() decide: the event's class must be in the mask; with
        include filters one must match, and no ``!`` exclude filter may match.
        (Asterisk also needs the class in the user's ``read=`` permissions; the
        simulated users may read everything. Evidence: none for that.)"""
        if self.events is None:
            return False
        if "all" not in self.events:
            priv = event[1][1] if len(event) > 1 and event[1][0] == "Privilege" else ""
            if not any(cls in self.events for cls in priv.split(",")):
                return False
        if self.filters:
            text = "\r\n".join(f"{k}: {v}" for k, v in event)
            whites = [rx for allow, rx in self.filters if allow]
            if whites and not any(rx.search(text) for rx in whites):
                return False
            if any(rx.search(text) for allow, rx in self.filters if not allow):
                return False
        return True


@dataclass
class ActionResult:
    """What the server must do after one action."""

    reply: list[Event] = field(default_factory=list)  # response, then list events
    broadcast: list[Event] = field(default_factory=list)
    close: bool = False
    delay: float = 0.0  # seconds to wait before replying (login failure)
    wait_for: Call | None = None  # synchronous Originate: reply when the call resolves
    after_login: bool = False


def response(action_id: str | None, status: str = "Success", message: str | None = None,
             *fields: tuple[str, str]) -> Event:
    pairs: Event = [("Response", status)]
    if action_id is not None:
        pairs.append(("ActionID", action_id))
    if message is not None:
        pairs.append(("Message", message))
    pairs.extend(fields)
    return pairs


def error(action_id: str | None, message: str) -> Event:
    return response(action_id, "Error", message)


def _hms(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def parse_callerid(text: str) -> tuple[str, str]:
    """``"Discador" <1100>`` -> (name, num); a bare number -> ("", num)."""
    m = _CALLERID.match(text or "")
    if m:
        return m.group(1).strip(), m.group(2).strip()
    return "", (text or "").strip()


def _queue_timeout(variables: list[tuple[str, str]]) -> float | None:
    """The Queue() timeout the call's dialplan uses: ``CENTRAL_ABANDON_AFTER`` (the dialer's
    dialplan runs ``Queue(${CENTRAL_QUEUE},r,,,${CENTRAL_ABANDON_AFTER})``, docs/dialer-engine.md;
    app_queue's 5th argument ends the caller's wait, Asterisk 22.10.1 apps/app_queue.c
    queue_exec() ``qe.expire``). None when the Originate does not set it (then the world's
    caller patience applies). The simulator renders the end of that wait as an abandon,
    as it did before this per-call limit."""
    for key, value in variables:
        if key == chanvars.ABANDON_AFTER:
            try:
                seconds = float(value)
            except ValueError:
                return None
            return seconds if seconds > 0 else None
    return None


class SimulatedPBX:
    def __init__(self, config: SimulatorConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.world = World(config.world, seed=config.seed, start=clock.now())
        self._render_t: float | None = None
        self.started_epoch = clock.epoch()
        self.login_time = int(self.started_epoch)
        names = lambda a: agent_display_name(a, config.agent_names)  # noqa: E731
        self.renderer = Renderer(self._epoch_at_render, queue=config.world.queue,
                                 agent_names=names, login_time=self.login_time, seed=config.seed)
        for agent in self.world.agents:
            self.renderer.member_for_agent(agent)
        self.devices: dict[str, str] = {}  # device -> state (Custom:1001, PJSIP/1001...)
        for exten in config.extensions.extensions:
            self.devices[self.hint(exten)] = "NOT_INUSE"
        self._rng = random.Random(config.seed + 1)
        # The simulator's own timers, beside the World's: extension churn ("ext") and
        # background calls ("call"); entries are (time, seq, kind, key).
        self._timers: list[tuple[float, int, str, str]] = []
        self._timer_seq = 0
        if config.extensions.churn_interval > 0:
            for exten in config.extensions.extensions:
                self._schedule_churn(exten, clock.now())
        if config.background_calls_per_minute > 0:
            self._schedule_background(clock.now())
        self._call_seq = 0
        # ChanSpy sessions (supervisor monitoring): spyer channel name -> (spyer, spyee).
        self.spies: dict[str, tuple[Channel, Channel]] = {}
        self._spy_seq = 0
        self.stats = {"actions": 0, "events": 0, "originates": 0, "logins_failed": 0}
        self.on_resolved: Callable[[Call], None] | None = None
        # MixMonitor: call id -> [(File, started)] while the call lasts; then (File,
        # seconds) per finished recording, handed to ``on_recording`` (the asyncio
        # adapter writes the file) or kept here when nobody listens.
        self.monitors: dict[str, list[tuple[str, float]]] = {}
        self.recordings_done: list[tuple[str, float]] = []
        self.on_recording: Callable[[str, float], None] | None = None
        self._monitor_seq = 0

    # ------------------------------------------------------------------ time
    def _epoch_at_render(self) -> float:
        if self._render_t is not None:
            return self.started_epoch + self._render_t
        return self.clock.epoch()

    def now(self) -> float:
        return self.clock.now()

    def next_time(self) -> float | None:
        timer = self._timers[0][0] if self._timers else None
        candidates = [t for t in (self.world.next_time(), timer) if t is not None]
        return min(candidates) if candidates else None

    def advance(self, until: float) -> list[Event]:
        """Run the world and the simulator's timers up to ``until``; return AMI events."""
        out: list[Event] = []
        while self._timers and self._timers[0][0] <= until:
            t, _seq, kind, key = heapq.heappop(self._timers)
            out += self._run_world(t)
            if kind == "ext":
                out += self._churn_step(key, t)
            else:
                out += self._background_call(t)
        out += self._run_world(until)
        self.stats["events"] += len(out)
        return out

    def _run_world(self, until: float) -> list[Event]:
        until = max(until, self.world.now)
        events = self.world.advance(until)
        if not events:
            return []
        return self._run_world_events(events) + self._end_spies()

    def _run_world_events(self, events: list[WorldEvent]) -> list[Event]:
        # A forced "fail" outcome fires at the dial instant: Asterisk never creates
        # channels for an Originate that fails (orig-fail-async in
        # ami-login-and-actions.txt), so drop the "dialing" that precedes it.
        failed_now = {(e.call_id, e.t) for e in events if e.kind == "failed"}
        out: list[Event] = []
        for ev in events:
            if ev.kind == "dialing" and (ev.call_id, ev.t) in failed_now:
                continue
            out += self._render(ev)
        return out

    def _render(self, ev: WorldEvent) -> list[Event]:
        self._render_t = ev.t
        try:
            rendered = self.renderer.render(ev.kind, ev.call_id, ev.data, ev.t)
        finally:
            self._render_t = None
        self._drain_resolved()
        if ev.call_id and ev.kind in ("busy", "congestion", "noanswer", "failed", "hangup", "abandoned"):
            self.renderer.calls.pop(ev.call_id, None)
            for file, started in self.monitors.pop(ev.call_id, []):
                # The monitored channel hung up: MixMonitor closes its file.
                self.recordings_done.append((file, max(0.0, ev.t - started)))
            if self.recordings_done and self.on_recording is not None:
                done, self.recordings_done = self.recordings_done, []
                for file, seconds in done:
                    self.on_recording(file, seconds)
        return rendered

    def _drain_resolved(self) -> None:
        resolved, self.renderer.resolved = self.renderer.resolved, []
        if self.on_resolved is not None:
            for call in resolved:
                self.on_resolved(call)

    # ------------------------------------------------------------ extensions
    def hint(self, exten: str) -> str:
        """The device an extension's hint watches: ``Custom:1001`` like the fixture
        dialplan (``exten => 1001,hint,Custom:1001``) or ``PJSIP/1001`` for phones."""
        if self.config.extensions.hint_tech == "PJSIP":
            return f"PJSIP/{exten}"
        return f"Custom:{exten}"

    def exten_of(self, device: str) -> str | None:
        for exten in self.config.extensions.extensions:
            if self.hint(exten) == device:
                return exten
        return None

    def _push_timer(self, t: float, kind: str, key: str) -> None:
        self._timer_seq += 1
        heapq.heappush(self._timers, (t, self._timer_seq, kind, key))

    def _schedule_churn(self, exten: str, now: float) -> None:
        self._push_timer(now + self._rng.expovariate(1.0 / self.config.extensions.churn_interval), "ext", exten)

    def _schedule_background(self, now: float) -> None:
        rate = self.config.background_calls_per_minute / 60.0
        self._push_timer(now + self._rng.expovariate(rate), "call", "")

    def _background_call(self, t: float) -> list[Event]:
        """Demo traffic: an Originate nobody sent over AMI (as if another dialer shared
        this PBX), so live-call views move before any campaign runs. No ActionID."""
        self._schedule_background(t)
        self._call_seq += 1
        number = f"5511{self._rng.randrange(10**8, 10**9)}"
        call = Call(
            call_id=f"bg-{self._call_seq}", number=number, dial_channel=f"Local/{number}@customers",
            dial_context="customers", context="discador-out", exten=number, priority=1,
            timeout=30.0, action_id=None, cid_num="1100", cid_name="Discador",
        )
        self.renderer.calls[call.call_id] = call
        try:
            self.world.originate(call.call_id, number, timeout=30.0)
        except WorldError:
            self.renderer.calls.pop(call.call_id, None)
            return []
        return self._run_world(t)

    def _churn_step(self, exten: str, t: float) -> list[Event]:
        device = self.hint(exten)
        current = self.devices.get(device, "NOT_INUSE")
        new = "NOT_INUSE" if current != "NOT_INUSE" else self._rng.choice(_CHURN_STATES)
        self._schedule_churn(exten, t)
        return self.set_device_state(device, new)

    def set_device_state(self, device: str, state: str) -> list[Event]:
        """func_devstate: ExtensionStatus for each hint on the device, then
        DeviceStateChange (ami-event-stream-extension-state.txt); a queue member
        whose StateInterface is the device gets QueueMemberStatus after it
        (ami-queue-member-pause.txt, Custom:agent9)."""
        state = state.upper()
        previous = self.devices.get(device, "NOT_INUSE")
        self.devices[device] = state
        out: list[Event] = []
        exten = self.exten_of(device)
        if exten is not None:
            code, text = EXTENSION_STATUS.get(state, (0, "Idle"))
            out.append([("Event", "ExtensionStatus"), ("Privilege", CALL), ("Exten", exten),
                        ("Context", self.config.extensions.context), ("Hint", device),
                        ("Status", str(code)), ("StatusText", text)])
        out.append([("Event", "DeviceStateChange"), ("Privilege", CALL), ("Device", device),
                    ("State", state)])
        if exten is not None and self.config.extensions.hint_tech == "PJSIP":
            out += self._contact_status(exten, previous, state)
        for member in self.renderer.members.values():
            if member.state_interface == device:
                out += self.renderer.member_state(member, MEMBER_STATUS.get(state, 0))
        return out

    def _contact_status(self, exten: str, previous: str, state: str) -> list[Event]:
        """The phone behind an extension going away or coming back. NOT from the
        fixtures (no PJSIP endpoint was captured): fields as documented for Asterisk 22's
        ContactStatus event, so the extensions panel can show registered/unreachable."""
        gone = state == "UNAVAILABLE" and previous != "UNAVAILABLE"
        back = previous == "UNAVAILABLE" and state != "UNAVAILABLE"
        if not (gone or back):
            return []
        return [[
            ("Event", "ContactStatus"), ("Privilege", "system,all"),
            ("URI", f"sip:{exten}@192.0.2.10:5060"),
            ("ContactStatus", "Unreachable" if gone else "Reachable"),
            ("AOR", exten), ("EndpointName", exten),
            ("RoundtripUsec", "0" if gone else "1834"), ("UserAgent", "Central Simulated Phone"),
            ("RegExpire", str(int(self.clock.epoch()) + 3600)), ("ViaAddress", "192.0.2.10:5060"),
            ("CallID", f"sim-{exten}"),
        ]]

    # --------------------------------------------------------------- actions
    def handle(self, msg: Message, session: SessionState) -> ActionResult:
        self.stats["actions"] += 1
        name = (msg.get("Action") or "").strip()
        aid = msg.get("ActionID")
        # Asterisk 22.10.1 main/manager.c process_message(): "Missing action in request";
        # before login only Login, Logoff and Challenge run, anything else is
        # "Permission denied". (Asterisk also emits the security events
        # RequestBadFormat / RequestNotAllowed; evidence: none for leaving them out.)
        if not name:
            return ActionResult([error(aid, "Missing action in request")])
        lname = name.lower()
        if not session.authenticated and lname not in ("login", "logoff", "challenge"):
            return ActionResult([error(aid, "Permission denied")])
        handler = getattr(self, f"_a_{lname}", None)
        if handler is None:
            # ami-login-and-actions.txt, bad-1.
            return ActionResult([error(aid, f"Invalid/unknown command: {name}. "
                                            "Use Action: ListCommands to show available commands.")])
        return handler(msg, aid, session)

    def _a_challenge(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        # Not captured. Asterisk 22.10.1 main/manager.c action_challenge(): a random
        # number as the challenge, "Must specify AuthType" unless MD5; the Login then
        # checks Key = md5(challenge + secret) (authenticate()).
        if (msg.get("AuthType") or "").lower() != "md5":
            return ActionResult([error(aid, "Must specify AuthType")])
        s.challenge = f"{self._rng.getrandbits(32)}"
        return ActionResult([response(aid, "Success", None, ("Challenge", s.challenge))])

    def _a_login(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        if s.authenticated:
            # main/manager.c action_login(): "still authenticated - don't process again".
            return ActionResult([response(aid, "Success", "Already authenticated")])
        user = msg.get("Username") or ""
        secret = self.config.users.get(user)
        ok = False
        if secret is not None:
            if (msg.get("AuthType") or "").lower() == "md5" and s.challenge:
                digest = hashlib.md5((s.challenge + secret).encode()).hexdigest()
                ok = (msg.get("Key") or "").lower() == digest
            else:
                ok = msg.get("Secret") == secret
        if not ok:
            # ami-login-failure.txt: Error after ~1 s, then the server closes.
            self.stats["logins_failed"] += 1
            return ActionResult([error(aid, "Authentication failed")], close=True,
                                delay=self.config.login_failure_delay)
        s.authenticated, s.username = True, user
        s.session_id = f"0x{self._rng.getrandbits(44):x}"
        # main/manager.c authenticate(): set_eventmask() with the Events header; none
        # (or empty) leaves the default, every class.
        mask = event_mask(msg.get("Events"))
        if mask is not False:
            s.events = mask
        result = ActionResult([response(aid, "Success", "Authentication accepted")], after_login=True)
        # ami-login-and-actions.txt: FullyBooted to this session, then SuccessfulAuth
        # broadcast to every listener (the stream files show the other session's too).
        uptime = str(int(self.clock.epoch() - self.started_epoch))
        booted = [("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", uptime),
                  ("LastReload", uptime), ("Status", "Fully Booted")]
        if s.wants(booted):
            result.reply.append(booted)
        tv = _event_tv(self.clock.epoch())
        result.broadcast.append([
            ("Event", "SuccessfulAuth"), ("Privilege", "security,all"), ("EventTV", tv),
            ("Severity", "Informational"), ("Service", "AMI"), ("EventVersion", "1"),
            ("AccountID", user), ("SessionID", s.session_id),
            ("LocalAddress", f"IPV4/TCP/{s.local}"), ("RemoteAddress", f"IPV4/TCP/{s.peer}"),
            ("UsingPassword", "0"), ("SessionTV", tv),
        ])
        return result

    def _a_logoff(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        # ami-login-and-actions.txt logoff-1; main/manager.c action_logoff().
        return ActionResult([response(aid, "Goodbye", "Thanks for all the fish.")], close=True)

    def _a_ping(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        # With and without ActionID (ami-login-and-actions.txt ping-1 / last Ping).
        return ActionResult([response(aid, "Success", None, ("Ping", "Pong"),
                                      ("Timestamp", f"{self.clock.epoch():.6f}"))])

    def _a_events(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        # Not captured. Asterisk 22.10.1 main/manager.c action_events(): "Events: On" for
        # a mask with classes, "Events: Off" for none, "Invalid event mask" (mask kept)
        # for an empty one.
        mask = event_mask(msg.get("EventMask"))
        if mask is False:
            return ActionResult([error(aid, "Invalid event mask")])
        s.events = mask
        return ActionResult([response(aid, "Success", None, ("Events", "On" if mask else "Off"))])

    def _a_filter(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        # ami-login-and-actions.txt filter-1: "Operation: Add", "Filter: Event:
        # OriginateResponse" -> "Message: Success". Asterisk 22.10.1 main/manager.c
        # action_filter(): any Operation but Add (a missing one included) is "Unknown
        # operation"; a regex that does not compile is refused with its message.
        if (msg.get("Operation") or "").lower() != "add":
            return ActionResult([error(aid, "Unknown operation")])
        text = msg.get("Filter") or ""
        allow = not text.startswith("!")
        try:
            rx = re.compile(text if allow else text[1:])
        except re.error:
            return ActionResult([error(aid, "Filter did not compile.  Check the syntax of the filter given.")])
        s.filters.append((allow, rx))
        return ActionResult([response(aid, "Success", "Success")])

    def _a_corestatus(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        # ami-login-and-actions.txt corestatus-1 (fields, order). Asterisk prints the
        # startup time in the server's local zone (main/manager.c action_corestatus(),
        # ast_localtime()); the capture's server ran on UTC, as the simulator prints.
        start = time.gmtime(self.started_epoch)
        return ActionResult([response(
            aid, "Success", None,
            ("CoreStartupDate", time.strftime("%Y-%m-%d", start)),
            ("CoreStartupTime", time.strftime("%H:%M:%S", start)),
            ("CoreReloadDate", time.strftime("%Y-%m-%d", start)),
            ("CoreReloadTime", time.strftime("%H:%M:%S", start)),
            # Asterisk 22.10.1 main/manager.c action_corestatus(): CoreCurrentCalls is
            # ast_active_channels(), the number of channels (4 for an answered call
            # bridged to an agent), not of calls.
            ("CoreCurrentCalls", str(len(self.renderer.channels))),
            ("CoreProcessedCalls", str(self.renderer.processed_calls)),
        )])

    def current_calls(self) -> int:
        """Calls in progress (one per Linkedid), for ``core show channels``'s footer.
        Evidence: none for the count (Asterisk's ast_active_calls() counts channels
        running a PBX, not captured); CoreStatus uses the channel count instead."""
        return len({c.linkedid for c in self.renderer.channels.values()})

    def _a_coresettings(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        # ami-login-and-actions.txt coresettings-1 (fields, order, AMIversion 11.0.0).
        cfg = self.config
        return ActionResult([response(
            aid, "Success", None,
            ("AMIversion", "11.0.0"), ("AsteriskVersion", cfg.asterisk_version),
            ("SystemName", cfg.system_name), ("CoreMaxCalls", str(cfg.max_calls)),
            ("CoreMaxLoadAvg", "0.000000"), ("CoreRunUser", "root"), ("CoreRunGroup", "root"),
            ("CoreMaxFilehandles", "0"), ("CoreRealTimeEnabled", "No"),
            ("CoreCDRenabled", "No"), ("CoreHTTPenabled", "No"), ("SoundsSearchCustomDir", "No"),
        )])

    def _a_command(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        # Asterisk 22: Response Success + one "Output:" per line (ami-login-and-actions.txt).
        cmd = " ".join((msg.get("Command") or "").split())
        result = ActionResult()
        lines = self._cli(cmd, result)
        if lines is None:
            result.reply.insert(0, response(aid, "Error", "Command output follows",
                                            ("Output", f"No such command '{cmd}' (type 'core show help "
                                                       f"{cmd}' for other possible commands)")))
            return result
        result.reply.insert(0, response(aid, "Success", "Command output follows",
                                        *[("Output", line) for line in lines]))
        return result

    def _cli(self, cmd: str, result: ActionResult) -> list[str] | None:
        low = cmd.lower()
        # core show version: ami-login-and-actions.txt cmd-1 and asterisk-version.txt.
        # core show channels / core show uptime / queue show: evidence: none (not
        # captured; layouts imitate main/cli.c handle_chanlist(), handle_showuptime()
        # and apps/app_queue.c __queues_show()).
        if low == "core show version":
            built = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.started_epoch))
            return [f"Asterisk {self.config.asterisk_version} built by root @ vm on a x86_64 "
                    f"running Linux on {built} UTC"]
        if low in ("core show channels", "core show channels verbose"):
            return self._cli_channels()
        if low == "core show uptime":
            up = int(self.clock.epoch() - self.started_epoch)
            return [f"System uptime: {up} seconds", f"Last reload: {up} seconds"]
        m = re.fullmatch(r"devstate change (\S+) (\S+)", cmd, re.IGNORECASE)
        if m:
            # ami-queue-actions.txt / ami-extension-state.txt: "Changing agent9 to INUSE".
            device, state = m.group(1), m.group(2).upper()
            if not device.lower().startswith("custom:"):
                return ["The devstate change command only works on custom states (Custom:...)"]
            device = "Custom:" + device[7:]
            result.broadcast += self.set_device_state(device, state)
            return [f"Changing {device[7:]} to {state}"]
        if low.startswith("queue show"):
            return self._cli_queue()
        return None

    def _cli_channels(self) -> list[str]:
        lines = [f"{'Channel':<64.64} {'Location':<32.32} {'State':<7.7} {'Application(Data)':<50.50}"]
        for ch in self._ordered_channels():
            loc = f"{ch.exten}@{ch.context}:{ch.priority}"
            app = f"{ch.application}({ch.app_data})"
            lines.append(f"{ch.name:<64.64} {loc:<32.32} {STATE_DESC.get(ch.state, ''):<7.7} {app:<50.50}")
        n = len(self.renderer.channels)
        lines.append(f"{n} active channel{'s' if n != 1 else ''}")
        calls = self.current_calls()
        lines.append(f"{calls} active call{'s' if calls != 1 else ''}")
        done = self.renderer.processed_calls
        lines.append(f"{done} call{'s' if done != 1 else ''} processed")
        return lines

    def _cli_queue(self) -> list[str]:
        r = self.renderer
        lines = [f"{r.queue} has {len(r.waiting)} calls (max unlimited) in 'rrmemory' strategy "
                 f"(0s holdtime, 0s talktime), W:0, C:{r.completed}, A:{r.abandoned}, SL:0.0%, SL2:0.0% within 0s",
                 "   Members: "]
        for m in r.members.values():
            state = "paused" if m.paused else ("In use" if m.status == 2 else "Not in use")
            lines.append(f"      {m.name} ({m.interface}) ({m.membership}) ({state}) has taken "
                         f"{m.calls_taken} calls (last was 0 secs ago)")
        lines.append("   No Callers" if not r.waiting else f"   Callers: {len(r.waiting)}")
        return lines

    def _ordered_channels(self) -> list:
        # Asterisk walks its channel container; the fixture lists ;2 before ;1 and the
        # customer pair before the agent pair (ami-core-show-channels.txt).
        chans = list(self.renderer.channels.values())
        chans.sort(key=lambda c: (c.linkedid, "agent-phones" in c.name, not c.name.endswith(";2")))
        return chans

    # ----------------------------------------------------------------- queues
    def _a_queuestatus(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        # ami-login-and-actions.txt qs-1; ami-queue-actions.txt qstatus-2 (Member:).
        r = self.renderer
        queue = msg.get("Queue")
        member_filter = msg.get("Member")
        reply = [self._list_response(aid, "Queue status will follow")]
        items = 0
        if queue in (None, "", r.queue):
            reply.append(self._list_event("QueueParams", r.queue_params(), aid, id_last=True))
            items += 1
            for member in r.members.values():
                if member_filter and member.interface != member_filter:
                    continue
                reply.append(self._list_event("QueueMember", member.list_fields(), aid, id_last=True))
                items += 1
            for pos, call_id in enumerate(r.waiting, 1):
                call = r.calls.get(call_id)
                if call is None or call.leg1 is None:
                    continue
                reply.append(self._list_event("QueueEntry", [
                    ("Queue", r.queue), ("Position", str(pos)), ("Channel", call.leg1.name),
                    ("Uniqueid", call.leg1.uniqueid), ("CallerIDNum", call.leg1.cid_num),
                    ("CallerIDName", call.leg1.cid_name), ("ConnectedLineNum", call.leg1.conn_num),
                    ("ConnectedLineName", call.leg1.conn_name),
                    # app_queue.c manager_queues_status(): Wait = time(NULL) - qe->start.
                    ("Wait", str(r.time_null() - call.queued_s)), ("Priority", "0"),
                ], aid, id_last=True))
                items += 1
        reply.append(self._complete("QueueStatusComplete", aid, items))
        return ActionResult(reply)

    def _a_queuesummary(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        # ami-login-and-actions.txt qsum-1, ami-queue-actions.txt qsummary-1; the figures
        # as apps/app_queue.c manager_queues_summary() computes them (Renderer).
        r = self.renderer
        queue = msg.get("Queue")
        reply = [self._list_response(aid, "Queue summary will follow")]
        items = 0
        if queue in (None, "", r.queue):
            members = list(r.members.values())
            logged = sum(1 for m in members if m.status not in (4, 5))
            avail = sum(1 for m in members if not m.paused and m.status in (0, 1))
            reply.append(self._list_event("QueueSummary", [
                ("Queue", r.queue), ("LoggedIn", str(logged)), ("Available", str(avail)),
                ("Callers", str(len(r.waiting))),
                ("HoldTime", str(r.holdtime)), ("TalkTime", str(r.talktime)),
                ("LongestHoldTime", str(r.longest_hold())),
            ], aid, id_last=True))
            items = 1
        reply.append(self._complete("QueueSummaryComplete", aid, items))
        return ActionResult(reply)

    def _find_member(self, msg: Message) -> QueueMember | None:
        queue = msg.get("Queue")
        if queue not in (None, "", self.renderer.queue):
            return None
        return self.renderer.members.get(msg.get("Interface") or "")

    def _a_queuepause(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        # ami-queue-actions.txt pause-1 / unpause-1 / pause-2 ("Interface not found");
        # a missing field: apps/app_queue.c manager_pause_queue_member() (22.10.1).
        if not msg.get("Interface") or not msg.get("Paused"):
            return ActionResult([error(aid, "Need 'Interface' and 'Paused' parameters.")])
        member = self._find_member(msg)
        if member is None:
            return ActionResult([error(aid, "Interface not found")])
        paused = (msg.get("Paused") or "").lower() in ("true", "yes", "1", "on")
        reason = msg.get("Reason") or ""
        result = ActionResult([response(
            aid, "Success", "Interface paused successfully" if paused else "Interface unpaused successfully")])
        # Asterisk pauses at once, even a member in a call; the World defers a busy
        # agent's pause to the end of wrap-up and reports it then, which the renderer
        # ignores because the member is already paused.
        result.broadcast += self.renderer.pause_events(member, paused, reason)
        if member.agent:
            with contextlib.suppress(WorldError):
                self.world.pause_agent(member.agent, paused, reason)
            result.broadcast += self._run_world(self.world.now)
        return result

    def _a_queueadd(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        # ami-queue-actions.txt add-1 / add-2 ("Already there"); missing fields:
        # apps/app_queue.c manager_add_queue_member() (22.10.1), Queue checked first.
        iface = msg.get("Interface")
        if not msg.get("Queue"):
            return ActionResult([error(aid, "'Queue' not specified.")])
        if not iface:
            return ActionResult([error(aid, "'Interface' not specified.")])
        if msg.get("Queue") != self.renderer.queue:
            return ActionResult([error(aid, "Unable to add interface to queue: No such queue")])
        if iface in self.renderer.members:
            return ActionResult([error(aid, "Unable to add interface: Already there")])
        state_iface = msg.get("StateInterface") or iface
        status = MEMBER_STATUS.get(self.devices.get(state_iface, "UNKNOWN"), 0) \
            if state_iface.startswith("Custom:") else 1
        member = QueueMember(
            queue=self.renderer.queue, name=msg.get("MemberName") or iface, interface=iface,
            state_interface=state_iface, membership="dynamic",
            penalty=int(msg.get("Penalty") or 0) if (msg.get("Penalty") or "0").isdigit() else 0,
            login_time=int(self.clock.epoch()), status=status,
            paused=(msg.get("Paused") or "").lower() in ("true", "yes", "1"),
        )
        return ActionResult([response(aid, "Success", "Added interface to queue")],
                            broadcast=self.renderer.member_added(member))

    def _a_queueremove(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        # ami-queue-actions.txt remove-1 / remove-2 ("Not there"). Missing fields, an
        # unknown queue and a static member: apps/app_queue.c manager_remove_queue_member()
        # and remove_from_queue() (22.10.1: RES_NOSUCHQUEUE, RES_NOT_DYNAMIC for a member
        # from queues.conf, "Member not dynamic").
        if not msg.get("Queue") or not msg.get("Interface"):
            return ActionResult([error(aid, "Need 'Queue' and 'Interface' parameters.")])
        if msg.get("Queue") != self.renderer.queue:
            return ActionResult([error(aid, "Unable to remove interface from queue: No such queue")])
        member = self._find_member(msg)
        if member is None:
            return ActionResult([error(aid, "Unable to remove interface: Not there")])
        if member.membership != "dynamic":
            return ActionResult([error(aid, "Member not dynamic")])
        return ActionResult([response(aid, "Success", "Removed interface from queue")],
                            broadcast=self.renderer.member_removed(member))

    # ------------------------------------------------------- extension state
    def _a_extensionstatelist(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        # ami-extension-state.txt esl-1: ActionID right after Event in list items.
        ext = self.config.extensions
        reply = [self._list_response(aid, "Extension Statuses will follow")]
        for exten in ext.extensions:
            code, text = EXTENSION_STATUS.get(self.devices.get(self.hint(exten), "NOT_INUSE"), (0, "Idle"))
            reply.append(self._list_event("ExtensionStatus", [
                ("Exten", exten), ("Context", ext.context), ("Hint", self.hint(exten)),
                ("Status", str(code)), ("StatusText", text)], aid))
        reply.append(self._complete("ExtensionStateListComplete", aid, len(ext.extensions)))
        return ActionResult(reply)

    def _a_devicestatelist(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        # ami-extension-state.txt dsl-1/dsl-2: the queue's pause devices, the custom
        # states, then Queue:<q>_avail.
        reply = [self._list_response(aid, "Device State Changes will follow")]
        devices: list[tuple[str, str]] = []
        r = self.renderer
        for member in r.members.values():
            devices.append((f"Queue:{r.queue}_pause_{member.interface}", "INUSE" if member.paused else "NOT_INUSE"))
        devices += sorted(self.devices.items())
        devices.append((f"Queue:{r.queue}_avail", "NOT_INUSE"))
        for device, state in devices:
            reply.append(self._list_event("DeviceStateChange", [("Device", device), ("State", state)], aid))
        reply.append(self._complete("DeviceStateListComplete", aid, len(devices)))
        return ActionResult(reply)

    def _a_extensionstate(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        # ami-extension-state.txt es-1 (known) / es-2 (unknown: Hint empty, Status -1).
        exten, context = msg.get("Exten") or "", msg.get("Context") or ""
        known = context == self.config.extensions.context and exten in self.config.extensions.extensions
        if known:
            hint = self.hint(exten)
            code, text = EXTENSION_STATUS.get(self.devices.get(hint, "NOT_INUSE"), (0, "Idle"))
        else:
            hint, code, text = "", -1, "Unknown"
        return ActionResult([response(aid, "Success", "Extension Status",
                                      ("Exten", exten), ("Context", context), ("Hint", hint),
                                      ("Status", str(code)), ("StatusText", text))])

    def _a_pjsipshowendpoints(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        """One PJSIP endpoint per extension. NOT from the fixtures: shape as documented
        for Asterisk 22 (EndpointList items, EndpointListComplete)."""
        texts = {"NOT_INUSE": "Not in use", "INUSE": "In use", "BUSY": "Busy",
                 "UNAVAILABLE": "Unavailable", "RINGING": "Ringing", "RINGINUSE": "Ring+Inuse",
                 "ONHOLD": "On Hold", "UNKNOWN": "Unknown", "INVALID": "Invalid"}
        exts = self.config.extensions.extensions if self.config.extensions.hint_tech == "PJSIP" else []
        reply = [self._list_response(aid, "A listing of Endpoints follows, presented as EndpointList events")]
        for exten in exts:
            state = self.devices.get(self.hint(exten), "NOT_INUSE")
            reply.append(self._list_event("EndpointList", [
                ("ObjectType", "endpoint"), ("ObjectName", exten), ("Transport", ""),
                ("Aor", exten), ("Auths", exten), ("OutboundAuths", ""),
                ("Contacts", "" if state == "UNAVAILABLE" else f"{exten}/sip:{exten}@192.0.2.10:5060,"),
                ("DeviceState", texts.get(state, "Unknown")), ("ActiveChannels", ""),
            ], aid))
        reply.append(self._complete("EndpointListComplete", aid, len(exts)))
        return ActionResult(reply)

    def _a_listcommands(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        # Evidence: none for the text. Asterisk prints one "Action: synopsis (Priv: ...)"
        # line per registered action (main/manager.c action_listcommands()); the
        # simulator lists the actions it implements, marked "(simulated)".
        return ActionResult([response(aid, "Success", None,
                                      *[(n, f"{n} (simulated)") for n in ACTION_NAMES])])

    # -------------------------------------------------------------- channels
    def _find_channel(self, name: str):
        chans = self.renderer.channels
        if name in chans:
            return chans[name]
        for ch in chans.values():  # Getvar by Uniqueid (ami-core-show-channels.txt getvar-2)
            if ch.uniqueid == name:
                return ch
        return None

    def _a_coreshowchannels(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        # ami-core-show-channels.txt csc-1 / csc-2.
        reply = [self._list_response(aid, "Channels will follow")]
        chans = self._ordered_channels()
        now = self.now()
        for ch in chans:
            reply.append(self._list_event("CoreShowChannel", ch.header() + [
                ("Application", ch.application), ("ApplicationData", ch.app_data),
                ("Duration", _hms(now - ch.created)), ("BridgeId", ch.bridge_id)], aid))
        reply.append(self._complete("CoreShowChannelsComplete", aid, len(chans)))
        return ActionResult(reply)

    def _a_status(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        # ami-core-show-channels.txt status-1 (all) / status-2 (one), Variables:.
        name = msg.get("Channel")
        if name:
            ch = self._find_channel(name)
            if ch is None:
                return ActionResult([error(aid, "No such channel")])
            chans = [ch]
        else:
            chans = self._ordered_channels()
        wanted = [v.strip() for v in (msg.get("Variables") or "").split(",") if v.strip()]
        reply = [self._list_response(aid, "Channel status will follow")]
        now = self.now()
        for ch in chans:
            hdr = ch.header()
            ev: Event = [("Event", "Status"), ("Privilege", "Call")] + hdr + [
                ("Type", "Local"), ("DNID", ""),
                ("EffectiveConnectedLineNum", ch.conn_num), ("EffectiveConnectedLineName", ch.conn_name),
                ("TimeToHangup", "0"), ("BridgeID", ch.bridge_id), ("Application", ch.application),
                ("Data", ch.app_data), ("Nativeformats", "(slin)"), ("Readformat", "slin"),
                ("Readtrans", ""), ("Writeformat", "slin"), ("Writetrans", ""), ("Callgroup", "0"),
                ("Pickupgroup", "0"), ("Seconds", str(int(now - ch.created))),
            ]
            ev += [("Variable", f"{v}={ch.variables.get(v, '(null)')}") for v in wanted]
            if aid is not None:
                ev.append(("ActionID", aid))
            reply.append(ev)
        complete = self._complete("StatusComplete", aid, len(chans))
        complete.append(("Items", str(len(chans))))
        reply.append(complete)
        return ActionResult(reply)

    def _a_getvar(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        var = msg.get("Variable") or ""
        if not var:
            return ActionResult([error(aid, "No variable specified")])
        name = msg.get("Channel")
        if name:
            ch = self._find_channel(name)
            if ch is None:
                return ActionResult([error(aid, "No such channel")])
            value = ch.variables.get(var, "")
        else:
            # Without Channel Asterisk reads a global variable (main/manager.c
            # action_getvar(), pbx_retrieve_variable(NULL, ...)); the simulated PBX has
            # none, so the Value is empty. Evidence: none beyond that source.
            value = ""
        return ActionResult([response(aid, "Success", None, ("Variable", var), ("Value", value))])

    def _a_setvar(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        var = msg.get("Variable") or ""
        value = msg.get("Value") or ""
        if not var:
            return ActionResult([error(aid, "No variable specified")])
        result = ActionResult([response(aid, "Success", "Variable Set")])
        m = re.fullmatch(r"DEVICE_STATE\((Custom:[^)]+)\)", var, re.IGNORECASE)
        if m:
            # ami-extension-state.txt ds-3: Setvar DEVICE_STATE(Custom:1001)=NOT_INUSE.
            result.broadcast += self.set_device_state("Custom:" + m.group(1)[7:], value)
            return result
        name = msg.get("Channel")
        if name:
            ch = self._find_channel(name)
            if ch is None:
                return ActionResult([error(aid, "No such channel")])
            ch.variables[var] = value
            # Not captured: pbx_builtin_setvar_helper() publishes VarSet (Asterisk
            # 22.10.1 main/pbx_variables.c, ast_channel_publish_varset()).
            result.broadcast.append([("Event", "VarSet"), ("Privilege", "dialplan,all")] + ch.header()
                                    + [("Variable", var), ("Value", value)])
        return result

    def _a_mixmonitor(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        """Asterisk 22 apps/app_mixmonitor.c manager_mixmonitor(): "No channel specified",
        "No such channel" (the channel found by name or uniqueid, main/channel.c
        ast_channel_get_by_name()), "Could not start monitoring channel" when
        mixmonitor_exec() fails (no File and no r()/t() option: "MixMonitor requires an
        argument"), else ``Response: Success`` with no Message (and ``MixMonitorID`` with
        the ``i(var)`` option). mixmonitor_exec() sets ``MIXMONITOR_FILENAME`` to the path
        under the monitor directory and publishes ``MixMonitorStart``: both events as in
        ami-event-stream-audiosocket.txt (VarSet, then MixMonitorStart, ``call,all``).
        The file is written when the call hangs up (:mod:`central.simulator.recording`)."""
        name = msg.get("Channel") or ""
        if not name:
            return ActionResult([error(aid, "No channel specified")])
        ch = self._find_channel(name)
        if ch is None:
            return ActionResult([error(aid, "No such channel")])
        file = (msg.get("File") or "").strip()
        options = msg.get("Options") or ""
        if not file and not re.search(r"[rt]\(", options):
            return ActionResult([error(aid, "Could not start monitoring channel")])
        monitor_dir = self.config.monitor_dir or "/var/spool/asterisk/monitor"
        full = file if file.startswith("/") else f"{monitor_dir.rstrip('/')}/{file}"
        fields: list[tuple[str, str]] = []
        self._monitor_seq += 1
        uid_var = re.search(r"i\(([^)]*)\)", options)
        if uid_var and uid_var.group(1):
            # The MixMonitor's id is its datastore's (a pointer printed as hex); any
            # unique token does.
            monitor_id = f"0x{self._monitor_seq:012x}"
            ch.variables[uid_var.group(1)] = monitor_id
            fields.append(("MixMonitorID", monitor_id))
        ch.variables["MIXMONITOR_FILENAME"] = full
        if file and ch.call_id:
            self.monitors.setdefault(ch.call_id, []).append((file, self.world.now))
        result = ActionResult([response(aid, "Success", None, *fields)])
        result.broadcast.append([("Event", "VarSet"), ("Privilege", "dialplan,all")] + ch.header()
                                + [("Variable", "MIXMONITOR_FILENAME"), ("Value", full)])
        result.broadcast.append([("Event", "MixMonitorStart"), ("Privilege", "call,all")] + ch.header())
        return result

    def _a_hangup(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        # ami-core-show-channels.txt hangup-1 ("Channel Hungup") / hangup-2 ("No such channel").
        name = msg.get("Channel") or ""
        if not name:
            return ActionResult([error(aid, "No channel specified")])
        if name in self.spies:  # the supervisor's monitoring leg
            return ActionResult([response(aid, "Success", "Channel Hungup")], broadcast=self._end_spy(name))
        ch = self._find_channel(name)
        if ch is None:
            return ActionResult([error(aid, "No such channel")])
        cause_text = msg.get("Cause") or "16"
        cause = int(cause_text) if cause_text.isdigit() else 16
        call = self.renderer.calls.get(ch.call_id)
        result = ActionResult([response(aid, "Success", "Channel Hungup")])
        if call is not None:
            call.hangup_cause = cause
            call.hangup_agent_leg = ch in (call.agent1, call.agent2)
            with contextlib.suppress(WorldError):
                self.world.hangup(call.call_id)
            result.broadcast += self._run_world(self.world.now)
        return result

    def hangup_call(self, call_id: str, cause: int = 16) -> list[Event]:
        """The call's dialplan reached ``Hangup()`` (normal clearing, cause 16): after
        ``AudioSocket()`` returned. Returns the events to broadcast."""
        call = self.renderer.calls.get(call_id)
        if call is None:
            return []
        call.hangup_cause = cause
        with contextlib.suppress(WorldError):
            self.world.hangup(call_id)
        return self._run_world(self.world.now)

    # -------------------------------------------------------------- originate
    def _a_originate(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        channel = msg.get("Channel")
        if not channel:
            return ActionResult([error(aid, "Channel not specified")])  # orig-fail-nochan
        is_async = (msg.get("Async") or "").lower() in ("true", "yes", "1")
        context = msg.get("Context") or ""
        application = msg.get("Application")
        exten = msg.get("Exten") or "s"
        if application and application.lower() == "chanspy":
            return self._originate_chanspy(msg, aid, channel, is_async)
        if not application and not extension_exists(self.config.contexts, self.config.dialplan, context, exten):
            # main/manager.c action_originate: "Check early if the extension exists"
            # (ast_exists_extension), before anything is queued, Async or not: a missing
            # context (orig-fail-target in ami-login-and-actions.txt) or a missing
            # extension in an existing context.
            return ActionResult([error(aid, "Extension does not exist.")])
        priority_text = msg.get("Priority") or "1"
        priority = int(priority_text) if priority_text.isdigit() else 1
        timeout_text = msg.get("Timeout") or "30000"
        timeout = int(timeout_text) / 1000.0 if timeout_text.isdigit() else 30.0
        cid_name, cid_num = parse_callerid(msg.get("CallerID") or "")
        variables: list[tuple[str, str]] = []
        for line in msg.getall("Variable"):
            for item in line.split(","):
                key, sep, value = item.partition("=")
                if sep and key.strip():
                    variables.append((key.strip(), value))
        tech, _, rest = channel.partition("/")
        dest, _, dial_context = rest.partition("@")
        number = dest.split("/")[0]
        channel_id = msg.get("ChannelId") or None
        other_id = msg.get("OtherChannelId") or None
        # A ChannelId/OtherChannelId a live channel already has: Asterisk 22.10.1
        # main/channel.c do_ids_conflict() logs "Channel Unique ID '...' already in use"
        # and the channel allocation fails, so the Originate fails like an unknown
        # technology (below): sync "Originate failed", Async queued + Reason 0.
        live_ids = {ch.uniqueid for ch in self.renderer.channels.values()}
        ids_conflict = bool({channel_id, other_id} & live_ids - {None}) or channel_id in self.renderer.calls
        self.stats["originates"] += 1
        self._call_seq += 1
        call_id = channel_id or f"sim-{self._call_seq}"
        call = Call(
            call_id=call_id, number=number, dial_channel=channel,
            dial_context=dial_context or "default", context=context, exten=exten,
            priority=priority, timeout=timeout, action_id=aid, cid_num=cid_num, cid_name=cid_name,
            variables=variables, channel_id=channel_id, other_channel_id=other_id,
            is_async=is_async,
        )
        result = ActionResult()
        tech_ok = tech in KNOWN_TECHS and bool(number) and not ids_conflict
        if tech == "Local" and not extension_exists(self.config.contexts, self.config.dialplan,
                                                     dial_context, number):
            # main/core_local.c local_call: "No such extension/context" -> the call fails.
            tech_ok = False
        if not tech_ok:
            # orig-fail-sync / orig-fail-tech: "Originate failed"; orig-fail-async:
            # queued, then OriginateResponse Reason 0 with no channel at all.
            if not is_async:
                return ActionResult([error(aid, "Originate failed")])
            result.reply.append(response(aid, "Success", "Originate successfully queued"))
            self._render_t = self.world.now
            result.broadcast += self.renderer.fail_immediately(call)
            self._render_t = None
            self._drain_resolved()
            return result
        app = self.config.audiosocket.get(context)
        if app is not None:
            values = dict(variables)
            call.app = ("AudioSocket", f"{expand_variables(app.uuid, values)},"
                                       f"{expand_variables(app.target, values)}")
        self.renderer.calls[call_id] = call
        limit = self.config.ring_limits.get(number, self.config.ring_limit)
        world_timeout = timeout if limit is None else min(timeout, limit)
        try:
            self.world.originate(call_id, number, timeout=world_timeout,
                                 queue=context not in self.config.audiosocket,
                                 abandon_after=_queue_timeout(variables))
        except WorldError:
            self.renderer.calls.pop(call_id, None)
            return ActionResult([error(aid, "Originate failed")])
        if is_async:
            result.reply.append(response(aid, "Success", "Originate successfully queued"))
        else:
            result.wait_for = call
        result.broadcast += self._run_world(self.world.now)
        return result

    # ------------------------------------------------------ ChanSpy (monitoring)
    def _originate_chanspy(self, msg: Message, aid: str | None, channel: str, is_async: bool) -> ActionResult:
        """Originate with ``Application: ChanSpy`` (a supervisor's listen/whisper/barge).

        Asterisk dials ``Channel`` and, once it answers, runs ChanSpy(chanprefix,options) on
        it (main/manager.c action_originate() -> ast_pbx_outgoing_app()); the async result is
        ``OriginateResponse`` Reason 4 for the answered channel (main/pbx.c
        pbx_outgoing_attempt(); the Reason values of ami-login-and-actions.txt). ChanSpy
        spies on the first channel whose name starts with ``chanprefix`` and announces it
        with ``ChanSpyStart`` (Spyer*/Spyee* channel snapshots: apps/app_chanspy.c
        channel_spy() -> ast_channel_publish_chanspy_start(), main/manager_channels.c
        "ChanSpyStart"); with ``E`` it hangs up when the spied channel hangs up, after
        ``ChanSpyStop``; with ``S`` and nothing to spy on it returns at once and the
        channel hangs up (apps/app_chanspy.c OPTION_EXITONHANGUP, OPTION_STOP).
        Evidence: none for the supervisor answering at once (a person picking up their
        own phone) nor for the dialled channel's context (``default``/``s``)."""
        tech, _, resource = channel.partition("/")
        data = msg.get("Data") or ""
        prefix, _, options = data.partition(",")
        cid_name, cid_num = parse_callerid(msg.get("CallerID") or "")
        if tech not in KNOWN_TECHS or tech == "Local" or not resource:
            # orig-fail-sync / orig-fail-async (ami-login-and-actions.txt): as any dial failure.
            if not is_async:
                return ActionResult([error(aid, "Originate failed")])
            self._call_seq += 1
            call = Call(call_id=f"spy-{self._call_seq}", number=resource, dial_channel=channel,
                        dial_context="", context="", exten="", priority=1, timeout=30.0, action_id=aid,
                        cid_num=cid_num, cid_name=cid_name, variables=[], channel_id=None,
                        other_channel_id=None, is_async=True)
            result = ActionResult([response(aid, "Success", "Originate successfully queued")])
            result.broadcast += self.renderer.fail_immediately(call)
            self._drain_resolved()
            return result
        r = self.renderer
        self._spy_seq += 1
        uid = r._uniqueid()
        spyer = Channel(f"{channel}-{self._spy_seq:08x}", uid, uid, UP, "default", "s", created=self.clock.now(),
                        cid_num=cid_num or "<unknown>", cid_name=cid_name or "<unknown>",
                        application="ChanSpy", app_data=data)
        events: list[Event] = [
            r._chan_ev("Newchannel", Channel(spyer.name, uid, uid, 0, "default", "s")),
            r._chan_ev("Newstate", spyer),
        ]
        reply = [response(aid, "Success", "Originate successfully queued")]
        if is_async:
            pairs: Event = [("ActionID", aid)] if aid is not None else []
            pairs += [("Response", "Success"), ("Channel", spyer.name), ("Context", ""), ("Exten", ""),
                      ("Reason", "4"), ("Uniqueid", uid), ("CallerIDNum", cid_num or "<unknown>"),
                      ("CallerIDName", cid_name or "<unknown>")]
            events.append(r._ev("OriginateResponse", CALL, pairs))
        targets = sorted(n for n in r.channels if prefix and n.startswith(prefix))
        if not targets:  # nothing to spy on ("S"): ChanSpy returns, the channel hangs up
            events.append(r._chan_ev("Hangup", spyer, ("Cause", "16"), ("Cause-txt", "Normal Clearing")))
            return ActionResult(reply, broadcast=events)
        spyee = r.channels[targets[0]]
        self.spies[spyer.name] = (spyer, spyee)
        events.append(r._ev("ChanSpyStart", CALL, spyer.header("Spyer"), spyee.header("Spyee")))
        return ActionResult(reply, broadcast=events)

    def _end_spy(self, name: str) -> list[Event]:
        spyer, spyee = self.spies.pop(name)
        r = self.renderer
        return [r._ev("ChanSpyStop", CALL, spyer.header("Spyer"), spyee.header("Spyee")),
                r._chan_ev("Hangup", spyer, ("Cause", "16"), ("Cause-txt", "Normal Clearing"))]

    def _end_spies(self) -> list[Event]:
        """``E``: the spied channel hung up, so ChanSpy stops and the supervisor's leg ends."""
        out: list[Event] = []
        for name, (_spyer, spyee) in list(self.spies.items()):
            if spyee.name not in self.renderer.channels:
                out += self._end_spy(name)
        return out

    def _a_showdialplan(self, msg: Message, aid: str | None, s: SessionState) -> ActionResult:
        """main/pbx.c manager_show_dialplan: "Did not find context X" / "Did not find
        extension E@X" errors, else ListDialplan items then ShowDialPlanComplete with the
        counters. The simulated dialplan has one priority per extension (its
        applications are not modelled: ``NoOp``)."""
        context = msg.get("Context") or ""
        exten = msg.get("Extension") or ""
        cfg = self.config
        contexts = [c for c in (*cfg.contexts, *cfg.dialplan) if not context or c == context]
        contexts = list(dict.fromkeys(contexts))
        if context and not contexts:
            return ActionResult([error(aid, f"Did not find context {context}")])
        items: list[tuple[str, str]] = []
        for ctx in contexts:
            if exten:
                items += [(ctx, p) for p in matching_patterns(cfg.dialplan, ctx, exten)]
            else:
                items += [(ctx, p) for p in cfg.dialplan.get(ctx, ())]
        if exten and not items:
            where = f"{exten}@{context}" if context else f"{exten} in any context"
            return ActionResult([error(aid, f"Did not find extension {where}")])
        reply = [self._list_response(aid, "DialPlan list will follow")]
        for ctx, ext in items:
            reply.append(self._list_event("ListDialplan", [
                ("Context", ctx), ("Extension", ext), ("Priority", "1"), ("Application", "NoOp"),
                ("AppData", ""), ("Registrar", "pbx_config")], aid))
        done = self._complete("ShowDialPlanComplete", aid, len(items))
        done += [("ListExtensions", str(len(items))), ("ListPriorities", str(len(items))),
                 ("ListContexts", str(len({c for c, _ in items})))]
        reply.append(done)
        return ActionResult(reply)

    # --------------------------------------------------------------- helpers
    @staticmethod
    def _list_response(aid: str | None, message: str) -> Event:
        pairs: Event = [("Response", "Success")]
        if aid is not None:
            pairs.append(("ActionID", aid))
        pairs += [("EventList", "start"), ("Message", message)]
        return pairs

    @staticmethod
    def _list_event(name: str, fields: Event, aid: str | None, id_last: bool = False) -> Event:
        # List items carry the ActionID: right after Event for most (ExtensionStatus,
        # CoreShowChannel), at the end for app_queue's (QueueParams, QueueMember).
        ev: Event = [("Event", name)]
        if aid is not None and not id_last:
            ev.append(("ActionID", aid))
        ev += fields
        if aid is not None and id_last:
            ev.append(("ActionID", aid))
        return ev

    @staticmethod
    def _complete(name: str, aid: str | None, items: int) -> Event:
        ev: Event = [("Event", name)]
        if aid is not None:
            ev.append(("ActionID", aid))
        ev += [("EventList", "Complete"), ("ListItems", str(items))]
        return ev


def _event_tv(epoch: float) -> str:
    """``2026-11-23T14:55:03.247+0000`` (SuccessfulAuth EventTV)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch * 1000) % 1000:03d}+0000"


__all__ = ["ActionResult", "SessionState", "SimulatedPBX", "AGENT", "CALL"]
