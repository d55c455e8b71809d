"""Backups on a schedule, their retention and the weekly restore test (issue 16), on the
database of the run (SQLite, or PostgreSQL in the PostgreSQL pass), plus maintenance."""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timedelta

import pytest

from central.core.backups import to_keep
from tests.support import migrated_env, run_central


@pytest.mark.backend_free
def test_retention_keeps_the_newest_per_day_and_per_week():
    start = datetime(2026, 11, 30, 2, 30)
    stamps = [start - timedelta(days=d) for d in range(60)] + [start - timedelta(hours=1)]
    kept = to_keep(stamps, daily=7, weekly=4)
    daily = {start - timedelta(days=d) for d in range(7)}
    assert daily <= kept  # the newest of each of the last 7 days (not the earlier one of today)
    assert start - timedelta(hours=1) not in kept
    weekly = kept - daily
    # 4 ISO weeks in all: this week's and last week's newest are already daily ones.
    assert len({s.isocalendar()[:2] for s in kept}) == 4
    assert all(s.weekday() == 6 for s in weekly)  # a past week's newest backup is its Sunday's
    assert len(kept) == 7 + 2


SCHEDULED = """
import json, os
from pathlib import Path
from django.conf import settings
from central.core.periodic import run
from central.core.models import BackupRun, Organization
Organization.objects.create(name="Loja", slug="loja")
d = Path(settings.BACKUP_DIR); d.mkdir(parents=True, exist_ok=True)
for day in range(1, 40):  # older backups, as earlier days would have left them
    (d / f"central-202610{day % 30 + 1:02d}-023000.sqlite3").write_bytes(b"old")
run("core.backup")
run("core.backup")  # a second worker the same day: the slot is taken, nothing happens
run("core.restore_test")
rows = list(BackupRun.objects.order_by("id").values("kind", "slot", "ok", "path", "size", "detail", "counts"))
print(json.dumps({"rows": rows, "files": sorted(p.name for p in d.iterdir())}))
"""


def test_a_scheduled_backup_is_private_pruned_and_passes_its_restore_test(tmp_path):
    env = migrated_env(tmp_path / "data", CENTRAL_BACKUP_KEEP_DAILY="3", CENTRAL_BACKUP_KEEP_WEEKLY="2")
    res = run_central(["manage", "shell", "-c", SCHEDULED], env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    backups = [r for r in out["rows"] if r["kind"] == "backup"]
    assert len(backups) == 1 and backups[0]["ok"], out  # once per day, whatever runs it
    path = backups[0]["path"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert backups[0]["counts"]["core_organization"] == 1 and backups[0]["size"] > 0
    # retention: today's plus the newest of 2 earlier days (3 daily), 2 weeks in all
    assert os.path.basename(path) in out["files"] and len(out["files"]) == 3, out["files"]
    test = [r for r in out["rows"] if r["kind"] == "restore_test"]
    assert len(test) == 1 and test[0]["ok"], test
    assert test[0]["path"] == path and "counts checked" in test[0]["detail"]
    assert not test[0]["detail"].startswith("0 tables")

    # A damaged backup fails the restore test (and says why).
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) // 3)
    bad = run_central(["restore-test", path], env)
    assert bad.returncode == 1 and "restore test FAILED" in bad.stderr, bad.stdout + bad.stderr


MAINT_SEED = """
from datetime import timedelta
from django.utils import timezone
from central.core.models import AuditLog, Organization, RetentionPolicy
a = Organization.objects.create(name="A", slug="a")
b = Organization.objects.create(name="B", slug="b")
RetentionPolicy.objects.create(organization=a, audit_days=30)
old = timezone.now() - timedelta(days=90)
for org in (a, b):
    AuditLog.objects.create(organization=org, action="x", created_at=old)
    AuditLog.objects.create(organization=org, action="y")
"""
COUNT = ("from central.core.models import AuditLog as A; "
         "print(A.objects.filter(organization__slug='a', action__in=['x','y']).count(), "
         "A.objects.filter(organization__slug='b', action__in=['x','y']).count())")


def test_maintenance_dry_run_reports_and_apply_deletes_per_tenant_policy(tmp_path):
    env = migrated_env(tmp_path / "data")
    assert run_central(["manage", "shell", "-c", MAINT_SEED], env).returncode == 0
    dry = run_central(["maintenance", "--json"], env)
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    audit_a = [r for r in report["retention"] if r["organization"] == "a" and r["kind"] == "audit"]
    audit_b = [r for r in report["retention"] if r["organization"] == "b" and r["kind"] == "audit"]
    assert audit_a[0]["rows"] == 1 and audit_a[0]["days"] == 30
    assert audit_b[0]["rows"] == 0 and audit_b[0]["days"] == 730  # the installation default
    assert report["database"].startswith("would run") and not report["applied"]
    assert not report["gaps"]  # every kind has its owning app's deletion service
    assert {r["kind"] for r in report["retention"]} >= {"attempts", "call_records", "conversations", "audit"}
    applied = run_central(["maintenance", "--apply"], env)
    assert applied.returncode == 0, applied.stderr
    assert "ran VACUUM (ANALYZE)" in applied.stdout or "ran PRAGMA optimize" in applied.stdout
    assert run_central(["manage", "shell", "-c", COUNT], env).stdout.split()[-2:] == ["1", "2"]
