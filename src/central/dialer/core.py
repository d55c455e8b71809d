"""The dialer engine's sans-I/O core: AMI events and time in, call outcomes out.

Nothing here touches a socket, the database or a clock (no Django import either): the
asyncio adapter (``engine.py``) feeds it parsed AMI messages with the time they arrived
and writes what it returns. That keeps the rules that decide a call's result, an agent's
availability and a contact's next attempt testable in microseconds.

Matching events to attempts
---------------------------
Every Originate carries ``ChannelId = attempt.uid`` (and ``OtherChannelId`` for the
``;2`` half of a Local channel), so the customer leg's ``Uniqueid`` *is* the attempt id
and every channel of the call (the agent legs included) carries it as ``Linkedid``
(ami-core-show-channels.txt: ``ChannelId: att-123-leg1`` gives ``Uniqueid: att-123-leg1``;
ami-event-stream-answered-queue-agent.txt: the agent pair shares the caller's Linkedid).
So no lookup table from Asterisk's ids to ours is needed, and a dialer that restarts can
recognise its calls on the PBX by id alone.

Deciding the result
-------------------
* ``OriginateResponse`` ``Reason`` (ami-login-and-actions.txt): 4 answered, 5 busy,
  8 congestion, 3 no answer by the Originate timeout. Reason 0 is ambiguous: a bad
  channel, or the network releasing an unanswered call with cause 19, which the fixture
  ami-event-stream-noanswer-cause19.txt shows followed by ``DialEnd NOANSWER``; we use
  the ``DialEnd`` status and the hangup cause to tell them apart.
* An answered call joins the campaign queue (``QueueCallerJoin``); ``AgentConnect``
  means an agent took it. No agent within ``abandon_after`` seconds is an **abandoned**
  call (FCC/Ofcom definition the issue adopts): the caller leaves (``QueueCallerAbandon``)
  or hears the short-call message the dialplan plays when the queue times out.
* The result is final when the customer leg hangs up (``Hangup`` of ``Uniqueid = uid``)
  and the Originate's own answer is known, because their order varies between captures.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from central.telephony import chanvars
from central.telephony.cdr import cdr_seconds
from central.telephony.outcomes import originate_outcome

__all__ = [
    "RESULTS",
    "SHORT_CALL_SECONDS",
    "AgentBoard",
    "CallEvent",
    "CallTracker",
    "Member",
    "Outcome",
    "RetryDecision",
    "TrackedCall",
    "agent_first_request",
    "caller_id_for",
    "customer_leg_ids",
    "dial_request",
    "other_channel_id",
    "retry_decision",
    "within_hours",
]

#: Attempt results (the values of ``Attempt.Result``).
RESULTS = ("answered", "busy", "no_answer", "congestion", "failed", "abandoned", "unknown")

#: Anatel's threshold: operators are flagged for many answered calls of 6 s or less,
#: counted in the whole seconds Asterisk's CDR bills (``billsec``, truncated: see
#: :func:`central.telephony.cdr.cdr_seconds`), so 6.9 s answered is a short call.
SHORT_CALL_SECONDS = 6

# The result of an unanswered Originate: central.telephony.outcomes (one rule with the
# concierge's return leg).
_UP = "6"  # ChannelState 6 = Up (ChannelStateDesc: Up)
_RINGING = ("4", "5")

#: Hangups of channels we do not track, remembered so a call adopted by reconcile a
#: moment after it ended is still finalised (the list answer and the Hangup can arrive
#: in the same read).
ORPHAN_HANGUPS = 20_000


class Msg(Protocol):
    """What the core needs of an AMI message (``central.telephony.ami.protocol.Message``)."""

    name: str

    def get(self, key: str, default: str | None = None) -> str | None: ...


# ---------------------------------------------------------------------------
# Calls
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class TrackedCall:
    uid: str
    campaign_id: int
    contact_id: int
    dialed_at: float
    other_uid: str | None = None
    predictive: bool = False
    abandon_after: float = 2.0
    state: str = "dialing"  # dialing | ringing | answered | queued | connected | ended
    answered_at: float | None = None
    queued_at: float | None = None
    connected_at: float | None = None
    ended_at: float | None = None
    agent: str = ""
    originate_reason: int | None = None
    originate_known: bool = False
    dial_status: str = ""
    cause: int | None = None
    cause_text: str = ""
    other_cause: int | None = None
    channels_seen: bool = False
    abandoned_seen: bool = False
    adopted: bool = False  # found alive on the PBX by reconcile, followed from then on
    note: str = ""  # Asterisk's message when it refused the Originate
    done: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """The final word on one attempt: what the engine writes to ``Attempt`` and uses to
    schedule the contact's next try."""

    uid: str
    campaign_id: int
    contact_id: int
    result: str
    dialed_at: float
    ended_at: float
    answered_at: float | None = None
    connected_at: float | None = None
    agent: str = ""
    talk_seconds: float | None = None
    hangup_cause: int | None = None
    hangup_cause_text: str = ""
    short_call: bool = False
    late: bool = False  # connected, but after abandon_after: counts as abandoned in rates
    note: str = ""  # why, in words: Asterisk's refusal, how reconcile settled it
    ended_known: bool = True  # False: settled by reconcile without knowing when it ended
    reconciled: bool = False  # settled (or adopted and followed) by reconcile

    @property
    def abandoned(self) -> bool:
        return self.result == "abandoned" or self.late

    @property
    def billsec(self) -> int | None:
        """Answer -> end in whole seconds as Asterisk's CDR bills them (truncated)."""
        return None if self.answered_at is None else max(0, cdr_seconds(self.answered_at, self.ended_at))


