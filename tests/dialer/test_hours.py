"""Working hours with Brazilian holidays, in the campaign's and the contact's time zones."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from central.dialer.hours import HoursError, holiday_name, is_callable_now, next_window_start

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free

SP = ZoneInfo("America/Sao_Paulo")
HOURS = {d: [["09:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri")} | {"sat": [["10:00", "16:00"]], "sun": []}


def at(*args, tz=SP):
    return datetime(*args, tzinfo=tz)


def test_weekday_inside_and_outside():
    assert is_callable_now(HOURS, "America/Sao_Paulo", None, at(2026, 11, 24, 10, 0)) == (True, "")
    ok, reason = is_callable_now(HOURS, "America/Sao_Paulo", None, at(2026, 11, 24, 20, 0))
    assert not ok and "Fora do horário (campanha): 20:00" in reason
    ok, reason = is_callable_now(HOURS, "America/Sao_Paulo", None, at(2026, 11, 24, 8, 59))
    assert not ok


def test_saturday_hours_and_sunday_closed():
    assert is_callable_now(HOURS, "America/Sao_Paulo", None, at(2026, 11, 28, 15, 59))[0]
    assert not is_callable_now(HOURS, "America/Sao_Paulo", None, at(2026, 11, 28, 16, 0))[0]
    ok, reason = is_callable_now(HOURS, "America/Sao_Paulo", None, at(2026, 11, 29, 12, 0))
    assert not ok and "domingo" in reason


def test_christmas_is_closed_and_named():
    ok, reason = is_callable_now(HOURS, "America/Sao_Paulo", None, at(2026, 12, 25, 10, 0))
    assert not ok and "Natal" in reason
    assert is_callable_now(HOURS, "America/Sao_Paulo", None, at(2026, 12, 25, 10, 0), respect_holidays=False)[0]


def test_state_holiday_only_with_subdivision():
    # 9 July: Revolução Constitucionalista, São Paulo state only (a Thursday in 2026).
    now = at(2026, 7, 9, 10, 0)
    assert is_callable_now(HOURS, "America/Sao_Paulo", None, now)[0]
    assert not is_callable_now(HOURS, "America/Sao_Paulo", None, now, subdivision="SP")[0]
    assert holiday_name(now.date(), "SP")


def test_contact_in_acre_waits_for_their_morning():
    # Campaign in São Paulo opens 09:00; in Acre (UTC-5) it is 07:00 then.
    acre = "America/Rio_Branco"
    ok, reason = is_callable_now(HOURS, "America/Sao_Paulo", acre, at(2026, 11, 24, 9, 30))
    assert not ok and "(contato)" in reason and "America/Rio_Branco" in reason
    assert is_callable_now(HOURS, "America/Sao_Paulo", acre, at(2026, 11, 24, 11, 0))[0]
    start = next_window_start(HOURS, "America/Sao_Paulo", acre, at(2026, 11, 24, 9, 30))
    assert start == at(2026, 11, 24, 11, 0)
    # And in the evening the campaign's own hours end first.
    assert not is_callable_now(HOURS, "America/Sao_Paulo", acre, at(2026, 11, 24, 20, 30))[0]


def test_noronha_stops_an_hour_earlier():
    assert not is_callable_now(HOURS, "America/Sao_Paulo", "America/Noronha", at(2026, 11, 24, 19, 30))[0]
    assert is_callable_now(HOURS, "America/Sao_Paulo", "America/Recife", at(2026, 11, 24, 19, 30))[0]


def test_next_window_skips_sunday_and_holiday():
    assert next_window_start(HOURS, "America/Sao_Paulo", None, at(2026, 11, 24, 10, 0)) == at(2026, 11, 24, 10, 0)
    # Saturday 17:00 -> Monday 09:00.
    assert next_window_start(HOURS, "America/Sao_Paulo", None, at(2026, 11, 28, 17, 0)) == at(2026, 11, 30, 9, 0)
    # Christmas Eve 21:00 (Thursday) -> Christmas closed -> Saturday 26th 10:00.
    assert next_window_start(HOURS, "America/Sao_Paulo", None, at(2026, 12, 24, 21, 0)) == at(2026, 12, 26, 10, 0)
    assert next_window_start({"mon": []}, "America/Sao_Paulo", None, at(2026, 12, 24, 21, 0)) is None


def test_bad_hours_are_named():
    with pytest.raises(HoursError, match="HH:MM"):
        is_callable_now({"mon": [["9h", "20:00"]]}, "America/Sao_Paulo", None, at(2026, 11, 23, 10, 0))
    with pytest.raises(HoursError, match="termina antes"):
        is_callable_now({"mon": [["20:00", "09:00"]]}, "America/Sao_Paulo", None, at(2026, 11, 23, 10, 0))
    with pytest.raises(HoursError, match="desconhecido"):
        is_callable_now({"monday": []}, "America/Sao_Paulo", None, at(2026, 11, 23, 10, 0))
    with pytest.raises(ValueError):
        is_callable_now(HOURS, "America/Sao_Paulo", None, datetime(2026, 11, 23, 10, 0))
