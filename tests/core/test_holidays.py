"""The one Brazilian holiday calendar (national, state, city) that dialer and agenda share."""

from __future__ import annotations

from datetime import date

import pytest

from central.core import holidays

pytestmark = pytest.mark.backend_free


def test_national_state_and_city():
    assert holidays.holiday_name(date(2026, 12, 25)) == "Natal"
    assert holidays.holiday_name(date(2026, 7, 9)) is None  # SP's state holiday, not national
    assert holidays.holiday_name(date(2026, 7, 9), "SP")
    assert holidays.holiday_name(date(2026, 1, 25), "SP") is None  # the city's, not the state's
    assert holidays.holiday_name(date(2026, 1, 25), "SP", "São Paulo") == "Aniversário da cidade de São Paulo"
    assert holidays.holiday_name(date(2026, 1, 25), "sp", "sao  paulo")  # spelling tolerant
    assert holidays.holiday_name(date(2026, 1, 20), "RJ", "Rio de Janeiro") == "Dia de São Sebastião"


def test_unknown_state_falls_back_to_national():
    assert holidays.holiday_name(date(2026, 12, 25), "XX") == "Natal"
    assert holidays.holiday_name(date(2026, 7, 9), "XX") is None


def test_between_spans_years_and_includes_city():
    found = holidays.holidays_between(date(2025, 12, 20), date(2026, 1, 31), "SP", "São Paulo")
    assert date(2025, 12, 25) in found and date(2026, 1, 1) in found
    assert found[date(2026, 1, 25)] == "Aniversário da cidade de São Paulo"
    assert all(date(2025, 12, 20) <= d <= date(2026, 1, 31) for d in found)


def test_dialer_uses_the_shared_calendar():
    """One copy: the dialer's ``hours.holiday_name`` is this module's function."""
    from central.dialer import hours

    assert hours.holiday_name is holidays.holiday_name
    assert not hasattr(hours, "_holiday_calendar")