@dataclass(frozen=True, slots=True)
class CallEvent:
    """A step the estimator and the metrics want to hear about.

    kinds: ``ringing``, ``answered`` (data: ring), ``connected`` (wait, agent),
    ``abandoned`` (wait), ``talk_ended`` (talk), ``outcome`` (outcome: Outcome).
    """

    kind: str
    uid: str
    campaign_id: int
    t: float
    data: dict = field(default_factory=dict)


class CallTracker:
    """Live state of the calls this dialer placed (or adopted), fed with AMI events."""

    def __init__(self) -> None:
        self.calls: dict[str, TrackedCall] = {}
        self._by_channel: dict[str, str] = {}  # uniqueid of either leg -> attempt uid
        self._orphans: OrderedDict[str, tuple[float, int | None, str]] = OrderedDict()
        self.stats = {"events": 0, "outcomes": 0, "ignored": 0}

    # -- registration ---------------------------------------------------------

    def track(self, uid: str, campaign_id: int, contact_id: int, now: float, *,
              other_uid: str | None = None, predictive: bool = False,
              abandon_after: float = 2.0) -> TrackedCall:
        call = TrackedCall(uid, campaign_id, contact_id, now, other_uid=other_uid,
                           predictive=predictive, abandon_after=abandon_after)
        self.calls[uid] = call
        for leg in (*customer_leg_ids(uid), other_uid):
            if leg:
                self._by_channel[leg] = uid
        return call

    def adopt(self, uid: str, campaign_id: int, contact_id: int, dialed_at: float, now: float, *,
              state: str, answered_at: float | None = None, connected_at: float | None = None,
              agent: str = "", other_uid: str | None = None,
              abandon_after: float = 2.0) -> list[CallEvent]:
        """Take over a call found alive on the PBX by reconcile (after a crash or an AMI
        reconnect): no Originate task will report on it, so its answer is "known" from the
        channel's state. If it hung up between the listing and now, finalise at once."""
        call = self.track(uid, campaign_id, contact_id, dialed_at, other_uid=other_uid,
                          abandon_after=abandon_after)
        call.originate_known = True
        call.channels_seen = True
        call.adopted = True
        call.state = state
        if state in ("answered", "queued", "connected"):
            call.answered_at = answered_at if answered_at is not None else now
            call.originate_reason = 4
        if state == "connected":
            call.connected_at = connected_at if connected_at is not None else now
            call.agent = agent
        gone = self._orphans.pop(uid, None)
        if gone is not None:
            t, cause, text = gone
            call.ended_at, call.cause, call.cause_text = t, cause, text
            return self._finalize(call, max(t, now))
        return []

    def forget(self, uid: str) -> None:
        call = self.calls.pop(uid, None)
        if call is not None:
            for leg in (*customer_leg_ids(call.uid), call.other_uid):
                if leg:
                    self._by_channel.pop(leg, None)

    # -- queries for pacing -----------------------------------------------------

    def live(self, campaign_id: int | None = None) -> list[TrackedCall]:
        return [c for c in self.calls.values()
                if not c.done and (campaign_id is None or c.campaign_id == campaign_id)]

    def in_flight(self, campaign_id: int) -> list[float]:
        """Dial times of calls not answered yet (PacingSnapshot.calls_in_flight)."""
        return [c.dialed_at for c in self.calls.values()
                if c.campaign_id == campaign_id and not c.done and c.state in ("dialing", "ringing")]

    def queued(self, campaign_id: int) -> int:
        """Answered callers still waiting for an agent."""
        return sum(1 for c in self.calls.values()
                   if c.campaign_id == campaign_id and not c.done and c.state in ("answered", "queued"))

    # -- inputs -----------------------------------------------------------------

    def originate_result(self, uid: str, reason: int | None, now: float, *,
                         uniqueid: str | None = None, rejected: bool = False,
                         note: str = "") -> list[CallEvent]:
        """What ``AMIClient.originate`` returned for this attempt (``note``: Asterisk's
        message when it refused the action, kept on the attempt)."""
        call = self.calls.get(uid)
        if call is None or call.done:
            return []
        call.originate_known = True
        call.note = note or call.note
        call.originate_reason = None if rejected else reason
        out: list[CallEvent] = []
        if reason == 4 and call.answered_at is None:
            out += self._answer(call, now)
        if call.state == "ended" or (not call.channels_seen and reason != 4):
            # Failed before any channel existed (orig-fail-async in
            # ami-login-and-actions.txt: Reason 0, Uniqueid <unknown>, no Hangup ever).
            call.ended_at = call.ended_at or now
            out += self._finalize(call, now)
        return out

    def on_event(self, msg: Msg, now: float) -> list[CallEvent]:
        """One AMI event; returns the steps it caused (usually none)."""
        name = msg.name
        handler = _HANDLERS.get(name)
        if handler is None:
            return []
        self.stats["events"] += 1
        return handler(self, msg, now)

    def sweep(self, now: float, stale_after: float = 120.0) -> list[TrackedCall]:
        """Calls that should have ended but produced nothing (events lost): returned so
        the adapter reconciles them with the PBX instead of guessing."""
        out = []
        for c in self.calls.values():
            if c.done:
                continue
            last = max(t for t in (c.dialed_at, c.answered_at, c.connected_at) if t is not None)
            if c.state in ("dialing", "ringing", "ended") and now - last > stale_after:
                out.append(c)
        return out

    # -- event handlers -----------------------------------------------------------

    def _call_for(self, msg: Msg, *keys: str) -> TrackedCall | None:
        for key in keys:
            value = msg.get(key)
            if value:
                uid = self._by_channel.get(value)
                if uid is not None:
                    call = self.calls.get(uid)
                    if call is not None and not call.done:
                        return call
        return None

    def _h_newchannel(self, msg: Msg, now: float) -> list[CallEvent]:
        call = self._call_for(msg, "Uniqueid")
        if call is not None:
            call.channels_seen = True
        return []

    def _h_newstate(self, msg: Msg, now: float) -> list[CallEvent]:
        call = self._call_for(msg, "Uniqueid")
        if call is None:
            return []
        call.channels_seen = True
        state = msg.get("ChannelState")
        if state == _UP and call.answered_at is None:
            # Either half answering means the customer answered (;2 goes Up first in
            # ami-event-stream-ami-hangup.txt, then ;1).
            return self._answer(call, now)
        if state in _RINGING and call.state == "dialing":
            call.state = "ringing"
            return [CallEvent("ringing", call.uid, call.campaign_id, now)]
        return []

    def _h_dialend(self, msg: Msg, now: float) -> list[CallEvent]:
        # The customer leg is the Dest of the Local channel's dial
        # (ami-event-stream-busy.txt: DestUniqueid = the ;1 leg).
        call = self._call_for(msg, "DestUniqueid")
        if call is None:
            return []
        status = (msg.get("DialStatus") or "").upper()
        call.dial_status = status
        if status == "ANSWER" and call.answered_at is None:
            return self._answer(call, now)
        return []

    def _h_queuecallerjoin(self, msg: Msg, now: float) -> list[CallEvent]:
        call = self._call_for(msg, "Uniqueid", "Linkedid")
        if call is None:
            return []
        out = self._answer(call, now) if call.answered_at is None else []
        call.state, call.queued_at = "queued", now
        return out

    def _h_agentconnect(self, msg: Msg, now: float) -> list[CallEvent]:
        call = self._call_for(msg, "Uniqueid", "Linkedid")
        if call is None:
            return []
        out = self._answer(call, now) if call.answered_at is None else []
        call.state, call.connected_at = "connected", now
        call.agent = msg.get("MemberName") or msg.get("Interface") or ""
        call.agent = (msg.get("Interface") or call.agent)
        wait = now - (call.answered_at or now)
        out.append(CallEvent("connected", call.uid, call.campaign_id, now,
                             {"wait": wait, "agent": call.agent, "predictive": call.predictive}))
        return out

    def _h_queuecallerabandon(self, msg: Msg, now: float) -> list[CallEvent]:
        call = self._call_for(msg, "Uniqueid", "Linkedid")
        if call is None or call.abandoned_seen:
            return []
        call.abandoned_seen = True
        wait = now - (call.answered_at or now)
        return [CallEvent("abandoned", call.uid, call.campaign_id, now,
                          {"wait": wait, "predictive": call.predictive})]

    def _h_hangup(self, msg: Msg, now: float) -> list[CallEvent]:
        uniqueid = msg.get("Uniqueid") or ""
        cause_raw = msg.get("Cause") or ""
        cause = int(cause_raw) if cause_raw.isdigit() else None
        text = msg.get("Cause-txt") or ""
        uid = self._by_channel.get(uniqueid)
        call = self.calls.get(uid) if uid is not None else None
        if call is None or call.done:
            if uid is None and uniqueid:
                self._orphans[uniqueid] = (now, cause, text)
                if len(self._orphans) > ORPHAN_HANGUPS:
                    self._orphans.popitem(last=False)
            return []
        if uniqueid != call.uid:  # the ;2 half (OtherChannelId, or <uid>;2 without one)
            call.other_cause = cause
            return []
        call.cause, call.cause_text, call.ended_at = cause, text, now
        out: list[CallEvent] = []
        if call.connected_at is not None:
            out.append(CallEvent("talk_ended", call.uid, call.campaign_id, now,
                                 {"talk": now - call.connected_at, "agent": call.agent}))
        if call.answered_at is not None and call.connected_at is None and not call.abandoned_seen:
            # Left the queue without an agent (the short-call message played, or the
            # caller hung up): abandoned.
            call.abandoned_seen = True
            out.append(CallEvent("abandoned", call.uid, call.campaign_id, now,
                                 {"wait": now - call.answered_at, "predictive": call.predictive}))
        call.state = "ended"
        if call.originate_known or call.answered_at is not None:
            out += self._finalize(call, now)
        return out

    # -- helpers -------------------------------------------------------------------

    def _answer(self, call: TrackedCall, now: float) -> list[CallEvent]:
        call.answered_at = now
        if call.state in ("dialing", "ringing"):
            call.state = "answered"
        return [CallEvent("answered", call.uid, call.campaign_id, now,
                          {"ring": now - call.dialed_at})]

    def _finalize(self, call: TrackedCall, now: float) -> list[CallEvent]:
        if call.done:
            return []
        call.done = True
        self.stats["outcomes"] += 1
        ended = call.ended_at if call.ended_at is not None else now
        out: list[CallEvent] = []
        late = False
        talk = None
        if call.answered_at is not None:
            if call.connected_at is None:
                result = "abandoned"
            else:
                result = "answered"
                talk = max(0.0, ended - call.connected_at)
                late = call.connected_at - call.answered_at > call.abandon_after
        else:
            result = originate_outcome(call.originate_reason, call.dial_status,
                                       (call.other_cause, call.cause))
            if result == "answered":  # Reason 4 without any channel event: trust it
                result = "abandoned"
            out.append(CallEvent("result", call.uid, call.campaign_id, ended,
                                 {"outcome": result, "ring": ended - call.dialed_at}))
        billsec = max(0, cdr_seconds(call.answered_at, ended)) if call.answered_at is not None else None
        outcome = Outcome(
            uid=call.uid, campaign_id=call.campaign_id, contact_id=call.contact_id, result=result,
            dialed_at=call.dialed_at, ended_at=ended, answered_at=call.answered_at,
            connected_at=call.connected_at, agent=call.agent, talk_seconds=talk,
            hangup_cause=call.cause if call.cause is not None else call.other_cause,
            hangup_cause_text=call.cause_text,
            short_call=billsec is not None and billsec <= SHORT_CALL_SECONDS,
            late=late,
            note="reconciled: found on the PBX after a restart or reconnect, followed to its end"
            if call.adopted else call.note,
            reconciled=call.adopted,
        )
        out.append(CallEvent("outcome", call.uid, call.campaign_id, ended, {"outcome": outcome}))
        self.forget(call.uid)
        return out


