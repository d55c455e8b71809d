"""Contact and do-not-call imports from CSV and XLSX, streamed from a file on disk.

Shape: a *reader* turns the file into ``(row_number, cells)`` without ever holding it in
memory (``csv`` over a ``TextIOWrapper`` on the raw file; ``openpyxl`` in ``read_only``
mode with ``iter_rows``), a *header map* says which cell is the name, the phone, the
alternate phones and the custom fields, a *row parser* (pure) turns cells into a contact
or a list of pt-BR errors, and a *writer* merges rows into the campaign in batches of
``batch_size`` rows, one transaction per batch (``bulk_create`` for new numbers,
``bulk_update`` for numbers already in the campaign), on SQLite and PostgreSQL alike.

Bad rows never stop the import (DESIGN principle 5): each error (row, column, reason) goes
to an errors CSV written next to the upload and the first :data:`KEEP_ERRORS` to the
``ImportJob``; good rows keep flowing. Duplicates (same E.164 in the file or already in
the campaign) are merged: alternate phones united, non-empty custom fields updated; the
*first* name is kept (the earlier row's, or the one already in the campaign) and a
different name is reported in the errors list as a note on the later row (it is not a
rejection: the row's other data is merged). Numbers on an org-wide or campaign do-not-call list are imported with status
``dnc`` so the list shows them and the dialer never does.

Encodings: what Brazilian spreadsheets produce is UTF-8 (with or without a BOM, Excel's
"CSV UTF-8") or Windows-1252 (Excel's plain "CSV"). The file is first decoded as strict
UTF-8 in chunks (cheap: a sequential read); any invalid byte means cp1252.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import logging
import os
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from central.core.phones import DDD_TIMEZONES, normalize, try_normalize
from central.core.spreadsheet import csv_writer, unneutralize

from .models import Campaign, Contact, DoNotCall, ImportJob

log = logging.getLogger(__name__)

__all__ = [
    "ImportError_",
    "HeaderMap",
    "detect_encoding",
    "import_contacts",
    "import_dnc",
    "read_rows",
    "run_job",
]

#: Rows per transaction: big enough that commit cost vanishes, small enough that a
#: batch's objects (a few MB) and the SQLite write lock (held per transaction, the
#: dialer waits on it) stay small.
BATCH_SIZE = 5000
#: Errors kept on the ImportJob row (the errors CSV has them all).
KEEP_ERRORS = 100
#: csv's default 128 KiB field limit would reject a legitimate long "observações" cell.
csv.field_size_limit(1 << 20)

ProgressFn = Callable[[ImportJob], None]


class ImportError_(Exception):  # noqa: N801 - ImportError is a builtin
    """The file as a whole cannot be imported (no phone column, unreadable XLSX)."""


# --- Reading ------------------------------------------------------------------------------


def detect_encoding(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """``utf-8-sig`` when the whole file is valid UTF-8 (BOM or not), else ``cp1252``."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    with open(path, "rb") as f:
        try:
            while block := f.read(chunk):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8-sig"


def _sniff_delimiter(first_line: str) -> str:
    """The most frequent of ``; , TAB |`` in the header line (Excel pt-BR writes ``;``)."""
    counts = {d: first_line.count(d) for d in (";", ",", "\t", "|")}
    best = max(counts, key=counts.get)
    if counts[best]:
        return best
    try:
        return csv.Sniffer().sniff(first_line, delimiters=";,\t|").delimiter
    except csv.Error:
        return ","  # one column: the delimiter does not matter


@dataclass
class Source:
    """Rows of a file plus how far through it the reader is (for progress)."""

    rows: Iterator[tuple[int, list[str]]]
    position: Callable[[], int]
    total: int
    encoding: str = ""
    delimiter: str = ""
    close: Callable[[], None] = lambda: None


