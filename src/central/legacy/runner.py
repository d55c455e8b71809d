"""``central import-legacy``: read the legacy databases, map each row (:mod:`.mapping`),
hand it to the app that owns the target table, and tally what happened.

Order: campaigns, then their contacts (keyset pages of :data:`BATCH` rows, one
transaction per page and campaign), then the panel's extensions, then the AI extensions
of the named condominiums. A run stopped at any point is resumed by running it again:
pages already written come back "unchanged" and cost one indexed lookup per page.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from central.core.spreadsheet import csv_writer

from . import mapping
from .mapping import AI_EXTENSIONS, CAMPAIGNS, CONTACTS, EXTENSIONS, Mapped, Note, Tally
from .sources import MariaDB, SourceError, ai_extension_rows

__all__ = ["BATCH", "Options", "Result", "run"]

BATCH = 5000
#: Row lines kept in memory for the printed report (the CSV report gets every one).
KEEP_LINES = 200

ProgressFn = Callable[[str, int, int], None]  # (table, rows done, rows total)


@dataclass
class Options:
    organization: object  # central.core.models.Organization
    mariadb_url: str = ""
    pg_url: str = ""
    dry_run: bool = True
    condominiums: list[int] = field(default_factory=list)
    server: str = ""  # AsteriskServer name for the panel's extensions
    queue: str = ""  # queue of imported campaigns
    campaigns: list[int] = field(default_factory=list)  # legacy campaign ids; empty: all
    batch: int = BATCH
    report: Path | None = None  # CSV with one line per row that is not plainly created/unchanged
    progress: ProgressFn | None = None


@dataclass
class Result:
    tally: Tally
    lines: list[tuple] = field(default_factory=list)  # (table, legacy_id, action, kind, detail)
    errors: list[str] = field(default_factory=list)  # whole tables that could not be read
    seconds: float = 0.0
    contact_rows: int = 0


class _Recorder:
    """Tallies, keeps the first lines to print, streams every line to the CSV report."""

    def __init__(self, result: Result, report: Path | None) -> None:
        self.result = result
        self._file = open(report, "w", encoding="utf-8-sig", newline="") if report else None  # noqa: SIM115
        # formula-safe cells: legacy names and fields end up in a spreadsheet (core.spreadsheet)
        self._csv = csv_writer(self._file) if self._file else None
        if self._csv:
            self._csv.writerow(["tabela", "id_legado", "acao", "tipo", "detalhe"])

    def add(self, table: str, legacy_id: int, action: str, notes: list[Note], reason: str = "") -> None:
        self.result.tally.add(table, action, notes)
        lines = [(table, legacy_id, action, n.kind, f"{n.field}: {n.detail}") for n in notes
                 if n.kind != "phone_normalised"]
        if reason:
            lines.append((table, legacy_id, action, "reason", reason))
        for line in lines:
            if len(self.result.lines) < KEEP_LINES:
                self.result.lines.append(line)
            if self._csv:
                self._csv.writerow(line)

    def close(self) -> None:
        if self._file:
            self._file.close()


def run(opts: Options) -> Result:
    org = opts.organization
    zone = ZoneInfo(getattr(org, "timezone", "") or "America/Sao_Paulo")
    result = Result(Tally())
    rec = _Recorder(result, opts.report)
    started = time.perf_counter()
    try:
        if opts.mariadb_url:
            try:
                db = MariaDB(opts.mariadb_url, page=opts.batch)
            except SourceError as exc:
                result.errors.append(str(exc))
            else:
                try:
                    _dialer(db, opts, zone, rec)
                    _extensions(db, opts, zone, rec)
                finally:
                    db.close()
        if opts.condominiums:
            if not opts.pg_url:
                result.errors.append("--condominium sem a URL do PostgreSQL legado (CENTRAL_LEGACY_PG_URL)")
            else:
                try:
                    _ai_extensions(opts, rec)
                except SourceError as exc:
                    result.errors.append(str(exc))
    finally:
        rec.close()
    result.seconds = time.perf_counter() - started
    return result


def _tick(opts: Options, table: str, done: int, total: int) -> None:
    if opts.progress:
        opts.progress(table, done, total)


def _dialer(db: MariaDB, opts: Options, zone: ZoneInfo, rec: _Recorder) -> None:
    from central.dialer import legacy as dialer_legacy

    org_id = opts.organization.pk
    if not db.has_table(CAMPAIGNS):
        rec.result.errors.append(f"tabela {CAMPAIGNS} não existe no MariaDB legado")
        return
    where, params = "", []
    if opts.campaigns:
        where = "id IN (" + ", ".join(["%s"] * len(opts.campaigns)) + ")"
        params = list(opts.campaigns)
    total = db.count(CAMPAIGNS, where, params)
    campaign_ids: dict[int, int | None] = {}  # legacy id -> Central id (None: a dry run would create it)
    done = 0
    for page in db.pages(CAMPAIGNS, where, params):
        for row in page:
            m = mapping.map_campaign(row, zone)
            action, campaign, reason = dialer_legacy.upsert_campaign(org_id, m.legacy_id, m.values, queue=opts.queue,
                                                                     dry_run=opts.dry_run)
            campaign_ids[m.legacy_id] = campaign.pk if campaign else None
            rec.add(CAMPAIGNS, m.legacy_id, action, m.notes, reason)
            done += 1
        _tick(opts, CAMPAIGNS, done, total)
    if not campaign_ids or not db.has_table(CONTACTS):
        return
    cwhere = "campaign_id IN (" + ", ".join(["%s"] * len(campaign_ids)) + ")"
    cparams = list(campaign_ids)
    total = db.count(CONTACTS, cwhere, cparams)
    seen: dict[int, dict[str, int]] = {}
    done = 0
    for page in db.pages(CONTACTS, cwhere, cparams):
        by_campaign: dict[int, list[Mapped]] = {}
        for row in page:
            m = mapping.map_contact(row, zone)
            if m.rejected:
                rec.add(CONTACTS, m.legacy_id, "rejected", m.notes)
                continue
            by_campaign.setdefault(int(row["campaign_id"]), []).append(m)
        for legacy_campaign, items in by_campaign.items():
            notes = {m.legacy_id: m.notes for m in items}
            outcomes = dialer_legacy.upsert_contacts(
                org_id, campaign_ids[legacy_campaign], [(m.legacy_id, m.values) for m in items],
                origin=f"sistema legado ({CONTACTS})", dry_run=opts.dry_run,
                seen=seen.setdefault(legacy_campaign, {}))
            for lid, action, reason in outcomes:
                rec.add(CONTACTS, lid, action, notes[lid], reason)
        done += len(page)
        rec.result.contact_rows = done
        _tick(opts, CONTACTS, done, total)


def _extensions(db: MariaDB, opts: Options, zone: ZoneInfo, rec: _Recorder) -> None:
    from central.telephony import legacy as telephony_legacy
    from central.telephony.models import AsteriskServer

    if not db.has_table(EXTENSIONS):
        return
    total = db.count(EXTENSIONS)
    if not total:
        return
    servers = AsteriskServer.objects.filter(organization=opts.organization)
    server = servers.filter(name=opts.server).first() if opts.server else (
        servers.first() if servers.count() == 1 else None)
    why = ""
    if server is None:
        why = (f"servidor Asterisk {opts.server!r} não existe nesta organização" if opts.server else
               "informe --server: a organização tem " + ("vários servidores" if servers.exists() else
                                                         "nenhum servidor Asterisk cadastrado"))
    done = 0
    for page in db.pages(EXTENSIONS):
        for row in page:
            m = mapping.map_extension(row, zone)
            if m.rejected:
                rec.add(EXTENSIONS, m.legacy_id, "rejected", m.notes)
            elif server is None:
                rec.add(EXTENSIONS, m.legacy_id, "skipped", m.notes, why)
            else:
                action, reason = telephony_legacy.upsert_extension(server, m.legacy_id, m.values,
                                                                   dry_run=opts.dry_run)
                rec.add(EXTENSIONS, m.legacy_id, action, m.notes, reason)
            done += 1
        _tick(opts, EXTENSIONS, done, total)


def _ai_extensions(opts: Options, rec: _Recorder) -> None:
    from central.voice import legacy as voice_legacy

    org = opts.organization
    rows = ai_extension_rows(opts.pg_url, opts.condominiums)
    kind_note = [] if getattr(org, "kind", "condominium") == "condominium" else [
        Note("default", "condominium_id", f"a organização {org.slug} não é do tipo condomínio")]
    for i, row in enumerate(rows, start=1):
        m = mapping.map_ai_extension(row)
        if m.rejected:
            rec.add(AI_EXTENSIONS, m.legacy_id, "rejected", m.notes)
        else:
            action, reason = voice_legacy.upsert_ai_extension(org.pk, m.legacy_id, m.values, dry_run=opts.dry_run)
            rec.add(AI_EXTENSIONS, m.legacy_id, action, m.notes + kind_note, reason)
        _tick(opts, AI_EXTENSIONS, i, len(rows))