_HANDLERS = {
    "Newchannel": CallTracker._h_newchannel,
    "Newstate": CallTracker._h_newstate,
    "DialEnd": CallTracker._h_dialend,
    "QueueCallerJoin": CallTracker._h_queuecallerjoin,
    "AgentConnect": CallTracker._h_agentconnect,
    "QueueCallerAbandon": CallTracker._h_queuecallerabandon,
    "Hangup": CallTracker._h_hangup,
}


# ---------------------------------------------------------------------------
# Agents (queue members)
# ---------------------------------------------------------------------------

# Queue member Status = ast_device_state (app_queue, ami-queue-member-pause.txt):
# 1 NOT_INUSE is the only "free" one; 4 INVALID / 5 UNAVAILABLE mean logged out.
_MEMBER_FREE = {1}
_MEMBER_OFFLINE = {4, 5}


@dataclass(slots=True)
class Member:
    queue: str
    interface: str
    name: str = ""
    status: int = 1
    paused: bool = False
    since: float = 0.0
    busy_until_free: float = 0.0  # end of wrap-up
    wrapuptime: float = 0.0
    wrap_started: float = 0.0  # end of the last call: where wrap-up counts from
    #: Real wrap-up (the campaign counts it on the agent's page): the call ended and the
    #: agent has not saved a disposition yet.
    awaiting_disposition: bool = False
    #: A disposition was saved while the call was still up: no wrap-up after it.
    disposed_early: bool = False
    call_over: bool = False  # the end of the current call was counted already

    def state(self, now: float) -> str:
        if self.paused:
            return "paused"
        if self.status in _MEMBER_OFFLINE:
            return "offline"
        if self.status in _MEMBER_FREE:
            return "wrapup" if now < self.busy_until_free else "free"
        return "talking"


