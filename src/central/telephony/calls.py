"""The calls page's query: filters and keyset paging over millions of call records.

Offset paging (``LIMIT 50 OFFSET 1000000``) reads and throws away every row before the
page, and it skips or repeats rows when new calls arrive between two clicks. The page
instead walks the order ``(started_at DESC, id DESC)`` from a **cursor**, the last row
seen: "older than (t, id)" is ``started_at <= t AND NOT (started_at = t AND id >= id)``,
an index range read on the ``(organization, <filter column>, started_at, id)`` indexes
of :class:`~central.telephony.models.CallRecord` (one per filter), so page 1 and page
40,000 cost the same. ``id`` breaks ties: calls that started in the same microsecond
are neither repeated nor skipped across pages.

The first conjunct (``started_at <= t``) is what both planners turn into an index bound;
the ``NOT (...)`` only drops the few rows of that one timestamp. A single
``started_at < t OR (started_at = t AND id < id)`` would read correctly but PostgreSQL
and SQLite treat an OR as a filter, not a bound, so deep pages would scan from the top.

Dates are days in the tenant's time zone: ``since`` 2026-03-01 means from midnight in
that zone, ``until`` is inclusive (up to the next midnight).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from central.core.phones import InvalidPhone, normalize

from .models import CallRecord, Direction
from .store import number_variants

__all__ = ["PAGE_SIZE", "CallFilters", "Cursor", "Page", "filtered", "page"]

#: Rows per page of the calls page (and the bench's page).
PAGE_SIZE = 50
#: Technologies an extension (ramal) may be reached through, to match ``agent_interface``.
_EXTENSION_TECHS = ("PJSIP", "SIP", "IAX2")
_EXTENSION_RE = re.compile(r"^[0-9A-Za-z*#+_.-]{1,40}$")


@dataclass(frozen=True)
class CallFilters:
    """What the user asked for, validated: empty strings and ``None`` mean "any"."""

    since: date | None = None
    until: date | None = None
    direction: str = ""
    result: str = ""
    campaign: str = ""
    agent: str = ""
    extension: str = ""
    number: str = ""

    @classmethod
    def from_query(cls, params) -> tuple[CallFilters, list[str]]:
        """Filters from a GET query; invalid values are dropped with a pt-BR message each."""
        errors: list[str] = []

        def text(name: str, limit: int = 120) -> str:
            return (params.get(name) or "").strip()[:limit]

        def day(name: str, label: str) -> date | None:
            value = text(name, 20)
            if not value:
                return None
            try:
                return date.fromisoformat(value)
            except ValueError:
                errors.append(_("Data inválida em “%(campo)s”: use AAAA-MM-DD.") % {"campo": label})
                return None

        since, until = day("since", _("De")), day("until", _("Até"))
        if since and until and since > until:
            errors.append(_("A data inicial é depois da final: as duas foram trocadas."))
            since, until = until, since
        direction = text("direction")
        if direction and direction not in Direction.values:
            errors.append(_("Direção desconhecida."))
            direction = ""
        result = text("result")
        if result and result not in CallRecord.Disposition.values:
            errors.append(_("Resultado desconhecido."))
            result = ""
        campaign = text("campaign", 64)
        extension = text("extension", 40)
        if extension and not _EXTENSION_RE.match(extension):
            errors.append(_("Ramal inválido."))
            extension = ""
        number = text("number", 40)
        return cls(since=since, until=until, direction=direction, result=result, campaign=campaign,
                   agent=text("agent"), extension=extension, number=number), errors

    def as_query(self) -> dict[str, str]:
        """The non-empty filters as query parameters (links keep them)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value:
                out[f.name] = value.isoformat() if isinstance(value, date) else value
        return out

    @property
    def active(self) -> bool:
        return bool(self.as_query())

    def without(self, name: str) -> CallFilters:
        return replace(self, **{name: None if name in ("since", "until") else ""})


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """Midnight of ``day`` in ``zone``, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=zone)


def number_spellings(typed: str) -> list[str]:
    """Every spelling under which ``typed`` may sit in a record's from/to columns.

    A Brazilian number is normalised to E.164 and matched as the dialplan may have
    written it (:func:`central.telephony.store.number_variants`); anything else (an
    extension, a foreign or partial number) is matched as typed and as its digits.
    """
    typed = typed.strip()
    if not typed:
        return []
    out = [typed]
    digits = "".join(ch for ch in typed if ch.isdigit())
    if digits and digits != typed:
        out.append(digits)
    with contextlib.suppress(InvalidPhone):
        out += number_variants(normalize(typed).e164)
    return list(dict.fromkeys(out))


def filtered(organization_id: int, f: CallFilters, zone: ZoneInfo,
             extension_interfaces: list[str] | None = None) -> QuerySet:
    """The organization's call records matching ``f`` (unordered, unpaged).

    ``extension_interfaces``: interfaces of the people whose extension is ``f.extension``
    (central.agents), matched besides the extension's own device names.
    """
    qs = CallRecord.objects.filter(organization_id=organization_id)
    if f.since:
        qs = qs.filter(started_at__gte=day_start(f.since, zone))
    if f.until:
        qs = qs.filter(started_at__lt=day_start(f.until + timedelta(days=1), zone))
    if f.direction:
        qs = qs.filter(direction=f.direction)
    if f.result:
        qs = qs.filter(disposition=f.result)
    if f.campaign:
        qs = qs.filter(campaign_id=f.campaign)
    if f.agent:
        qs = qs.filter(agent_interface=f.agent)
    if f.extension:
        interfaces = [f"{tech}/{f.extension}" for tech in _EXTENSION_TECHS] + list(extension_interfaces or [])
        qs = qs.filter(Q(from_number=f.extension) | Q(to_number=f.extension) | Q(agent_interface__in=interfaces))
    if f.number:
        spellings = number_spellings(f.number)
        qs = qs.filter(Q(from_number__in=spellings) | Q(to_number__in=spellings))
    return qs


@dataclass(frozen=True)
class Cursor:
    """A position in the order (started_at DESC, id DESC): a row's time and id."""

    started_at: datetime
    id: int

    def encode(self) -> str:
        # Integer microseconds (not float timestamp()): the tie-break on equal times
        # needs the exact instant back.
        delta = self.started_at - datetime(1970, 1, 1, tzinfo=UTC)
        us = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return f"{us}_{self.id}"

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        """The cursor in a link, or None if absent or not one of ours (first page)."""
        match = re.fullmatch(r"(-?\d{1,20})_(\d{1,20})", (text or "").strip())
        if not match:
            return None
        us, pk = int(match.group(1)), int(match.group(2))
        try:
            when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
        except OverflowError:
            return None
        return cls(when, pk) if pk < 2**63 else None

    @classmethod
    def of(cls, row: CallRecord) -> Cursor:
        return cls(row.started_at, row.pk)


