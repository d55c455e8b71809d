"""Call detail records built from AMI events (pure: events and time in, records out).

One :class:`CallRecord` per call, where a call is every channel sharing a ``Linkedid``
(an Originate's ``;1``/``;2`` Local pair, the queue's agent legs, the bridge...).
:meth:`CdrBuilder.feed` returns the records of the calls that ended with that event: a
call ends when its last channel hangs up.

Rules, each from a capture in tests/fixtures/asterisk/:

* Direction: a call whose first dial has no calling channel (``DialBegin`` with only
  ``Dest*`` fields) was made by an Originate: ``outbound`` (every call capture). A call
  that starts with a channel already ringing in from outside (``Newchannel`` state 4
  Ring, not a Local channel) is ``inbound``.
* The customer leg is the call's first channel and its Local partner (same name up to
  ``;1``/``;2``). Its ``Newstate`` Up / ``DialEnd ANSWER`` is the answer time.
* Hangup cause: the ``;1`` leg of a Local pair reports cause 0 "Unknown" while the real
  cause is on ``;2`` (ami-event-stream-busy.txt: ``;1`` 0, ``;2`` 17 User busy;
  ami-event-stream-congestion.txt: ``;2`` 34). So the cause is the first non-zero cause
  on the customer leg, else on any leg.
* Disposition, strongest evidence first: answered (or ``abandoned`` when it went to a
  queue and no agent connected); the customer-leg ``DialEnd`` status (BUSY, NOANSWER,
  CONGESTION, CHANUNAVAIL); the hangup cause (17 busy, 18/19 no answer, 34/38/41/42/44
  congestion); the OriginateResponse Reason. The Reason alone is not trusted: a network
  "no answer" (cause 19) yields ``Reason: 0`` (ami-event-stream-noanswer-cause19.txt),
  and a call that rings into the Originate ``Timeout`` has Reason 3 and **no DialEnd**
  (ami-event-stream-noanswer-timeout.txt).
* Agent: ``AgentConnect`` (queue, member, hold time); ``AgentComplete`` (talk time and
  who hung up: ``Reason: agent`` / ``caller``). In ami-event-stream-ami-hangup.txt the
  AgentComplete has no Channel/Linkedid at all, so it is matched by queue + interface.
* Campaign attempt: the channel variable ``CENTRAL_ATTEMPT_ID`` (set by the dialer's
  Originate ``Variable:``; seen as ``VarSet`` in ami-event-stream-ami-hangup.txt). Other
  ``CENTRAL_*`` variables are kept in ``variables``.
* Events carry no time (unless ``timestampevents=yes``): the caller passes ``now``.
* ``duration`` (start -> end) and ``billsec`` (answer -> end) are whole seconds
  **truncated**, as Asterisk's CDR engine computes them (:func:`cdr_seconds`), so a call
  Asterisk bills as 6 s is 6 s here too (the Anatel short-call guard counts <= 6 s).

Calls already in progress when the link (re)connects are **adopted** from the resync's
``CoreShowChannels`` listing (see :meth:`CdrBuilder._listed_channel` for what can and
cannot be known after the fact); their records say ``adopted=True``. Their ``CENTRAL_*``
variables were set before the link listened (the ``VarSet`` events are gone): the caller
asks Asterisk for them (AMI ``Getvar``, :meth:`CdrBuilder.take_adopted`) and hands the
answers back with :meth:`CdrBuilder.set_variables`; this module does no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from central.telephony import chanvars

from .ami.protocol import Message
from .state import event_time, listed_age

__all__ = ["ADOPT_VARIABLES", "CallRecord", "CdrBuilder", "HANGUP_CAUSES", "DISPOSITIONS", "cdr_seconds"]

DISPOSITIONS = ("answered", "busy", "no_answer", "congestion", "failed", "abandoned")

# Q.850 cause texts as Asterisk prints them in Hangup "Cause-txt" (main/causes.c).
HANGUP_CAUSES: dict[int, str] = {
    0: "Unknown", 1: "Unallocated (unassigned) number", 3: "No route to destination",
    16: "Normal Clearing", 17: "User busy", 18: "No user responding",
    19: "User alerting, no answer", 21: "Call Rejected", 22: "Number changed",
    27: "Destination out of order", 28: "Invalid number format",
    31: "Normal, unspecified", 34: "Circuit/channel congestion", 38: "Network out of order",
    41: "Temporary failure", 42: "Switching equipment congestion",
    44: "Requested channel not available", 127: "Interworking, unspecified",
}
_CAUSE_DISPOSITION: dict[int, str] = {
    17: "busy", 18: "no_answer", 19: "no_answer", 34: "congestion", 38: "congestion",
    41: "congestion", 42: "congestion", 44: "congestion", 1: "failed", 3: "failed",
    21: "failed", 22: "failed", 27: "failed", 28: "failed",
}
_DIALSTATUS_DISPOSITION: dict[str, str] = {
    "BUSY": "busy", "NOANSWER": "no_answer", "CANCEL": "no_answer",
    "CONGESTION": "congestion", "CHANUNAVAIL": "failed", "INVALIDARGS": "failed",
}
_REASON_DISPOSITION: dict[int, str] = {
    1: "no_answer", 3: "no_answer", 5: "busy", 8: "congestion", 0: "failed",
}
#: The channel variables a record uses (attempt and campaign), asked with ``Getvar`` for
#: an adopted call: the rest of ``CENTRAL_*`` only drives the dialplan.
ADOPT_VARIABLES = (chanvars.ATTEMPT_ID, chanvars.CAMPAIGN_ID)
# Hangups of channels no call owns, remembered so a listing taken before them does not
# resurrect their calls (bounded: only the few during a resync matter).
_GONE_MAX = 4096
# Records of adopted calls that ended before their Getvar answers came back.
_AWAITING_MAX = 4096


def cdr_seconds(start: float, end: float) -> int:
    """Whole seconds from ``start`` to ``end`` (epoch floats), counted like Asterisk's CDR.

    Asterisk main/cdr.c ``cdr_object_get_duration()`` is
    ``ast_tvdiff_ms(end, start) / 1000`` and ``cdr_object_get_billsec()`` the same from
    the answer time (rounded up only with ``initiatedseconds=yes`` in cdr.conf, off by
    default). ``ast_tvdiff_ms()`` (include/asterisk/time.h) floors the microsecond
    difference to milliseconds; the C ``long`` division then truncates toward zero. So
    6.999 s is 6, never 7, and Central must count the same way or calls that Asterisk's
    CDR bills as 6 s escape the <= 6 s guard. Times are taken to whole microseconds
    first (Asterisk's ``struct timeval``), so float noise cannot turn 7.000 s into 6.
    """
    us = round(end * 1_000_000) - round(start * 1_000_000)
    ms = us // 1000  # ast_tvdiff_ms: floor division of microseconds
    return ms // 1000 if ms >= 0 else -((-ms) // 1000)  # C division truncates toward zero


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _num(value: str | None) -> str | None:
    return None if value in (None, "", "<unknown>") else value


def _base(channel: str) -> str:
    # "Local/5511999990002@customers-0000000b;1" -> "Local/5511999990002@customers-0000000b"
    return channel[:-2] if channel[-2:] in (";1", ";2") else channel


@dataclass(slots=True)
class CallRecord:
    """One finished call. Field names are meant as DB columns; ``to_dict`` is JSON."""

    server: str
    linkedid: str
    direction: str  # outbound | inbound | unknown (adopted: see _listed_channel)
    from_number: str | None
    to_number: str | None
    disposition: str  # one of DISPOSITIONS
    started_at: datetime
    ringing_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime
    billsec: int  # answered -> end, whole seconds truncated (cdr_seconds)
    duration: int  # start -> end, whole seconds truncated (cdr_seconds)
    hangup_cause: int | None
    hangup_cause_text: str | None
    hangup_by: str | None = None  # agent | customer | transfer (from AgentComplete)
    attempt_id: str | None = None
    queue: str | None = None
    agent: str | None = None
    agent_interface: str | None = None
    queue_wait: int | None = None  # AgentConnect HoldTime, seconds
    talk_time: int | None = None  # AgentComplete TalkTime, seconds
    originate_reason: int | None = None
    originate_action_id: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    #: Every channel of the call in creation order with its own cause:
    #: ``{"channel", "cause", "cause_text"}`` (the call detail page lists them).
    legs: list[dict] = field(default_factory=list)
    #: The call was in progress when the link (re)connected and was taken from the
    #: ``CoreShowChannels`` listing: times before the connect are estimates.
    adopted: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("started_at", "ringing_at", "answered_at", "ended_at"):
            if d[k] is not None:
                d[k] = d[k].isoformat()
        return d


class _Leg:
    __slots__ = ("name", "cause", "cause_text", "alive")

    def __init__(self, name: str) -> None:
        self.name = name
        self.cause: int | None = None
        self.cause_text: str | None = None
        self.alive = True


class _Call:
    __slots__ = (
        "linkedid", "legs", "customer_base", "started", "ringing", "answered", "ended",
        "originated", "inbound", "from_number", "to_number", "dial_status", "queue",
        "agent", "agent_interface", "queue_wait", "talk_time", "hangup_by",
        "originate_reason", "originate_action_id", "variables", "alive",
        "adopted", "partial", "listing", "vars_pending", "unknown_direction",
        "customer_bridge", "queue_bridges",
    )

    def __init__(self, linkedid: str, now: float) -> None:
        self.linkedid = linkedid
        self.legs: dict[str, _Leg] = {}  # uniqueid -> leg, in creation order
        self.customer_base: str | None = None
        self.started = now
        self.ringing: float | None = None
        self.answered: float | None = None
        self.ended: float | None = None
        self.originated = False
        self.inbound = False
        self.from_number: str | None = None
        self.to_number: str | None = None
        self.dial_status: str | None = None
        self.queue: str | None = None
        self.agent: str | None = None
        self.agent_interface: str | None = None
        self.queue_wait: int | None = None
        self.talk_time: int | None = None
        self.hangup_by: str | None = None
        self.originate_reason: int | None = None
        self.originate_action_id: str | None = None
        self.variables: dict[str, str] = {}
        self.alive = 0
        # Adoption (CdrBuilder._listed_channel): taken from a listing, or joined midway
        # by a live event (``partial``: a listing may still complete it).
        self.adopted = False
        self.partial = False
        self.listing: str | None = None  # ActionID of the listing that completed it
        self.vars_pending = False  # Getvar asked, answer not back yet
        self.unknown_direction = False
        self.customer_bridge = ""
        self.queue_bridges: dict[str, str] = {}  # BridgeId -> queue member interface

    def is_customer(self, channel: str | None) -> bool:
        return channel is not None and _base(channel) == self.customer_base


class CdrBuilder:
    """Builds :class:`CallRecord` s for one Asterisk server; see the module docstring."""

    __slots__ = ("server", "_calls", "_by_uid", "_agents", "_handlers", "_gone", "_adopting",
                 "_awaiting", "_member_names")

    def __init__(self, server: str = "default") -> None:
        self.server = server
        self._calls: dict[str, _Call] = {}  # linkedid -> call in progress
        self._by_uid: dict[str, str] = {}  # uniqueid -> linkedid
        self._agents: dict[tuple[str, str], str] = {}  # (queue, interface) -> linkedid
        self._gone: dict[str, None] = {}  # uniqueids hung up while no call owned them
        self._adopting: dict[str, None] = {}  # linkedids adopted, Getvar not yet asked
        self._awaiting: dict[str, CallRecord] = {}  # ended adopted calls, Getvar pending
        self._member_names: dict[tuple[str, str], str] = {}  # (queue, interface) -> name
        self._handlers = {
            "Newchannel": self._new_channel,
            "Newstate": self._new_state,
            "NewCallerid": self._caller_id,
            "DialBegin": self._dial_begin,
            "DialState": self._dial_state,
            "DialEnd": self._dial_end,
            "VarSet": self._var_set,
            "QueueCallerJoin": self._queue_join,
            "QueueCallerAbandon": self._queue_join,
            "AgentConnect": self._agent_connect,
            "AgentComplete": self._agent_complete,
            "OriginateResponse": self._originate_response,
            "Hangup": self._hangup,
            "CoreShowChannel": self._listed_channel,
            "QueueMember": self._queue_member,
        }

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    def feed(self, msg: Message, now: float) -> list[CallRecord]:
        """Apply one event; return the records of calls that ended with it."""
        if msg.kind != "event":
            return []
        handler = self._handlers.get(msg.name)
        if handler is None:
            return []
        return handler(msg, event_time(msg, now)) or []

    @property
    def active_linkedids(self) -> set[str]:
        return set(self._calls)

    def end_calls_not_in(self, linkedids: Iterable[str], now: float) -> list[CallRecord]:
        """After a reconnect: close the calls whose Linkedid Asterisk no longer lists
        (``CoreShowChannels``); they ended while we were disconnected and their Hangup
        events are lost. ``ended_at`` is ``now``, the earliest time we know it."""
        keep = set(linkedids)
        out = []
        for linkedid, call in list(self._calls.items()):
            if linkedid not in keep:
                call.ended = now
                out.append(self._finish(call))
        return out

    def flush(self, now: float) -> list[CallRecord]:
        """End every call in progress (e.g. the process is stopping, or a reconnect
        found none of their channels in CoreShowChannels) and return their records."""
        out = []
        for call in list(self._calls.values()):
            call.ended = now
            out.append(self._finish(call))
        return out

    def take_adopted(self) -> list[tuple[str, str]]:
        """``(linkedid, uniqueid)`` per call adopted since the last call: ask Asterisk
        that channel's :data:`ADOPT_VARIABLES` (AMI ``Getvar`` accepts a Uniqueid as the
        channel: ami-core-show-channels.txt getvar-2) and hand the answers to
        :meth:`set_variables`. The channel is the call's first one (the Originate's
        ``;1``, which holds its ``Variable:`` s; the queue's agent legs hold none, see
        the Status answers in the same capture), else any channel still up."""
        out = []
        for linkedid in self._adopting:
            call = self._calls.get(linkedid)
            if call is None:
                continue
            first = call.legs.get(linkedid)
            if first is not None and first.alive:
                uid: str | None = linkedid
            else:
                uid = next((u for u, leg in call.legs.items() if leg.alive), None)
            if uid is not None:
                call.vars_pending = True
                out.append((linkedid, uid))
        self._adopting.clear()
        return out

    def set_variables(self, linkedid: str, values: dict[str, str]) -> list[CallRecord]:
        """The ``Getvar`` answers for an adopted call (empty when they failed: the
        channel is gone). Variables the call already has are kept. If the call ended
        while the answers were on their way, its record is returned again with them
        (the store updates a record by Linkedid, never duplicates it)."""
        found = {k: v for k, v in values.items()
                 if k.startswith(chanvars.PREFIX) and v and v != "(null)"}
        call = self._calls.get(linkedid)
        if call is not None:
            call.vars_pending = False
            for key, value in found.items():
                call.variables.setdefault(key, value)
            if chanvars.ATTEMPT_ID in call.variables:
                call.originated = True  # only the dialer's Originate sets it
            return []
        record = self._awaiting.pop(linkedid, None)
        if record is None or not found:
            return []
        for key, value in found.items():
            record.variables.setdefault(key, value)
        record.attempt_id = record.variables.get(chanvars.ATTEMPT_ID)
        if record.attempt_id:
            record.direction = "outbound"
        return [record]

    # ------------------------------------------------------------------ helpers
    def _call_of(self, msg: Message, uid_key: str = "Uniqueid") -> _Call | None:
        linkedid = self._by_uid.get(msg.get(uid_key) or "")
        if linkedid is None:
            linkedid = msg.get("DestLinkedid" if uid_key.startswith("Dest") else "Linkedid")
        return self._calls.get(linkedid or "")

    # ------------------------------------------------------------------ handlers
    def _new_channel(self, msg: Message, now: float) -> None:
        uid = msg.get("Uniqueid", "")
        linkedid = msg.get("Linkedid") or uid
        call = self._calls.get(linkedid)
        channel = msg.get("Channel", "")
        if call is None and uid != linkedid:
            # A channel joining a call we never saw start (it began before the link
            # connected): adopted, and the resync's listing may still complete it.
            call = self._calls[linkedid] = _Call(linkedid, now)
            call.adopted = call.partial = True
            self._adopting[linkedid] = None
        elif call is None:
            call = self._calls[linkedid] = _Call(linkedid, now)
            call.customer_base = _base(channel)
            # A channel that arrives ringing from outside is an inbound call; the
            # Originate's Local ;1 is created Down (state 0) in every capture.
            if msg.get("ChannelState") == "4" and not channel.startswith("Local/"):
                call.inbound = True
                call.from_number = _num(msg.get("CallerIDNum"))
                call.to_number = msg.get("Exten") or None
        if uid not in call.legs:
            call.legs[uid] = _Leg(channel)
            call.alive += 1
            self._by_uid[uid] = linkedid

    def _new_state(self, msg: Message, now: float) -> None:
        call = self._call_of(msg)
        if call is None or not call.is_customer(msg.get("Channel")):
            return
        state = msg.get("ChannelState")
        if state == "5" and call.ringing is None:
            call.ringing = now
        elif state == "6" and call.answered is None:
            call.answered = now

    def _caller_id(self, msg: Message, now: float) -> None:
        call = self._call_of(msg)
        if call is not None and call.from_number is None and call.is_customer(msg.get("Channel")):
            call.from_number = _num(msg.get("CallerIDNum"))

    def _dial_begin(self, msg: Message, now: float) -> None:
        call = self._call_of(msg, "DestUniqueid")
        if call is None:
            return
        if "Channel" not in msg and call.is_customer(msg.get("DestChannel")):
            # No calling channel: this dial is an Originate (every call capture).
            call.originated = True
            call.from_number = call.from_number or _num(msg.get("DestCallerIDNum"))
            dial = msg.get("DialString", "")
            call.to_number = call.to_number or dial.split("@", 1)[0] or None

    def _dial_state(self, msg: Message, now: float) -> None:
        call = self._call_of(msg, "DestUniqueid")
        if (call is not None and call.ringing is None and msg.get("DialStatus") == "RINGING"
                and call.is_customer(msg.get("DestChannel"))):
            call.ringing = now

    def _dial_end(self, msg: Message, now: float) -> None:
        call = self._call_of(msg, "DestUniqueid")
        if call is None or not call.is_customer(msg.get("DestChannel")):
            return  # agent legs' dials (queue ringing members) don't decide the call
        status = msg.get("DialStatus", "")
        call.dial_status = status
        if status == "ANSWER" and call.answered is None:
            call.answered = now

    def _var_set(self, msg: Message, now: float) -> None:
        var = msg.get("Variable", "")
        if not var.startswith(chanvars.PREFIX):
            return
        call = self._call_of(msg)
        value = msg.get("Value", "")
        if call is not None and value and value != "(null)":
            call.variables.setdefault(var, value)

    def _queue_join(self, msg: Message, now: float) -> None:
        call = self._call_of(msg)
        if call is not None:
            call.queue = msg.get("Queue") or call.queue

    def _agent_connect(self, msg: Message, now: float) -> None:
        call = self._call_of(msg)
        if call is None:
            return
        call.queue = msg.get("Queue") or call.queue
        call.agent = msg.get("MemberName") or None
        call.agent_interface = msg.get("Interface") or None
        hold = msg.get("HoldTime")
        call.queue_wait = int(hold) if hold and hold.isdigit() else None
        if call.agent_interface:
            self._agents[(call.queue or "", call.agent_interface)] = call.linkedid

    def _agent_complete(self, msg: Message, now: float) -> None:
        key = (msg.get("Queue", ""), msg.get("Interface", ""))
        linkedid = self._agents.pop(key, None)
        call = self._calls.get(linkedid or "") or self._call_of(msg)
        if call is None:
            return
        talk = msg.get("TalkTime")
        call.talk_time = int(talk) if talk and talk.isdigit() else None
        call.hangup_by = {"agent": "agent", "caller": "customer",
                          "transfer": "transfer"}.get(msg.get("Reason", ""))

    def _originate_response(self, msg: Message, now: float) -> None:
        call = self._call_of(msg)
        if call is None:
            # Failed originates say "Uniqueid: <unknown>" and the channel without its
            # "-0000000b;1" suffix: match the oldest call whose customer leg has it.
            chan = msg.get("Channel", "")
            for c in self._calls.values():
                if (c.customer_base or "").rsplit("-", 1)[0] == chan and c.originate_reason is None:
                    call = c
                    break
        if call is None:
            return
        reason = msg.get("Reason", "")
        call.originated = True
        call.originate_reason = int(reason) if reason.isdigit() else None
        call.originate_action_id = msg.action_id

    def _hangup(self, msg: Message, now: float) -> list[CallRecord]:
        uid = msg.get("Uniqueid", "")
        linkedid = self._by_uid.pop(uid, None)
        call = self._calls.get(linkedid or "")
        if call is None:
            if uid:
                # Maybe a channel of a call in progress at the connect, gone before the
                # resync's listing (taken earlier) is fed: that listing must skip it.
                self._gone[uid] = None
                if len(self._gone) > _GONE_MAX:
                    del self._gone[next(iter(self._gone))]
            return []
        leg = call.legs.get(uid)
        if leg is not None and leg.alive:
            leg.alive = False
            cause = msg.get("Cause", "")
            leg.cause = int(cause) if cause.isdigit() else None
            leg.cause_text = msg.get("Cause-txt")
            call.alive -= 1
        if call.alive > 0:
            return []
        call.ended = now
        return [self._finish(call)]

    def _queue_member(self, msg: Message, now: float) -> None:
        # QueueStatus (resync) lists each member's name: ami-queue-actions.txt
        # "Name: Agent One", "Location: Local/agent1@agent-phones".
        queue, interface, name = msg.get("Queue"), msg.get("Location"), msg.get("Name")
        if queue and interface and name:
            self._member_names[(queue, interface)] = name

    def _listed_channel(self, msg: Message, now: float) -> None:
        """One ``CoreShowChannel`` of the resync's listing: adopt the call it belongs to
        if the builder does not follow it (it began before the link connected).

        What the listing says (ami-core-show-channels.txt), and so what an adopted
        record holds:

        * ``Duration`` (whole seconds) of each channel: the call started at the listing
          time minus the oldest channel's Duration (up to 1 s late, truncated).
        * The customer leg is the call's first channel, the one whose ``Uniqueid`` is
          the ``Linkedid`` (the Originate's ``;1``: "att-123-leg1"). A ``Local/`` first
          channel was made by an Originate (outbound; the number is its exten);
          anything else may be an inbound call or an Originate to a phone: the
          direction is ``unknown`` unless the Getvar finds a dialer attempt.
        * ``ChannelState 6 Up`` on the customer leg: answered, the same rule as a live
          ``Newstate`` Up (for an Originate the ``;1`` leg is Up only once the far end
          answered, and only then runs the ``Application``). **When** it was answered
          cannot be known: ``answered_at`` is the listing time (the first moment it
          is known up), so ``billsec`` is a lower bound. Ring time, DialEnd status and
          queue wait (AgentConnect ``HoldTime``) before the connect are unknown.
        * ``Application: Queue`` + ``ApplicationData: sales,r,,,60``: the call is in
          queue ``sales``. It is talking to an agent when its ``BridgeId`` is shared
          with a channel running ``AppQueue`` (app_queue's member leg,
          ``Local/agent1@agent-phones-00000001;1``); the member interface is that
          channel's name without its ``-00000001;1`` suffix and the agent's name comes
          from the QueueStatus listed just before (``QueueMember`` ``Name``), else
          the interface. A queue call that had an agent and left Queue() before the
          connect is not recognised as one (no Queue application any more).
        * The ``CENTRAL_*`` variables are not listed: see :meth:`take_adopted`.

        Channels the builder follows from live events, and channels whose Hangup came
        after the listing was taken, are skipped; a call the builder knows is not
        altered, except one it only joined midway (``partial``), which the listing
        completes. Every channel of one listing (same ``ActionID``) is added to the
        call it adopted.
        """
        uid = msg.get("Uniqueid", "")
        if not uid or uid in self._gone:
            return
        linkedid = msg.get("Linkedid") or uid
        listing = msg.action_id or ""
        call = self._calls.get(linkedid)
        if call is None:
            call = self._calls[linkedid] = _Call(linkedid, now)
            call.adopted, call.listing = True, listing
            self._adopting[linkedid] = None
        elif call.partial:
            call.partial, call.listing = False, listing
        elif not call.adopted or call.listing != listing:
            return  # a call the builder follows: the listing must not alter it
        channel = msg.get("Channel", "")
        if uid not in self._by_uid:  # a leg already followed live keeps its live data
            call.legs[uid] = _Leg(channel)
            call.alive += 1
            self._by_uid[uid] = linkedid
        call.started = min(call.started, now - listed_age(msg))
        bridge = msg.get("BridgeId") or ""
        app = msg.get("Application") or ""
        if app == "AppQueue" and bridge:
            call.queue_bridges[bridge] = _base(channel).rsplit("-", 1)[0]
        if uid == linkedid:
            call.customer_base = _base(channel)
            call.customer_bridge = bridge
            if channel.startswith("Local/"):
                call.originated = True
                call.to_number = call.to_number or channel[6:].split("@", 1)[0] or None
            else:
                call.unknown_direction = True
            call.from_number = call.from_number or _num(msg.get("CallerIDNum"))
            state = msg.get("ChannelState")
            if state == "6" and call.answered is None:
                call.answered = now
            elif state in ("4", "5") and call.ringing is None:
                call.ringing = now
            if app == "Queue" and call.queue is None:
                call.queue = (msg.get("ApplicationData") or "").split(",", 1)[0] or None
        interface = call.queue_bridges.get(call.customer_bridge) if call.customer_bridge else None
        if interface and call.queue and call.agent is None:
            call.agent_interface = interface
            call.agent = self._member_names.get((call.queue, interface)) or interface
            self._agents[(call.queue, interface)] = linkedid

    # ------------------------------------------------------------------ result
    def _cause(self, call: _Call) -> tuple[int | None, str | None]:
        first: tuple[int | None, str | None] = (None, None)
        for customer_only in (True, False):
            for leg in call.legs.values():
                if customer_only and not call.is_customer(leg.name):
                    continue
                if leg.cause is None:
                    continue
                if first[0] is None:
                    first = (leg.cause, leg.cause_text)
                if leg.cause != 0:
                    return leg.cause, leg.cause_text or HANGUP_CAUSES.get(leg.cause)
        return first

    def _disposition(self, call: _Call, cause: int | None) -> str:
        if call.queue is not None and call.agent is None:
            return "abandoned"  # reached a queue, no agent ever connected
        if call.answered is not None:
            return "answered"
        if call.dial_status in _DIALSTATUS_DISPOSITION:
            return _DIALSTATUS_DISPOSITION[call.dial_status]
        if cause in _CAUSE_DISPOSITION:
            return _CAUSE_DISPOSITION[cause]
        if call.originate_reason in _REASON_DISPOSITION:
            return _REASON_DISPOSITION[call.originate_reason]
        if cause == 16:
            return "no_answer"  # normal clearing before answer: the caller gave up
        return "failed"

    def _finish(self, call: _Call) -> CallRecord:
        self._calls.pop(call.linkedid, None)
        for uid in call.legs:
            self._by_uid.pop(uid, None)
        for key in [k for k, v in self._agents.items() if v == call.linkedid]:
            del self._agents[key]
        cause, cause_text = self._cause(call)
        ended = call.ended if call.ended is not None else call.started
        answered = call.answered
        variables = call.variables
        if call.originated:
            direction = "outbound"
        elif call.unknown_direction:
            direction = "unknown"
        else:
            direction = "inbound" if call.inbound else "outbound"
        record = CallRecord(
            server=self.server,
            linkedid=call.linkedid,
            direction=direction,
            from_number=call.from_number,
            to_number=call.to_number,
            disposition=self._disposition(call, cause),
            started_at=_dt(call.started),
            ringing_at=_dt(call.ringing),
            answered_at=_dt(answered),
            ended_at=_dt(ended),
            # Never negative in a record (a reconnect may close a call "at" an earlier
            # clock reading); Asterisk's CDR columns are unsigned in practice too.
            billsec=max(0, cdr_seconds(answered, ended)) if answered is not None else 0,
            duration=max(0, cdr_seconds(call.started, ended)),
            hangup_cause=cause,
            hangup_cause_text=cause_text,
            hangup_by=call.hangup_by,
            attempt_id=variables.get(chanvars.ATTEMPT_ID),
            queue=call.queue,
            agent=call.agent,
            agent_interface=call.agent_interface,
            queue_wait=call.queue_wait,
            talk_time=call.talk_time,
            originate_reason=call.originate_reason,
            originate_action_id=call.originate_action_id,
            variables=dict(variables),
            legs=[{"channel": leg.name, "cause": leg.cause, "cause_text": leg.cause_text or ""}
                  for leg in call.legs.values()],
            adopted=call.adopted,
        )
        self._adopting.pop(call.linkedid, None)
        if call.vars_pending:  # its Getvar answers may still come: set_variables
            self._awaiting[call.linkedid] = record
            if len(self._awaiting) > _AWAITING_MAX:
                del self._awaiting[next(iter(self._awaiting))]
        return record