def _is_xlsx(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04"  # a zip container; CSV never starts so


@dataclass(frozen=True)
class Limits:
    """Shape limits of an import file, checked while (or before) parsing it.

    They bound the memory an import can take whatever the file holds (a 10 MB header of
    ``;a`` repeated made a list of 5 million cells; a 307 KB XLSX whose shared strings
    inflate to 300 MB made openpyxl hold them all). The worker's memory cap
    (``CENTRAL_IMPORT_MEMORY_MB``) is the backstop; these give the clear message first.
    """

    max_columns: int
    max_line_chars: int
    max_inflated: int
    max_ratio: int
    #: openpyxl keeps every shared string in memory (about 3x the XML): a part larger than
    #: a quarter of the worker's memory cannot be read, so it is refused up front.
    max_shared_strings: int

    @classmethod
    def from_settings(cls) -> Limits:
        from django.conf import settings

        return cls(settings.IMPORT_MAX_COLUMNS, settings.IMPORT_MAX_LINE_CHARS, settings.IMPORT_MAX_INFLATED_BYTES,
                   settings.IMPORT_MAX_ZIP_RATIO, settings.IMPORT_MEMORY_MB * 1024 * 1024 // 4)


#: Parts smaller than this are not held to the compression-ratio limit (tiny XML parts of
#: a legitimate workbook can compress very well).
RATIO_FLOOR_BYTES = 1 << 20
_MB = 1024 * 1024


def check_xlsx(path: Path, limits: Limits) -> None:
    """Refuse a zip bomb before openpyxl inflates anything: sizes from the zip directory.

    ``zipfile`` never inflates a member past the size its directory entry declares (the
    read stops there and the CRC check fails), so checking declared sizes bounds the real
    ones.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportError_(f"planilha XLSX ilegível: {exc}") from exc
    total = 0
    for info in members:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR_BYTES and ratio > limits.max_ratio:
            raise ImportError_(
                f"planilha XLSX recusada: a parte {info.filename} se expande {ratio:.0f} vezes "
                f"(limite {limits.max_ratio}, CENTRAL_IMPORT_MAX_ZIP_RATIO); pode ser um arquivo malicioso")
        if info.filename.endswith("sharedStrings.xml") and info.file_size > limits.max_shared_strings:
            raise ImportError_(
                f"planilha XLSX recusada: os textos da planilha ocupam {info.file_size // _MB} MB descompactados "
                f"(limite {limits.max_shared_strings // _MB} MB, um quarto de CENTRAL_IMPORT_MEMORY_MB); "
                "salve como CSV ou divida o arquivo")
    if total > limits.max_inflated:
        raise ImportError_(
            f"planilha XLSX recusada: {total // _MB} MB descompactada (limite {limits.max_inflated // _MB} MB, "
            "CENTRAL_IMPORT_MAX_INFLATED_BYTES); salve como CSV ou divida o arquivo")


def _too_wide(n: int, width: int, limits: Limits) -> ImportError_:
    return ImportError_(f"a linha {n} tem {width} colunas; o limite é {limits.max_columns} "
                        "(CENTRAL_IMPORT_MAX_COLUMNS)")


def _too_long(n: int, limits: Limits) -> ImportError_:
    return ImportError_(f"a linha {n} do arquivo tem mais de {limits.max_line_chars} caracteres "
                        "(CENTRAL_IMPORT_MAX_LINE_CHARS); verifique o separador e as aspas")


class _BoundedLines:
    """Lines for ``csv.reader`` that never exceed the record limit.

    ``readline(limit)`` stops a line without a newline at the limit instead of reading the
    whole 200 MB file as one string; characters are counted per *record* (reset by the
    row loop after each one), so a quoted field spanning lines cannot grow past it either.
    """

    def __init__(self, text: io.TextIOBase, limits: Limits, first_row: int) -> None:
        self.text, self.limits = text, limits
        self.record_chars = 0
        self.row = first_row

    def __iter__(self) -> _BoundedLines:
        return self

    def __next__(self) -> str:
        line = self.text.readline(self.limits.max_line_chars + 1)
        if not line:
            raise StopIteration
        self.record_chars += len(line)
        if self.record_chars > self.limits.max_line_chars:
            raise _too_long(self.row, self.limits)
        return line

    def next_record(self) -> None:
        self.record_chars = 0
        self.row += 1


def read_rows(path: str | os.PathLike, limits: Limits | None = None) -> Source:
    """Open a CSV or XLSX file as a stream of ``(row_number, cells)`` (1-based, header = 1).

    Raises :class:`ImportError_` (pt-BR message) when the file breaks :class:`Limits`.
    """
    path = Path(path)
    limits = limits or Limits.from_settings()
    total = path.stat().st_size
    if path.suffix.lower() in (".xlsx", ".xlsm") or _is_xlsx(path):
        check_xlsx(path, limits)
        return _read_xlsx(path, total, limits)
    encoding = detect_encoding(path)
    raw = open(path, "rb")  # noqa: SIM115 - closed by Source.close
    text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
    first = text.readline(limits.max_line_chars + 1)
    if len(first) > limits.max_line_chars:
        text.close()
        raise _too_long(1, limits)
    delimiter = _sniff_delimiter(first)

    def rows() -> Iterator[tuple[int, list[str]]]:
        # unneutralize: a cell of our own export reads back as it was (see core.spreadsheet).
        for n, cells in enumerate(csv.reader(io.StringIO(first), delimiter=delimiter), start=1):
            if len(cells) > limits.max_columns:
                raise _too_wide(n, len(cells), limits)
            yield n, [unneutralize(c) for c in cells]
        lines = _BoundedLines(text, limits, 2)
        for n, cells in enumerate(csv.reader(lines, delimiter=delimiter), start=2):
            yield n, [unneutralize(c) for c in cells]
            lines.next_record()

    return Source(rows(), raw.tell, total, encoding, delimiter, text.close)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # phones typed as numbers: 11987654321.0
    return unneutralize(str(value))


def _read_xlsx(path: Path, total: int, limits: Limits) -> Source:
    try:
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
    except MemoryError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException...
        raise ImportError_(f"planilha XLSX ilegível: {exc}") from exc
    ws = wb.active
    max_row = ws.max_row or 0
    state = {"row": 0}

    def rows() -> Iterator[tuple[int, list[str]]]:
        for n, values in enumerate(ws.iter_rows(values_only=True), start=1):
            state["row"] = n
            if len(values) > limits.max_columns:
                raise _too_wide(n, len(values), limits)
            yield n, [_cell(v) for v in values]

    def position() -> int:
        # read_only workbooks stream the sheet XML; rows done / rows declared is the
        # honest progress measure, expressed in bytes for one progress bar.
        return int(total * state["row"] / max_row) if max_row else 0

    return Source(rows(), position, total, "xlsx", "", wb.close)


# --- Header mapping -----------------------------------------------------------------------


def _key(header: str) -> str:
    text = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]", "", text)


_NAME = {"nome", "name", "nomecompleto", "cliente", "nomecliente", "razaosocial", "contato"}
_PHONE_BASE = ("telefone", "phone", "celular", "fone", "tel", "numero", "whatsapp", "movel",
               "fixo", "msisdn", "mobile", "cel", "nrtelefone", "telefonecelular", "telefonefixo")
_PHONE_RE = re.compile(r"^(?:{})(?:alternativo|alt|comercial|residencial)?\d*$".format("|".join(_PHONE_BASE)))
_DDD = {"ddd", "codarea", "area", "ddd1"}
_LEGAL = {"baselegal", "legalbasis", "baselgpd"}
_ORIGIN = {"origem", "origin", "fonte"}
_DATE_RE = re.compile(r"^(data|dt|date)")


@dataclass
class HeaderMap:
    width: int
    phone: int
    alt_phones: list[int] = field(default_factory=list)
    name: int | None = None
    ddd: int | None = None
    legal_basis: int | None = None
    origin: int | None = None
    date: int | None = None
    custom: dict[int, str] = field(default_factory=dict)
    headers: list[str] = field(default_factory=list)
    has_header: bool = True

    @classmethod
    def from_header(cls, cells: list[str]) -> HeaderMap | None:
        """Map a header row; ``None`` when no column is a phone (maybe no header at all)."""
        keys = [_key(c) for c in cells]
        phones = [i for i, k in enumerate(keys) if _PHONE_RE.match(k)]
        if not phones:
            return None
        hm = cls(width=len(cells), phone=phones[0], alt_phones=phones[1:], headers=[c.strip() for c in cells])
        for i, k in enumerate(keys):
            if i in phones:
                continue
            if k in _NAME and hm.name is None:
                hm.name = i
            elif k in _DDD and hm.ddd is None:
                hm.ddd = i
            elif k in _LEGAL and hm.legal_basis is None:
                hm.legal_basis = i
            elif k in _ORIGIN and hm.origin is None:
                hm.origin = i
            elif _DATE_RE.match(k) and hm.date is None:
                hm.date = i
                hm.custom[i] = cells[i].strip()
            elif cells[i].strip():
                hm.custom[i] = cells[i].strip()
        return hm

    @classmethod
    def headerless(cls, cells: list[str]) -> HeaderMap | None:
        """A file whose first row is already data: the first cell that is a phone."""
        for i, c in enumerate(cells):
            if try_normalize(c)[0] is not None:
                others = [j for j in range(len(cells)) if j != i]
                hm = cls(width=len(cells), phone=i, headers=[f"coluna {j + 1}" for j in range(len(cells))],
                         has_header=False)
                if others:
                    hm.name = others[0]
                    hm.custom = {j: f"coluna {j + 1}" for j in others[1:]}
                return hm
        return None

    def column(self, i: int) -> str:
        return self.headers[i] if i < len(self.headers) else f"coluna {i + 1}"


# --- Row parsing (pure) -------------------------------------------------------------------


@dataclass(slots=True)
class RowError:
    row: int
    column: str
    reason: str


@dataclass(slots=True)
class ParsedContact:
    row: int
    phone: str
    timezone: str
    name: str = ""
    alt_phones: list[str] = field(default_factory=list)
    custom: dict[str, str] = field(default_factory=dict)
    legal_basis: str = ""
    origin: str = ""


_LEGAL_VALUES = {_key(str(label)): value for value, label in Contact.LegalBasis.choices} | {
    _key(v): v for v in Contact.LegalBasis.values}


def _with_ddd(raw: str, ddd: str) -> str:
    digits = "".join(ch for ch in raw if ch.isdigit())
    d = "".join(ch for ch in ddd if ch.isdigit()).lstrip("0")
    if d in DDD_TIMEZONES and len(digits) in (8, 9):
        return d + digits
    return raw


def parse_contact_row(n: int, cells: list[str], hm: HeaderMap) -> tuple[ParsedContact | None, list[RowError]]:
    """One data row -> a contact (maybe with warnings) or ``None`` and the errors."""
    errors: list[RowError] = []
    if len(cells) != hm.width:
        extra = cells[hm.width:]
        if len(cells) < hm.width or any(c.strip() for c in extra):
            return None, [RowError(n, "", f"linha com {len(cells)} colunas; o cabeçalho tem {hm.width}")]
    ddd = cells[hm.ddd] if hm.ddd is not None else ""
    raw = cells[hm.phone]
    phone, reason = try_normalize(_with_ddd(raw, ddd) if ddd else raw)
    if phone is None:
        return None, [RowError(n, hm.column(hm.phone), reason)]
    contact = ParsedContact(row=n, phone=phone.e164, timezone=phone.timezone)
    if hm.name is not None:
        contact.name = cells[hm.name].strip()[:200]
    for i in hm.alt_phones:
        value = cells[i].strip()
        if not value:
            continue
        alt, why = try_normalize(_with_ddd(value, ddd) if ddd else value)
        if alt is None:
            errors.append(RowError(n, hm.column(i), f"{why} (telefone alternativo ignorado)"))
        elif alt.e164 != contact.phone and alt.e164 not in contact.alt_phones:
            contact.alt_phones.append(alt.e164)
    for i, header in hm.custom.items():
        value = cells[i].strip()
        if value:
            contact.custom[header] = value
    if hm.legal_basis is not None and cells[hm.legal_basis].strip():
        value = _LEGAL_VALUES.get(_key(cells[hm.legal_basis]))
        if value is None:
            return None, [RowError(n, hm.column(hm.legal_basis),
                                   "base legal desconhecida (use: " + ", ".join(Contact.LegalBasis.values) + ")")]
        contact.legal_basis = value
    if hm.origin is not None:
        contact.origin = cells[hm.origin].strip()[:200]
    return contact, errors


# --- Running a job ------------------------------------------------------------------------


class _ErrorSink:
    """Errors to the job (first ones) and to a CSV next to the upload (all of them).

    ``resume=True`` continues the CSV of a job whose worker died: it is cut back to the
    size recorded with the last committed batch (``job.errors_offset``), so rows redone
    after the resume are not listed twice.
    """

    def __init__(self, job: ImportJob, resume: bool = False) -> None:
        self.job = job
        self.count = 0
        base = job.stored_path or ""
        self.path = f"{base}.erros.csv" if base else ""
        self._file = None
        if self.path and resume and os.path.exists(self.path):
            os.truncate(self.path, job.errors_offset)
            self.count = len(job.errors) or job.rejected
            self._file = open(self.path, "a", encoding="utf-8", newline="")  # noqa: SIM115
        elif self.path:
            self._file = open(self.path, "w", encoding="utf-8-sig", newline="")  # noqa: SIM115
        self._writer = csv_writer(self._file) if self._file else None
        if self._writer and self._file.tell() == 0:
            self._writer.writerow(["linha", "coluna", "motivo", "conteudo"])

    def add(self, err: RowError, cells: list[str]) -> None:
        self.count += 1
        if len(self.job.errors) < KEEP_ERRORS:
            self.job.errors.append({"row": err.row, "column": err.column, "reason": err.reason})
        if self._writer:
            self._writer.writerow([err.row, err.column, err.reason, " | ".join(cells)[:500]])

    def sync(self) -> int:
        """Flush to disk; the file's size (what a resume cuts back to)."""
        if not self._file:
            return 0
        self._file.flush()
        return os.fstat(self._file.fileno()).st_size

    def close(self) -> None:
        if self._file:
            self._file.close()


def _publish(job: ImportJob) -> None:
    from central.core.live import org_group, publish

    publish(org_group(job.organization_id), {
        "type": "import", "id": job.pk, "status": job.status, "rows": job.rows,
        "imported": job.imported, "merged": job.merged, "rejected": job.rejected,
        "processed_bytes": job.processed_bytes, "total_bytes": job.total_bytes,
        "percent": job_percent(job), "message": job.message,
    })


def job_percent(job: ImportJob) -> int:
    if job.status == ImportJob.Status.DONE:
        return 100
    return int(100 * job.processed_bytes / job.total_bytes) if job.total_bytes else 0


_PROGRESS_FIELDS = ["rows", "imported", "merged", "rejected", "dnc", "processed_bytes", "total_bytes", "errors",
                    "resume_row", "errors_offset"]


def _commit(job: ImportJob, flush: Callable[[], None], row: int, sink: _ErrorSink, source: Source,
            progress: ProgressFn | None) -> None:
    """Write a batch and the job's progress in ONE transaction (a checkpoint).

    ``resume_row`` and the counters on the job row then always describe exactly what is
    committed, so a job whose worker dies resumes after ``resume_row`` without importing a
    row twice or missing one (``central.dialer.importworker``).
    """
    with transaction.atomic():
        flush()
        job.resume_row = row
        job.errors_offset = sink.sync()
        job.processed_bytes = source.position()
        ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now(),
                                                   **{f: getattr(job, f) for f in _PROGRESS_FIELDS})
    if progress:
        progress(job)
    _publish(job)


class _ContactWriter:
    """Batches parsed contacts and merges them into the campaign, one transaction each."""

    def __init__(self, job: ImportJob, campaign: Campaign, batch_size: int, defaults: dict,
                 conflict: Callable[[RowError], None] | None = None) -> None:
        self.job = job
        #: Where a name conflict is reported (the job's error sink; a note, not a rejection).
        self.conflict = conflict or (lambda err: None)
        self.name_column = "nome"
        self.campaign = campaign
        self.batch_size = batch_size
        self.defaults = defaults
        self.pending: dict[str, ParsedContact] = {}

    def add(self, contact: ParsedContact) -> None:
        seen = self.pending.get(contact.phone)
        if seen is None:
            self.pending[contact.phone] = contact
            return
        kept = _merge_parsed(seen, contact)  # duplicate inside the batch
        if kept:
            self.conflict(RowError(contact.row, self.name_column,
                                   f"mesmo telefone da linha {seen.row} com outro nome: mantido “{kept}”, "
                                   f"ignorado “{contact.name}”"))
        self.job.merged += 1

    def full(self) -> bool:
        return len(self.pending) >= self.batch_size

    def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, {}
        phones = list(batch)
        org_id, campaign_id = self.campaign.organization_id, self.campaign.pk
        from .dnc import blocked_among

        with transaction.atomic():
            has_dnc = DoNotCall.objects.filter(organization_id=org_id).exists()
            blocked = blocked_among(org_id, campaign_id, phones) if has_dnc else set()
            found = _existing_phones(campaign_id, phones)
            existing = ({c.phone: c for c in Contact.objects.filter(campaign_id=campaign_id, phone__in=found)}
                        if found else {})
            new: list[dict] = []
            changed = []
            for phone, p in batch.items():
                row = existing.get(phone)
                if row is None:
                    dnc = phone in blocked
                    new.append({
                        "organization": org_id, "campaign": campaign_id, "phone": phone, "name": p.name,
                        "alt_phones": p.alt_phones, "custom_fields": p.custom, "timezone": p.timezone,
                        "legal_basis": p.legal_basis or self.defaults["legal_basis"],
                        "origin": p.origin or self.defaults["origin"],
                        "status": Contact.Status.DNC if dnc else Contact.Status.PENDING,
                        "last_result": "dnc" if dnc else "",
                    })
                else:
                    kept = _merge_into(row, p)
                    if kept:
                        self.conflict(RowError(p.row, self.name_column,
                                               f"telefone já na campanha como “{kept}”: nome “{p.name}” ignorado"))
                    if phone in blocked and row.status == Contact.Status.PENDING:
                        row.status, row.last_result = Contact.Status.DNC, "dnc"
                    changed.append(row)
            _insert_contacts(new)
            if changed:
                Contact.objects.bulk_update(
                    changed, ["name", "alt_phones", "custom_fields", "status", "last_result", "legal_basis", "origin"],
                    batch_size=500)
        self.job.imported += len(new)
        self.job.merged += len(changed)
        self.job.dnc += sum(1 for c in new if c["status"] == Contact.Status.DNC)


#: Columns that vary per imported row; every other column gets its model default,
#: prepared once per batch (so a field added later with a default needs no change here).
_ROW_FIELDS = ("organization", "campaign", "name", "phone", "alt_phones", "custom_fields", "timezone",
               "legal_basis", "origin", "status", "last_result")


def _existing_phones(campaign_id: int, phones: list[str]) -> list[str]:
    """Which of ``phones`` the campaign already has: one indexed query, no ORM lookup cost
    (building a 5,000-value ``__in`` through the ORM costs more than running it)."""
    from django.db import connection

    table = connection.ops.quote_name(Contact._meta.db_table)
    # Django assumes SQLite's historic 999-parameter limit; respect it (PostgreSQL: none).
    step = (connection.features.max_query_params or 100_000) - 1
    out: list[str] = []
    with connection.cursor() as cursor:
        for i in range(0, len(phones), step):
            chunk = phones[i:i + step]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"SELECT phone FROM {table} WHERE campaign_id = %s AND phone IN ({marks})",
                           [campaign_id, *chunk])
            out.extend(r[0] for r in cursor.fetchall())
    return out


