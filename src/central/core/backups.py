"""Scheduled backups, their retention, an optional off-site copy, and the restore test.

``central.core.backup`` writes and restores one file; this module makes a habit of it:

* :func:`scheduled_backup` (daily at ``CENTRAL_BACKUP_AT``, ``core/schedules.py``) writes
  ``<backup dir>/central-YYYYmmdd-HHMMSS.<sqlite3|pgdump>`` readable by the owner only
  (0600, in a 0700 directory), records the row count of every table *as of the backup's
  own snapshot* (SQLite: read from the file; PostgreSQL: counted in the transaction whose
  snapshot ``pg_dump --snapshot`` dumps), prunes old files (:func:`to_keep`: the newest
  per day for ``CENTRAL_BACKUP_KEEP_DAILY`` days, the newest per ISO week for
  ``CENTRAL_BACKUP_KEEP_WEEKLY`` weeks) and, when ``CENTRAL_BACKUP_S3_BUCKET`` is set,
  copies the file to S3-compatible object storage.
* :func:`scheduled_restore_test` (weekly) restores the latest backup into a scratch
  database (a temporary SQLite file, or ``<database>_restore_test`` on the same
  PostgreSQL server), checks it is a Central database this code can run, that every
  table holds the rows the backup recorded, and that ``migrate`` brings it to this
  version; then drops the scratch database. A backup never restored is a hope.

Each run is a :class:`~central.core.models.BackupRun` row claimed by its slot (the day,
the ISO week): two workers running the job at once do it once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, connection, connections
from django.utils import timezone

from .backup import BackupError, _pg_url, _tool, backup, check_compatible

log = logging.getLogger("central.backups")

#: Name of a file this module wrote (and may prune): ``central-20261130-023000.sqlite3``.
NAME_RE = re.compile(r"^central-(\d{8}-\d{6})\.(sqlite3|pgdump)$")


# --------------------------------------------------------------------------- rules
def to_keep(stamps: Iterable[datetime], daily: int, weekly: int) -> set[datetime]:
    """Which backups retention keeps: the newest of each of the ``daily`` most recent days
    that have one, and the newest of each of the ``weekly`` most recent ISO weeks."""
    keep: set[datetime] = set()
    days: set = set()
    weeks: set = set()
    for stamp in sorted(stamps, reverse=True):
        day, week = stamp.date(), stamp.isocalendar()[:2]
        if day not in days and len(days) < daily:
            days.add(day)
            keep.add(stamp)
        if week not in weeks and len(weeks) < weekly:
            weeks.add(week)
            keep.add(stamp)
    return keep


def backup_dir() -> Path:
    return Path(settings.BACKUP_DIR)


def backup_files(directory: Path | None = None) -> list[tuple[datetime, Path]]:
    """This module's backup files, newest first."""
    directory = directory or backup_dir()
    found = []
    if directory.is_dir():
        for path in directory.iterdir():
            match = NAME_RE.match(path.name)
            if match:
                found.append((datetime.strptime(match.group(1), "%Y%m%d-%H%M%S"), path))
    return sorted(found, reverse=True)


def new_backup_path(now: datetime | None = None, directory: Path | None = None) -> Path:
    suffix = "sqlite3" if connection.vendor == "sqlite" else "pgdump"
    stamp = timezone.localtime(now or timezone.now())
    return (directory or backup_dir()) / f"central-{stamp:%Y%m%d-%H%M%S}.{suffix}"


# --------------------------------------------------------------------------- writing
def _private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 (its directory 0700) before any data goes in."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)


