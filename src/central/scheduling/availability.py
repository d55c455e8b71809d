"""Open slots, computed without I/O: schedules and bookings in, slots out.

The database layer (:mod:`central.scheduling.services`) loads the weekly rules, the
exceptions, the busy blocks (appointments and holds with their buffers, and busy time
read from a professional's external calendar) and the holidays, and asks
:func:`find_slots`. Keeping the rule here, free of Django, lets it be tested in
microseconds and with property-based tests (tests/scheduling/test_availability.py):
no slot overlaps a busy block and every slot lies inside a working interval.

Rules, as a clinic describes them:

* a professional works weekly spans per weekday and location (local wall time of the
  clinic's zone; Brazil has four zones and no daylight saving time since 2019, but the
  zone database is still used so a past or future rule change is honoured);
* a holiday closes the day; an *extra* exception opens hours anyway (a Saturday task
  force), an *off* exception closes them (vacation, a congress); an exception with no
  professional applies to the whole clinic;
* the appointment itself lies inside working time; its buffers (preparation before,
  cleaning after) need not, but they may never overlap another busy block, so the
  *block* of a booking is ``[start - before, end + after)``, the range the database's
  exclusion constraint also guards;
* minimum notice (no slot sooner than ``now + min_notice``), a horizon
  (``max_days_ahead`` local days), a per-day limit of appointments per professional, and
  a grid (``step``) on which starts are offered, counted from the working span's start.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from heapq import merge
from itertools import islice
from zoneinfo import ZoneInfo

__all__ = ["Busy", "Change", "Policy", "ServiceSpec", "Slot", "WeeklyRule", "find_slots", "iter_slots"]


@dataclass(frozen=True, slots=True)
class WeeklyRule:
    """A professional works ``start``-``end`` (local wall time) on ``weekday`` (0 = Monday)."""

    professional_id: int
    weekday: int
    start: time
    end: time
    location_id: int | None = None
    valid_from: date | None = None
    valid_until: date | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """An exception: ``kind`` "off" closes, "extra" opens; ``professional_id`` None = clinic."""

    kind: str
    start: datetime
    end: datetime
    professional_id: int | None = None
    location_id: int | None = None


@dataclass(frozen=True, slots=True)
class Busy:
    """Time a professional cannot take: a booking's block (``counts`` toward the per-day
    limit) or external busy time (``counts=False``)."""

    professional_id: int
    start: datetime
    end: datetime
    counts: bool = True


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    duration: timedelta
    before: timedelta = timedelta(0)
    after: timedelta = timedelta(0)


@dataclass(frozen=True, slots=True)
class Policy:
    tz: str = "America/Sao_Paulo"
    min_notice: timedelta = timedelta(hours=2)
    max_days_ahead: int = 60
    step: timedelta = timedelta(minutes=15)
    per_day_limit: int | None = None


@dataclass(frozen=True, slots=True, order=True)
class Slot:
    start: datetime
    professional_id: int
    end: datetime = field(compare=False)
    location_id: int | None = field(default=None, compare=False)

    def block(self, spec: ServiceSpec) -> tuple[datetime, datetime]:
        return self.start - spec.before, self.end + spec.after


class _Calendar:
    """Busy blocks of one professional, merged and sorted, searched by bisection."""

    __slots__ = ("ends", "starts")

    def __init__(self, blocks: Iterable[tuple[datetime, datetime]]) -> None:
        merged: list[list[datetime]] = []
        for s, e in sorted(blocks):
            if merged and s <= merged[-1][1]:
                if e > merged[-1][1]:
                    merged[-1][1] = e
            else:
                merged.append([s, e])
        self.starts = [m[0] for m in merged]
        self.ends = [m[1] for m in merged]

    def free(self, s: datetime, e: datetime) -> bool:
        """True when ``[s, e)`` overlaps no busy block."""
        i = bisect_right(self.starts, s) - 1
        if i >= 0 and self.ends[i] > s:
            return False
        nxt = i + 1
        return not (nxt < len(self.starts) and self.starts[nxt] < e)

    def next_end_after(self, s: datetime, e: datetime) -> datetime | None:
        """The end of the busy block that overlaps ``[s, e)`` last: a hint to skip ahead."""
        i = bisect_right(self.starts, e) - 1
        if i >= 0 and self.ends[i] > s:
            return self.ends[i]
        return None


def _subtract(spans: list[tuple[datetime, datetime, int | None]],
              holes: list[tuple[datetime, datetime, int | None]]) -> list[tuple[datetime, datetime, int | None]]:
    """Working spans minus "off" spans (a hole with a location only closes that location)."""
    out = spans
    for hs, he, hloc in holes:
        nxt = []
        for s, e, loc in out:
            if he <= s or hs >= e or (hloc is not None and loc is not None and hloc != loc):
                nxt.append((s, e, loc))
                continue
            if s < hs:
                nxt.append((s, hs, loc))
            if he < e:
                nxt.append((he, e, loc))
        out = nxt
    return out


def iter_slots(spec: ServiceSpec, professional_ids: Iterable[int], rules: Iterable[WeeklyRule],
               changes: Iterable[Change], busy: Iterable[Busy], policy: Policy, now: datetime,
               start: datetime | None = None, end: datetime | None = None,
               closed_days: Iterable[date] = (), per_day: int | None = None) -> Iterator[list[Slot]]:
    """Yield the open slots day by day (local days of ``policy.tz``), each day's list sorted.

    A generator so "the next 10 free slots" stops at the first days that have them;
    ``per_day`` keeps only a day's earliest slots, and then each professional's slots are
    generated lazily and merged, so asking for 10 among 50 professionals evaluates about
    60 candidate starts instead of the day's 1,800.
    ``now``, ``start`` and ``end`` are aware datetimes; slots start in ``[start, end)``.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zone = ZoneInfo(policy.tz)
    pros = sorted(set(professional_ids))
    if not pros or spec.duration <= timedelta(0):
        return
    step = policy.step if policy.step > timedelta(0) else spec.duration
    earliest = now + policy.min_notice
    if start is not None and start > earliest:
        earliest = start
    last_day = now.astimezone(zone).date() + timedelta(days=policy.max_days_ahead)
    latest = datetime.combine(last_day + timedelta(days=1), time(0), zone).astimezone(UTC)
    if end is not None and end < latest:
        latest = end
    if earliest >= latest:
        return
    closed = frozenset(closed_days)
    wanted = set(pros)
    by_pro_rules: dict[int, dict[int, list[WeeklyRule]]] = {p: {} for p in pros}
    for r in rules:
        if r.professional_id in wanted and r.end > r.start:
            by_pro_rules[r.professional_id].setdefault(r.weekday, []).append(r)
    extras: dict[int, list[Change]] = {p: [] for p in pros}
    offs: dict[int | None, list[Change]] = {}
    for c in changes:
        if c.end <= c.start:
            continue
        if c.kind == "extra" and c.professional_id in wanted:
            extras[c.professional_id].append(c)
        elif c.kind == "off" and (c.professional_id is None or c.professional_id in wanted):
            offs.setdefault(c.professional_id, []).append(c)
    blocks: dict[int, list[tuple[datetime, datetime]]] = {p: [] for p in pros}
    counted: dict[int, dict[date, int]] = {p: {} for p in pros}
    for b in busy:
        if b.professional_id in wanted:
            blocks[b.professional_id].append((b.start, b.end))
            if b.counts and policy.per_day_limit is not None:
                d = b.start.astimezone(zone).date()
                counted[b.professional_id][d] = counted[b.professional_id].get(d, 0) + 1
    calendars = {p: _Calendar(blocks[p]) for p in pros}
    clinic_offs = offs.get(None, [])
    # Local wall time -> UTC through the zone database once per (day, time): professionals
    # mostly share their hours, and the conversion was the core's most frequent call.
    utc_of: dict[tuple[date, time], datetime] = {}

    def _at(d: date, t: time) -> datetime:
        found = utc_of.get((d, t))
        if found is None:
            found = utc_of[(d, t)] = datetime.combine(d, t, zone).astimezone(UTC)
        return found

    day = earliest.astimezone(zone).date()
    final_day = (latest - timedelta(microseconds=1)).astimezone(zone).date()
    while day <= final_day:
        day_start = datetime.combine(day, time(0), zone).astimezone(UTC)
        day_end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
        gens = []
        for p in pros:
            if policy.per_day_limit is not None and counted[p].get(day, 0) >= policy.per_day_limit:
                continue
            spans: list[tuple[datetime, datetime, int | None]] = []
            if day not in closed:
                for r in by_pro_rules[p].get(day.weekday(), ()):
                    if (r.valid_from and day < r.valid_from) or (r.valid_until and day > r.valid_until):
                        continue
                    spans.append((_at(day, r.start), _at(day, r.end), r.location_id))
            for c in extras[p]:
                s, e = max(c.start, day_start), min(c.end, day_end)
                if s < e:
                    spans.append((s, e, c.location_id))
            if not spans:
                continue
            holes = [(c.start, c.end, c.location_id) for c in (*offs.get(p, ()), *clinic_offs)
                     if c.start < day_end and c.end > day_start]
            if holes:
                spans = _subtract(spans, holes)
            gens.append(_pro_day(spec, p, calendars[p], spans, step, earliest, latest))
        if per_day is None:
            found = sorted((slot for g in gens for slot in g), key=_slot_key)
        else:
            found = list(islice(merge(*gens, key=_slot_key), per_day))
        if found:
            yield found
        day += timedelta(days=1)


