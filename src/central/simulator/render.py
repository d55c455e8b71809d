"""World events -> the AMI events Asterisk 22 prints for them.

The world (``world.py``) says *what* happened to a call ("dialing", "answered",
"connected", "hangup" by the agent...). This module says how Asterisk 22.10.1 shows it on
the manager interface: which channels exist (a Local channel pair ``;1``/``;2`` per
customer call, another pair per agent call, like the fixtures' dialplan), which events
each step produces, with which fields and in which order. Each ``_render_*`` method
cites the ``ami-event-stream-*.txt`` file it reproduces.

It is sans-I/O: methods take a time and return lists of events (each a list of
``(key, value)`` pairs ready for ``encode_message``); the AMI server broadcasts them.

Events the real Asterisk sends that we leave out, on purpose:

* ``Newexten`` (one per dialplan priority executed): they describe the fixture's test
  dialplan (``NoOp``, ``GotoIf``, ``Wait`` lines), not anything a client should depend
  on; a production dialplan differs. The channel's Context/Exten/Priority/Application
  still move as in the fixtures, so CoreShowChannels/Status show the same values.
* ``VarSet`` of variables set by the dialplan or by app_queue (``LAST``, ``MEMBER*``,
  ``QUEUE*``, ``QE*``, ``BRIDGEPEER``, ``DIALEDPEERNUMBER``, ``ANSWEREDTIME``...):
  internal bookkeeping. ``VarSet`` IS sent for the variables the client passed on the
  Originate (``Variable: CAMPAIGN=demo``...), on both Local legs in the fixture order,
  because a dialer uses them to match channels to attempts (ami-core-show-channels.txt).
* ``MixMonitorStart``, ``DTMF*`` (AudioSocket sessions are not simulated over AMI).

Everything else in the call streams is rendered: Newchannel, NewCallerid,
NewConnectedLine, LocalBridge, DialBegin/DialState/DialEnd, Newstate,
OriginateResponse, DeviceStateChange, QueueCallerJoin/Leave/Abandon, AgentCalled,
AgentConnect, AgentComplete, QueueMemberStatus/Pause, Bridge*, HangupRequest,
SoftHangupRequest, Hangup. Asterisk emits some of them from different threads, so their
relative order across *different* channels varies between captures (OriginateResponse
vs the queue events, DeviceStateChange); per channel the order is fixed, and that is
what tests compare.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

Event = list[tuple[str, str]]

CALL = "call,all"
AGENT = "agent,all"

# Channel states and their descriptions: every capture's ChannelState/ChannelStateDesc;
# Asterisk 22.10.1 main/channel.c ast_state2str().
STATE_DESC = {
    0: "Down", 1: "Rsrvd", 2: "OffHook", 3: "Dialing", 4: "Ring", 5: "Ringing",
    6: "Up", 7: "Busy", 8: "Dialing Offhook", 9: "Pre-ring",
}
DOWN, RING, RINGING, UP, BUSY = 0, 4, 5, 6, 7

# Hangup Cause-txt: the captures' Hangup events (0, 16, 17, 19, 34); the rest as
# Asterisk 22.10.1 main/channel.c causes[] / ast_cause2str() prints them.
CAUSE_TEXT = {
    0: "Unknown", 1: "Unallocated (unassigned) number", 16: "Normal Clearing",
    17: "User busy", 18: "No user responding", 19: "User alerting, no answer",
    21: "Call Rejected", 27: "Destination out of order", 34: "Circuit/channel congestion",
    38: "Network out of order",
}

# OriginateResponse Reason codes (ami-login-and-actions.txt and the call streams): the
# AST_CONTROL_* frame type the dial ended with (Asterisk 22.10.1 include/asterisk/frame.h,
# main/pbx.c pbx_dial_reason(): 1 hangup, 3 ringing = no answer, 4 answer, 5 busy,
# 8 congestion, 0 = failure).
REASON_FAILURE, REASON_HANGUP, REASON_NOANSWER, REASON_ANSWERED = 0, 1, 3, 4
REASON_BUSY, REASON_CONGESTION = 5, 8


@dataclass
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    state: int
    context: str
    exten: str
    priority: int = 1
    cid_num: str = "<unknown>"
    cid_name: str = "<unknown>"
    conn_num: str = "<unknown>"
    conn_name: str = "<unknown>"
    application: str = ""
    app_data: str = ""
    created: float = 0.0
    bridge_id: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    call_id: str = ""

    def header(self, prefix: str = "") -> Event:
        """The channel snapshot block every channel event carries (same keys, same
        order in all fixtures: Channel ... Linkedid)."""
        p = prefix
        return [
            (p + "Channel", self.name),
            (p + "ChannelState", str(self.state)),
            (p + "ChannelStateDesc", STATE_DESC.get(self.state, "Unknown")),
            (p + "CallerIDNum", self.cid_num),
            (p + "CallerIDName", self.cid_name),
            (p + "ConnectedLineNum", self.conn_num),
            (p + "ConnectedLineName", self.conn_name),
            (p + "Language", "en"),
            (p + "AccountCode", ""),
            (p + "Context", self.context),
            (p + "Exten", self.exten),
            (p + "Priority", str(self.priority)),
            (p + "Uniqueid", self.uniqueid),
            (p + "Linkedid", self.linkedid),
        ]


@dataclass
class QueueMember:
    """One member of a queue, as QueueStatus / QueueMemberStatus print it."""

    queue: str
    name: str
    interface: str
    state_interface: str
    membership: str = "static"
    penalty: int = 0
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = 0
    in_call: int = 0
    status: int = 1  # ast_device_state: 0 unknown, 1 not in use, 2 in use, 6 ringing ...
    paused: bool = False
    paused_reason: str = ""
    wrapuptime: int = 0
    agent: str = ""  # the World's agent name, "" for members the World does not model

    def event_fields(self) -> Event:
        """Fields of QueueMemberStatus/Pause/Added/Removed (ami-queue-member-pause.txt)."""
        return [
            ("Queue", self.queue), ("MemberName", self.name), ("Interface", self.interface),
            ("StateInterface", self.state_interface), ("Membership", self.membership),
            ("Penalty", str(self.penalty)), ("CallsTaken", str(self.calls_taken)),
            ("LastCall", str(self.last_call)), ("LastPause", str(self.last_pause)),
            ("LoginTime", str(self.login_time)), ("InCall", str(self.in_call)),
            ("Status", str(self.status)), ("Paused", "1" if self.paused else "0"),
            ("PausedReason", self.paused_reason), ("Ringinuse", "0"),
            ("Wrapuptime", str(self.wrapuptime)),
        ]

    def list_fields(self) -> Event:
        """Fields of the QueueMember list item (ami-queue-actions.txt): Name/Location
        instead of MemberName/Interface, no Ringinuse."""
        return [
            ("Queue", self.queue), ("Name", self.name), ("Location", self.interface),
            ("StateInterface", self.state_interface), ("Membership", self.membership),
            ("Penalty", str(self.penalty)), ("CallsTaken", str(self.calls_taken)),
            ("LastCall", str(self.last_call)), ("LastPause", str(self.last_pause)),
            ("LoginTime", str(self.login_time)), ("InCall", str(self.in_call)),
            ("Status", str(self.status)), ("Paused", "1" if self.paused else "0"),
            ("PausedReason", self.paused_reason), ("Wrapuptime", str(self.wrapuptime)),
        ]


@dataclass
class Call:
    """One Originate and the channels it produced."""

    call_id: str
    number: str
    dial_channel: str  # the Originate's Channel header, e.g. Local/5511999990002@customers
    dial_context: str  # customers
    context: str  # Originate Context (where the answered ;1 leg continues)
    exten: str
    priority: int
    timeout: float
    action_id: str | None
    cid_num: str = ""
    cid_name: str = ""
    variables: list[tuple[str, str]] = field(default_factory=list)
    channel_id: str | None = None
    other_channel_id: str | None = None
    started: float = 0.0
    phase: str = "new"  # new, dialing, ringing, up, queued, connected, ended
    leg1: Channel | None = None
    leg2: Channel | None = None
    agent: str | None = None
    agent1: Channel | None = None
    agent2: Channel | None = None
    bridge_id: str = ""
    answered_at: float = 0.0
    queued_at: float = 0.0
    connected_at: float = 0.0
    # app_queue keeps these as time(NULL) (whole epoch seconds): qe->start at join,
    # callstart at connect; its HoldTime/TalkTime/Wait are differences of them.
    queued_s: int = 0
    connected_s: int = 0
    queue_position: int = 0
    hangup_cause: int | None = None  # set when a client asked for Hangup via AMI
    hangup_agent_leg: bool = False  # ... on one of the agent's channels
    reason: int | None = None  # OriginateResponse Reason once resolved
    is_async: bool = True  # only an Async Originate gets an OriginateResponse event
    # The application the answered ;1 leg runs: Queue() in the captured dialer calls
    # (ami-core-show-channels.txt), AudioSocket() in a SimulatorConfig.audiosocket context.
    app: tuple[str, str] | None = None

    @property
    def device(self) -> str:
        return f"Local/{self.number}@{self.dial_context}"


class Renderer:
    """Keeps the channel/queue model Asterisk would have and renders each step."""

    def __init__(
        self,
        epoch: Callable[[], float],
        queue: str = "sales",
        agent_names: Callable[[str], str] | None = None,
        login_time: int = 0,
        seed: int = 0,
    ) -> None:
        self._epoch = epoch
        self._rng = random.Random(seed)
        self.queue = queue
        self._agent_name = agent_names or (lambda a: a)
        self.channels: dict[str, Channel] = {}
        self.calls: dict[str, Call] = {}
        self.members: dict[str, QueueMember] = {}  # interface -> member
        self.waiting: list[str] = []  # call ids in the queue, in order
        self.resolved: list[Call] = []  # calls whose OriginateResponse was just rendered
        self.completed = 0
        self.abandoned = 0
        self.processed_calls = 0
        self._uid_seq = 0
        self._local_seq = 0
        self._login_time = login_time
        # Queue averages as app_queue keeps them (QueueParams Holdtime/TalkTime,
        # QueueSummary HoldTime/TalkTime): see _average.
        self.holdtime = 0
        self.talktime = 0

    # ------------------------------------------------------------ helpers
    def member_for_agent(self, agent: str) -> QueueMember:
        iface = f"Local/{agent}@agent-phones"
        member = self.members.get(iface)
        if member is None:
            member = QueueMember(
                queue=self.queue, name=self._agent_name(agent), interface=iface,
                state_interface=iface, login_time=self._login_time, agent=agent,
            )
            self.members[iface] = member
        return member

    def time_null(self) -> int:
        """``time(NULL)`` at the instant being rendered: app_queue's clock (whole seconds)."""
        return int(self._epoch())

    @staticmethod
    def _average(old: int, new: int, first: bool) -> int:
        """app_queue's exponential average of hold and talk times: the first value as
        is, then ``((old << 2) - old + new) >> 2`` (Asterisk 22.10.1 apps/app_queue.c
        recalc_holdtime(), update_queue())."""
        return new if first else ((old << 2) - old + new) >> 2

    def _uniqueid(self) -> str:
        # Asterisk: "<creation epoch seconds>.<global sequence>" (e.g. 1795445790.22 in
        # ami-event-stream-customer-hangup.txt; main/channel_internal_api.c
        # __ast_channel_internal_alloc_with_initializers(), "%li.%d" without a system name).
        uid = f"{int(self._epoch())}.{self._uid_seq}"
        self._uid_seq += 1
        return uid

    def _local_pair(self, base: str, context: str, exten: str, now: float,
                    id1: str | None, id2: str | None, linkedid: str | None, call_id: str,
                    ) -> tuple[Channel, Channel]:
        # Local channel names: "Local/<exten>@<context>-<8 hex digits>;1|;2", one
        # sequence shared by all Local pairs (customers-00000009, agent-phones-0000000a;
        # main/core_unreal.c ast_unreal_new_channels(), "%s/%s-%08x;1").
        seq = f"{self._local_seq:08x}"
        self._local_seq += 1
        u1 = id1 or self._uniqueid()
        # main/core_unreal.c ast_unreal_new_channels: "if id1 given but not id2, use
        # default of id1;2" (an Originate with ChannelId and no OtherChannelId).
        u2 = id2 or (f"{id1};2" if id1 else self._uniqueid())
        link = linkedid or u1
        c1 = Channel(f"{base}-{seq};1", u1, link, DOWN, context, exten, created=now, call_id=call_id)
        c2 = Channel(f"{base}-{seq};2", u2, link, RING, context, exten, created=now, call_id=call_id)
        self.channels[c1.name] = c1
        self.channels[c2.name] = c2
        return c1, c2

    @staticmethod
    def _ev(name: str, priv: str, *parts: Event) -> Event:
        ev: Event = [("Event", name), ("Privilege", priv)]
        for part in parts:
            ev.extend(part)
        return ev

    def _chan_ev(self, name: str, ch: Channel, *extra: tuple[str, str], priv: str = CALL) -> Event:
        return self._ev(name, priv, ch.header(), list(extra))

    def _dsc(self, device: str, state: str) -> Event:
        return self._ev("DeviceStateChange", CALL, [("Device", device), ("State", state)])

    def _hangup(self, ch: Channel, cause: int) -> Event:
        self.channels.pop(ch.name, None)
        return self._chan_ev("Hangup", ch, ("Cause", str(cause)),
                             ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown")))

    def _local_bridge(self, c1: Channel, c2: Channel) -> Event:
        return self._ev("LocalBridge", CALL, c1.header("LocalOne"), c2.header("LocalTwo"),
                        [("Context", c1.context), ("Exten", c1.exten), ("LocalOptimization", "Yes")])

    def _bridge_fields(self, bridge_id: str, count: int) -> Event:
        return [
            ("BridgeUniqueid", bridge_id), ("BridgeType", "basic"),
            ("BridgeTechnology", "simple_bridge"), ("BridgeCreator", "<unknown>"),
            ("BridgeName", "<unknown>"), ("BridgeNumChannels", str(count)),
            ("BridgeVideoSourceMode", "none"),
        ]

    def _originate_response(self, call: Call, reason: int) -> Event | None:
        # Success: the ;1 channel and its Uniqueid. Failure: the Originate's own Channel
        # text and Uniqueid <unknown> (ami-login-and-actions.txt, ami-event-stream-busy.txt).
        call.reason = reason
        self.resolved.append(call)
        if not call.is_async:
            # A synchronous Originate is answered by its Response only
            # (ami-login-and-actions.txt orig-sync-1: no OriginateResponse event).
            return None
        ok = reason == REASON_ANSWERED and call.leg1 is not None
        pairs: Event = []
        if call.action_id is not None:
            pairs.append(("ActionID", call.action_id))
        pairs += [
            ("Response", "Success" if ok else "Failure"),
            ("Channel", call.leg1.name if ok and call.leg1 else call.dial_channel),
            ("Context", call.context), ("Exten", call.exten), ("Reason", str(reason)),
            ("Uniqueid", call.leg1.uniqueid if ok and call.leg1 else "<unknown>"),
            ("CallerIDNum", call.cid_num or "<unknown>"),
            ("CallerIDName", call.cid_name or "<unknown>"),
        ]
        return self._ev("OriginateResponse", CALL, pairs)

    def fail_immediately(self, call: Call) -> list[Event]:
        """Originate that fails before any channel exists (unknown context or
        technology): only the OriginateResponse, Reason 0 (ami-login-and-actions.txt,
        orig-fail-async)."""
        call.phase = "ended"
        ev = self._originate_response(call, REASON_FAILURE)
        return [ev] if ev is not None else []

    # ------------------------------------------------------------ world events
    def render(self, kind: str, call_id: str, data: dict, now: float) -> list[Event]:
        if not call_id:
            return self._render_agent(kind, data, now)
        call = self.calls.get(call_id)
        if call is None or call.phase == "ended":
            return []
        method = getattr(self, f"_render_{kind}", None)
        if method is None:
            return []
        return [ev for ev in method(call, data, now) if ev is not None]

    def _render_dialing(self, call: Call, data: dict, now: float) -> list[Event]:
        # ami-event-stream-answered-queue-agent.txt, first 15 events (Newexten omitted).
        call.phase = "dialing"
        call.started = now
        self.processed_calls += 1
        base = f"Local/{call.number}@{call.dial_context}"
        c1, c2 = self._local_pair(base, call.dial_context, call.number, now,
                                  call.channel_id, call.other_channel_id, None, call.call_id)
        call.leg1, call.leg2 = c1, c2
        for ch in (c1, c2):
            ch.variables.update(dict(call.variables))
        out = [self._chan_ev("Newchannel", c1), self._chan_ev("Newchannel", c2)]
        # ;1 receives the Originate variables in reverse order, ;2 in order (fixture).
        for key, value in reversed(call.variables):
            out.append(self._chan_ev("VarSet", c1, ("Variable", key), ("Value", value), priv="dialplan,all"))
        cid_num = call.cid_num or "<unknown>"
        cid_name = call.cid_name or "<unknown>"
        c1.cid_num, c1.cid_name = cid_num, cid_name
        c1.application, c1.app_data = "AppDial2", "(Outgoing Line)"
        out.append(self._chan_ev("NewCallerid", c1, ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")))
        c1.conn_num, c1.conn_name = cid_num, cid_name
        out.append(self._chan_ev("NewConnectedLine", c1))
        for key, value in call.variables:
            out.append(self._chan_ev("VarSet", c2, ("Variable", key), ("Value", value), priv="dialplan,all"))
        c2.cid_num, c2.cid_name, c2.conn_num, c2.conn_name = cid_num, cid_name, cid_num, cid_name
        out.append(self._chan_ev("NewCallerid", c2, ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")))
        out.append(self._chan_ev("NewConnectedLine", c2))
        out.append(self._local_bridge(c1, c2))
        out.append(self._ev("DialBegin", CALL, c1.header("Dest"),
                            [("DialString", f"{call.number}@{call.dial_context}")]))
        c2.application, c2.app_data, c2.priority = "Ringing", "", 8
        return out

    def _render_ringing(self, call: Call, data: dict, now: float) -> list[Event]:
        if call.phase != "dialing" or call.leg1 is None:
            return []
        call.phase = "ringing"
        c1 = call.leg1
        c1.state = RINGING
        call.leg2.application, call.leg2.app_data, call.leg2.priority = "Wait", "30", 9  # type: ignore[union-attr]
        return [
            self._chan_ev("Newstate", c1),
            self._ev("DialState", CALL, c1.header("Dest"), [("DialStatus", "RINGING")]),
            self._dsc(call.device, "INUSE"),
        ]

    def _render_answered(self, call: Call, data: dict, now: float) -> list[Event]:
        # ami-event-stream-ami-hangup.txt order: ;2 Up, ;1 Up, DialEnd ANSWER,
        # OriginateResponse Reason 4.
        out: list[Event] = []
        if call.phase == "dialing":
            out += self._render_ringing(call, data, now)
        if call.phase != "ringing":
            return out
        c1, c2 = call.leg1, call.leg2
        assert c1 is not None and c2 is not None
        call.phase = "up"
        call.answered_at = now
        c2.state, c2.priority, c2.application, c2.app_data = UP, 10, "Answer", ""
        out.append(self._chan_ev("Newstate", c2))
        out.append(self._dsc(call.device, "INUSE"))
        c1.state = UP
        out.append(self._chan_ev("Newstate", c1))
        out.append(self._dsc(call.device, "INUSE"))
        out.append(self._ev("DialEnd", CALL, c1.header("Dest"), [("DialStatus", "ANSWER")]))
        out.append(self._originate_response(call, REASON_ANSWERED))
        # The answered ;1 leg runs the Originate's target: Context/Exten, then Queue()
        # at the next priority (CoreShowChannel in ami-core-show-channels.txt).
        c1.context, c1.exten, c1.priority = call.context, call.exten, call.priority + 1
        c1.application, c1.app_data = call.app or ("Queue", f"{self.queue},r,,,60")
        c2.priority, c2.application, c2.app_data = 11, "Wait", "60"
        return out

    def _render_queued(self, call: Call, data: dict, now: float) -> list[Event]:
        if call.phase != "up":
            return []
        call.phase = "queued"
        call.queued_at = now
        call.queued_s = self.time_null()
        self.waiting.append(call.call_id)
        call.queue_position = len(self.waiting)
        c1 = call.leg1
        assert c1 is not None
        return [
            self._dsc(f"Queue:{self.queue}", "RINGING"),
            self._chan_ev("QueueCallerJoin", c1, ("Queue", self.queue),
                          ("Position", str(call.queue_position)), ("Count", str(len(self.waiting))),
                          priv=AGENT),
        ]

    def _render_connected(self, call: Call, data: dict, now: float) -> list[Event]:
        # ami-event-stream-answered-queue-agent.txt from the agent's Newchannel to the
        # second BridgeEnter. The World gives one instant for "agent rang and answered";
        # the ring is rendered at that instant (RingTime 0).
        out: list[Event] = []
        if call.phase == "up":
            out += self._render_queued(call, data, now)
        if call.phase != "queued":
            return out
        agent = str(data.get("agent", "agent1"))
        member = self.member_for_agent(agent)
        c1 = call.leg1
        assert c1 is not None
        call.phase = "connected"
        call.agent = agent
        call.connected_at = now
        call.connected_s = self.time_null()
        a1, a2 = self._local_pair(f"Local/{agent}@agent-phones", "agent-phones", agent, now,
                                  None, None, c1.linkedid, call.call_id)
        call.agent1, call.agent2 = a1, a2
        out.append(self._chan_ev("Newchannel", a1))
        out.append(self._chan_ev("Newchannel", a2))
        a1.cid_num, a1.cid_name = c1.cid_num, c1.cid_name
        a1.application, a1.app_data = "AppQueue", "(Outgoing Line)"
        out.append(self._chan_ev("NewCallerid", a1, ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")))
        a2.cid_num, a2.cid_name, a2.conn_num, a2.conn_name = c1.cid_num, c1.cid_name, c1.cid_num, c1.cid_name
        out.append(self._chan_ev("NewCallerid", a2, ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")))
        out.append(self._chan_ev("NewConnectedLine", a2))
        out.append(self._local_bridge(a1, a2))
        a1.exten = c1.exten
        queue_fields = [("Queue", self.queue), ("Interface", member.interface), ("MemberName", member.name)]
        out.append(self._ev("AgentCalled", AGENT, c1.header(), a1.header("Dest"), queue_fields))
        out.append(self._ev("DialBegin", CALL, c1.header(), a1.header("Dest"),
                            [("DialString", member.interface)]))
        a1.state, a1.conn_num, a1.conn_name = RINGING, c1.cid_num, c1.cid_name
        out.append(self._chan_ev("Newstate", a1))
        out.append(self._chan_ev("NewConnectedLine", a1))
        out.append(self._dsc(member.interface, "INUSE"))
        member.status = 2
        out.append(self._ev("QueueMemberStatus", AGENT, member.event_fields()))
        out.append(self._ev("DialState", CALL, c1.header(), a1.header("Dest"), [("DialStatus", "RINGING")]))
        a2.state, a2.exten, a2.priority, a2.application, a2.app_data = UP, "phone", 4, "Answer", ""
        out.append(self._chan_ev("Newstate", a2))
        a1.state = UP
        out.append(self._chan_ev("Newstate", a1))
        out.append(self._dsc(member.interface, "INUSE"))
        out.append(self._ev("DialEnd", CALL, c1.header(), a1.header("Dest"), [("DialStatus", "ANSWER")]))
        out.append(self._dsc(member.interface, "INUSE"))
        out.append(self._dsc(f"Queue:{self.queue}", "NOT_INUSE"))
        position = self._leave_queue(call)
        out.append(self._chan_ev("QueueCallerLeave", c1, ("Queue", self.queue),
                                 ("Position", str(position)), ("Count", str(len(self.waiting))), priv=AGENT))
        # AgentConnect HoldTime = time(NULL) - qe->start; the queue's average is
        # recalculated at that moment (Asterisk 22.10.1 apps/app_queue.c try_calling(),
        # recalc_holdtime()).
        hold = call.connected_s - call.queued_s
        self.holdtime = self._average(self.holdtime, hold, self.completed + self.abandoned == 0)
        out.append(self._ev("AgentConnect", AGENT, c1.header(), a1.header("Dest"), queue_fields,
                            [("HoldTime", str(hold)), ("RingTime", "0")]))
        call.bridge_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        out.append(self._ev("BridgeCreate", CALL, self._bridge_fields(call.bridge_id, 0)))
        a1.bridge_id = c1.bridge_id = call.bridge_id
        out.append(self._ev("BridgeEnter", CALL, self._bridge_fields(call.bridge_id, 1), a1.header()))
        out.append(self._ev("BridgeEnter", CALL, self._bridge_fields(call.bridge_id, 2), c1.header()))
        a2.priority, a2.application, a2.app_data = 5, "Wait", "60"
        return out

    def _leave_queue(self, call: Call) -> int:
        try:
            position = self.waiting.index(call.call_id) + 1
            self.waiting.remove(call.call_id)
        except ValueError:
            position = 1
        return position

    def _agent_complete(self, call: Call, now: float, reason: str, short: bool) -> Event:
        member = self.member_for_agent(call.agent or "agent1")
        c1, a1 = call.leg1, call.agent1
        assert c1 is not None and a1 is not None
        # Asterisk 22.10.1 apps/app_queue.c send_agent_complete(): HoldTime = callstart -
        # holdstart, TalkTime = time(NULL) - callstart (whole-second clock readings, so
        # 2.9 s of talk can print 3); update_queue() averages TalkTime into the queue.
        talk = self.time_null() - call.connected_s
        hold = call.connected_s - call.queued_s
        self.talktime = self._average(self.talktime, talk, self.completed == 0)
        tail = [("Queue", self.queue), ("Interface", member.interface), ("MemberName", member.name),
                ("HoldTime", str(hold)), ("TalkTime", str(talk)), ("Reason", reason)]
        if short:
            # ami-event-stream-ami-hangup.txt: the caller channel is already gone, so the
            # event carries no channel snapshots at all.
            return self._ev("AgentComplete", AGENT, tail)
        return self._ev("AgentComplete", AGENT, c1.header(), a1.header("Dest"), tail)

    def _member_done(self, call: Call, now: float) -> Event:
        member = self.member_for_agent(call.agent or "agent1")
        member.status = 1
        member.calls_taken += 1
        member.last_call = int(self._epoch())
        self.completed += 1
        return self._ev("QueueMemberStatus", AGENT, member.event_fields())

    def _render_hangup(self, call: Call, data: dict, now: float) -> list[Event]:
        if call.phase != "connected":
            return self._teardown(call, now, call.hangup_cause or 16)
        if call.hangup_cause is not None and call.hangup_agent_leg:
            return self._hangup_by_agent(call, now)  # like the agent hanging up
        if call.hangup_cause is not None:
            return self._hangup_by_ami(call, now, call.hangup_cause)
        if data.get("by") == "agent":
            return self._hangup_by_agent(call, now)
        return self._hangup_by_caller(call, now)

    def _hangup_by_agent(self, call: Call, now: float) -> list[Event]:
        # ami-event-stream-answered-queue-agent.txt, from the agent's Hangup(16).
        c1, c2, a1, a2 = call.leg1, call.leg2, call.agent1, call.agent2
        assert c1 and c2 and a1 and a2
        iface = self.member_for_agent(call.agent or "agent1").interface
        call.phase = "ended"
        a2.priority, a2.application, a2.app_data = 6, "Hangup", "16"
        out = [
            self._chan_ev("SoftHangupRequest", a2, ("Cause", "16")),
            self._chan_ev("HangupRequest", a1, ("Cause", "16")),
            self._hangup(a2, 16),
            self._agent_complete(call, now, "agent", short=False),
            self._ev("BridgeLeave", CALL, self._bridge_fields(call.bridge_id, 1), a1.header()),
            self._dsc(iface, "NOT_INUSE"),
            self._hangup(a1, 16),
            self._member_done(call, now),
            self._dsc(iface, "NOT_INUSE"),
            self._ev("BridgeLeave", CALL, self._bridge_fields(call.bridge_id, 0), c1.header()),
            self._ev("BridgeDestroy", CALL, self._bridge_fields(call.bridge_id, 0)),
            self._chan_ev("SoftHangupRequest", c1, ("Cause", "16")),
            self._chan_ev("HangupRequest", c2, ("Cause", "16")),
            self._hangup(c1, 16),
            self._dsc(call.device, "NOT_INUSE"),
            self._chan_ev("SoftHangupRequest", c2, ("Cause", "16")),
            self._hangup(c2, 16),
            self._dsc(call.device, "NOT_INUSE"),
        ]
        return out

    def _hangup_by_caller(self, call: Call, now: float) -> list[Event]:
        # ami-event-stream-customer-hangup.txt, from the customer's Hangup.
        c1, c2, a1, a2 = call.leg1, call.leg2, call.agent1, call.agent2
        assert c1 and c2 and a1 and a2
        iface = self.member_for_agent(call.agent or "agent1").interface
        call.phase = "ended"
        c2.priority, c2.application, c2.app_data = 24, "Hangup", ""
        return [
            self._chan_ev("SoftHangupRequest", c2, ("Cause", "16")),
            self._chan_ev("HangupRequest", c1, ("Cause", "16")),
            self._hangup(c2, 16),
            self._agent_complete(call, now, "caller", short=False),
            self._dsc(call.device, "NOT_INUSE"),
            self._ev("BridgeLeave", CALL, self._bridge_fields(call.bridge_id, 1), c1.header()),
            self._chan_ev("SoftHangupRequest", c1, ("Cause", "16")),
            self._hangup(c1, 16),
            self._ev("BridgeLeave", CALL, self._bridge_fields(call.bridge_id, 0), a1.header()),
            self._dsc(call.device, "NOT_INUSE"),
            self._ev("BridgeDestroy", CALL, self._bridge_fields(call.bridge_id, 0)),
            self._chan_ev("HangupRequest", a2, ("Cause", "16")),
            self._hangup(a1, 16),
            self._member_done(call, now),
            self._dsc(iface, "NOT_INUSE"),
            self._chan_ev("SoftHangupRequest", a2, ("Cause", "16")),
            self._hangup(a2, 16),
            self._dsc(iface, "NOT_INUSE"),
        ]

    def _hangup_by_ami(self, call: Call, now: float, cause: int) -> list[Event]:
        # ami-event-stream-ami-hangup.txt: `Action: Hangup` on the ;1 leg, Cause 16.
        c1, c2, a1, a2 = call.leg1, call.leg2, call.agent1, call.agent2
        assert c1 and c2 and a1 and a2
        iface = self.member_for_agent(call.agent or "agent1").interface
        call.phase = "ended"
        complete = self._agent_complete(call, now, "caller", short=True)
        return [
            self._ev("BridgeLeave", CALL, self._bridge_fields(call.bridge_id, 1), c1.header()),
            self._ev("BridgeLeave", CALL, self._bridge_fields(call.bridge_id, 0), a1.header()),
            self._chan_ev("SoftHangupRequest", c1, ("Cause", str(cause))),
            self._chan_ev("HangupRequest", c2, ("Cause", str(cause))),
            self._hangup(c1, cause),
            self._ev("BridgeDestroy", CALL, self._bridge_fields(call.bridge_id, 0)),
            self._chan_ev("HangupRequest", a2, ("Cause", "16")),
            self._hangup(a1, 16),
            complete,
            self._chan_ev("SoftHangupRequest", c2, ("Cause", "16")),
            self._hangup(c2, cause),
            self._chan_ev("SoftHangupRequest", a2, ("Cause", "16")),
            self._hangup(a2, 16),
            self._dsc(call.device, "NOT_INUSE"),
            self._member_done(call, now),
            self._dsc(iface, "NOT_INUSE"),
            self._dsc(call.device, "NOT_INUSE"),
            self._dsc(iface, "NOT_INUSE"),
        ]

    def _render_abandoned(self, call: Call, data: dict, now: float) -> list[Event]:
        # Not in the fixtures: the customer hangs up while waiting in the queue.
        # Asterisk 22.10.1 apps/app_queue.c queue_exec(): record_abandoned()
        # (QueueCallerAbandon, HoldTime = time(NULL) - qe->start) before leave_queue()
        # (QueueCallerLeave). The hangup events around them follow
        # ami-event-stream-customer-hangup.txt's customer hangup.
        if call.phase == "up":
            self._render_queued(call, data, now)
        if call.phase != "queued":
            return self._teardown(call, now, 16)
        c1, c2 = call.leg1, call.leg2
        assert c1 and c2
        call.phase = "ended"
        self.abandoned += 1
        original = call.queue_position
        position = self._leave_queue(call)
        hold = self.time_null() - call.queued_s  # app_queue.c record_abandoned(): time(NULL) - qe->start
        return [
            self._chan_ev("SoftHangupRequest", c2, ("Cause", "16")),
            self._chan_ev("HangupRequest", c1, ("Cause", "16")),
            self._hangup(c2, 16),
            self._chan_ev("QueueCallerAbandon", c1, ("Queue", self.queue), ("Position", str(position)),
                          ("OriginalPosition", str(original)), ("HoldTime", str(hold)), priv=AGENT),
            self._dsc(f"Queue:{self.queue}", "NOT_INUSE" if not self.waiting else "RINGING"),
            self._chan_ev("QueueCallerLeave", c1, ("Queue", self.queue), ("Position", str(position)),
                          ("Count", str(len(self.waiting))), priv=AGENT),
            self._chan_ev("SoftHangupRequest", c1, ("Cause", "16")),
            self._hangup(c1, 16),
            self._dsc(call.device, "NOT_INUSE"),
            self._dsc(call.device, "NOT_INUSE"),
        ]

    def _render_busy(self, call: Call, data: dict, now: float) -> list[Event]:
        # ami-event-stream-busy.txt: Busy() on ;2, OriginateResponse Reason 5, DialEnd
        # BUSY, ;1 Cause 0 and ;2 Cause 17.
        if call.leg1 is None:
            return self.fail_immediately(call)
        c1, c2 = call.leg1, call.leg2
        assert c2 is not None
        call.phase = "ended"
        c2.state, c2.priority, c2.application, c2.app_data = BUSY, 13, "Busy", "10"
        return [
            self._chan_ev("Newstate", c2),
            self._originate_response(call, REASON_BUSY),
            self._ev("DialEnd", CALL, c1.header("Dest"), [("DialStatus", "BUSY")]),
            self._chan_ev("HangupRequest", c2, ("Cause", "0")),
            self._hangup(c1, 0),
            self._dsc(call.device, "NOT_INUSE"),
            self._chan_ev("SoftHangupRequest", c2, ("Cause", "16")),
            self._hangup(c2, int(data.get("cause", 17) or 17)),
            self._dsc(call.device, "NOT_INUSE"),
            self._dsc(call.device, "NOT_INUSE"),
        ]

    def _render_congestion(self, call: Call, data: dict, now: float) -> list[Event]:
        # ami-event-stream-congestion.txt: Congestion() on ;2 (state Busy), DialEnd
        # CONGESTION, OriginateResponse Reason 8, ;2 Cause 34.
        if call.leg1 is None:
            return self.fail_immediately(call)
        c1, c2 = call.leg1, call.leg2
        assert c2 is not None
        call.phase = "ended"
        c2.state, c2.priority, c2.application, c2.app_data = BUSY, 18, "Congestion", "10"
        return [
            self._chan_ev("Newstate", c2),
            self._ev("DialEnd", CALL, c1.header("Dest"), [("DialStatus", "CONGESTION")]),
            self._chan_ev("HangupRequest", c2, ("Cause", "0")),
            self._dsc(call.device, "NOT_INUSE"),
            self._originate_response(call, REASON_CONGESTION),
            self._hangup(c1, 0),
            self._chan_ev("SoftHangupRequest", c2, ("Cause", "16")),
            self._hangup(c2, int(data.get("cause", 34) or 34)),
            self._dsc(call.device, "NOT_INUSE"),
            self._dsc(call.device, "NOT_INUSE"),
        ]

    def _render_noanswer(self, call: Call, data: dict, now: float) -> list[Event]:
        if call.leg1 is None:
            return self.fail_immediately(call)
        out: list[Event] = []
        if call.phase == "dialing":
            out += self._render_ringing(call, data, now)
        c1, c2 = call.leg1, call.leg2
        assert c2 is not None
        call.phase = "ended"
        cause = int(data.get("cause", 19) or 19)
        by_timeout = data.get("reason") == "timeout" or (
            data.get("reason") is None and now - call.started >= call.timeout - 1e-6
        )
        if by_timeout:
            # ami-event-stream-noanswer-timeout.txt: the Originate timer fires:
            # OriginateResponse Reason 3 and NO DialEnd.
            c2.priority = 16
            out += [
                self._chan_ev("HangupRequest", c2, ("Cause", str(cause))),
                self._originate_response(call, REASON_NOANSWER),
                self._chan_ev("SoftHangupRequest", c2, ("Cause", "16")),
                self._hangup(c2, cause),
                self._hangup(c1, cause),
                self._dsc(call.device, "NOT_INUSE"),
                self._dsc(call.device, "NOT_INUSE"),
            ]
        else:
            # ami-event-stream-noanswer-cause19.txt: the network releases with cause
            # 19: OriginateResponse Reason 0 (!) first, then DialEnd NOANSWER.
            c2.priority, c2.application, c2.app_data = 27, "Hangup", str(cause)
            out += [
                self._originate_response(call, REASON_FAILURE),
                self._chan_ev("SoftHangupRequest", c2, ("Cause", "16")),
                self._chan_ev("HangupRequest", c1, ("Cause", str(cause))),
                self._hangup(c2, cause),
                self._ev("DialEnd", CALL, c1.header("Dest"), [("DialStatus", "NOANSWER")]),
                self._hangup(c1, cause),
                self._dsc(call.device, "NOT_INUSE"),
                self._dsc(call.device, "NOT_INUSE"),
            ]
        return out

    def _render_failed(self, call: Call, data: dict, now: float) -> list[Event]:
        if call.leg1 is None:
            return self.fail_immediately(call)
        return self._teardown(call, now, int(data.get("cause", 0) or 0))

    def _teardown(self, call: Call, now: float, cause: int) -> list[Event]:
        """Generic end of a call in a state the fixtures do not cover (a Hangup action
        while ringing or queued, a failure after dialing): request, hang up every leg
        that still exists, resolve the Originate if it was still pending.

        Evidence: none for this sequence (not captured); each event's shape is the
        captured one, and a pending Originate resolves with Reason 1 (AST_CONTROL_HANGUP,
        main/pbx.c pbx_dial_reason() for AST_DIAL_RESULT_HANGUP)."""
        out: list[Event] = []
        was_pending = call.reason is None
        if call.call_id in self.waiting:
            position = self._leave_queue(call)
            if call.leg1 is not None:
                out.append(self._chan_ev("QueueCallerLeave", call.leg1, ("Queue", self.queue),
                                         ("Position", str(position)), ("Count", str(len(self.waiting))),
                                         priv=AGENT))
        call.phase = "ended"
        for ch in (call.leg1, call.agent1):
            if ch is not None and ch.name in self.channels:
                out.append(self._chan_ev("SoftHangupRequest", ch, ("Cause", str(cause))))
        for ch in (call.leg1, call.leg2, call.agent1, call.agent2):
            if ch is not None and ch.name in self.channels:
                out.append(self._hangup(ch, cause))
        if call.agent:
            member = self.member_for_agent(call.agent)
            member.status = 1
            out.append(self._ev("QueueMemberStatus", AGENT, member.event_fields()))
            out.append(self._dsc(member.interface, "NOT_INUSE"))
        if was_pending:
            out.append(self._originate_response(call, REASON_HANGUP if call.leg1 else REASON_FAILURE))
        out.append(self._dsc(call.device, "NOT_INUSE"))
        return out

    # ------------------------------------------------------------ agent events
    def _render_agent(self, kind: str, data: dict, now: float) -> list[Event]:
        agent = data.get("agent")
        if not agent or kind not in ("agent_paused", "agent_unpaused"):
            # agent_wrapup / agent_free: app_queue has no event for wrap-up time
            # (apps/app_queue.c can_ring_entry() only skips the member meanwhile).
            return []
        member = self.member_for_agent(str(agent))
        paused = kind == "agent_paused"
        if member.paused == paused:
            return []  # already shown when the QueuePause action ran
        return self.pause_events(member, paused, str(data.get("reason", "")))

    def pause_events(self, member: QueueMember, paused: bool, reason: str) -> list[Event]:
        """QueuePause: ami-queue-member-pause.txt (pause: DeviceStateChange of
        ``Queue:<q>_pause_<iface>`` INUSE then QueueMemberPause; unpause: that device
        NOT_INUSE, ``Queue:<q>_avail`` NOT_INUSE, then QueueMemberPause)."""
        member.paused = paused
        member.paused_reason = reason if paused else ""
        if paused:
            member.last_pause = int(self._epoch())
            return [
                self._dsc(f"Queue:{member.queue}_pause_{member.interface}", "INUSE"),
                self._ev("QueueMemberPause", AGENT, member.event_fields()),
            ]
        return [
            self._dsc(f"Queue:{member.queue}_pause_{member.interface}", "NOT_INUSE"),
            self._dsc(f"Queue:{member.queue}_avail", "NOT_INUSE"),
            self._ev("QueueMemberPause", AGENT, member.event_fields()),
        ]

    def member_added(self, member: QueueMember) -> list[Event]:
        # ami-queue-member-pause.txt (QueueAdd add-1 of ami-queue-actions.txt): the pause
        # device NOT_INUSE, then QueueMemberAdded.
        self.members[member.interface] = member
        return [
            self._dsc(f"Queue:{member.queue}_pause_{member.interface}", "NOT_INUSE"),
            self._ev("QueueMemberAdded", AGENT, member.event_fields()),
        ]

    def member_removed(self, member: QueueMember) -> list[Event]:
        # ami-queue-member-pause.txt (QueueRemove remove-1): QueueMemberRemoved.
        self.members.pop(member.interface, None)
        return [self._ev("QueueMemberRemoved", AGENT, member.event_fields())]

    def member_state(self, member: QueueMember, status: int) -> list[Event]:
        # ami-queue-member-pause.txt: QueueMemberStatus after `devstate change
        # Custom:agent9` (Status 2, then 1).
        member.status = status
        return [self._ev("QueueMemberStatus", AGENT, member.event_fields())]

    # ------------------------------------------------------------ queue figures
    def queue_params(self) -> Event:
        # ami-queue-actions.txt qstatus-1 (field order); Holdtime/TalkTime are the
        # exponential averages (_average), as app_queue's QueueStatus prints q->holdtime.
        return [
            ("Queue", self.queue), ("Max", "0"), ("Strategy", "rrmemory"),
            ("Calls", str(len(self.waiting))),
            ("Holdtime", str(self.holdtime)),
            ("TalkTime", str(self.talktime)),
            ("Completed", str(self.completed)), ("Abandoned", str(self.abandoned)),
            ("ServiceLevel", "0"), ("ServicelevelPerf", "0.0"), ("ServicelevelPerf2", "0.0"),
            ("Weight", "0"),
        ]

    def longest_hold(self) -> int:
        """QueueSummary LongestHoldTime: time(NULL) - qe->start of the first caller
        (Asterisk 22.10.1 apps/app_queue.c manager_queues_summary())."""
        if not self.waiting:
            return 0
        first = self.calls.get(self.waiting[0])
        return self.time_null() - first.queued_s if first else 0
