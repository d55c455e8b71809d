"""PostgreSQL and Redis instances of a test's own, which the test may stop and restart
(the suite's shared servers must never be stopped: other tests use them)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support import free_port


def _pg_bin(name: str) -> str:
    for directory in ("/usr/lib/postgresql/15/bin", "/usr/local/bin"):
        if os.access(f"{directory}/{name}", os.X_OK):
            return f"{directory}/{name}"
    path = shutil.which(name)
    assert path, f"PostgreSQL's {name} is required (PostgreSQL 15 server binaries)"
    return path


def _as_postgres(args: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root (scripts/services.sh does the same).
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def shared_tmp(prefix: str) -> Path:
    """A directory the postgres user can enter (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


class Postgres:
    def __init__(self, base: Path) -> None:
        self.dir = base / "pg"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/central"

    def init(self) -> None:
        self.dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run(_as_postgres([_pg_bin("initdb"), "-D", str(self.dir), "-U", "postgres", "-A", "trust",
                                     "-E", "UTF8", "--no-locale"]), check=True, capture_output=True)
        self.start()
        subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-c",
                        "CREATE DATABASE central"], check=True, capture_output=True)

    def _ctl(self, *args: str) -> None:
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        subprocess.run(_as_postgres([_pg_bin("pg_ctl"), "-D", str(self.dir), "-l", str(self.dir / "log"),
                                     "-w", "-o", opts, *args]), check=True, capture_output=True)

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")

    def restart(self) -> None:
        self._ctl("-m", "fast", "restart")


class Redis:
    """redis-server saving to disk like Debian's default, so a restart keeps its data
    (groups of the channel layer included, as on the machine of the report)."""

    def __init__(self, base: Path) -> None:
        self.dir = base / "redis"
        self.dir.mkdir()
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--save", "3600 1", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        """SHUTDOWN SAVE, as `systemctl stop redis-server` does with Debian's config."""
        import redis

        with contextlib.suppress(redis.ConnectionError):  # it closes the connection as it exits
            redis.Redis(port=self.port).shutdown(save=True)
        if self.proc is not None:
            self.proc.wait(15)