def _slot_key(slot: Slot) -> tuple[datetime, int]:
    return slot.start, slot.professional_id


def _pro_day(spec: ServiceSpec, p: int, cal: _Calendar, spans, step: timedelta, earliest: datetime,
             latest: datetime) -> Iterator[Slot]:
    """One professional's open starts of one day, in order and lazily: each working span's
    grid, merged; two overlapping spans (two rules, a rule and an extra) offer a start once."""
    last = None
    for slot in merge(*(_span_slots(spec, p, cal, span, step, earliest, latest) for span in spans),
                      key=_slot_key):
        if slot.start != last:
            last = slot.start
            yield slot


def _span_slots(spec: ServiceSpec, p: int, cal: _Calendar, span, step: timedelta, earliest: datetime,
                latest: datetime) -> Iterator[Slot]:
    s, e, loc = span
    duration, before, after = spec.duration, spec.before, spec.after
    cand = s
    if cand < earliest:
        cand = s + (-(-(earliest - s) // step)) * step  # first grid point at or after earliest
    while cand + duration <= e and cand < latest:
        bs, be = cand - before, cand + duration + after
        if cal.free(bs, be):
            yield Slot(cand, p, cand + duration, loc)
            cand += step
            continue
        nxt = cand + step
        blocker_end = cal.next_end_after(bs, be)
        if blocker_end is not None and blocker_end + before > nxt:
            nxt = s + (-(-(blocker_end + before - s) // step)) * step
        cand = nxt


def find_slots(spec: ServiceSpec, professional_ids: Iterable[int], rules: Iterable[WeeklyRule],
               changes: Iterable[Change], busy: Iterable[Busy], policy: Policy, now: datetime,
               start: datetime | None = None, end: datetime | None = None,
               closed_days: Iterable[date] = (), limit: int | None = None) -> list[Slot]:
    """Open slots sorted by start (then professional), at most ``limit`` of them."""
    out: list[Slot] = []
    for day_slots in iter_slots(spec, professional_ids, rules, changes, busy, policy, now,
                                start, end, closed_days, per_day=limit):
        out.extend(day_slots)
        if limit is not None and len(out) >= limit:
            return out[:limit]
    return out