def sqlite_counts(path: Path) -> dict[str, int]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {t: db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        db.close()


def _pg_counts(cur) -> dict[str, int]:
    cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    tables = [r[0] for r in cur.fetchall()]
    counts = {}
    for table in tables:
        cur.execute(f'SELECT COUNT(*) FROM "{table}"')
        counts[table] = cur.fetchone()[0]
    return counts


def write_backup(target: Path) -> dict[str, int]:
    """Write a private backup file and return the row counts of its snapshot."""
    target = Path(target)
    _private_file(target)
    try:
        if connection.vendor == "sqlite":
            backup(target)
            # The copy inherits the live database's WAL mode; a backup is one file, and
            # opening it must not leave -wal/-shm files beside it.
            db = sqlite3.connect(target)
            try:
                db.execute("PRAGMA journal_mode=DELETE")
            finally:
                db.close()
            return sqlite_counts(target)
        if connection.vendor == "postgresql":
            import psycopg

            # One snapshot for the counts and the dump: pg_dump --snapshot reads exactly
            # what this transaction sees, whatever is written meanwhile.
            with psycopg.connect(_pg_url()) as conn, conn.cursor() as cur:
                cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                cur.execute("SELECT pg_export_snapshot()")
                snapshot = cur.fetchone()[0]
                counts = _pg_counts(cur)
                result = subprocess.run(
                    [_tool("pg_dump"), "--format=custom", "--no-owner", f"--snapshot={snapshot}",
                     f"--file={target}", _pg_url()], capture_output=True, text=True)
                cur.execute("COMMIT")
            if result.returncode != 0:
                raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
            return counts
        raise BackupError(f"backup not supported for {connection.vendor}")
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def prune(directory: Path | None = None) -> list[Path]:
    """Delete this module's backups that retention no longer keeps; the deleted paths."""
    files = backup_files(directory)
    keep = to_keep([stamp for stamp, _ in files], settings.BACKUP_KEEP_DAILY, settings.BACKUP_KEEP_WEEKLY)
    removed = []
    for stamp, path in files:
        if stamp not in keep:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def copy_offsite(path: Path) -> str:
    """Upload to S3-compatible storage when configured; where it went ("" when not)."""
    bucket = settings.BACKUP_S3_BUCKET
    if not bucket:
        return ""
    import boto3

    client = boto3.client("s3", endpoint_url=settings.BACKUP_S3_ENDPOINT or None)
    key = f"{settings.BACKUP_S3_PREFIX}{path.name}"
    client.upload_file(str(path), bucket, key, ExtraArgs={"ServerSideEncryption": "AES256"}
                       if settings.BACKUP_S3_SSE else None)
    return f"s3://{bucket}/{key}"


# --------------------------------------------------------------------------- claiming
def _claim(kind: str, slot: str):
    from .models import BackupRun

    try:
        return BackupRun.objects.create(kind=kind, slot=slot)
    except IntegrityError:
        return None  # another worker has this slot


def _finish(run, ok: bool, detail: str = "", **fields) -> None:
    run.ok, run.detail, run.finished_at = ok, detail[:4000], timezone.now()
    for key, value in fields.items():
        setattr(run, key, value)
    run.save()


def run_backup(slot: str | None = None) -> object | None:
    """One backup with its record, retention and off-site copy; the BackupRun (None when
    another process already has this slot)."""
    from .models import BackupRun

    slot = slot or f"manual-{timezone.now():%Y%m%dT%H%M%S.%f}"
    run = _claim(BackupRun.Kind.BACKUP, slot)
    if run is None:
        log.info("backup %s already taken by another process", slot)
        return None
    path = new_backup_path()
    try:
        counts = write_backup(path)
    except Exception as exc:
        log.exception("backup failed")
        _finish(run, False, str(exc), path=str(path))
        return run
    detail, ok = "", True
    try:
        where = copy_offsite(path)
        if where:
            detail = f"copied to {where}"
    except Exception as exc:
        log.exception("backup copy to object storage failed")
        detail, ok = f"copy to object storage failed: {exc}", False
    removed = prune(path.parent)
    if removed:
        log.info("backup retention removed %s old file(s)", len(removed))
    _finish(run, ok, detail, path=str(path), size=path.stat().st_size, counts=counts)
    log.info("backup written to %s (%s bytes)", path, run.size)
    return run


def scheduled_backup() -> None:
    """The daily job (``core/schedules.py``): one backup per local day."""
    run_backup(slot=f"{timezone.localdate():%Y-%m-%d}")


# --------------------------------------------------------------------------- restore test
def _with_alias(alias: str, name: str):
    """A temporary database alias like ``default`` but on database ``name``."""
    base = dict(connections.settings["default"])
    options = {k: v for k, v in (base.get("OPTIONS") or {}).items() if k != "pool"}
    connections.settings[alias] = {**base, "NAME": name, "OPTIONS": options, "TEST": {}}
    return connections[alias]


def _drop_alias(alias: str) -> None:
    if alias in connections.settings:
        try:
            connections[alias].close()
        finally:
            with contextlib.suppress(AttributeError):
                delattr(connections._connections, alias)
            del connections.settings[alias]


def _migrate(alias: str) -> int:
    """Apply this code's migrations to the scratch database; how many it applied."""
    from django.core.management import call_command
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[alias])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    call_command("migrate", database=alias, interactive=False, verbosity=0)
    executor = MigrationExecutor(connections[alias])
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise BackupError("migrations left unapplied on the restored database")
    return len(plan)


def _compare(expected: dict, restored: dict) -> list[str]:
    return [f"{table}: {restored.get(table)} rows, backup had {count}"
            for table, count in sorted(expected.items()) if restored.get(table) != count]