class AgentBoard:
    """Queue members and their state, from ``QueueStatus`` and the member events.

    Asterisk has no event for wrap-up (app_queue keeps members "Not in use" during
    ``wrapuptime``), so a member that just left a call counts as in wrap-up for
    ``max(member Wrapuptime, wrapup_s)`` seconds: dialing for them would strand a caller.
    """

    def __init__(self, wrapup_s: float = 0.0) -> None:
        self.wrapup_s = wrapup_s
        self.queues: dict[str, dict[str, Member]] = {}
        #: queue -> the campaign's maximum wrap-up in seconds, for queues whose campaign
        #: counts the real wrap-up (until the agent saves the disposition on their page,
        #: :meth:`disposition_saved`) instead of the queue's fixed ``Wrapuptime``.
        self.real_wrapup: dict[str, float] = {}

    def clear(self) -> None:
        self.queues.clear()

    def load(self, events: list, now: float) -> None:
        """Replace the state with a ``QueueStatus`` answer (QueueMember list items use
        ``Name``/``Location`` instead of ``MemberName``/``Interface``: ami-queue-actions.txt)."""
        self.queues.clear()
        for ev in events:
            if ev.name == "QueueMember":
                self._upsert(ev, now, iface_key="Location", name_key="Name")

    def on_event(self, msg: Msg, now: float) -> None:
        name = msg.name
        if name in ("QueueMemberStatus", "QueueMemberPause", "QueueMemberAdded"):
            self._upsert(msg, now)
        elif name == "QueueMemberRemoved":
            members = self.queues.get(msg.get("Queue") or "", {})
            members.pop(msg.get("Interface") or "", None)
        elif name == "AgentComplete":
            m = self.queues.get(msg.get("Queue") or "", {}).get(msg.get("Interface") or "")
            if m is not None:
                self._call_ended(m, now)

    def _fixed_wrapup(self, m: Member) -> float:
        return max(m.wrapuptime, self.wrapup_s)

    def _call_ended(self, m: Member, now: float) -> None:
        """The member's call ended: wrap-up starts. With real wrap-up it lasts until the
        disposition (at most the campaign's limit), never less than the queue's own
        ``Wrapuptime``, during which app_queue rings nobody anyway."""
        if m.call_over:
            return  # AgentComplete and the status change report the same end
        m.call_over = True
        m.wrap_started = now
        fixed = now + self._fixed_wrapup(m)
        limit = self.real_wrapup.get(m.queue, 0.0)
        if limit > 0 and not m.disposed_early:
            m.awaiting_disposition = True
            m.busy_until_free = max(fixed, now + limit)
        else:
            m.awaiting_disposition = False
            m.busy_until_free = max(m.busy_until_free if m.busy_until_free > now else 0.0, fixed)
        m.disposed_early = False

    def disposition_saved(self, interface: str, now: float) -> float | None:
        """The agent of ``interface`` saved a disposition (seen by the engine at ``now``):
        their wrap-up ends now (or when the queue's ``Wrapuptime`` ends, if later).
        Returns the wrap-up seconds it lasted, for the estimator; None when the member
        was not waiting for one (saved during the call: the next end has no wrap-up)."""
        spent = None
        for members in self.queues.values():
            m = members.get(interface)
            if m is None or m.queue not in self.real_wrapup:
                continue
            if m.awaiting_disposition:
                m.awaiting_disposition = False
                m.busy_until_free = max(m.wrap_started + self._fixed_wrapup(m), now)
                spent = max(0.0, min(now, m.wrap_started + self.real_wrapup[m.queue]) - m.wrap_started)
            elif m.status not in _MEMBER_FREE and m.status not in _MEMBER_OFFLINE:
                m.disposed_early = True
        return spent

    def _upsert(self, msg: Msg, now: float, iface_key: str = "Interface",
                name_key: str = "MemberName") -> None:
        queue = msg.get("Queue") or ""
        iface = msg.get(iface_key) or ""
        if not queue or not iface:
            return
        members = self.queues.setdefault(queue, {})
        m = members.get(iface)
        if m is None:
            m = members[iface] = Member(queue, iface, since=now)
        m.name = msg.get(name_key) or m.name
        status_raw = msg.get("Status") or ""
        status = int(status_raw) if status_raw.isdigit() else m.status
        paused = (msg.get("Paused") or "0") == "1"
        wrap_raw = msg.get("Wrapuptime") or ""
        if wrap_raw.isdigit():
            m.wrapuptime = float(wrap_raw)
        before = m.state(now)
        if m.status not in _MEMBER_FREE and status in _MEMBER_FREE and m.status not in _MEMBER_OFFLINE:
            self._call_ended(m, now)
        elif status not in _MEMBER_FREE and status not in _MEMBER_OFFLINE:
            m.awaiting_disposition = False  # on a call again (Asterisk rang them anyway)
            m.call_over = False
        m.status, m.paused = status, paused
        if m.state(now) != before:
            m.since = now

    def members(self, queue: str) -> list[Member]:
        return list(self.queues.get(queue, {}).values())

    def views(self, queue: str, now: float) -> list[tuple[str, float]]:
        """(state, since) per member, for ``pacing.AgentView``."""
        out = []
        for m in self.members(queue):
            st = m.state(now)
            since = m.since
            if st == "wrapup":
                since = m.wrap_started
            out.append((st, since))
        return out

    def counts(self, queue: str, now: float) -> dict[str, int]:
        c = {"logged": 0, "free": 0, "talking": 0, "wrapup": 0, "paused": 0, "offline": 0}
        for m in self.members(queue):
            st = m.state(now)
            c[st] += 1
            if st != "offline":
                c["logged"] += 1
        return c


