"""Backup and restore of the database: SQLite online backup API, pg_dump/pg_restore.

The SQLite backup API copies a consistent snapshot while the system keeps writing, so a
backup never needs downtime. PostgreSQL uses the custom format so restore can be selective.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from django.db import connection


class BackupError(RuntimeError):
    pass


def _pg_url() -> str:
    s = connection.settings_dict
    user = s.get("USER") or ""
    password = s.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    return f"postgresql://{auth}{s.get('HOST') or 'localhost'}:{s.get('PORT') or 5432}/{s['NAME']}"


def _tool(name: str) -> str:
    path = shutil.which(name) or (f"/usr/lib/postgresql/15/bin/{name}" if Path(f"/usr/lib/postgresql/15/bin/{name}").exists() else None)
    if not path:
        raise BackupError(f"{name} not found: install the PostgreSQL client tools")
    return path


def backup(target: Path) -> Path:
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if connection.vendor == "sqlite":
        source = sqlite3.connect(connection.settings_dict["NAME"])
        dest = sqlite3.connect(target)
        try:
            source.backup(dest)
        finally:
            dest.close()
            source.close()
    elif connection.vendor == "postgresql":
        result = subprocess.run(
            [_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={target}", _pg_url()],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
    else:
        raise BackupError(f"backup not supported for {connection.vendor}")
    return target


#: A database is Central's when it has applied this migration (the first one of the core app).
CENTRAL_MARKER = ("core", "0001_initial")


def check_compatible(applied: set[tuple[str, str]], source: Path) -> None:
    """Refuse a backup that is not a Central database, or one from a newer Central.

    ``applied`` is the backup's ``django_migrations`` as ``(app, name)``. A backup of an
    older Central is fine (``central migrate`` brings it forward); a backup with Central
    migrations this code does not know comes from a newer version and would be run by code
    that does not understand its schema.
    """
    from django.apps import apps
    from django.db.migrations.loader import MigrationLoader

    if CENTRAL_MARKER not in applied:
        raise BackupError(f"{source} is not a Central database (no Central migrations in it)")
    ours = {c.label for c in apps.get_app_configs() if c.name.startswith("central.")}
    known = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    unknown = sorted(m for m in applied if m[0] in ours and m not in known)
    if unknown:
        names = ", ".join(f"{app}.{name}" for app, name in unknown[:5])
        raise BackupError(f"{source} comes from a newer Central version (unknown migrations: {names}); "
                          "upgrade Central before restoring it")


def _pg_dump_migrations(source: Path) -> set[tuple[str, str]]:
    """``django_migrations`` rows of a custom-format dump, read without touching any database."""
    listing = subprocess.run([_tool("pg_restore"), "--list", str(source)], capture_output=True, text=True)
    if listing.returncode != 0:
        raise BackupError(f"{source} is not a pg_dump custom-format file: {listing.stderr.strip()}")
    data = subprocess.run([_tool("pg_restore"), "--data-only", "--table=django_migrations", "--file=-", str(source)],
                          capture_output=True, text=True)
    if data.returncode != 0:
        raise BackupError(f"cannot read {source}: {data.stderr.strip()}")
    applied: set[tuple[str, str]] = set()
    in_copy = False
    for line in data.stdout.splitlines():
        if line.startswith("COPY ") and "django_migrations" in line:
            in_copy = True
        elif in_copy and line == "\\.":
            in_copy = False
        elif in_copy:
            cols = line.split("\t")
            if len(cols) >= 3:
                applied.add((cols[1], cols[2]))
    return applied


def restore(source: Path) -> None:
    source = Path(source)
    if not source.exists():
        raise BackupError(f"{source} does not exist")
    if connection.vendor == "sqlite":
        try:
            src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
            src.execute("PRAGMA schema_version").fetchone()
            if src.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{source} fails SQLite's integrity check")
            try:
                applied = set(src.execute("SELECT app, name FROM django_migrations").fetchall())
            except sqlite3.OperationalError:
                applied = set()
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{source} is not a SQLite database: {exc}") from exc
        try:
            check_compatible(applied, source)
        except BackupError:
            src.close()
            raise
        connection.close()
        dest = sqlite3.connect(connection.settings_dict["NAME"])
        try:
            src.backup(dest)
        finally:
            dest.close()
            src.close()
    elif connection.vendor == "postgresql":
        check_compatible(_pg_dump_migrations(source), source)
        connection.close()
        result = subprocess.run(
            [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction", f"--dbname={_pg_url()}", str(source)],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise BackupError(f"pg_restore failed: {result.stderr.strip()}")
    else:
        raise BackupError(f"restore not supported for {connection.vendor}")
