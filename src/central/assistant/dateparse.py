"""pt-BR dates and times as patients type them on WhatsApp (pure, no Django, no I/O).

"amanhã de manhã", "segunda às 14h", "pode ser dia 3?", "sexta", "14:30", "depois das 15",
"antes das 10", "3/12", "hoje à tarde", "depois de amanhã", "próxima terça", "meio-dia",
"2 da tarde", with typos and missing accents ("amanha", "terca", "sabdo", "segnda").

:func:`parse_when` reads a message relative to ``now`` (an aware datetime in the clinic's
time zone: "amanhã" is the clinic's tomorrow, not the server's) and answers a
:class:`When`: a day (or none), an exact time (or none) and a window of the day
(``after``/``before``). It never guesses a year or a time that was not written; the
flow asks for what is missing. Everything here is a microsecond-fast pure function so
it is unit-tested exhaustively (``tests/assistant/test_dateparse.py``).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

WEEKDAYS = {
    "segunda": 0, "terca": 1, "quarta": 2, "quinta": 3, "sexta": 4, "sabado": 5, "domingo": 6,
}
_WEEKDAY_ALIASES = {"seg": 0, "ter": 1, "qua": 2, "qui": 3, "sex": 4, "sab": 5, "dom": 6}
#: Periods of the day: (after, before).
PERIODS = {
    "manha": (time(6), time(12)),
    "tarde": (time(12), time(18)),
    "noite": (time(18), time(23, 59)),
}
_RELATIVE = {"hoje": 0, "amanha": 1}
_VOCAB = [*WEEKDAYS, *_RELATIVE, *PERIODS, "depois", "antes", "proxima", "proximo"]


def fold(text: str) -> str:
    """Lower case, no accents, single spaces: how every rule here compares text."""
    text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower()
    return " ".join(text.split())


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+|\d+(?::\d+)?(?:h\d*)?|\d+/\d+(?:/\d+)?", fold(text).replace("-feira", ""))


def correct(token: str) -> str:
    """A word of the vocabulary one typo away ("amnha" -> "amanha"), else the token."""
    if len(token) < 4 or token in _VOCAB:
        return token
    close = difflib.get_close_matches(token, _VOCAB, n=1, cutoff=0.8)
    return close[0] if close else token


@dataclass(frozen=True)
class When:
    """What a message said about a time. ``at`` is exact; ``after``/``before`` bound the day."""

    day: date | None = None
    at: time | None = None
    after: time | None = None
    before: time | None = None

    @property
    def empty(self) -> bool:
        return self.day is None and self.at is None and self.after is None and self.before is None

    def window(self, tz) -> tuple[datetime, datetime] | None:
        """[start, end) in ``tz`` for a day (narrowed to the time or the period), or None."""
        if self.day is None:
            return None
        if self.at is not None:
            start = datetime.combine(self.day, self.at, tz)
            return start, start + timedelta(minutes=1)
        start = datetime.combine(self.day, self.after or time(0), tz)
        end = datetime.combine(self.day, self.before, tz) if self.before else datetime.combine(
            self.day + timedelta(days=1), time(0), tz)
        return start, end


def _next_weekday(today: date, weekday: int, *, skip_today: bool = True) -> date:
    ahead = (weekday - today.weekday()) % 7
    if ahead == 0 and skip_today:
        ahead = 7
    return today + timedelta(days=ahead)


def _day_of_month(today: date, day: int, month: int | None = None, year: int | None = None) -> date | None:
    """"dia 3" is the next 3rd (this month, or the next one when it has passed)."""
    if year is not None and year < 100:
        year += 2000
    if month is not None:
        y = year or today.year
        try:
            found = date(y, month, day)
        except ValueError:
            return None
        if year is None and found < today:
            try:
                found = date(y + 1, month, day)
            except ValueError:
                return None
        return found
    y, m = today.year, today.month
    for _ in range(3):
        try:
            found = date(y, m, day)
        except ValueError:
            found = None
        if found is not None and found >= today:
            return found
        m += 1
        if m > 12:
            y, m = y + 1, 1
    return None


_TIME_RE = re.compile(
    r"(?<![\d/])(?:(?:as|a|das|pelas|por volta das)\s+)?(\d{1,2})(?:\s*(?::|h)\s*(\d{2})?|\s*horas?)"
    r"|(?:\b(?:as|das|pelas)\s+)(\d{1,2})\b(?!\s*/)")
_AROUND = re.compile(r"\b(depois|apos|a partir|antes|ate)\s+(?:d?[aeo]s?\s+|de\s+)?(\d{1,2})(?:\s*(?::|h)\s*(\d{2})?|\s*horas?)?\b")
_DATE_RE = re.compile(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b")
_DIA_RE = re.compile(r"\bdia\s+(\d{1,2})\b")
_AFTERNOON_HOUR = re.compile(r"\b(\d{1,2})\s*(?:h\s*)?(?:da|de)\s+(tarde|noite|manha)\b")


def _hour(h: int, m: int = 0, period: str | None = None) -> time | None:
    if period in ("tarde", "noite") and 1 <= h <= 11:
        h += 12
    if not (0 <= h <= 23 and 0 <= m <= 59):
        return None
    return time(h, m)


def parse_when(text: str, now: datetime) -> When:
    """Read ``text`` relative to ``now`` (aware, in the clinic's zone). Pure."""
    folded = fold(text).replace("-feira", "").replace("meio-dia", "meio dia")
    toks = [correct(t) for t in re.findall(r"[a-z]+", folded)]
    norm = " ".join(toks)
    today = now.date()
    day: date | None = None
    at: time | None = None
    after: time | None = None
    before: time | None = None

    # --- the day ---------------------------------------------------------------------------
    if "depois de amanha" in norm:
        day = today + timedelta(days=2)
    else:
        for word, delta in _RELATIVE.items():
            if word in toks:
                # "amanhã de manhã": the first token is the day, the second the period.
                day = today + timedelta(days=delta)
                break
    m = _DATE_RE.search(folded)
    if day is None and m:
        day = _day_of_month(today, int(m.group(1)), int(m.group(2)), int(m.group(3)) if m.group(3) else None)
    m = _DIA_RE.search(folded)
    if day is None and m:
        day = _day_of_month(today, int(m.group(1)))
    if day is None:
        for tok in toks:
            wd = WEEKDAYS.get(tok)
            if wd is None and tok in _WEEKDAY_ALIASES and len(toks) <= 4:
                wd = _WEEKDAY_ALIASES[tok]
            if wd is not None:
                # "sexta", "próxima sexta", "sexta que vem": the next one (today excluded)
                day = _next_weekday(today, wd)
                break
    if day is None and ("semana que vem" in norm or "proxima semana" in norm):
        day = _next_weekday(today, 0)

    # --- the time --------------------------------------------------------------------------
    if "meio dia" in folded:
        at = time(12)
    m = _AFTERNOON_HOUR.search(folded)
    period_hint = None
    if m:
        at = _hour(int(m.group(1)), 0, m.group(2))
        period_hint = m.group(2)
    m2 = _AROUND.search(folded)
    if m2:
        t = _hour(int(m2.group(2)), int(m2.group(3) or 0))
        if t is not None and t.hour < 7 and "manha" not in toks:
            t = _hour(t.hour + 12, t.minute)  # "depois das 3" at a clinic is 15:00
        if m2.group(1) in ("depois", "apos", "a partir"):
            after = t
        else:
            before = t
        at = None if at is None or period_hint is None else at
    elif at is None:
        for m3 in _TIME_RE.finditer(folded):
            h = m3.group(1) or m3.group(3)
            if h is None:
                continue
            # "dia 3" / "3/12" are dates, not hours
            start = m3.start()
            if folded[max(0, start - 4):start].endswith("dia "):
                continue
            mm = int(m3.group(2) or 0) if m3.group(1) else 0
            hour = int(h)
            period = next((p for p in PERIODS if p in toks), None)
            t = _hour(hour, mm, period)
            if t is not None and t.hour < 7 and period is None:
                t = _hour(t.hour + 12, t.minute)  # "às 2" at a clinic is 14:00
            if t is not None:
                at = t
                break
    if at is None and after is None and before is None:
        for name, (lo, hi) in PERIODS.items():
            if name in toks:
                after, before = lo, hi
                break
    return When(day=day, at=at, after=after, before=before)


def describe(when: When) -> str:
    """A short pt-BR echo of what was understood (for logs and summaries)."""
    parts = []
    if when.day:
        parts.append(when.day.strftime("%d/%m"))
    if when.at:
        parts.append(when.at.strftime("%H:%M"))
    if when.after:
        parts.append("após " + when.after.strftime("%H:%M"))
    if when.before:
        parts.append("antes de " + when.before.strftime("%H:%M"))
    return " ".join(parts)