def _json_adapter(connection):
    """How a JSON value is sent: text for SQLite, psycopg's Jsonb for PostgreSQL."""
    import json

    if connection.vendor == "postgresql":
        from psycopg.types.json import Jsonb

        return Jsonb
    empty = {(): "[]", (dict,): "{}"}  # most rows: no alternate phones, maybe no custom fields
    return lambda value: json.dumps(value, ensure_ascii=False) if value else empty[(dict,) if isinstance(value, dict) else ()]


def _insert_contacts(rows: list[dict], row_fields: tuple[str, ...] = _ROW_FIELDS) -> None:
    """``INSERT`` new contacts with ``executemany``, without building model instances.

    ``bulk_create`` spends most of an import's time in ``Model.__init__`` and in
    preparing ~20 values per row (and SQLite caps it at 999 parameters, ~50 rows per
    statement); here constant columns are prepared once per batch, SQLite gets one
    ``executemany`` and PostgreSQL one ``COPY ... FROM STDIN`` per batch. Every column outside
    :data:`_ROW_FIELDS` (or ``row_fields``: the legacy import also sends attempts and
    times) gets its model default, so fields added later need no change here.
    """
    if not rows:
        return
    from django.db import connection

    fields = [f for f in Contact._meta.concrete_fields if not f.primary_key]
    varying = [f for f in fields if f.name in row_fields]
    constant = [f for f in fields if f.name not in row_fields]
    const_values = [f.get_db_prep_save(f.get_default(), connection) for f in constant]
    to_json = _json_adapter(connection)
    json_fields = {"alt_phones", "custom_fields"}
    getters = [(f.name, f.name in json_fields) for f in varying]
    cols = ", ".join(connection.ops.quote_name(f.column) for f in varying + constant)
    marks = ", ".join(["%s"] * (len(varying) + len(constant)))
    sql = f"INSERT INTO {connection.ops.quote_name(Contact._meta.db_table)} ({cols}) VALUES ({marks})"
    params = [[to_json(r[name]) if is_json else r[name] for name, is_json in getters] + const_values for r in rows]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY is PostgreSQL's bulk path: one stream instead of one INSERT per row.
            table = connection.ops.quote_name(Contact._meta.db_table)
            with cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in params:
                    copy.write_row(row)
        else:
            cursor.executemany(sql, params)


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _merge_parsed(into: ParsedContact, other: ParsedContact) -> str:
    """Merge a later row into an earlier one; the kept name when ``other`` had another."""
    kept = ""
    if other.name and not into.name:
        into.name = other.name
    elif other.name and not _same_name(into.name, other.name):
        kept = into.name
    for p in other.alt_phones:
        if p != into.phone and p not in into.alt_phones:
            into.alt_phones.append(p)
    into.custom.update(other.custom)
    into.legal_basis = other.legal_basis or into.legal_basis
    into.origin = other.origin or into.origin
    return kept


