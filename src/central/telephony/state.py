"""Live telephony state of one Asterisk server, built from AMI events (pure, no I/O).

Feed every event (and the events answering ``ExtensionStateList``, ``DeviceStateList``,
``QueueStatus``, ``CoreShowChannels`` on (re)connect) to :meth:`LiveState.feed` with the
current time; read the extensions panel (ramais), channels, bridges and queue members,
and get back the list of :class:`Change` s to push to dashboards. Nothing here imports
Django or touches a socket; the ``central pbx`` process owns the I/O.

Sources, as seen in the Asterisk 22 captures (tests/fixtures/asterisk/):

* ``ExtensionStatus`` (hint state of ``exten@context``: Status 0 Idle, 1 InUse, 2 Busy,
  4 Unavailable, 8 Ringing, 9 InUse&Ringing, 16 Hold; ami-event-stream-extension-state.txt),
  each followed by the ``DeviceStateChange`` of the device in its ``Hint``.
* ``DeviceStateChange`` per device (``Custom:1001``, ``PJSIP/1001``): a line of an extension.
* ``ContactStatus`` (PJSIP: Created/Reachable/Updated/NonQualified = registered,
  Unreachable, Removed) and ``PeerStatus`` (Registered, Reachable, Lagged, Unregistered,
  Unreachable, Rejected) for registration. Not in the captures (the test PBX has no SIP
  phones); field names from the Asterisk 22 AMI event documentation.
* ``Newchannel``/``Newstate``/``NewCallerid``/``NewConnectedLine``/``Hangup``/
  ``CoreShowChannel`` for channels; ``BridgeCreate``/``BridgeEnter``/``BridgeLeave``/
  ``BridgeDestroy`` for bridges (ami-event-stream-answered-queue-agent.txt).
* ``QueueMember`` (QueueStatus answer), ``QueueMemberStatus``, ``QueueMemberPause``,
  ``QueueMemberAdded``, ``QueueMemberRemoved`` (ami-queue-member-pause.txt) and
  ``AgentCalled``/``AgentConnect``/``AgentComplete``/``AgentRingNoAnswer`` for queue members.
* ``QueueCallerJoin``/``QueueCallerLeave``/``QueueCallerAbandon`` (every queue call
  capture, e.g. ami-event-stream-answered-queue-agent.txt) and the ``QueueEntry`` rows of a
  ``QueueStatus`` answer (``Wait`` = seconds waited so far, Asterisk 22.10.1
  apps/app_queue.c manager_queues_status()) for the callers waiting in each queue: the
  wallboard's "calls waiting" and "longest wait" (:class:`QueueCallerInfo`).

Memory: every tracked object is a ``dataclass(slots=True)``; devices that are not lines
of an extension (``Local/...``, ``Queue:...``: one per dialled number) are not kept. Use
:func:`approx_size` or ``bench/ami_state_memory.py`` to measure.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

from central.telephony import chanvars

from .ami.protocol import Message

__all__ = [
    "BridgeInfo",
    "Change",
    "ChannelInfo",
    "ExtensionInfo",
    "LiveState",
    "QueueCallerInfo",
    "QueueMemberInfo",
    "approx_size",
    "event_time",
]

# Extension (hint) status codes -> panel state (include/asterisk/pbx.h AST_EXTENSION_*).
EXTENSION_STATUS: dict[int, str] = {
    -2: "unavailable",  # removed
    -1: "unknown",      # deactivated
    0: "free",
    1: "busy",          # InUse
    2: "busy",
    4: "unavailable",
    8: "ringing",
    9: "ringing",       # InUse&Ringing: a second call rings on a busy extension
    16: "onhold",
    17: "onhold",       # InUse&Hold
}
# DeviceStateChange State -> line state (main/devicestate.c ast_devstate_str).
DEVICE_STATE: dict[str, str] = {
    "NOT_INUSE": "free",
    "INUSE": "busy",
    "BUSY": "busy",
    "RINGING": "ringing",
    "RINGINUSE": "ringing",
    "ONHOLD": "onhold",
    "UNAVAILABLE": "unavailable",
    "INVALID": "unavailable",
    "UNKNOWN": "unknown",
}
# QueueMember Status = the member's device state as an integer (AST_DEVICE_*).
QUEUE_MEMBER_DEVICE: dict[int, str] = {
    0: "unknown", 1: "free", 2: "busy", 3: "busy", 4: "unavailable", 5: "unavailable",
    6: "ringing", 7: "ringing", 8: "onhold",
}
CONTACT_STATUS: dict[str, str] = {
    "Created": "registered", "Reachable": "registered", "Updated": "registered",
    "NonQualified": "registered", "Unreachable": "unreachable", "Removed": "unregistered",
    "Unknown": "unknown",
}
PEER_STATUS: dict[str, str] = {
    "Registered": "registered", "Reachable": "registered", "Lagged": "registered",
    "Unregistered": "unregistered", "Unreachable": "unreachable", "Rejected": "unregistered",
}
# Devices whose registration we can know (SIP-like technologies).
_REGISTRABLE = ("PJSIP/", "SIP/", "IAX2/")


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


def event_time(msg: Message, now: float) -> float:
    """The event's own ``Timestamp:`` (manager.conf ``timestampevents=yes``) or ``now``.

    Asterisk writes it right after ``Event:`` and ``Privilege:`` (main/manager.c,
    ``__manager_event_sessions_va``), so only the first headers are searched."""
    ts = msg.get_exact("Timestamp", within=4)
    if ts:
        try:
            return float(ts)
        except ValueError:
            pass
    return now


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def listed_age(msg: Message) -> float:
    """Seconds a listed channel has existed: Status "Seconds: 7", CoreShowChannel
    "Duration: 00:00:02" (ami-core-show-channels.txt); 0 for live events."""
    secs = msg.get("Seconds")
    if secs and secs.isdigit():
        return float(secs)
    dur = msg.get("Duration")
    if dur and dur.count(":") == 2:
        h, m, s = dur.split(":")
        if h.isdigit() and m.isdigit() and s.isdigit():
            return int(h) * 3600 + int(m) * 60 + float(s)
    return 0.0


def _num(value: str | None) -> str | None:
    # Asterisk writes "<unknown>" for an unset caller ID (Newchannel in every capture).
    return None if value in (None, "", "<unknown>") else value


class Change(NamedTuple):
    """Something a dashboard should redraw: ``kind`` is extension, channel, bridge or
    queue_member; ``removed`` when the object is gone."""

    kind: str
    key: str
    removed: bool = False


@dataclass(slots=True)
class ExtensionInfo:
    exten: str
    context: str
    hint: str = ""
    status_code: int | None = None
    registration: str | None = None  # registered | unreachable | unregistered | None
    lines: dict[str, str] = field(default_factory=dict)  # device -> line state
    last_activity: float | None = None

    @property
    def key(self) -> str:
        return f"{self.exten}@{self.context}"

    @property
    def state(self) -> str:
        if self.status_code is None:
            return "unknown"
        return EXTENSION_STATUS.get(self.status_code, "unknown")

    def to_dict(self) -> dict:
        return {
            "exten": self.exten,
            "context": self.context,
            "hint": self.hint,
            "state": self.state,
            "status_code": self.status_code,
            "registration": self.registration,
            "lines": [{"device": d, "state": s} for d, s in self.lines.items()],
            "last_activity": _iso(self.last_activity),
        }


@dataclass(slots=True)
class ChannelInfo:
    uniqueid: str
    linkedid: str
    name: str
    state: int = 0
    caller_num: str | None = None
    caller_name: str | None = None
    connected_num: str | None = None
    context: str = ""
    exten: str = ""
    created_at: float = 0.0
    answered_at: float | None = None
    bridge: str | None = None
    attempt_id: str | None = None

    STATE_TEXT = ("down", "reserved", "offhook", "dialing", "ring", "ringing", "up", "busy",
                  "dialing_offhook", "prering")

    @property
    def state_text(self) -> str:
        return self.STATE_TEXT[self.state] if 0 <= self.state < 10 else "unknown"

    def to_dict(self) -> dict:
        return {
            "uniqueid": self.uniqueid, "linkedid": self.linkedid, "name": self.name,
            "state": self.state_text, "caller_num": self.caller_num,
            "caller_name": self.caller_name, "connected_num": self.connected_num,
            "context": self.context, "exten": self.exten,
            "created_at": _iso(self.created_at), "answered_at": _iso(self.answered_at),
            "bridge": self.bridge, "attempt_id": self.attempt_id,
        }


@dataclass(slots=True)
class BridgeInfo:
    bridge_id: str
    bridge_type: str = ""
    channels: list[str] = field(default_factory=list)  # uniqueids
    created_at: float = 0.0

    def to_dict(self) -> dict:
        return {"bridge_id": self.bridge_id, "type": self.bridge_type,
                "channels": list(self.channels), "created_at": _iso(self.created_at)}


@dataclass(slots=True)
class QueueMemberInfo:
    queue: str
    interface: str
    name: str = ""
    state_interface: str = ""
    membership: str = ""
    penalty: int = 0
    device_status: int = 0
    paused: bool = False
    paused_reason: str = ""
    in_call: bool = False
    ringing: bool = False
    calls_taken: int = 0
    last_call: int = 0
    wrapuptime: int = 0
    #: When the availability (or the pause reason) last changed: the start of the state
    #: the agents table's clock counts from. Repeated events in the same state keep it.
    last_change: float | None = None
    #: When the member's last call ended (AgentComplete): the start of its wrap-up,
    #: which Asterisk reports with no event (apps/app_queue.c can_ring_entry()).
    call_ended_at: float | None = None

    @property
    def key(self) -> str:
        return f"{self.queue}|{self.interface}"

    @property
    def availability(self) -> str:
        """paused, ringing, in_call, unavailable or free (what a supervisor asks)."""
        if self.paused:
            return "paused"
        if self.ringing:
            return "ringing"
        dev = QUEUE_MEMBER_DEVICE.get(self.device_status, "unknown")
        if self.in_call or dev in ("busy", "onhold"):
            return "in_call"
        if dev == "ringing":
            return "ringing"
        if dev == "unavailable":
            return "unavailable"
        return "free"

    def to_dict(self) -> dict:
        return {
            "queue": self.queue, "interface": self.interface, "name": self.name,
            "state_interface": self.state_interface, "membership": self.membership,
            "penalty": self.penalty, "availability": self.availability,
            "device_status": QUEUE_MEMBER_DEVICE.get(self.device_status, "unknown"),
            "paused": self.paused, "paused_reason": self.paused_reason,
            "in_call": self.in_call, "calls_taken": self.calls_taken,
            "last_call": self.last_call or None, "last_change": _iso(self.last_change),
            "wrapuptime": self.wrapuptime, "call_ended_at": _iso(self.call_ended_at),
        }


@dataclass(slots=True)
class QueueCallerInfo:
    """A caller waiting in a queue (joined, not yet connected to an agent nor gone)."""

    queue: str
    uniqueid: str
    linkedid: str
    joined_at: float


class LiveState:
    """State of one Asterisk server; see the module docstring."""

    __slots__ = ("server", "extensions", "channels", "bridges", "queue_members",
                 "queue_callers", "_device_lines", "_registration", "_handlers")

    def __init__(self, server: str = "default") -> None:
        self.server = server
        self.extensions: dict[str, ExtensionInfo] = {}
        self.channels: dict[str, ChannelInfo] = {}
        self.bridges: dict[str, BridgeInfo] = {}
        self.queue_members: dict[str, QueueMemberInfo] = {}
        self.queue_callers: dict[str, QueueCallerInfo] = {}  # uniqueid -> waiting caller
        # device -> extension keys that list it in their hint
        self._device_lines: dict[str, list[str]] = {}
        # device -> registration, kept even before the extension is known
        self._registration: dict[str, str] = {}
        self._handlers = {
            "ExtensionStatus": self._extension_status,
            "DeviceStateChange": self._device_state,
            "ContactStatus": self._contact_status,
            "PeerStatus": self._peer_status,
            "Newchannel": self._new_channel,
            "CoreShowChannel": self._new_channel,
            "Status": self._new_channel,
            "Newstate": self._new_state,
            "NewCallerid": self._new_callerid,
            "NewConnectedLine": self._new_connected,
            "VarSet": self._var_set,
            "Hangup": self._hangup,
            "BridgeCreate": self._bridge_create,
            "BridgeEnter": self._bridge_enter,
            "BridgeLeave": self._bridge_leave,
            "BridgeDestroy": self._bridge_destroy,
            "QueueMember": self._queue_member,
            "QueueMemberStatus": self._queue_member,
            "QueueMemberPause": self._queue_member,
            "QueueMemberAdded": self._queue_member,
            "QueueMemberRemoved": self._queue_member_removed,
            "AgentCalled": self._agent_called,
            "AgentConnect": self._agent_connect,
            "AgentComplete": self._agent_done,
            "AgentRingNoAnswer": self._agent_done,
            "AgentDump": self._agent_done,
            "QueueCallerJoin": self._caller_join,
            "QueueEntry": self._caller_join,
            "QueueCallerLeave": self._caller_leave,
            "QueueCallerAbandon": self._caller_leave,
        }

    # ------------------------------------------------------------------ API
    def feed(self, msg: Message, now: float) -> list[Change]:
        """Apply one event; return what changed. Unknown events change nothing."""
        if msg.kind != "event":
            return []
        handler = self._handlers.get(msg.name)
        if handler is None:
            return []
        return handler(msg, event_time(msg, now))

    def reset_channels(self) -> list[Change]:
        """Forget channels and bridges (call before feeding a fresh CoreShowChannels
        after a reconnect: events during the outage were lost)."""
        changes = [Change("channel", k, True) for k in self.channels]
        changes += [Change("bridge", k, True) for k in self.bridges]
        self.channels.clear()
        self.bridges.clear()
        return changes

    def reset_queue_callers(self) -> list[Change]:
        """Forget the waiting callers (call before feeding a fresh ``QueueStatus`` after a
        reconnect: the Join/Leave events of the outage were lost)."""
        changes = [Change("queue_caller", k, True) for k in self.queue_callers]
        self.queue_callers.clear()
        return changes

    def prune_queue_callers(self) -> list[Change]:
        """Drop waiting callers whose channel is gone (after a resync's channel listing:
        a Leave that raced the ``QueueStatus`` answer would leave them waiting forever)."""
        gone = [k for k in self.queue_callers if k not in self.channels]
        for k in gone:
            del self.queue_callers[k]
        return [Change("queue_caller", k, True) for k in gone]

    def snapshot(self) -> dict:
        """Everything, JSON-ready (for the dashboard's first paint)."""
        return {
            "server": self.server,
            "extensions": [e.to_dict() for e in self.extensions.values()],
            "channels": [c.to_dict() for c in self.channels.values()],
            "bridges": [b.to_dict() for b in self.bridges.values()],
            "queue_members": [q.to_dict() for q in self.queue_members.values()],
        }

    to_dict = snapshot

    def stats(self) -> dict[str, int]:
        return {"extensions": len(self.extensions), "channels": len(self.channels),
                "bridges": len(self.bridges), "queue_members": len(self.queue_members),
                "devices": len(self._device_lines)}

    # ------------------------------------------------------------------ extensions
    def _extension_status(self, msg: Message, now: float) -> list[Change]:
        exten, context = msg.get("Exten", ""), msg.get("Context", "")
        key = f"{exten}@{context}"
        ext = self.extensions.get(key)
        if ext is None:
            ext = self.extensions[key] = ExtensionInfo(exten, context)
        hint = msg.get("Hint")
        if hint is not None and hint != ext.hint:
            self._set_hint(ext, hint)
        code = _int(msg.get("Status"), -1)
        if code != ext.status_code:
            ext.status_code = code
            # List answers (ExtensionStateList) are a snapshot, not activity.
            if msg.action_id is None:
                ext.last_activity = now
        return [Change("extension", key)]

    def _set_hint(self, ext: ExtensionInfo, hint: str) -> None:
        key = ext.key
        for dev in ext.lines:
            keys = self._device_lines.get(dev)
            if keys and key in keys:
                keys.remove(key)
                if not keys:
                    del self._device_lines[dev]
        ext.hint = hint
        # A hint lists devices joined by "&" ("PJSIP/1001&Custom:DND1001"); a
        # "Presence" part follows a comma.
        devices = [d for d in hint.split(",", 1)[0].split("&") if d]
        ext.lines = {d: ext.lines.get(d, "unknown") for d in devices}
        for dev in devices:
            self._device_lines.setdefault(dev, []).append(key)
        ext.registration = self._ext_registration(ext)

    def _ext_registration(self, ext: ExtensionInfo) -> str | None:
        states = [self._registration[d] for d in ext.lines if d in self._registration]
        if not states:
            return None
        return "registered" if "registered" in states else states[0]

    def _device_state(self, msg: Message, now: float) -> list[Change]:
        device = msg.get("Device", "")
        keys = self._device_lines.get(device)
        if not keys:
            # Not a line of any known extension: Local/<number>@ctx, Queue:... (one per
            # dialled number in every call capture). Not kept: it would grow forever.
            return []
        line = DEVICE_STATE.get(msg.get("State", ""), "unknown")
        changes = []
        for key in keys:
            ext = self.extensions[key]
            if ext.lines.get(device) != line:
                ext.lines[device] = line
                if msg.action_id is None:
                    ext.last_activity = now
                changes.append(Change("extension", key))
        return changes

    def _set_registration(self, device: str, reg: str, now: float) -> list[Change]:
        self._registration[device] = reg
        changes = []
        for key in self._device_lines.get(device, ()):
            ext = self.extensions[key]
            new = self._ext_registration(ext)
            if new != ext.registration:
                ext.registration = new
                ext.last_activity = now
                changes.append(Change("extension", key))
        return changes

    def _contact_status(self, msg: Message, now: float) -> list[Change]:
        # PJSIP: one event per contact of an AOR; the endpoint's device is PJSIP/<name>.
        endpoint = msg.get("EndpointName") or msg.get("AOR") or ""
        reg = CONTACT_STATUS.get(msg.get("ContactStatus", ""), "unknown")
        return self._set_registration(f"PJSIP/{endpoint}", reg, now)

    def _peer_status(self, msg: Message, now: float) -> list[Change]:
        peer = msg.get("Peer", "")  # "PJSIP/1001" or "SIP/1001"
        reg = PEER_STATUS.get(msg.get("PeerStatus", ""))
        if reg is None:
            return []
        return self._set_registration(peer, reg, now)

    # ------------------------------------------------------------------ channels
    def _new_channel(self, msg: Message, now: float) -> list[Change]:
        uid = msg.get("Uniqueid")
        if not uid:
            return []
        ch = self.channels.get(uid)
        if ch is None:
            ch = self.channels[uid] = ChannelInfo(
                uniqueid=uid, linkedid=msg.get("Linkedid") or uid,
                name=msg.get("Channel", ""), created_at=now - listed_age(msg),
            )
        self._update_channel(ch, msg, now)
        # The Status answer lists the variables asked for with "Variables:"
        # (ami-core-show-channels.txt: "Variable: CENTRAL_ATTEMPT_ID=att-123").
        for var in msg.getall("Variable") if msg.name == "Status" else ():
            name, _, value = var.partition("=")
            if name == chanvars.ATTEMPT_ID and value and value != "(null)":
                ch.attempt_id = value
        # CoreShowChannel says "BridgeId", Status says "BridgeID" (same capture).
        bridge = msg.get("BridgeId")
        if bridge:
            ch.bridge = bridge
            b = self.bridges.get(bridge)
            if b is None:
                b = self.bridges[bridge] = BridgeInfo(bridge, created_at=now)
            if uid not in b.channels:
                b.channels.append(uid)
        return [Change("channel", uid)]

    def _update_channel(self, ch: ChannelInfo, msg: Message, now: float) -> None:
        state = msg.get("ChannelState")
        if state is not None:
            ch.state = _int(state)
            if ch.state == 6 and ch.answered_at is None:
                # For a listed channel (reconnect) the answer time is unknown: None
                # would hide that it is up, so the listing time is used.
                ch.answered_at = now
        ch.caller_num = _num(msg.get("CallerIDNum")) or ch.caller_num
        ch.caller_name = _num(msg.get("CallerIDName")) or ch.caller_name
        ch.connected_num = _num(msg.get("ConnectedLineNum")) or ch.connected_num
        ch.context = msg.get("Context") or ch.context
        ch.exten = msg.get("Exten") or ch.exten

    def _channel_event(self, msg: Message, now: float) -> list[Change]:
        uid = msg.get("Uniqueid")
        ch = self.channels.get(uid) if uid else None
        if ch is None:
            return self._new_channel(msg, now) if uid else []
        self._update_channel(ch, msg, now)
        return [Change("channel", uid)]

    _new_state = _new_callerid = _new_connected = _channel_event

    def _var_set(self, msg: Message, now: float) -> list[Change]:
        # Only the dialer's own marker is kept (ami-core-show-channels.txt:
        # Variable: CENTRAL_ATTEMPT_ID=att-123); VarSet is the most frequent event.
        if msg.get("Variable") != chanvars.ATTEMPT_ID:
            return []
        ch = self.channels.get(msg.get("Uniqueid", ""))
        value = msg.get("Value")
        if ch is None or not value or value == "(null)":
            return []
        ch.attempt_id = value
        return [Change("channel", ch.uniqueid)]

    def _hangup(self, msg: Message, now: float) -> list[Change]:
        uid = msg.get("Uniqueid", "")
        changes = []
        if self.queue_callers.pop(uid, None) is not None:
            changes.append(Change("queue_caller", uid, True))
        ch = self.channels.pop(uid, None)
        if ch is None:
            return changes
        changes.append(Change("channel", uid, True))
        if ch.bridge and ch.bridge in self.bridges:
            b = self.bridges[ch.bridge]
            if uid in b.channels:
                b.channels.remove(uid)
                changes.append(Change("bridge", b.bridge_id))
        return changes

    # ------------------------------------------------------------------ bridges
    def _bridge_create(self, msg: Message, now: float) -> list[Change]:
        bid = msg.get("BridgeUniqueid", "")
        self.bridges[bid] = BridgeInfo(bid, msg.get("BridgeType", ""), created_at=now)
        return [Change("bridge", bid)]

    def _bridge_enter(self, msg: Message, now: float) -> list[Change]:
        bid = msg.get("BridgeUniqueid", "")
        b = self.bridges.get(bid)
        if b is None:
            b = self.bridges[bid] = BridgeInfo(bid, msg.get("BridgeType", ""), created_at=now)
        uid = msg.get("Uniqueid", "")
        if uid and uid not in b.channels:
            b.channels.append(uid)
        changes = [Change("bridge", bid)]
        ch = self.channels.get(uid)
        if ch is not None:
            ch.bridge = bid
            changes.append(Change("channel", uid))
        return changes

    def _bridge_leave(self, msg: Message, now: float) -> list[Change]:
        bid = msg.get("BridgeUniqueid", "")
        uid = msg.get("Uniqueid", "")
        changes = []
        b = self.bridges.get(bid)
        if b is not None and uid in b.channels:
            b.channels.remove(uid)
            changes.append(Change("bridge", bid))
        ch = self.channels.get(uid)
        if ch is not None and ch.bridge == bid:
            ch.bridge = None
            changes.append(Change("channel", uid))
        return changes

    def _bridge_destroy(self, msg: Message, now: float) -> list[Change]:
        bid = msg.get("BridgeUniqueid", "")
        if self.bridges.pop(bid, None) is None:
            return []
        return [Change("bridge", bid, True)]

    # ------------------------------------------------------------------ queue members
    def _member(self, msg: Message) -> QueueMemberInfo:
        queue = msg.get("Queue", "")
        # QueueMember (the QueueStatus answer) says Location; the events say Interface.
        interface = msg.get("Interface") or msg.get("Location") or ""
        key = f"{queue}|{interface}"
        m = self.queue_members.get(key)
        if m is None:
            m = self.queue_members[key] = QueueMemberInfo(queue, interface)
        return m

    def _queue_member(self, msg: Message, now: float) -> list[Change]:
        m = self._member(msg)
        before = (m.availability, m.paused_reason) if m.last_change is not None else None
        m.name = msg.get("MemberName") or msg.get("Name") or m.name
        m.state_interface = msg.get("StateInterface") or m.state_interface
        m.membership = msg.get("Membership") or m.membership
        m.penalty = _int(msg.get("Penalty"), m.penalty)
        m.device_status = _int(msg.get("Status"), m.device_status)
        m.paused = msg.get("Paused") == "1"
        m.paused_reason = msg.get("PausedReason", "") if m.paused else ""
        m.in_call = msg.get("InCall") == "1"
        m.calls_taken = _int(msg.get("CallsTaken"), m.calls_taken)
        m.last_call = _int(msg.get("LastCall"), m.last_call)
        m.wrapuptime = _int(msg.get("Wrapuptime"), m.wrapuptime)
        if msg.action_id is None and (m.availability, m.paused_reason) != before:
            m.last_change = now
        elif m.last_change is None and m.paused:
            # A QueueStatus answer (after a (re)connect): Asterisk's own pause start.
            last_pause = _int(msg.get("LastPause"), 0)
            m.last_change = float(last_pause) if last_pause > 0 else None
        return [Change("queue_member", m.key)]

    def _queue_member_removed(self, msg: Message, now: float) -> list[Change]:
        key = f"{msg.get('Queue', '')}|{msg.get('Interface', '')}"
        if self.queue_members.pop(key, None) is None:
            return []
        return [Change("queue_member", key, True)]

    def _agent_called(self, msg: Message, now: float) -> list[Change]:
        m = self._member(msg)
        m.ringing = True
        m.last_change = now
        return [Change("queue_member", m.key)]

    def _agent_connect(self, msg: Message, now: float) -> list[Change]:
        m = self._member(msg)
        m.ringing = False
        m.in_call = True
        m.last_change = now
        return [Change("queue_member", m.key)]

    def _agent_done(self, msg: Message, now: float) -> list[Change]:
        m = self._member(msg)
        m.ringing = False
        if msg.name != "AgentRingNoAnswer":
            m.in_call = False
        if msg.name == "AgentComplete":
            m.call_ended_at = now
        m.last_change = now
        return [Change("queue_member", m.key)]

    # ------------------------------------------------------------------ queue callers
    def _caller_join(self, msg: Message, now: float) -> list[Change]:
        uid = msg.get("Uniqueid") or ""
        queue = msg.get("Queue") or ""
        if not uid or not queue:
            return []
        # QueueEntry (the QueueStatus answer) says how long the caller has waited already.
        waited = _int(msg.get("Wait")) if msg.name == "QueueEntry" else 0
        known = self.queue_callers.get(uid)
        if known is not None and known.queue == queue:
            return []  # a listing repeating a caller the events already told us about
        self.queue_callers[uid] = QueueCallerInfo(queue, uid, msg.get("Linkedid") or uid, now - waited)
        return [Change("queue_caller", uid)]

    def _caller_leave(self, msg: Message, now: float) -> list[Change]:
        # Abandon comes before Leave for the same caller (app_queue.c record_abandoned()
        # then leave_queue()): the second finds nothing and changes nothing.
        uid = msg.get("Uniqueid") or ""
        if self.queue_callers.pop(uid, None) is None:
            return []
        return [Change("queue_caller", uid, True)]


def approx_size(obj: object, _seen: set[int] | None = None) -> int:
    """Recursive ``sys.getsizeof`` over slots, dicts, lists and strings (not interned
    singletons): a quick per-object memory figure for tests and the dashboard's
    diagnostics. ``bench/ami_state_memory.py`` measures with tracemalloc instead."""
    seen = _seen if _seen is not None else set()
    if id(obj) in seen or obj is None or isinstance(obj, bool | int | float) and -5 <= obj <= 256:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(approx_size(k, seen) + approx_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, list | tuple | set):
        size += sum(approx_size(v, seen) for v in obj)
    elif hasattr(obj, "__slots__") and not isinstance(obj, str | bytes):
        for cls in type(obj).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                if hasattr(obj, slot):
                    size += approx_size(getattr(obj, slot), seen)
    return size
