"""The agent's local SQLite cache (file mode 0600): index, acknowledged state, batch in flight.

Keyed by folder + path with the file's size and mtime, so a restart does not re-hash files
that did not change; it also keeps what Central acknowledged so that, after a restart or a
reconnect, only the difference is sent.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from pathlib import Path

from . import protocol as p
from .core import Inflight, Key, SyncState

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    folder TEXT NOT NULL, path TEXT NOT NULL,
    size INTEGER, mtime_ns INTEGER, entry TEXT, acked TEXT,
    PRIMARY KEY (folder, path)
);
"""


def create_private_file(path: Path) -> None:
    """Create ``path`` (if missing) readable and writable by its owner only: mode 0600 on
    POSIX; on Windows, where a file under %PROGRAMDATA% inherits "Users: read", the
    inherited entries are removed and only the current account (and SYSTEM/Administrators,
    which own the machine anyway) keep access."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    if os.name == "posix":
        os.chmod(path, 0o600)
    elif os.name == "nt":  # pragma: no cover - exercised on Windows only
        import getpass
        import subprocess

        subprocess.run(["icacls", str(path), "/inheritance:r", "/grant:r", f"{getpass.getuser()}:F",
                        "/grant:r", "SYSTEM:F", "/grant:r", "Administrators:F"],
                       check=False, capture_output=True)


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        create_private_file(path)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        for suffix in ("-wal", "-shm"):
            side = Path(str(path) + suffix)
            if side.exists() and os.name == "posix":
                os.chmod(side, 0o600)
        # Signatures (size, mtime_ns) of the indexed files: the cache's key beside the path.
        self.signatures: dict[Key, tuple[int, int]] = {}

    def close(self) -> None:
        self.db.close()

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def load(self) -> SyncState:
        """The persisted sync state (a new ``index_id`` on a fresh database)."""
        index_id = self._meta("index_id")
        if index_id is None:
            index_id = secrets.token_hex(8)
            self._set_meta("index_id", index_id)
        state = SyncState(index_id=index_id)
        state.acked_seq = int(self._meta("acked_seq") or 0)
        state.reset_pending = (self._meta("reset_pending") or "1") == "1"
        inflight = self._meta("inflight")
        if inflight:
            batch = p.decode(inflight)
            assert isinstance(batch, p.IndexBatch)
            state.inflight = Inflight(batch)
        for folder, path, size, mtime_ns, entry, acked in self.db.execute(
            "SELECT folder, path, size, mtime_ns, entry, acked FROM files"
        ):
            key = (folder, path)
            if entry is not None:
                state.current[key] = p.Entry.from_dict(json.loads(entry))
                self.signatures[key] = (size, mtime_ns)
            if acked is not None:
                state.acked[key] = p.Entry.from_dict(json.loads(acked))
            if state.current.get(key) != state.acked.get(key):
                state.dirty.add(key)
        return state

    def save_entries(self, state: SyncState, keys: list[Key]) -> None:
        """Persist current and acked entries (and signatures) of these keys in one transaction."""
        rows = []
        gone = []
        for key in keys:
            cur, ack = state.current.get(key), state.acked.get(key)
            if cur is None and ack is None:
                gone.append(key)
                self.signatures.pop(key, None)
                continue
            size, mtime_ns = self.signatures.get(key, (None, None)) if cur is not None else (None, None)
            rows.append((key[0], key[1], size, mtime_ns,
                         json.dumps(cur.to_dict()) if cur else None,
                         json.dumps(ack.to_dict()) if ack else None))
        self.db.execute("BEGIN")
        try:
            self.db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)", rows)
            self.db.executemany("DELETE FROM files WHERE folder=? AND path=?", gone)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def save_sync(self, state: SyncState, acked_keys: list[Key] | None = None) -> None:
        """Persist seq, reset flag and the batch in flight (and the acked entries it touched)."""
        self.db.execute("BEGIN")
        try:
            self._set_meta("acked_seq", str(state.acked_seq))
            self._set_meta("reset_pending", "1" if state.reset_pending else "0")
            self._set_meta("inflight", p.encode(state.inflight.batch) if state.inflight else "")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        if acked_keys:
            self.save_entries(state, acked_keys)

    def save_all_acked(self, state: SyncState) -> None:
        """After a reset: every row's acked column follows the (emptied) acked map."""
        self.db.execute("UPDATE files SET acked=NULL")
        self.db.execute("DELETE FROM files WHERE entry IS NULL")
        self.save_sync(state)