def _merge_into(row: Contact, p: ParsedContact) -> str:
    """Merge a row into the campaign's contact; the kept name when the row had another."""
    kept = ""
    if p.name and not row.name:
        row.name = p.name
    elif p.name and not _same_name(row.name, p.name):
        kept = row.name
    alts = list(row.alt_phones or [])
    for phone in p.alt_phones:
        if phone != row.phone and phone not in alts:
            alts.append(phone)
    row.alt_phones = alts
    row.custom_fields = {**(row.custom_fields or {}), **p.custom}
    if p.legal_basis:
        row.legal_basis = p.legal_basis
    if p.origin:
        row.origin = p.origin
    return kept


def _start(job: ImportJob, path: Path, resume: bool) -> int:
    """Mark the job running; the row after which to continue (0: from the start)."""
    job.status = ImportJob.Status.RUNNING
    if resume and job.resume_row:
        job.message = (f"retomada na linha {job.resume_row + 1} depois que o processo da importação "
                       f"foi interrompido ({job.resumes}ª retomada)")[:300]
        job.save(update_fields=["status", "message"])
        return job.resume_row
    job.started_at = timezone.now()
    job.total_bytes = path.stat().st_size
    job.rows = job.imported = job.merged = job.rejected = job.dnc = job.processed_bytes = 0
    job.resume_row = job.errors_offset = 0
    job.errors = []
    job.save()
    return 0


