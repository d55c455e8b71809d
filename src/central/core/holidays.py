"""The Brazilian holiday calendar, in one place for every app (dialer, scheduling...).

National and state holidays come from the maintained ``holidays`` package
(``holidays.Brazil`` with ``subdiv`` = the state's UF, "SP", "RJ"...). City holidays are
not in that package: :data:`CITY_HOLIDAYS` lists a few well-known fixed-date municipal
holidays of state capitals (patron saints, the city's anniversary). It is a starting point,
not an authority: a clinic checks its city's calendar and adds any other closure as a
clinic-wide scheduling exception (``central.scheduling``), which works for any city.

Pure (no Django): a date, a UF and a city in, a pt-BR name (or ``None``) out.
"""

from __future__ import annotations

import functools
import unicodedata
from datetime import date

import holidays as holidays_lib

__all__ = ["CITY_HOLIDAYS", "SUBDIVISIONS", "city_key", "holiday_name", "holidays_between"]

#: The UFs the calendar knows (``holidays.Brazil.subdivisions``).
SUBDIVISIONS: tuple[str, ...] = tuple(holidays_lib.Brazil.subdivisions)

#: ``"UF/city"`` (lower case, no accents) -> ((month, day, pt-BR name), ...).
CITY_HOLIDAYS: dict[str, tuple[tuple[int, int, str], ...]] = {
    "sp/sao paulo": ((1, 25, "Aniversário da cidade de São Paulo"),),
    "rj/rio de janeiro": ((1, 20, "Dia de São Sebastião"),),
    "mg/belo horizonte": ((8, 15, "Assunção de Nossa Senhora"), (12, 8, "Imaculada Conceição")),
    "pr/curitiba": ((9, 8, "Nossa Senhora da Luz dos Pinhais"),),
    "rs/porto alegre": ((2, 2, "Nossa Senhora dos Navegantes"),),
    "pe/recife": ((7, 16, "Nossa Senhora do Carmo"), (12, 8, "Nossa Senhora da Conceição")),
}


def city_key(state: str, city: str) -> str:
    """The :data:`CITY_HOLIDAYS` key of a city: ``"sp/sao paulo"`` for ("SP", "São Paulo")."""
    plain = unicodedata.normalize("NFKD", city or "").encode("ascii", "ignore").decode()
    return f"{(state or '').strip().lower()}/{' '.join(plain.lower().split())}"


@functools.lru_cache(maxsize=128)
def _calendar(year: int, subdivision: str) -> holidays_lib.HolidayBase:
    try:
        return holidays_lib.Brazil(years=year, subdiv=subdivision or None, language="pt_BR")
    except NotImplementedError:  # an unknown state code: national holidays still apply
        return holidays_lib.Brazil(years=year, language="pt_BR")


def holiday_name(day: date, subdivision: str = "", city: str = "") -> str | None:
    """The pt-BR name when ``day`` is a national, the state's or the city's holiday."""
    uf = (subdivision or "").strip().upper()
    name = _calendar(day.year, uf).get(day)
    if name:
        return name
    if city:
        for month, dom, label in CITY_HOLIDAYS.get(city_key(uf, city), ()):
            if (day.month, day.day) == (month, dom):
                return label
    return None


def holidays_between(first: date, last: date, subdivision: str = "", city: str = "") -> dict[date, str]:
    """Every holiday in ``[first, last]`` (inclusive): date -> pt-BR name."""
    out: dict[date, str] = {}
    uf = (subdivision or "").strip().upper()
    for year in range(first.year, last.year + 1):
        for day, name in _calendar(year, uf).items():
            if first <= day <= last:
                out[day] = name
        for month, dom, label in CITY_HOLIDAYS.get(city_key(uf, city), ()) if city else ():
            day = date(year, month, dom)
            if first <= day <= last:
                out.setdefault(day, label)
    return out
