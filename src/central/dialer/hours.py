"""Working hours, Brazilian holidays and time zones: when may a contact be called?

Pure (no Django): the campaign's weekly hours (``{"mon": [["09:00", "20:00"]], ...}``, the
shape of ``Campaign.working_hours``), its time zone, the contact's own zone (from its DDD,
see :mod:`central.core.phones`) and ``now`` go in; a yes/no with a pt-BR reason, or the
next moment calling becomes possible, come out.

The rule: a contact is callable only when ``now`` is inside the campaign's hours both in
the campaign's zone (the call center's day) and in the contact's zone (the customer's
day). A São Paulo campaign open 09:00-20:00 therefore reaches Acre (UTC-5) from 11:00 São
Paulo time, and stops calling Fernando de Noronha (UTC-2) at 19:00. State consumer laws
(e.g. São Paulo's Lei 13.226/2008 and the Procon rules) and the self-regulation code of
the telemarketing industry restrict hours in the customer's local time, so the
contact-side check is the one that protects the company.

Holidays come from the shared calendar :mod:`central.core.holidays` (national ones always,
plus the state's when the campaign names a subdivision, "SP", "RJ"...). A holiday closes
the whole local day. ``holiday_name`` is re-exported here for the dialer's callers.
"""

from __future__ import annotations

import functools
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from central.core.holidays import holiday_name

__all__ = [
    "DAYS",
    "HoursError",
    "holiday_name",
    "is_callable_now",
    "next_window_start",
    "parse_working_hours",
    "windows_between",
]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES_PT = ("segunda", "terça", "quarta", "quinta", "sexta", "sábado", "domingo")
DEFAULT_TZ = "America/Sao_Paulo"

Span = tuple[time, time | None]  # end None = midnight ("24:00")


class HoursError(ValueError):
    """Working hours that cannot be understood; the message is pt-BR."""


def _parse_hhmm(text: str, *, end: bool) -> time | None:
    text = str(text).strip()
    if end and text in ("24:00", "23:59:59"):
        return None
    try:
        hh, mm = text.split(":")
        return time(int(hh), int(mm))
    except (ValueError, TypeError) as exc:
        raise HoursError(f"horário inválido: {text!r} (use HH:MM)") from exc


@functools.lru_cache(maxsize=256)
def _parse_cached(frozen: tuple) -> dict[int, tuple[Span, ...]]:
    out: dict[int, tuple[Span, ...]] = {}
    for key, spans in frozen:
        if key not in DAYS:
            raise HoursError(f"dia da semana desconhecido: {key!r} (use mon..sun)")
        parsed = []
        for span in spans:
            if len(span) != 2:
                raise HoursError(f"{key}: cada faixa é [início, fim]")
            start = _parse_hhmm(span[0], end=False)
            stop = _parse_hhmm(span[1], end=True)
            if stop is not None and stop <= start:
                raise HoursError(f"{key}: a faixa {span[0]}-{span[1]} termina antes de começar")
            parsed.append((start, stop))
        out[DAYS.index(key)] = tuple(sorted(parsed))
    return out


def parse_working_hours(working_hours: dict) -> dict[int, tuple[Span, ...]]:
    """Validate and parse the weekly hours: weekday index (0 = Monday) -> spans.

    Raises :class:`HoursError` naming the bad day or span; missing days have no hours.
    """
    if not isinstance(working_hours, dict):
        raise HoursError("horário de funcionamento deve ser um objeto {dia: [[início, fim]]}")
    frozen = tuple(sorted((k, tuple(tuple(s) for s in (v or []))) for k, v in working_hours.items()))
    return _parse_cached(frozen)


def _fmt_spans(spans: tuple[Span, ...]) -> str:
    return ", ".join(f"{a:%H:%M}-{'24:00' if b is None else f'{b:%H:%M}'}" for a, b in spans)