# ---------------------------------------------------------------------------
# Retry policy and working hours (pure)
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryDecision:
    status: str  # Contact.Status value
    next_attempt_at: datetime | None


def retry_decision(result: str, *, attempts: int, max_attempts: int, attempts_today: int,
                   max_per_day: int, policy: dict, now: datetime, tz: str = "America/Sao_Paulo"
                   ) -> RetryDecision:
    """What happens to a contact after an attempt ended with ``result``.

    An answered (connected) call is done; every other result is retried after the
    policy's delay for that result (busy +10 min, no answer +30 min, congestion +5 min by
    default) until the total or the daily attempt cap is reached. The daily cap moves the
    next try to the next local day, never earlier than the policy delay.
    """
    if result == "answered":
        return RetryDecision("done", None)
    if attempts >= max_attempts:
        return RetryDecision("failed", None)
    delay = float(policy.get(result, policy.get("failed", 900)))
    nxt = now + timedelta(seconds=delay)
    if attempts_today >= max_per_day:
        zone = ZoneInfo(tz)
        local = now.astimezone(zone)
        tomorrow = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), zone)
        nxt = max(nxt, tomorrow)
    return RetryDecision("pending", nxt)


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def within_hours(working_hours: dict, tz: str, now: datetime, holiday: bool = False) -> bool:
    """Is ``now`` inside the campaign's working hours in time zone ``tz``?

    ``working_hours`` maps mon..sun to ``[["09:00", "20:00"], ...]`` (the model default);
    a holiday counts as a day with no hours.
    """
    if holiday:
        return False
    local = now.astimezone(ZoneInfo(tz or "America/Sao_Paulo"))
    spans = working_hours.get(_DAYS[local.weekday()]) or []
    hhmm = local.strftime("%H:%M")
    return any(len(s) == 2 and s[0] <= hhmm < s[1] for s in spans)