def _resumed_note(job: ImportJob, skip_to: int) -> str:
    return (f" — retomada da linha {skip_to + 1} depois que o processo da importação foi interrompido"
            if skip_to else "")


#: pt-BR message of an import that needed more memory than its worker may use.
MEMORY_MESSAGE = ("o arquivo precisa de mais memória do que o limite da importação (CENTRAL_IMPORT_MEMORY_MB); "
                  "salve como CSV ou divida o arquivo")


def _finish(job: ImportJob, sink: _ErrorSink, source: Source | None, progress: ProgressFn | None,
            message: str = "", failed: bool = False) -> ImportJob:
    sink.close()
    if source is not None:
        source.close()
    job.status = ImportJob.Status.FAILED if failed else ImportJob.Status.DONE
    job.finished_at = timezone.now()
    if not failed:
        job.processed_bytes = job.total_bytes
    job.errors_path = sink.path if sink.count else ""
    if not sink.count and sink.path and os.path.exists(sink.path):
        os.unlink(sink.path)
    job.message = message[:300]
    job.save()
    _discard_upload(job)
    if progress:
        progress(job)
    _publish(job)
    return job


def _discard_upload(job: ImportJob) -> None:
    """Delete the uploaded file once its import is over (personal data kept no longer than
    needed, LGPD art. 15), unless ``CENTRAL_IMPORT_KEEP_UPLOADS`` says to keep it. The errors
    CSV stays: it is what the job's errors link downloads."""
    from django.conf import settings

    if settings.IMPORT_KEEP_UPLOADS or not job.stored_path:
        return
    with contextlib.suppress(FileNotFoundError):
        os.unlink(job.stored_path)


