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
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{source} is not a SQLite database: {exc}") from exc
        connection.close()
        dest = sqlite3.connect(connection.settings_dict["NAME"])
        try:
            src.backup(dest)
        finally:
            dest.close()
            src.close()
    elif connection.vendor == "postgresql":
        connection.close()
        result = subprocess.run(
            [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction", f"--dbname={_pg_url()}", str(source)],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise BackupError(f"pg_restore failed: {result.stderr.strip()}")
    else:
        raise BackupError(f"restore not supported for {connection.vendor}")