def _inside(spans: tuple[Span, ...], t: time) -> bool:
    return any(a <= t and (b is None or t < b) for a, b in spans)


def _side_check(hours: dict[int, tuple[Span, ...]], zone: str, now: datetime, *,
                respect_holidays: bool, subdivision: str, who: str) -> tuple[bool, str]:
    local = now.astimezone(ZoneInfo(zone))
    if respect_holidays:
        name = holiday_name(local.date(), subdivision)
        if name:
            return False, f"Feriado ({who}): {name} ({local:%d/%m})."
    spans = hours.get(local.weekday(), ())
    day = DAY_NAMES_PT[local.weekday()]
    if not spans:
        return False, f"Sem horário de discagem na {day} ({who}, {local:%H:%M} em {zone})."
    if not _inside(spans, local.time()):
        return False, f"Fora do horário ({who}): {local:%H:%M} em {zone}; {day} {_fmt_spans(spans)}."
    return True, ""


def is_callable_now(campaign_hours: dict, tz: str, contact_tz: str | None, now: datetime, *,
                    respect_holidays: bool = True, subdivision: str = "") -> tuple[bool, str]:
    """``(True, "")`` when a contact may be called at ``now``, else ``(False, reason)``.

    ``now`` must be timezone-aware. ``contact_tz`` empty or equal to ``tz`` checks the
    campaign side only. State holidays (``subdivision``) apply on the campaign side; the
    contact side checks national holidays (the contact's state is not known for sure:
    mobile numbers travel).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    hours = parse_working_hours(campaign_hours)
    zone = tz or DEFAULT_TZ
    ok, reason = _side_check(hours, zone, now, respect_holidays=respect_holidays,
                             subdivision=subdivision, who="campanha")
    if not ok or not contact_tz or contact_tz == zone:
        return ok, reason
    return _side_check(hours, contact_tz, now, respect_holidays=respect_holidays,
                       subdivision="", who="contato")


def windows_between(campaign_hours: dict, zone: str, start: datetime, end: datetime, *,
                    respect_holidays: bool = True, subdivision: str = "") -> list[tuple[datetime, datetime]]:
    """Open intervals (aware datetimes) of the weekly hours in ``zone`` overlapping [start, end)."""
    hours = parse_working_hours(campaign_hours)
    z = ZoneInfo(zone)
    out = []
    day = start.astimezone(z).date() - timedelta(days=1)
    last = end.astimezone(z).date() + timedelta(days=1)
    while day <= last:
        if not (respect_holidays and holiday_name(day, subdivision)):
            for a, b in hours.get(day.weekday(), ()):
                s = datetime.combine(day, a, z)
                e = datetime.combine(day + timedelta(days=1), time(0), z) if b is None else datetime.combine(day, b, z)
                if e > start and s < end:
                    out.append((s, e))
        day += timedelta(days=1)
    return out


def next_window_start(campaign_hours: dict, tz: str, contact_tz: str | None, now: datetime, *,
                      respect_holidays: bool = True, subdivision: str = "",
                      horizon_days: int = 21) -> datetime | None:
    """The first moment at or after ``now`` when :func:`is_callable_now` is true.

    ``now`` itself when callable; ``None`` when no window opens within ``horizon_days``
    (e.g. every day empty). Used to park a contact (``next_attempt_at``) instead of
    re-reading it on every dialer tick.
    """
    zone = tz or DEFAULT_TZ
    end = now + timedelta(days=horizon_days)
    mine = windows_between(campaign_hours, zone, now, end, respect_holidays=respect_holidays,
                           subdivision=subdivision)
    if contact_tz and contact_tz != zone:
        theirs = windows_between(campaign_hours, contact_tz, now, end, respect_holidays=respect_holidays)
        both = [(max(a, c), min(b, d)) for a, b in mine for c, d in theirs if max(a, c) < min(b, d)]
    else:
        both = mine
    starts = [max(s, now) for s, e in both if e > now]
    return min(starts) if starts else None