def restore_test(source: Path | None = None) -> dict:
    """Restore ``source`` (default: the latest backup) into a scratch database and check
    it; a report dict (raises BackupError when the backup fails the test)."""
    from .models import BackupRun

    if source is None:
        files = backup_files()
        if not files:
            raise BackupError(f"no backup to test in {backup_dir()}")
        source = files[0][1]
    source = Path(source)
    recorded = BackupRun.objects.filter(kind=BackupRun.Kind.BACKUP, path=str(source), ok__isnull=False).first()
    expected = (recorded.counts if recorded else {}) or {}
    alias = "central_restore_test"
    report: dict = {"source": str(source), "tables": 0, "rows": 0, "migrations_applied": 0}
    if connection.vendor == "sqlite":
        scratch_dir = Path(tempfile.mkdtemp(prefix="central-restore-test-"))
        scratch = scratch_dir / "restore-test.sqlite3"
        try:
            src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
            try:
                if src.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                    raise BackupError(f"{source} fails SQLite's integrity check")
                dest = sqlite3.connect(scratch)
                src.backup(dest)
                dest.close()
            except sqlite3.DatabaseError as exc:
                raise BackupError(f"{source} is not a SQLite database: {exc}") from exc
            finally:
                src.close()
            counts = sqlite_counts(scratch)
            check_compatible(_applied(counts, scratch=scratch), source)
            _with_alias(alias, str(scratch))
            try:
                report["migrations_applied"] = _migrate(alias)
            finally:
                _drop_alias(alias)
        finally:
            shutil.rmtree(scratch_dir, ignore_errors=True)
    elif connection.vendor == "postgresql":
        import psycopg

        name = f"{connection.settings_dict['NAME']}_restore_test"[:63]
        admin = _pg_url()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            scratch_url = admin.rsplit("/", 1)[0] + f"/{name}"
            result = subprocess.run([_tool("pg_restore"), "--no-owner", "--exit-on-error",
                                     f"--dbname={scratch_url}", str(source)], capture_output=True, text=True)
            if result.returncode != 0:
                raise BackupError(f"pg_restore failed: {result.stderr.strip()}")
            with psycopg.connect(scratch_url) as conn, conn.cursor() as cur:
                counts = _pg_counts(cur)
                cur.execute("SELECT app, name FROM django_migrations")
                applied = {(a, n) for a, n in cur.fetchall()}
            check_compatible(applied, source)
            _with_alias(alias, name)
            try:
                report["migrations_applied"] = _migrate(alias)
            finally:
                _drop_alias(alias)
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        raise BackupError(f"restore test not supported for {connection.vendor}")
    report["tables"], report["rows"] = len(counts), sum(counts.values())
    if expected:
        mismatches = _compare(expected, counts)
        if mismatches:
            raise BackupError("row counts differ: " + "; ".join(mismatches[:10]))
        report["counts_checked"] = len(expected)
    else:
        report["counts_checked"] = 0  # a backup written by hand: no recorded counts
    return report


def _applied(counts: dict, scratch: Path) -> set[tuple[str, str]]:
    if "django_migrations" not in counts:
        return set()
    db = sqlite3.connect(f"file:{scratch}?mode=ro", uri=True)
    try:
        return set(db.execute("SELECT app, name FROM django_migrations").fetchall())
    finally:
        db.close()


def run_restore_test(slot: str | None = None) -> object | None:
    from .models import BackupRun

    slot = slot or f"manual-{timezone.now():%Y%m%dT%H%M%S.%f}"
    run = _claim(BackupRun.Kind.RESTORE_TEST, slot)
    if run is None:
        log.info("restore test %s already taken by another process", slot)
        return None
    try:
        report = restore_test()
    except Exception as exc:
        log.error("restore test failed: %s", exc, exc_info=not isinstance(exc, BackupError))
        _finish(run, False, str(exc))
        return run
    _finish(run, True, f"{report['tables']} tables, {report['rows']} rows, {report['counts_checked']} "
                       f"counts checked, {report['migrations_applied']} migrations applied",
            path=report["source"], counts={"tables": report["tables"], "rows": report["rows"]})
    log.info("restore test of %s passed: %s", report["source"], run.detail)
    return run


def scheduled_restore_test() -> None:
    """The weekly job: runs daily, tests once per ISO week (the week's first run)."""
    year, week, _ = timezone.localdate().isocalendar()
    run_restore_test(slot=f"{year}-W{week:02d}")


def last_runs() -> dict:
    """The admin/system page: the last backup and the last restore test."""
    from .models import BackupRun

    return {"backup": BackupRun.objects.filter(kind=BackupRun.Kind.BACKUP, ok__isnull=False).first(),
            "restore_test": BackupRun.objects.filter(kind=BackupRun.Kind.RESTORE_TEST, ok__isnull=False).first()}
