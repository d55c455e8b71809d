"""Spreadsheet-safe cells: neutralise formula injection in every CSV/XLSX Central writes.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a
formula by Excel and LibreOffice when the file is opened (``=HYPERLINK("http://…")``,
DDE payloads). Contact names and custom fields come from uploaded files and from other
users of the tenant, so an export would hand a supervisor a booby-trapped spreadsheet.
OWASP's recommendation (CSV Injection) is to prefix such a cell with a single quote,
which spreadsheets display as text; that is what :func:`neutralize` does.

The importer reads our own exports back (export, edit, re-import), so the mapping must be
undone exactly: :func:`unneutralize` strips the one quote :func:`neutralize` added and
nothing else. To keep the pair a bijection, a value that already starts with quotes
followed by a trigger character (``'=x``) gets one more quote on the way out, so
``unneutralize(neutralize(v)) == v`` for every string ``v``. E.164 phone numbers start
with ``+`` and are neutralised like anything else (``'+5511987654321``); the importer
strips the quote before it parses the phone, so the round trip keeps them.

Every export goes through :func:`csv_writer` (or :func:`neutralize` for other formats);
``tests/core/test_spreadsheet_exports.py`` fails when a module writes CSV/XLSX without it
or when an endpoint of the URL map serves ``text/csv`` the test does not exercise.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

__all__ = ["FORMULA_TRIGGERS", "QUOTE", "csv_writer", "neutralize", "neutralize_row", "unneutralize"]

#: First characters that make Excel/LibreOffice evaluate a cell (OWASP CSV Injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
#: The neutralising prefix (OWASP: a single quote).
QUOTE = "'"


def _needs_quote(text: str) -> bool:
    return text.lstrip(QUOTE).startswith(FORMULA_TRIGGERS)


def neutralize(value: Any) -> Any:
    """``value`` safe for a spreadsheet cell: strings that could run as a formula get a quote.

    Non-strings (numbers, ``None``) are returned unchanged: a number is never a formula.
    """
    if isinstance(value, str) and _needs_quote(value):
        return QUOTE + value
    return value


def unneutralize(value: str) -> str:
    """Undo :func:`neutralize` exactly (the importer's side of the round trip)."""
    if value.startswith(QUOTE) and _needs_quote(value):
        return value[1:]
    return value


def neutralize_row(row: Iterable[Any]) -> list[Any]:
    return [neutralize(v) for v in row]


class _SafeWriter:
    """A ``csv.writer`` whose every cell goes through :func:`neutralize`."""

    def __init__(self, target, **kwargs) -> None:
        self._writer = csv.writer(target, **kwargs)

    def writerow(self, row: Iterable[Any]):
        return self._writer.writerow(neutralize_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(target, *, delimiter: str = ";", **kwargs) -> _SafeWriter:
    """The CSV writer of every export: ``;``-separated (Excel pt-BR), formula-safe cells."""
    return _SafeWriter(target, delimiter=delimiter, **kwargs)