def import_contacts(job: ImportJob, *, batch_size: int = BATCH_SIZE, progress: ProgressFn | None = None,
                    legal_basis: str = Contact.LegalBasis.LEGITIMATE_INTEREST, origin: str = "",
                    resume: bool = False) -> ImportJob:
    """Run a contacts ImportJob whose ``stored_path`` is on disk. Never raises for bad rows.

    ``resume=True`` continues a job whose worker died after its last committed batch.
    """
    path = Path(job.stored_path)
    skip_to = _start(job, path, resume)
    sink = _ErrorSink(job, resume=bool(skip_to))
    source = None
    try:
        source = read_rows(path)
        campaign = Campaign.objects.get(pk=job.campaign_id)
        writer = _ContactWriter(job, campaign, batch_size, {
            "legal_basis": legal_basis, "origin": origin or f"importação {job.filename}"[:200]},
            conflict=lambda err: sink.add(err, []))
        hm: HeaderMap | None = None
        n = 0
        for n, cells in source.rows:  # noqa: B007 - n is the checkpoint row after the loop
            if not any(c.strip() for c in cells):
                continue  # empty lines (and Excel's trailing ";;;") are not rows
            if hm is None:
                hm = HeaderMap.from_header(cells)
                if hm is not None:
                    if hm.name is not None:
                        writer.name_column = hm.column(hm.name)
                    continue
                hm = HeaderMap.headerless(cells)
                if hm is None:
                    return _finish(job, sink, source, progress, failed=True, message=(
                        "nenhuma coluna de telefone no cabeçalho (esperado: telefone, celular, phone...)"))
            if n <= skip_to:
                continue  # committed before the previous worker died
            job.rows += 1
            contact, errors = parse_contact_row(n, cells, hm)
            for err in errors:
                sink.add(err, cells)
            if contact is None:
                job.rejected += 1
            else:
                writer.add(contact)
            if writer.full():
                _commit(job, writer.flush, n, sink, source, progress)
        _commit(job, writer.flush, max(n, skip_to), sink, source, None)  # _finish reports the end
        if hm is None:
            return _finish(job, sink, source, progress, failed=True, message="arquivo vazio")
        dnc = job.dnc
        msg = (f"{job.rows} linhas: {job.imported} novos, {job.merged} mesclados, {job.rejected} rejeitados"
               + (f", {dnc} na lista de não ligar" if dnc else "") + _resumed_note(job, skip_to))
        return _finish(job, sink, source, progress, message=msg)
    except ImportError_ as exc:
        return _finish(job, sink, source, progress, failed=True, message=str(exc))
    except MemoryError:
        source = _drop(source)
        return _finish(job, sink, None, progress, failed=True, message=MEMORY_MESSAGE)
    except Exception as exc:  # the job row must say why, not stay "running" forever
        log.exception("import %s failed", job.pk)
        return _finish(job, sink, source, progress, failed=True, message=f"erro interno: {exc}")


