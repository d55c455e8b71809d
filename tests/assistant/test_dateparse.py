"""The pt-BR date/time parser (pure: microseconds per case, no database)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from central.assistant.dateparse import When, fold, parse_when

pytestmark = pytest.mark.backend_free

SP = ZoneInfo("America/Sao_Paulo")
#: Wednesday 4 March 2026, 10:00 in São Paulo.
NOW = datetime(2026, 3, 4, 10, 0, tzinfo=SP)


@pytest.mark.parametrize(("text", "expected"), [
    ("amanhã de manhã", When(date(2026, 3, 5), None, time(6), time(12))),
    ("amanha de manha", When(date(2026, 3, 5), None, time(6), time(12))),
    ("tem horário amanhã de manhã?", When(date(2026, 3, 5), None, time(6), time(12))),
    ("segunda às 14h", When(date(2026, 3, 9), time(14))),
    ("segunda-feira as 14:00", When(date(2026, 3, 9), time(14))),
    ("pode ser dia 3?", When(date(2026, 4, 3))),  # the 3rd has passed this month
    ("dia 20", When(date(2026, 3, 20))),
    ("sexta", When(date(2026, 3, 6))),
    ("remarcar para sexta", When(date(2026, 3, 6))),
    ("quarta", When(date(2026, 3, 11))),  # today is Wednesday: the next one
    ("14:30", When(None, time(14, 30))),
    ("14h30", When(None, time(14, 30))),
    ("depois das 15", When(None, None, time(15))),
    ("a partir das 16h", When(None, None, time(16))),
    ("antes das 10", When(None, None, None, time(10))),
    ("terca", When(date(2026, 3, 10))),
    ("terça à tarde", When(date(2026, 3, 10), None, time(12), time(18))),
    ("sabdo", When(date(2026, 3, 7))),
    ("segnda as 9", When(date(2026, 3, 9), time(9))),
    ("marca pra amnha", When(date(2026, 3, 5))),
    ("2 da tarde", When(None, time(14))),
    ("às 2", When(None, time(14))),  # a clinic's "2" is 14:00
    ("9 da manhã", When(None, time(9))),
    ("meio-dia", When(None, time(12))),
    ("hoje à noite", When(date(2026, 3, 4), None, time(18), time(23, 59))),
    ("depois de amanhã", When(date(2026, 3, 6))),
    ("3/12", When(date(2026, 12, 3))),
    ("03/02", When(date(2027, 2, 3))),  # past this year: next year
    ("10/03/2026 às 8h", When(date(2026, 3, 10), time(8))),
    ("dia 3 às 10h", When(date(2026, 4, 3), time(10))),
    ("14h30 na quinta", When(date(2026, 3, 5), time(14, 30))),
    ("quero marcar com a dra. Ana", When()),
    ("qual o endereço?", When()),
])
def test_phrases(text, expected):
    assert parse_when(text, NOW) == expected


def test_today_is_the_clinics_today():
    # 01:30 UTC on Thursday is still Wednesday 22:30 in São Paulo: "amanhã" is Thursday.
    utc_now = datetime(2026, 3, 5, 1, 30, tzinfo=ZoneInfo("UTC"))
    assert parse_when("amanhã", utc_now.astimezone(SP)).day == date(2026, 3, 5)
    # Manaus is one hour behind São Paulo (no DST in Brazil since 2019).
    assert parse_when("hoje", utc_now.astimezone(ZoneInfo("America/Manaus"))).day == date(2026, 3, 4)


def test_window_is_in_the_clinic_zone():
    start, end = When(date(2026, 3, 9), None, time(6), time(12)).window(SP)
    assert start.utcoffset() == timedelta(hours=-3)
    assert (start.hour, end.hour) == (6, 12)


def test_fold():
    assert fold("  Terça-Feira  ÀS 14H ") == "terca-feira as 14h"


WEEKDAYS = ["segunda", "terça", "quarta", "quinta", "sexta", "sábado", "domingo"]


@given(st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2035, 12, 31)),
       st.sampled_from(range(7)), st.booleans())
def test_weekday_is_always_the_next_one(naive_now, weekday, strip_accents):
    now = naive_now.replace(tzinfo=SP)
    word = WEEKDAYS[weekday]
    if strip_accents:
        word = fold(word)
    day = parse_when(f"pode ser {word}?", now).day
    assert day.weekday() == weekday
    assert 1 <= (day - now.date()).days <= 7


@given(st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2035, 12, 31)), st.integers(1, 31))
def test_day_of_month_is_never_in_the_past(naive_now, dom):
    now = naive_now.replace(tzinfo=SP)
    day = parse_when(f"dia {dom}", now).day
    assert day is not None and day.day == dom
    assert 0 <= (day - now.date()).days <= 92


@given(st.integers(7, 21), st.integers(0, 59))
def test_exact_times(hour, minute):
    assert parse_when(f"às {hour}:{minute:02d}", NOW).at == time(hour, minute)
    assert parse_when(f"{hour}h{minute:02d}", NOW).at == time(hour, minute)


@given(st.text(max_size=60))
def test_never_raises(text):
    parse_when(text, NOW)
