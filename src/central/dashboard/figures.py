"""The operations overview's figures and alarm rules (pure: rows and a clock in, figures out).

The home page, the wallboard and their WebSocket push all show what :func:`build` returns
from plain rows (``central.telephony.store.live_overview`` / ``records_summary`` and
``central.dialer.services.campaigns_overview``), so the numbers a supervisor reads on a
page and on the wall screen come from one place. Nothing here imports Django or reads a
clock: ``now`` (epoch seconds) is passed in, and the tests drive it with a fake clock.

Definitions (each says which convention it follows):

* **Service level** of a queue: calls answered within ``threshold`` seconds of waiting
  over calls offered (answered + abandoned in the queue), Asterisk's
  ``ServicelevelPerf2`` (apps/app_queue.c: ``callscompletedinsl / (callscompleted +
  callsabandoned)``); ``None`` before the first call of the day (no figure, not 100 %).
* **Longest wait**: ``now`` minus the earliest ``queued_at`` of the callers waiting now;
  the page runs the clock from that instant (``oldest_since``) between pushes.
* **Abandonment level** against a campaign's cap: ``over`` above the cap, ``near`` from
  :data:`NEAR_SHARE` of it, else ``ok`` (red, amber, green on the page, never plain text).
* **Agents by state**: one count per agent interface (an agent in two queues counts once),
  the busiest state winning (:data:`AGENT_STATES` order).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

#: Message type of the overview push, and the topic a page asks for (``?topics=ops``).
OPS_TYPE = "ops"
#: ``near`` from this share of the cap (80 %: 2,4 % of a 3 % cap).
NEAR_SHARE = 0.8
#: QueueMember availabilities, busiest first (an agent's state across its queues).
AGENT_STATES = ("in_call", "ringing", "paused", "free", "unavailable")
#: Engine reasons that mean "this campaign is not dialing" (``dialer.pacing.REASONS`` and
#: the engine's own ``ami_down`` / ``reconciling``), plus ``no_dialer`` (no engine state).
STOP_REASONS = ("no_agents", "outside_hours", "no_contacts", "ami_down", "inactive", "no_dialer")
#: Link states of an Asterisk server that are an alarm (``AsteriskServer.Status``).
PBX_DOWN = ("disconnected", "error")
#: Rows kept per list pushed to a page: a wall screen left open all day receives a
#: bounded message whatever the tenant's size (the page shows "+N" for the rest).
MAX_ROWS = 12


def _epoch(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def service_level(within: int, answered: int, abandoned: int) -> float | None:
    """Answered within the threshold over offered (answered + abandoned); see the module."""
    offered = answered + abandoned
    if offered <= 0:
        return None
    return min(1.0, max(0.0, within / offered))


def longest_wait(queued_at: Iterable[float | None], now: float) -> tuple[float, float | None]:
    """(seconds the longest-waiting caller has waited, epoch it joined) or (0, None)."""
    joined = [t for t in queued_at if t is not None]
    if not joined:
        return 0.0, None
    oldest = min(joined)
    return max(0.0, now - oldest), oldest


def abandon_level(rate: float | None, cap: float) -> str:
    if rate is None or cap <= 0:
        return "ok"
    if rate > cap:
        return "over"
    return "near" if rate >= cap * NEAR_SHARE else "ok"


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def agents_by_state(members: Iterable[Mapping[str, Any]]) -> tuple[dict[str, int], dict[str, str]]:
    """Counts per state over distinct interfaces, and each interface's state."""
    rank = {s: i for i, s in enumerate(AGENT_STATES)}
    state: dict[str, str] = {}
    for m in members:
        iface, avail = m["interface"], m["availability"]
        if avail not in rank:
            continue
        if iface not in state or rank[avail] < rank[state[iface]]:
            state[iface] = avail
    counts = dict.fromkeys(AGENT_STATES, 0)
    for s in state.values():
        counts[s] += 1
    counts["logged"] = sum(counts[s] for s in AGENT_STATES if s != "unavailable")
    return counts, state


@dataclass(frozen=True, slots=True)
class Alarm:
    """One alarm: ``code`` picks the sentence (the page translates it), ``params`` fill it."""

    code: str
    severity: str  # critical | warning
    key: str  # what it is about (campaign id, queue, server): one alarm per code and key
    params: dict = field(default_factory=dict)


def campaign_row(c: Mapping[str, Any]) -> dict:
    """One campaign as the overview shows it (dial level, abandonment and level, why it
    does not dial). ``engine`` is the dialer's live view, empty when no dialer ran the
    campaign within ``dialer.live.STATE_TTL`` (then the reason is ``no_dialer``)."""
    engine = c.get("engine") or {}
    fresh = bool(engine)
    agents = engine.get("agents") or {}
    logged = int(agents.get("logged") or 0)
    in_progress = int(engine.get("calls_in_progress") or 0)
    reason = engine.get("reason") or ""
    if not fresh:
        reason = "no_dialer"
    ab_1h = rate(c.get("abandoned_1h", 0), c.get("answered_1h", 0))
    ab_today = rate(c.get("abandoned_today", 0), c.get("answered_today", 0))
    cap = float(c.get("cap") or 0.0)
    level_1h, level_today = abandon_level(ab_1h, cap), abandon_level(ab_today, cap)
    level = max((level_1h, level_today), key=("ok", "near", "over").index)
    return {
        "id": c["id"], "name": c["name"], "queue": c.get("queue", ""),
        "dial_level": round(in_progress / logged, 2) if logged else 0.0,
        "calls_in_progress": in_progress, "agents_logged": logged,
        "agents_free": int(agents.get("free") or 0),
        "abandon_1h": ab_1h, "abandon_today": ab_today, "cap": cap, "abandon_level": level,
        "level_1h": level_1h, "level_today": level_today,
        "answered_today": c.get("answered_today", 0), "dials_today": c.get("dials_today", 0),
        "contacts_remaining": c.get("contacts_remaining", 0),
        "reason": reason, "stopped": reason in STOP_REASONS or bool(c.get("alarm")),
        "alarm": (c.get("alarm") or {}).get("code", ""),
    }