def _drop(source: Source | None) -> None:
    """Close a source after a MemoryError so what it holds can be freed before the job is saved."""
    if source is not None:
        with contextlib.suppress(Exception):
            source.close()
    import gc

    gc.collect()


def _dnc_map(cells: list[str]) -> HeaderMap | None:
    return HeaderMap.from_header(cells)


def import_dnc(job: ImportJob, *, source_name: str = DoNotCall.Source.IMPORT, batch_size: int = BATCH_SIZE,
               progress: ProgressFn | None = None, resume: bool = False) -> ImportJob:
    """Run a do-not-call ImportJob: every phone in the file joins the list (org or campaign).

    ``job.imported`` counts new entries, ``job.merged`` numbers already listed,
    ``job.rejected`` rows without a valid number. ``resume`` as in :func:`import_contacts`.
    """
    from .dnc import add_numbers

    path = Path(job.stored_path)
    skip_to = _start(job, path, resume)
    sink = _ErrorSink(job, resume=bool(skip_to))
    source = None
    flagged = 0
    try:
        source = read_rows(path)
        campaign = Campaign.objects.get(pk=job.campaign_id) if job.campaign_id else None
        label = dict(DoNotCall.Source.choices).get(source_name, source_name)
        hm: HeaderMap | None = None
        batch: dict[str, str] = {}

        def flush() -> None:
            nonlocal flagged
            if not batch:
                return
            by_reason: dict[str, list[str]] = {}
            for phone, reason in batch.items():
                by_reason.setdefault(reason, []).append(phone)
            for reason, phones in by_reason.items():
                created, f = add_numbers(job.organization_id, phones, campaign=campaign, source=source_name,
                                         reason=reason)
                job.imported += created
                job.merged += len(phones) - created
                flagged += f
            batch.clear()

        n = 0
        for n, cells in source.rows:  # noqa: B007 - n is the checkpoint row after the loop
            if not any(c.strip() for c in cells):
                continue
            if hm is None:
                hm = _dnc_map(cells)
                if hm is not None:
                    continue
                hm = HeaderMap.headerless(cells)
                if hm is None:
                    return _finish(job, sink, source, progress, failed=True,
                                   message="nenhuma coluna de telefone encontrada")
            if n <= skip_to:
                continue  # committed before the previous worker died
            job.rows += 1
            raw = cells[hm.phone] if hm.phone < len(cells) else ""
            if hm.ddd is not None and hm.ddd < len(cells):
                raw = _with_ddd(raw, cells[hm.ddd])
            phone, why = try_normalize(raw)
            if phone is None:
                job.rejected += 1
                sink.add(RowError(n, hm.column(hm.phone), why), cells)
                continue
            when = cells[hm.date].strip() if hm.date is not None and hm.date < len(cells) else ""
            batch[phone.e164] = f"{label} {when}".strip() if when else str(label)
            if len(batch) >= batch_size:
                _commit(job, flush, n, sink, source, progress)
        _commit(job, flush, max(n, skip_to), sink, source, None)  # _finish reports the end
        if hm is None:
            return _finish(job, sink, source, progress, failed=True, message="arquivo vazio")
        flagged_note = f"; {flagged} contatos marcados como não ligar" if not skip_to else ""
        return _finish(job, sink, source, progress, message=(
            f"{job.rows} linhas: {job.imported} números novos, {job.merged} já na lista, "
            f"{job.rejected} rejeitados{flagged_note}" + _resumed_note(job, skip_to)))
    except ImportError_ as exc:
        return _finish(job, sink, source, progress, failed=True, message=str(exc))
    except MemoryError:
        source = _drop(source)
        return _finish(job, sink, None, progress, failed=True, message=MEMORY_MESSAGE)
    except Exception as exc:
        log.exception("dnc import %s failed", job.pk)
        return _finish(job, sink, source, progress, failed=True, message=f"erro interno: {exc}")