@dataclass
class Page:
    rows: list[CallRecord]
    #: cursor of the next (older) page, None on the last page
    older: str | None
    #: cursor of the previous (newer) page, None on the first page
    newer: str | None


def page(qs: QuerySet, *, before: Cursor | None = None, after: Cursor | None = None,
         size: int = PAGE_SIZE) -> Page:
    """One page of ``qs`` newest first: the first, the one older than ``before``, or the
    one newer than ``after`` (the "previous" link). Reads ``size + 1`` rows to know
    whether another page follows."""
    if after is not None:
        rows = list(qs.filter(started_at__gte=after.started_at)
                    .exclude(started_at=after.started_at, id__lte=after.id)
                    .order_by("started_at", "id")[:size + 1])
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        if not more_newer:
            # The top of the list: show a full first page rather than a short one.
            return page(qs, size=size)
        return Page(rows, Cursor.of(rows[-1]).encode() if rows else None, Cursor.of(rows[0]).encode())
    ordered = qs.order_by("-started_at", "-id")
    if before is not None:
        ordered = ordered.filter(started_at__lte=before.started_at).exclude(
            started_at=before.started_at, id__gte=before.id)
    rows = list(ordered[:size + 1])
    more_older = len(rows) > size
    rows = rows[:size]
    older = Cursor.of(rows[-1]).encode() if more_older and rows else None
    newer = Cursor.of(rows[0]).encode() if before is not None and rows else None
    return Page(rows, older, newer)
