"""Run concurrent clients in a child process on a file copy of the SQLite test database."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

from django.db import connection


def run_child(args: dict, tmp_path: Path) -> tuple[Counter, Path]:
    """Copy the (committed) in-memory test database to a file, run
    ``tests.scheduling.race_child`` on it with the production SQLite settings, and return
    the child's counts and the file (to inspect what it wrote)."""
    path = tmp_path / "race.sqlite3"
    connection.ensure_connection()
    target = sqlite3.connect(path)
    connection.connection.backup(target)
    target.close()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "CENTRAL_DATA_DIR": str(tmp_path)}
    env.pop("REDIS_URL", None)
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "tests.scheduling.race_child", json.dumps(args)], cwd=root,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return Counter(json.loads(done.stdout.strip().splitlines()[-1])), path
