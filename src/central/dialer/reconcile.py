"""Reconcile: which of our attempts are still alive on the PBX, asked instead of guessed.

After a crash (another dialer took the campaign over) or an AMI reconnect (events were
lost while the link was down) the engine does not know how attempts in flight ended. It
never re-sends their Originate: it lists the PBX's channels (``CoreShowChannels``,
ami-core-show-channels.txt) and matches them by the pre-assigned ids, because
``ChannelId = attempt uid`` makes the customer leg's ``Uniqueid`` and every channel's
``Linkedid`` equal to the uid. Channels that match nothing are asked for the
``CENTRAL_ATTEMPT_ID`` variable (``Getvar``, getvar-2 in the same fixture), for dialplans
or trunks that did not keep the ChannelId. Found calls are adopted and followed by their
events; the others are over and are closed without dialing again.

No Django here: the engine does the database side with ``claims``.
"""

from __future__ import annotations

from dataclasses import dataclass

from central.telephony.ami.client import AMIClient

__all__ = ["PbxCall", "find_on_pbx", "match_channels"]

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
    legs = {uid, f"{uid}-2"}
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
        base = uniq[:-2] if uniq.endswith("-2") else uniq
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
                                                       "Variable": "CENTRAL_ATTEMPT_ID"})
            value = resp.get("Value") or ""
            if value in missing:
                extra[link] = value
        if extra:
            found.update(match_channels(channels, uids, extra))
    return found
