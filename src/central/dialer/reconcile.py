"""Reconcile: which of our attempts are still alive on the PBX, asked instead of guessed.

After a crash (another dialer took the campaign over) or an AMI reconnect (events were
lost while the link was down) the engine does not know how attempts in flight ended. It
never re-sends their Originate: it lists the PBX's channels (``CoreShowChannels``,
ami-core-show-channels.txt) and matches them by the pre-assigned ids, because
``ChannelId = attempt uid`` makes the customer leg's ``Uniqueid`` and every channel's
``Linkedid`` equal to the uid. Channels that match nothing are asked for the
``CENTRAL_ATTEMPT_ID`` variable (``Getvar``, getvar-2 in the same fixture), for dialplans
or trunks that did not keep the ChannelId. Found calls are adopted and followed by their
events; the others are over and are settled by :func:`settle_gone` from what the
platform knows, never guessed (issue 14):

1. the PBX link's call record for the attempt (``CallRecord.attempt_id``, read through
   ``central.telephony.store.records_for_attempts``): it followed every event of the
   call, so its disposition, agent and times are the call's;
2. else the attempt row itself: an agent connection the dialer saw and wrote before it
   stopped (``connected_at``) means answered, end unknown;
3. else, once a short grace for the link to write its record has passed, ``unknown``
   with the reason in the note. Never ``answered`` or ``abandoned`` by default: a
   customer counted as answered is never called again, one counted as abandoned
   inflates the abandonment rate the pacing and Anatel reports depend on.

The customer's own channels are ``uid``, ``uid-2`` and ``uid;2`` (``core.customer_leg_ids``);
only other channels sharing the call's Linkedid are agent legs.

No Django here: the engine does the database side with ``claims``.
"""

from __future__ import annotations

from dataclasses import dataclass

from central.dialer.core import SHORT_CALL_SECONDS, Outcome, customer_leg_ids
from central.telephony import chanvars
from central.telephony.ami.client import AMIClient

__all__ = ["RECORD_GRACE_S", "PbxCall", "find_on_pbx", "match_channels", "settle_gone"]

#: Seconds a call gone from the PBX may wait for the PBX link's record before it is
#: settled as unknown (the link writes records every 0.3 s; an AMI reconnect of the
#: dialer can race a call that ended a moment before the listing).
RECORD_GRACE_S = 5.0

#: CallRecord disposition -> Attempt result (the same words on both sides).
_RECORD_RESULT = {"answered": "answered", "abandoned": "abandoned", "busy": "busy",
                  "no_answer": "no_answer", "congestion": "congestion", "failed": "failed"}

#: Getvar round trips allowed per reconcile (one per unmatched channel).
MAX_GETVARS = 200

_AGENT_HINT = ("agent-phones",)


@dataclass(frozen=True, slots=True)
class PbxCall:
    uid: str
    state: str  # ringing | dialing | queued | connected
    channels: int
    agent: str = ""


def _summarise(uid: str, chans: list) -> PbxCall:
    legs = set(customer_leg_ids(uid))
    leg1 = next((c for c in chans if c.get("Uniqueid") == uid), None)
    # Agent legs: other channels of the call, sharing its Linkedid (a channel matched
    # through Getvar is the customer's own leg, whatever its ids).
    others = [c for c in chans if c.get("Uniqueid") not in legs and c.get("Linkedid") == uid]
    if others:
        agent = next((c.get("Channel", "") for c in others), "")
        # Local/agent3@agent-phones-0000000a;1 -> the queue member interface
        iface = agent.split("-", 1)[0] if agent.startswith("Local/") else agent
        if "@" in agent and agent.startswith("Local/"):
            name, _, rest = agent.partition("@")
            iface = f"{name}@{rest.rsplit('-', 1)[0]}"
        return PbxCall(uid, "connected", len(chans), iface)
    states = {c.get("ChannelState") for c in chans}
    if leg1 is not None and leg1.get("ChannelState") == "6":
        return PbxCall(uid, "queued", len(chans))
    if "6" in states and leg1 is None:
        return PbxCall(uid, "queued", len(chans))
    if states & {"4", "5"}:
        return PbxCall(uid, "ringing", len(chans))
    return PbxCall(uid, "dialing", len(chans))


def match_channels(channels: list, uids: set[str], extra: dict[str, str] | None = None) -> dict[str, PbxCall]:
    """Group ``CoreShowChannel`` items by attempt: Uniqueid/Linkedid equal to the uid, or
    ``extra`` (Linkedid -> uid learnt with Getvar)."""
    groups: dict[str, list] = {}
    extra = extra or {}
    for ch in channels:
        uniq, link = ch.get("Uniqueid") or "", ch.get("Linkedid") or ""
        base = uniq[:-2] if uniq.endswith(("-2", ";2")) else uniq
        uid = next((u for u in (uniq, base, link, extra.get(link, ""), extra.get(uniq, "")) if u in uids), None)
        if uid is not None:
            groups.setdefault(uid, []).append(ch)
    return {uid: _summarise(uid, chans) for uid, chans in groups.items()}


