"""Test support: real Central processes on free ports, fresh databases, JWT clients."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import httpx

ROOT = Path(__file__).resolve().parent.parent
CENTRAL = str(Path(sys.executable).parent / "central")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database_url(template: str | None = None) -> str:
    """A new database on the server the suite runs against ("" means SQLite in the data dir).

    With ``template`` (a database name) the new one is a copy of it, e.g. already migrated.
    """
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return ""
    import psycopg

    name = f"central_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    parts = urlparse(url)
    return urlunparse(parts._replace(path=f"/{name}"))


def drop_database_url(url: str) -> None:
    """Drop a database made by :func:`fresh_database_url` (connections to it are ended)."""
    import psycopg

    server = os.environ["DATABASE_URL"]
    name = urlparse(url).path.lstrip("/")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_MIGRATED: dict[str, str] = {}


def migrated_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """Like ``central_env`` but with a database already migrated (copied from a template).

    Migrating from scratch costs several seconds per test; the template is migrated once
    per test session and copied (SQLite file copy, PostgreSQL ``CREATE DATABASE … TEMPLATE``).
    """
    import shutil
    import tempfile

    if "failed" in _MIGRATED:  # once is enough: every later test would wait as long again
        raise RuntimeError(_MIGRATED["failed"])
    if not _MIGRATED:
        template_dir = Path(tempfile.mkdtemp(prefix="central-template-"))
        env = central_env(template_dir)
        try:
            # 280 s: a full migrate is ~15 s of CPU, but took 158 s of wall time at load 18.
            result = run_central(["migrate"], env, timeout=280)
        except subprocess.TimeoutExpired as exc:
            _MIGRATED["failed"] = f"template migrate did not finish in {exc.timeout:.0f} s"
            raise RuntimeError(_MIGRATED["failed"]) from None
        if result.returncode != 0:
            _MIGRATED["failed"] = f"template migrate failed: {result.stderr}"
            raise RuntimeError(_MIGRATED["failed"])
        _MIGRATED["dir"] = str(template_dir)
        _MIGRATED["db"] = urlparse(env["DATABASE_URL"]).path.lstrip("/") if "DATABASE_URL" in env else ""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = _process_env(data_dir)
    if _MIGRATED["db"]:
        env["DATABASE_URL"] = fresh_database_url(template=_MIGRATED["db"])
    else:
        shutil.copy(Path(_MIGRATED["dir"]) / "central.sqlite3", data_dir / "central.sqlite3")
    return _with_extra(env, extra)


#: Variables of the test process that a Central started by a test must not inherit: its
#: database and Redis are chosen per test, its voice API address is its own.
_NOT_INHERITED = {"DATABASE_URL", "REDIS_URL", "CENTRAL_VOICE_API_URL", "CENTRAL_VOICE_API_PORT",
                  "CENTRAL_METRICS_PORT"}


def _process_env(data_dir: Path) -> dict[str, str]:
    """The environment of a Central process started by a test: no port of its own is a
    default one. The defaults (voice management API 8090, process metrics 9811-9815) are
    the same for every Central on a host, so two test runs side by side (the SQLite and
    the PostgreSQL pass) would take each other's ports or talk to each other's processes.
    A test that needs a process's metrics passes ``--metrics-port`` (the option beats the
    variable); ``extra`` overrides any of these."""
    env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    voice_api_port = free_port()
    env.update({
        "CENTRAL_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1",
        "CENTRAL_VOICE_API_PORT": str(voice_api_port),
        "CENTRAL_VOICE_API_URL": f"http://127.0.0.1:{voice_api_port}",
        "CENTRAL_METRICS_PORT": "0",
    })
    return env


def _with_extra(env: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    env.update(extra)
    if "CENTRAL_VOICE_API_PORT" in extra and "CENTRAL_VOICE_API_URL" not in extra:
        env["CENTRAL_VOICE_API_URL"] = f"http://127.0.0.1:{extra['CENTRAL_VOICE_API_PORT']}"
    return env


def central_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = _process_env(data_dir)
    db = fresh_database_url()
    if db:
        env["DATABASE_URL"] = db
    return _with_extra(env, extra)


def query_database(env: dict[str, str], sql: str) -> list[tuple]:
    """Run ``sql`` directly on the database of the Central processes started with ``env``
    (its SQLite file, or the PostgreSQL database it was given) and commit; its rows, if it
    returns any. Milliseconds, where a ``central manage shell`` costs a Python and Django
    start (2 s, more under load)."""
    url = env.get("DATABASE_URL", "")
    if url:
        import psycopg

        with psycopg.connect(url) as conn:  # commits when the block ends
            cursor = conn.execute(sql)
            return cursor.fetchall() if cursor.description else []
    import sqlite3

    conn = sqlite3.connect(f"{env['CENTRAL_DATA_DIR']}/central.sqlite3", timeout=10)
    try:
        cursor = conn.execute(sql)
        rows = cursor.fetchall() if cursor.description else []
        conn.commit()
        return rows
    finally:
        conn.close()


def run_central(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([CENTRAL, *args], env=env, capture_output=True, text=True, timeout=timeout)


@dataclass
class CentralProcess:
    proc: subprocess.Popen
    url: str
    log_path: Path
    creds: tuple[str, str] | None = None
    env: dict[str, str] = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_central(args: list[str], env: dict[str, str], port: int, log_path: Path, wait: float = 60) -> CentralProcess:
    """Start ``central <args>`` and wait until /health answers (or fail with its log)."""
    log_file = open(log_path, "w")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen([CENTRAL, *args], env=env, stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"central {' '.join(args)} exited {proc.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError(f"central {' '.join(args)} did not answer in {wait}s:\n{log_path.read_text()}")
    text = log_path.read_text(errors="replace")
    user = re.search(r"user:\s+(\S+)", text)
    password = re.search(r"password:\s+(\S+)", text)
    creds = (user.group(1), password.group(1)) if user and password else None
    return CentralProcess(proc, url, log_path, creds, env)


def start_simulate_pbx(port: int, env: dict[str, str], log_path: Path, *args: str,
                       wait: float = 30) -> subprocess.Popen:
    """``central simulate-pbx`` on ``port`` as its own process (standing in for a real
    Asterisk); returns once its AMI banner can be read."""
    log_file = open(log_path, "w")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen([CENTRAL, "simulate-pbx", "--port", str(port), *args], env=env,
                            stdout=log_file, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"simulate-pbx exited {proc.returncode}:\n{log_path.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.settimeout(5)
                if sock.recv(64).startswith(b"Asterisk Call Manager/"):
                    return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"simulate-pbx did not listen on {port} in {wait}s:\n{log_path.read_text()}")


def stop_process(proc: subprocess.Popen | None) -> None:
    """SIGTERM, then SIGKILL if it does not exit within 10 s."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def until(condition, deadline: float = 30.0, what: str = "condition", interval: float = 0.02):
    """Poll ``condition`` (something read from a running process: its API, a row) until it
    returns a true value, and return that value; fail naming ``what`` after ``deadline``
    seconds. The deadline is a safety net, not a wait: the poll returns as soon as it holds."""
    end = time.monotonic() + deadline
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)