# ---------------------------------------------------------------------------
# The Originate
# ---------------------------------------------------------------------------


def caller_id_for(caller_id: str, use_0303: bool) -> str | None:
    """Caller ID with Anatel's telemarketing prefix when asked.

    Anatel (Ato 10.413/2022) requires active telemarketing to present a number in the
    0303 non-geographic code; the campaign stores its own number and we prefix it.
    """
    if not caller_id:
        return None
    if not use_0303:
        return caller_id
    name, lt, rest = caller_id.partition("<")
    number = rest.rstrip(">") if lt else caller_id
    digits = "".join(ch for ch in number if ch.isdigit())
    if not digits.startswith("0303"):
        digits = "0303" + digits.removeprefix("55")[-8:] if len(digits) > 8 else "0303" + digits
    return f"{name.strip()} <{digits}>".strip() if lt and name.strip() else digits


def other_channel_id(uid: str) -> str:
    """The id the dialer gives the ``;2`` half of a Local channel (``OtherChannelId``)."""
    return f"{uid}-2"


def customer_leg_ids(uid: str) -> tuple[str, ...]:
    """Every Uniqueid the customer's own channels of attempt ``uid`` can have.

    ``uid`` (ChannelId) and ``uid-2`` (our OtherChannelId), plus ``uid;2``: when an
    Originate carries a ChannelId but no OtherChannelId, Asterisk names the ``;2`` half of
    a Local channel ``<ChannelId>;2`` (main/core_unreal.c, ``ast_unreal_new_channels``:
    "if id1 given but not id2, use default of id1;2"). Dialers before issue 14 sent no
    OtherChannelId for campaigns with a trunk, and a reconcile took that ``;2`` half, which
    shares the call's Linkedid, for an agent leg.
    """
    return (uid, other_channel_id(uid), f"{uid};2")


