"""Availability, pure: schedules and bookings in, slots out (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from central.core.holidays import holidays_between
from central.scheduling.availability import (
    Busy,
    Change,
    Policy,
    ServiceSpec,
    WeeklyRule,
    find_slots,
)

pytestmark = pytest.mark.backend_free

SP = ZoneInfo("America/Sao_Paulo")
MON = date(2026, 3, 2)  # a Monday, no holiday
NOW = datetime(2026, 2, 27, 13, 0, tzinfo=UTC)  # Friday 10:00 in São Paulo
SPEC = ServiceSpec(timedelta(minutes=30))
POLICY = Policy(min_notice=timedelta(hours=1), step=timedelta(minutes=30))
RULES = [WeeklyRule(1, wd, time(8), time(12)) for wd in range(5)]


def local(d: date, h: int, m: int = 0, zone=SP) -> datetime:
    return datetime.combine(d, time(h, m), zone)


def starts(slots, zone=SP):
    return [s.start.astimezone(zone).strftime("%a %H:%M") for s in slots]


def test_weekday_grid_and_weekend_skipped():
    slots = find_slots(SPEC, [1], RULES, [], [], POLICY, NOW, start=local(MON, 0) - timedelta(days=2),
                       end=local(MON, 23))
    assert starts(slots) == ["Mon 08:00", "Mon 08:30", "Mon 09:00", "Mon 09:30", "Mon 10:00",
                             "Mon 10:30", "Mon 11:00", "Mon 11:30"]


def test_minimum_notice_and_horizon():
    now = local(MON, 9, 10)
    slots = find_slots(SPEC, [1], RULES, [], [], POLICY, now, end=local(MON, 23))
    assert starts(slots) == ["Mon 10:30", "Mon 11:00", "Mon 11:30"]  # 10:10 + 1 h, on the grid
    short = Policy(min_notice=timedelta(0), step=timedelta(minutes=30), max_days_ahead=1)
    days = {s.start.astimezone(SP).date() for s in find_slots(SPEC, [1], RULES, [], [], short, now)}
    assert days == {MON, MON + timedelta(days=1)}


def test_buffers_keep_away_from_bookings():
    spec = ServiceSpec(timedelta(minutes=30), before=timedelta(minutes=15), after=timedelta(minutes=15))
    busy = [Busy(1, local(MON, 9, 30), local(MON, 10))]
    slots = find_slots(spec, [1], RULES, [], busy, POLICY, NOW, start=local(MON, 0), end=local(MON, 23))
    # 08:30-09:00 would end its after-buffer at 09:15 (<09:30): fine; 09:00 overlaps; 10:00 starts
    # its before-buffer at 09:45 (<10:00 end of the booking): refused; 10:30 fine.
    assert starts(slots)[:4] == ["Mon 08:00", "Mon 08:30", "Mon 10:30", "Mon 11:00"]


def test_holiday_closes_unless_extra_hours():
    carnival = date(2026, 2, 17)  # Carnival Tuesday is in holidays.Brazil (optional holiday)
    closed = set(holidays_between(carnival, carnival))
    christmas = date(2026, 12, 25)  # a Friday
    closed |= {christmas}
    policy = Policy(min_notice=timedelta(0), step=timedelta(minutes=30), max_days_ahead=400)
    now = local(date(2026, 12, 24), 12)
    slots = find_slots(SPEC, [1], RULES, [], [], policy, now, end=local(christmas, 23), closed_days=closed)
    assert all(s.start.astimezone(SP).date() != christmas for s in slots)
    extra = [Change("extra", local(christmas, 9), local(christmas, 10), 1)]
    slots = find_slots(SPEC, [1], RULES, extra, [], policy, now, start=local(christmas, 0),
                       end=local(christmas, 23), closed_days=closed)
    assert starts(slots) == ["Fri 09:00", "Fri 09:30"]


def test_time_off_for_one_professional_and_for_the_clinic():
    off = [Change("off", local(MON, 8), local(MON, 11), 1)]
    both = find_slots(SPEC, [1, 2], RULES + [WeeklyRule(2, 0, time(8), time(9))], off, [], POLICY, NOW,
                      start=local(MON, 0), end=local(MON, 23))
    assert [(s.professional_id, s.start.astimezone(SP).strftime("%H:%M")) for s in both] == [
        (2, "08:00"), (2, "08:30"), (1, "11:00"), (1, "11:30")]
    clinic_off = [Change("off", local(MON, 0), local(MON, 23, 59), None)]
    assert find_slots(SPEC, [1, 2], RULES, clinic_off, [], POLICY, NOW, start=local(MON, 0),
                      end=local(MON, 23)) == []


def test_per_day_limit():
    policy = Policy(min_notice=timedelta(0), step=timedelta(minutes=30), per_day_limit=2)
    busy = [Busy(1, local(MON, 8), local(MON, 8, 30)), Busy(1, local(MON, 11), local(MON, 11, 30))]
    assert find_slots(SPEC, [1], RULES, [], busy, policy, NOW, start=local(MON, 0), end=local(MON, 23)) == []
    external = [Busy(1, local(MON, 8), local(MON, 8, 30), counts=False)]
    assert len(find_slots(SPEC, [1], RULES, [], external, policy, NOW, start=local(MON, 0),
                          end=local(MON, 23))) == 7


@pytest.mark.parametrize(("zone", "utc_hour"), [("America/Sao_Paulo", 11), ("America/Manaus", 12),
                                                ("America/Rio_Branco", 13), ("America/Noronha", 10)])
def test_clinic_time_zone(zone, utc_hour):
    """08:00 local is 11:00 UTC in São Paulo, 12:00 in Manaus, 13:00 in Acre, 10:00 in Noronha,
    all year round (no daylight saving time in Brazil since 2019)."""
    for day in (MON, date(2026, 11, 3)):  # March and November: DST would have shifted one of them
        policy = Policy(tz=zone, min_notice=timedelta(0), step=timedelta(minutes=30), max_days_ahead=400)
        slots = find_slots(SPEC, [1], RULES, [], [], policy, NOW, start=datetime.combine(day, time(0), UTC),
                           limit=1)
        assert slots[0].start == datetime.combine(day, time(utc_hour), UTC)


def test_limit_returns_the_soonest_across_professionals():
    rules = RULES + [WeeklyRule(2, wd, time(7), time(9)) for wd in range(5)]
    slots = find_slots(SPEC, [1, 2], rules, [], [], POLICY, NOW, start=local(MON, 0), limit=3)
    assert [(s.professional_id, s.start.astimezone(SP).strftime("%H:%M")) for s in slots] == [
        (2, "07:00"), (2, "07:30"), (1, "08:00")]


# --- properties ------------------------------------------------------------------------------

minutes = st.integers(min_value=0, max_value=24 * 60 - 1)


@st.composite
def rule(draw):
    a = draw(st.integers(min_value=0, max_value=22 * 4)) * 15
    b = draw(st.integers(min_value=a // 15 + 1, max_value=24 * 4 - 1)) * 15
    return WeeklyRule(draw(st.integers(1, 3)), draw(st.integers(0, 6)), time(a // 60, a % 60),
                      time(b // 60, b % 60))


@st.composite
def busy(draw):
    day = MON + timedelta(days=draw(st.integers(0, 6)))
    start = local(day, 0) + timedelta(minutes=draw(minutes))
    return Busy(draw(st.integers(1, 3)), start, start + timedelta(minutes=draw(st.integers(1, 300))),
                counts=draw(st.booleans()))


@st.composite
def change(draw):
    day = MON + timedelta(days=draw(st.integers(0, 6)))
    start = local(day, 0) + timedelta(minutes=draw(minutes))
    return Change(draw(st.sampled_from(["off", "extra"])), start,
                  start + timedelta(minutes=draw(st.integers(1, 600))),
                  draw(st.one_of(st.none(), st.integers(1, 3))))


@settings(max_examples=150, deadline=None)
@given(rules=st.lists(rule(), max_size=8), busies=st.lists(busy(), max_size=12),
       changes=st.lists(change(), max_size=4), duration=st.integers(5, 120), before=st.integers(0, 30),
       after=st.integers(0, 30), step=st.sampled_from([5, 10, 15, 30, 60]),
       limit=st.one_of(st.none(), st.integers(1, 4)), tz=st.sampled_from(["America/Sao_Paulo", "America/Manaus"]))
def test_no_slot_overlaps_a_booking_or_leaves_the_schedule(rules, busies, changes, duration, before, after, step,
                                                            limit, tz):
    spec = ServiceSpec(timedelta(minutes=duration), timedelta(minutes=before), timedelta(minutes=after))
    policy = Policy(tz=tz, min_notice=timedelta(0), step=timedelta(minutes=step), per_day_limit=limit)
    zone = ZoneInfo(tz)
    start, end = local(MON, 0, zone=zone), local(MON + timedelta(days=7), 0, zone=zone)
    slots = find_slots(spec, [1, 2, 3], rules, changes, busies, policy, NOW, start=start, end=end)
    assert slots == sorted(slots)
    assert len({(s.professional_id, s.start) for s in slots}) == len(slots)
    for s in slots:
        bs, be = s.block(spec)
        assert all(not (b.professional_id == s.professional_id and b.start < be and b.end > bs) for b in busies)
        # inside a working span: a weekly rule or an extra, and not in any "off"
        lst, lend = s.start.astimezone(zone), s.end.astimezone(zone)
        in_rule = any(r.professional_id == s.professional_id and r.weekday == lst.weekday()
                      and r.start <= lst.time() and lend.date() == lst.date() and lend.time() <= r.end
                      for r in rules)
        in_extra = any(c.kind == "extra" and c.professional_id == s.professional_id
                       and c.start <= s.start and s.end <= c.end for c in changes)
        assert in_rule or in_extra
        assert not any(c.kind == "off" and c.professional_id in (None, s.professional_id)
                       and c.start < s.end and c.end > s.start for c in changes)
        if limit is not None:
            day = lst.date()
            counted = sum(1 for b in busies if b.counts and b.professional_id == s.professional_id
                          and b.start.astimezone(zone).date() == day)
            assert counted < limit
