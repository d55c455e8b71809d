"""The `central` command: up from nothing, diagnose, status, backup and restore."""

from __future__ import annotations

import sqlite3

import httpx
import pytest

from tests.support import central_env, migrated_env, run_central


def test_up_from_a_fresh_data_dir_is_ready_and_prints_demo_credentials(central_up):
    ready = httpx.get(central_up.url + "/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["database"]["status"] == "ok"
    assert central_up.creds is not None, central_up.log()
    user, password = central_up.creds
    assert user == "admin" and len(password) >= 12
    token = httpx.post(central_up.url + "/api/v1/auth/token/", json={"username": user, "password": password}, timeout=10)
    assert token.status_code == 200, token.text


def test_diagnose_fails_clearly_on_a_wrong_database_url(tmp_path):
    env = central_env(tmp_path, DATABASE_URL="postgres://central@127.0.0.1:1/nada")
    result = run_central(["diagnose"], env, timeout=60)
    assert result.returncode == 1
    line = next(line for line in result.stdout.splitlines() if "database" in line)
    assert "FAIL" in line and ("refused" in line.lower() or "connect" in line.lower()), result.stdout
    assert "failed: database" in result.stderr


def test_diagnose_rejects_a_malformed_database_url(tmp_path):
    result = run_central(["diagnose"], central_env(tmp_path, DATABASE_URL="notaurl"), timeout=60)
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr


def test_diagnose_passes_on_a_migrated_database(tmp_path):
    env = migrated_env(tmp_path)
    result = run_central(["diagnose"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all checks passed" in result.stdout


def test_diagnose_reports_an_unreachable_asterisk(tmp_path):
    env = migrated_env(tmp_path, CENTRAL_AMI_URL="ami://central@127.0.0.1:1")
    result = run_central(["diagnose"], env)
    assert result.returncode == 1
    assert any("asterisk:env" in line and "FAIL" in line for line in result.stdout.splitlines()), result.stdout


def test_status_lists_no_process_when_none_runs(tmp_path):
    env = migrated_env(tmp_path)
    result = run_central(["status"], env)
    assert result.returncode == 0
    assert "no Central process is running" in result.stdout


def test_backup_and_restore_round_trip(tmp_path):
    env = migrated_env(tmp_path / "data")
    # PostgreSQL run: pg_dump / pg_restore; SQLite run: the online backup API
    target = tmp_path / ("b.pgdump" if "DATABASE_URL" in env else "b.sqlite3")
    create = run_central(["manage", "shell", "-c", "from central.core.models import Organization as O; O.objects.create(name='Antes', slug='antes')"], env)
    assert create.returncode == 0, create.stderr
    backup = run_central(["backup", str(target)], env)
    assert backup.returncode == 0, backup.stderr
    assert target.stat().st_size > 0
    run_central(["manage", "shell", "-c", "from central.core.models import Organization as O; O.objects.all().delete(); O.objects.create(name='Depois', slug='depois')"], env)
    restored = run_central(["restore", str(target), "--yes"], env)
    assert restored.returncode == 0, restored.stderr
    names = run_central(["manage", "shell", "-c", "from central.core.models import Organization as O; print(sorted(O.objects.values_list('slug', flat=True)))"], env)
    assert names.stdout.strip().splitlines()[-1] == "['antes']"


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path):
    env = migrated_env(tmp_path / "data")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"this is not a database" * 100)
    result = run_central(["restore", str(junk), "--yes"], env)
    assert result.returncode == 1
    assert "not" in result.stderr.lower() or "failed" in result.stderr.lower()
    if "DATABASE_URL" not in env:
        conn = sqlite3.connect(tmp_path / "data" / "central.sqlite3")
        assert conn.execute("select count(*) from django_migrations").fetchone()[0] > 0


def test_queues_reads_redis(tmp_path, redis_url):
    import redis

    redis.Redis.from_url(redis_url).rpush("celery", "job-1", "job-2")
    try:
        result = run_central(["queues"], central_env(tmp_path, REDIS_URL=redis_url))
        assert result.returncode == 0, result.stderr
        assert any(line.split() == ["celery", "2"] for line in result.stdout.splitlines()), result.stdout
    finally:
        redis.Redis.from_url(redis_url).delete("celery")


def test_workers_says_none_answered_when_no_worker_runs(tmp_path, redis_url):
    result = run_central(["workers"], central_env(tmp_path, REDIS_URL=redis_url))
    assert result.returncode == 1
    assert "no worker answered" in result.stderr


def test_logs_shows_the_json_log_file(tmp_path):
    log_file = tmp_path / "central.log"
    env = central_env(tmp_path / "data", CENTRAL_LOG_FILE=str(log_file))
    run_central(["diagnose"], env)  # logs a warning-free run; write one line ourselves too
    log_file.write_text('{"level": "info", "msg": "primeira"}\n{"level": "info", "msg": "segunda"}\n')
    result = run_central(["logs", "-n", "1", "--json"], env)  # as written; without --json: formatted
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '{"level": "info", "msg": "segunda"}'
    assert "INFO" in run_central(["logs", "-n", "1"], env).stdout


def _current_slugs(env) -> str:
    result = run_central(["manage", "shell", "-c", "from central.core.models import Organization as O; "
                          "print(sorted(O.objects.values_list('slug', flat=True)))"], env)
    return result.stdout.strip().splitlines()[-1]


def test_restore_refuses_a_valid_sqlite_file_that_is_not_central(tmp_path):
    """Finding 17: any valid SQLite file used to replace the database (38 migrations pending)."""
    env = migrated_env(tmp_path / "data")
    run_central(["manage", "shell", "-c", "from central.core.models import Organization as O; "
                 "O.objects.create(name='Fica', slug='fica')"], env)
    other = tmp_path / "other.sqlite3"
    conn = sqlite3.connect(other)
    conn.execute("create table notes (id integer primary key, body text)")
    conn.commit()
    conn.close()
    if "DATABASE_URL" in env:  # PostgreSQL run: a valid custom-format dump of another database
        import subprocess

        from central.core.backup import _tool
        from tests.support import fresh_database_url

        other = tmp_path / "other.pgdump"
        subprocess.run([_tool("pg_dump"), "--format=custom", f"--file={other}", fresh_database_url()], check=True)
    result = run_central(["restore", str(other), "--yes"], env)
    assert result.returncode == 1
    assert "is not a Central database" in result.stderr
    assert _current_slugs(env) == "['fica']"


def test_restore_refuses_a_backup_of_a_newer_central(tmp_path):
    env = migrated_env(tmp_path / "data")
    if "DATABASE_URL" in env:
        target = tmp_path / "b.pgdump"
        run_central(["manage", "shell", "-c", "from django.db import connection; c = connection.cursor(); "
                     "c.execute(\"insert into django_migrations (app, name, applied) values "
                     "('dialer', '9999_from_the_future', now())\")"], env)
        assert run_central(["backup", str(target)], env).returncode == 0
        run_central(["manage", "shell", "-c", "from django.db import connection; c = connection.cursor(); "
                     "c.execute(\"delete from django_migrations where name = '9999_from_the_future'\")"], env)
    else:
        target = tmp_path / "b.sqlite3"
        assert run_central(["backup", str(target)], env).returncode == 0
        conn = sqlite3.connect(target)
        conn.execute("insert into django_migrations (app, name, applied) values "
                     "('dialer', '9999_from_the_future', '2030-01-01')")
        conn.commit()
        conn.close()
    result = run_central(["restore", str(target), "--yes"], env)
    assert result.returncode == 1
    assert "newer Central version" in result.stderr and "dialer.9999_from_the_future" in result.stderr


@pytest.mark.backend_free
def test_help_shows_code_not_backticks_and_no_type_for_flags():
    """``central --help`` printed docstrings' literal ``double backticks`` and "--help <bool>"."""
    from typer.testing import CliRunner

    from central.cli import app

    runner = CliRunner()
    for args in (["--help"], ["up", "--help"], ["status", "--help"], ["manage", "--help"]):
        out = runner.invoke(app, args, terminal_width=100).output
        assert "Usage" in out, args
        assert "``" not in out, (args, out)
        assert "<bool>" not in out, (args, out)
    assert "<int>" in runner.invoke(app, ["up", "--help"], terminal_width=100).output  # real types stay