def dial_request(*, uid: str, phone: str, dial_context: str, trunk: str, queue: str,
                 caller_id: str, use_0303: bool, ring_timeout_s: int, abandon_after_s: float,
                 campaign_id: int, dial_exten: str = "fila", short_call_message: str = "") -> dict:
    """Keyword arguments for ``AMIClient.originate`` for one attempt.

    ``Channel`` is ``Local/<number>@<dial_context>`` (the customer's ``discador-out``
    context dials the trunk, see docs/dialer-engine.md) or the campaign's trunk pattern
    (``PJSIP/{number}@operadora``). The answered leg continues at
    ``<dial_context>,<dial_exten>,1`` (``fila`` by default), which sends it to the campaign
    queue with a timeout of ``abandon_after_s`` and plays the short-call message when no
    agent answers.

    Both channel ids are always assigned: ``ChannelId`` is the uid and ``OtherChannelId``
    :func:`other_channel_id`. For a Local channel (a ``Local/...`` trunk pattern too) the
    second one names the ``;2`` half; other technologies ignore it (main/manager.c passes
    it as ``assignedids.uniqueid2``, used only by two-channel drivers).
    """
    number = phone
    if trunk:
        channel = trunk.replace("{number}", number.lstrip("+")).replace("{e164}", number)
    else:
        channel = f"Local/{number}@{dial_context}"
    variables = {
        chanvars.ATTEMPT_ID: uid,
        chanvars.CAMPAIGN_ID: str(campaign_id),
        chanvars.QUEUE: queue,
        chanvars.ABANDON_AFTER: str(max(1, math.ceil(abandon_after_s))),
        chanvars.RING_TIMEOUT: str(ring_timeout_s),
    }
    return {
        "channel": channel,
        "context": dial_context,
        "exten": dial_exten or "fila",
        "priority": 1,
        "caller_id": caller_id_for(caller_id, use_0303),
        "timeout_ms": int(ring_timeout_s * 1000),
        "variables": variables,
        "channel_id": uid,
        "other_channel_id": other_channel_id(uid),
    }


