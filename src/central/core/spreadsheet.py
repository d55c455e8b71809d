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

Every export goes through :func:`csv_writer` (or :func:`neutralize` for other formats,
or :func:`xlsx_stream`, whose inline-string cells are never formulas);
``tests/core/test_spreadsheet_exports.py`` fails when a module writes CSV/XLSX without it
or when an endpoint of the URL map serves ``text/csv`` the test does not exercise.
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["FORMULA_TRIGGERS", "QUOTE", "csv_writer", "neutralize", "neutralize_row", "unneutralize",
           "xlsx_stream"]

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


# --- XLSX, streamed --------------------------------------------------------------------------
#
# openpyxl's write-only mode still builds the file on disk (or in memory) before anything
# can be sent. An XLSX is a zip of a few XML parts; ``zipfile`` writes a zip to a stream
# that cannot seek (data descriptors after each member, zip64 for a large sheet), so the
# sheet can be compressed and sent while the rows are still being read: memory stays flat
# however many rows there are. Cells are inline strings (``t="inlineStr"``) and numbers:
# an inline string is never evaluated as a formula (a formula is an ``<f>`` element), so
# XLSX cells are written as the value itself, without the CSV quote, and a phone number
# like ``+5511987654321`` opens as that text.

_XLSX_STATIC = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '</Types>'),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'officeDocument" Target="xl/workbook.xml"/></Relationships>'),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'worksheet" Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'styles" Target="styles.xml"/></Relationships>'),
    "xl/styles.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        '</styleSheet>'),
}
# Characters XML 1.0 cannot carry at all (a CallerID may hold anything a trunk sent).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(value: str) -> str:
    text = _XML_ILLEGAL.sub("", value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xlsx_cell(value: Any, style: str = "") -> str:
    if value is None or value == "":
        return "<c/>"
    if isinstance(value, bool):
        value = "sim" if value else "não"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"<c{style}><v>{value}</v></c>"
    return f'<c t="inlineStr"{style}><is><t xml:space="preserve">{_xml_text(str(value))}</t></is></c>'


class _Sink:
    """A write-only, unseekable file for ``zipfile``: it keeps what was written until drained."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def xlsx_stream(header: list[str], rows: Iterable[Iterable[Any]], *, sheet: str = "Planilha1",
                flush_rows: int = 500) -> Iterator[bytes]:
    """An XLSX workbook (one sheet, bold header row) as chunks of bytes, row by row.

    Numbers stay numbers; everything else is text. ``flush_rows``: rows between two
    chunks (each chunk is what the compressor produced meanwhile).
    """
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, text in _XLSX_STATIC.items():
            zf.writestr(name, text)
        zf.writestr("xl/workbook.xml", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'<sheets><sheet name="{_xml_text(sheet)[:31]}" sheetId="1" r:id="rId1"/></sheets></workbook>'))
        yield sink.drain()
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            part.write(('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                        '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
                        'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews><sheetData>'
                        '<row>' + "".join(_xlsx_cell(h, ' s="1"') for h in header) + "</row>").encode())
            buffered: list[str] = []
            for row in rows:
                buffered.append("<row>" + "".join(_xlsx_cell(v) for v in row) + "</row>")
                if len(buffered) >= flush_rows:
                    part.write("".join(buffered).encode())
                    buffered = []
                    if chunk := sink.drain():
                        yield chunk
            part.write(("".join(buffered) + "</sheetData></worksheet>").encode())
    yield sink.drain()