def queue_rows(members: Iterable[Mapping[str, Any]], calls: Iterable[Mapping[str, Any]],
               today: Mapping[str, Mapping[str, int]], now: float) -> list[dict]:
    """Per queue: waiting now, longest wait, agents, answered / abandoned today, service level."""
    names: set[str] = set(today)
    waiting: dict[str, list[float | None]] = {}
    for call in calls:
        if call.get("state") == "queued" and call.get("queue"):
            waiting.setdefault(call["queue"], []).append(_epoch(call.get("queued_at")))
            names.add(call["queue"])
    by_queue: dict[str, list] = {}
    for m in members:
        by_queue.setdefault(m["queue"], []).append(m)
        names.add(m["queue"])
    rows = []
    for q in sorted(names):
        counts, _ = agents_by_state(by_queue.get(q, []))
        wait_s, since = longest_wait(waiting.get(q, []), now)
        t = today.get(q) or {}
        answered, abandoned, within = t.get("answered", 0), t.get("abandoned", 0), t.get("within", 0)
        rows.append({"queue": q, "waiting": len(waiting.get(q, [])), "longest_wait_s": round(wait_s),
                     "oldest_since": since, "agents": counts,
                     "answered_today": answered, "abandoned_today": abandoned,
                     "service_level": service_level(within, answered, abandoned)})
    return rows


def alarms(campaigns: Iterable[Mapping[str, Any]], queues: Iterable[Mapping[str, Any]],
           servers: Iterable[Mapping[str, Any]], max_wait_s: int) -> list[Alarm]:
    """The alarm rules, critical first: PBX link down, abandonment over a campaign's cap,
    a campaign refused by Asterisk, a campaign that stopped dialing and why, a queue whose
    caller waited longer than ``max_wait_s``."""
    out: list[Alarm] = []
    for s in servers:
        if s.get("status") in PBX_DOWN:
            out.append(Alarm("pbx_down", "critical", f"pbx-{s['id']}",
                             {"server": s["name"], "detail": (s.get("status_detail") or "")[:120]}))
    for c in campaigns:
        key = f"campaign-{c['id']}"
        if c["abandon_level"] == "over":
            worst = max(r for r in (c["abandon_1h"], c["abandon_today"]) if r is not None)
            out.append(Alarm("abandon_over_cap", "critical", key,
                             {"campaign": c["name"], "rate": worst, "cap": c["cap"]}))
        if c["alarm"]:
            out.append(Alarm("campaign_refused", "critical", key, {"campaign": c["name"], "code": c["alarm"]}))
        elif c["stopped"]:
            out.append(Alarm("campaign_stopped", "warning", key, {"campaign": c["name"], "reason": c["reason"]}))
    for q in queues:
        if q["waiting"] and q["longest_wait_s"] > max_wait_s:
            out.append(Alarm("queue_wait", "warning", f"queue-{q['queue']}",
                             {"queue": q["queue"], "waiting": q["waiting"], "since": q["oldest_since"],
                              "max_wait_s": max_wait_s}))
    out.sort(key=lambda a: a.severity != "critical")
    return out


def build(*, campaigns: Iterable[Mapping[str, Any]], live: Mapping[str, Any], records: Mapping[str, Any],
          max_wait_s: int, service_level_s: int, now: float) -> dict:
    """The whole overview (JSON-ready): see the module docstring for each figure."""
    camp_rows = [campaign_row(c) for c in campaigns]
    members, calls = live.get("members", []), live.get("calls", [])
    agents, _ = agents_by_state(members)
    queues = queue_rows(members, calls, records.get("queues", {}), now)
    servers = live.get("servers", [])
    alarm_list = alarms(camp_rows, queues, servers, max_wait_s)
    waiting = sum(q["waiting"] for q in queues)
    wait_s, since = longest_wait((q["oldest_since"] for q in queues), now)
    totals = dict(records.get("totals") or {})
    return {
        "type": OPS_TYPE,
        "campaigns": camp_rows[:MAX_ROWS], "campaigns_more": max(0, len(camp_rows) - MAX_ROWS),
        "agents": agents,
        "calls": {"in_progress": len(calls), "waiting": waiting, "longest_wait_s": round(wait_s),
                  "oldest_since": since},
        "queues": queues[:MAX_ROWS], "queues_more": max(0, len(queues) - MAX_ROWS),
        "today": {"calls": totals.get("calls", 0), "answered": totals.get("answered", 0),
                  "abandoned": totals.get("abandoned", 0), "talk_s": totals.get("talk_s", 0)},
        "servers": [{"name": s["name"], "status": s["status"]} for s in servers][:MAX_ROWS],
        "alarms": [asdict(a) for a in alarm_list[:MAX_ROWS]], "alarms_more": max(0, len(alarm_list) - MAX_ROWS),
        "service_level_s": service_level_s, "max_wait_s": max_wait_s,
        "now": now,
    }