async def find_on_pbx(client: AMIClient, uids: set[str]) -> dict[str, PbxCall]:
    """The attempts among ``uids`` that still have channels on the PBX."""
    if not uids:
        return {}
    listing = await client.send_list_action("CoreShowChannels")
    channels = listing.events
    found = match_channels(channels, uids)
    missing = uids - found.keys()
    if missing:
        extra: dict[str, str] = {}
        asked = 0
        for ch in channels:
            link = ch.get("Linkedid") or ""
            if link in extra or (ch.get("Uniqueid") or "") in uids or link in uids:
                continue
            if asked >= MAX_GETVARS:
                break
            asked += 1
            resp = await client.send_action("Getvar", {"Channel": ch.get("Channel", ""),
                                                       "Variable": chanvars.ATTEMPT_ID})
            value = resp.get("Value") or ""
            if value in missing:
                extra[link] = value
        if extra:
            found.update(match_channels(channels, uids, extra))
    return found


def _epoch(value) -> float | None:
    """A datetime (database row) or epoch seconds as epoch seconds."""
    if value is None:
        return None
    return value.timestamp() if hasattr(value, "timestamp") else float(value)


def settle_gone(row: dict, record: dict | None, campaign_id: int, now: float, *,
                final: bool) -> Outcome | None:
    """The outcome of an attempt that is no longer on the PBX, from what is known.

    ``row`` is the attempt (``claims.inflight_attempts``), ``record`` the PBX link's call
    record for it or None. Returns None while a record may still come (``final`` False
    and nothing else settles it): the engine asks again after :data:`RECORD_GRACE_S`.
    """
    uid = row["uid"]
    dialed = _epoch(row.get("sent_at") or row.get("created_at")) or now
    answered = _epoch(row.get("answered_at"))
    connected = _epoch(row.get("connected_at"))
    base = dict(uid=uid, campaign_id=campaign_id, contact_id=row["contact_id"], dialed_at=dialed)
    if record is not None:
        result = _RECORD_RESULT.get(record.get("disposition") or "", "unknown")
        rec_answered = _epoch(record.get("answered_at"))
        ended = _epoch(record.get("ended_at"))
        # The interface the dialer saw (AgentConnect) if it wrote it, else the record's
        # member name (CallRecord.agent).
        agent = row.get("agent") or record.get("agent") or ""
        if result == "answered" and connected is None and rec_answered is not None:
            wait = record.get("queue_wait")
            connected = rec_answered + wait if wait is not None else None
        answered_at = rec_answered if rec_answered is not None else answered
        talk = None
        if result == "answered" and ended is not None and connected is not None:
            talk = max(0.0, ended - connected)
        billsec = record.get("billsec") if answered_at is not None else None  # the CDR's whole seconds
        return Outcome(
            **base, reconciled=True, result=result, ended_at=ended if ended is not None else now, ended_known=ended is not None,
            answered_at=answered_at if result in ("answered", "abandoned") else None,
            connected_at=connected if result == "answered" else None,
            agent=agent if result == "answered" else "", talk_seconds=talk,
            hangup_cause=record.get("hangup_cause"), hangup_cause_text=record.get("hangup_cause_text") or "",
            short_call=billsec is not None and billsec <= SHORT_CALL_SECONDS and result in ("answered", "abandoned"),
            note=f"reconciled: from the PBX link's call record {record.get('linkedid', '')} "
                 f"({record.get('disposition')})",
        )
    if connected is not None:
        # The dialer saw AgentConnect and wrote it before it stopped: an agent took the
        # call. How long they talked is not known without the record.
        return Outcome(**base, reconciled=True, result="answered", ended_at=now, ended_known=False, answered_at=answered,
                       connected_at=connected, agent=row.get("agent") or "",
                       note="reconciled: an agent had taken the call before the dialer stopped; "
                            "no call record, so its end is unknown")
    if not final:
        return None
    seen = ("answered by the customer, no agent seen" if answered is not None else
            f"last state {row.get('state') or 'unknown'}")
    return Outcome(**base, reconciled=True, result="unknown", ended_at=now, ended_known=False, answered_at=answered,
                   note=f"reconciled: not on the PBX and no call record from the PBX link ({seen}); "
                        "outcome unknown")