def agent_first_request(*, uid: str, interface: str, phone: str, dial_context: str, queue: str,
                        caller_id: str, use_0303: bool, ring_timeout_s: int, campaign_id: int) -> dict:
    """Keyword arguments for ``AMIClient.originate`` of a call the agent places from their
    page (preview, manual dial, a callback that comes back to them): the agent's own
    interface rings first (``Channel: PJSIP/2001``), and once they answer the channel
    continues at ``<number>@<dial_context>``, the extension of docs/dialer-engine.md
    (``_+X.``) that dials the customer through the trunk. No queue is involved, so the
    call reaches exactly this agent; ``ChannelId`` is the attempt uid like the engine's
    Originate, so the PBX link ties its call record to the attempt the same way."""
    variables = {
        chanvars.ATTEMPT_ID: uid,
        chanvars.CAMPAIGN_ID: str(campaign_id),
        chanvars.QUEUE: queue,
        chanvars.RING_TIMEOUT: str(ring_timeout_s),
    }
    return {
        "channel": interface,
        "context": dial_context,
        "exten": phone,
        "priority": 1,
        "caller_id": caller_id_for(caller_id, use_0303),
        "timeout_ms": int(ring_timeout_s * 1000),
        "variables": variables,
        "channel_id": uid,
    }