def run_job(job_id: int, **kwargs) -> ImportJob:
    """Entry point of the background job (worker process, thread or Celery task): run by id.

    The options chosen at upload time (``legal_basis``, ``origin``, DNC ``source``) travel
    on the job row, so a worker on another host needs nothing else. A job already
    ``running`` with a checkpoint is one whose previous worker died: it resumes.
    """
    job = ImportJob.objects.get(pk=job_id)
    opts = job.options or {}
    resume = job.status == ImportJob.Status.RUNNING and job.resume_row > 0
    try:
        if job.kind == ImportJob.Kind.DNC:
            return import_dnc(job, source_name=opts.get("source") or DoNotCall.Source.IMPORT, resume=resume,
                              **kwargs)
        return import_contacts(job, legal_basis=opts.get("legal_basis") or Contact.LegalBasis.LEGITIMATE_INTEREST,
                               origin=opts.get("origin", ""), resume=resume, **kwargs)
    except Exception as exc:
        # A job must never stay "queued" forever: whatever broke, say so on the job.
        logging.getLogger(__name__).exception("import job %s crashed", job_id)
        ImportJob.objects.filter(pk=job_id).exclude(status=ImportJob.Status.DONE).update(
            status=ImportJob.Status.FAILED, message=f"erro interno: {type(exc).__name__}: {exc}"[:300],
            finished_at=timezone.now())
        job.refresh_from_db()
        return job


def imports_dir() -> Path:
    from django.conf import settings

    d = Path(settings.DATA_DIR) / "imports"
    d.mkdir(parents=True, exist_ok=True)
    return d


def safe_name(filename: str) -> str:
    base = os.path.basename(filename or "arquivo")
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._-]", "_", base)[-100:] or "arquivo"


def new_job(organization, *, kind: str, filename: str, stored_path: str | os.PathLike, campaign=None,
            user=None, options: dict | None = None) -> ImportJob:
    path = Path(stored_path)
    return ImportJob.objects.create(
        organization=organization, kind=kind, campaign=campaign, filename=filename[:255],
        stored_path=str(path), total_bytes=path.stat().st_size, created_by=user, options=options or {})


def copy_into_imports(src: str | os.PathLike, filename: str | None = None) -> Path:
    """Copy a local file into ``$CENTRAL_DATA_DIR/imports`` (the CLI path), streaming."""
    import shutil
    import uuid

    name = filename or os.path.basename(src)
    dest = imports_dir() / f"{uuid.uuid4().hex[:12]}-{safe_name(name)}"
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
    return dest


def normalize_or_none(raw: str) -> str | None:
    phone, _ = try_normalize(raw)
    return phone.e164 if phone else None


__all__ += ["insert_contacts", "new_job", "copy_into_imports", "imports_dir", "safe_name", "normalize", "job_percent", "parse_contact_row", "ParsedContact", "RowError", "normalize_or_none"]

#: The bulk insert, for the dialer's other writers (central.dialer.legacy).
insert_contacts = _insert_contacts
