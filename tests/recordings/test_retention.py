"""Retention (LGPD): recordings past the tenant's policy lose file and row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from central.recordings import storage
from central.recordings.models import Recording
from central.recordings.services import apply_retention
from tests.recordings.factories import make_recording

pytestmark = pytest.mark.django_db


def test_retention_deletes_old_files_and_rows_per_tenant_policy(tenants, settings) -> None:
    from central.core.models import AuditLog, RetentionPolicy

    settings.RETENTION_RECORDINGS_DAYS = 90
    now = timezone.now()
    old_a = make_recording(tenants["a"], started_at=now - timedelta(days=31))
    new_a = make_recording(tenants["a"], started_at=now - timedelta(days=29))
    old_b = make_recording(tenants["b"], started_at=now - timedelta(days=31))
    RetentionPolicy.objects.create(organization=tenants["a"], recordings_days=30)
    old_a_file = storage.resolve(old_a.path)
    assert old_a_file.exists()

    assert apply_retention(now) == {"empresa-a": 1}
    assert not old_a_file.exists()
    assert set(Recording.objects.values_list("pk", flat=True)) == {new_a.pk, old_b.pk}
    assert storage.resolve(new_a.path).exists() and storage.resolve(old_b.path).exists()
    assert AuditLog.objects.filter(action="recordings.retention", organization=tenants["a"]).count() == 1
    assert apply_retention(now) == {}  # idempotent

    # tenant b follows the installation default (90 days); 60 days on, both go
    assert apply_retention(now + timedelta(days=60)) == {"empresa-a": 1, "empresa-b": 1}
    assert not storage.resolve(old_b.path).exists() and not Recording.objects.exists()


def test_a_file_already_gone_still_loses_its_row_and_maintenance_applies_the_same(tenants, settings) -> None:
    from central.core import maintenance

    settings.RETENTION_RECORDINGS_DAYS = 10
    now = timezone.now()
    gone = make_recording(tenants["a"], started_at=now - timedelta(days=11))
    storage.resolve(gone.path).unlink()
    kept_forever = make_recording(tenants["b"], started_at=now - timedelta(days=11))
    from central.core.models import RetentionPolicy

    RetentionPolicy.objects.create(organization=tenants["b"], recordings_days=0)  # 0 = forever
    dry = maintenance.Report(applied=False)
    maintenance.retention(dry, now)  # (run() would also VACUUM, which a test transaction refuses)
    assert [r for r in dry.retention if r["kind"] == "recordings"] == [
        {"organization": "empresa-a", "kind": "recordings", "days": 10,
         "before": (now - timedelta(days=10)).isoformat(timespec="seconds"), "rows": 1}]
    assert Recording.objects.count() == 2
    maintenance.retention(maintenance.Report(applied=True), now)
    assert list(Recording.objects.values_list("pk", flat=True)) == [kept_forever.pk]


def test_schedule_declares_the_jobs() -> None:
    from central.core.periodic import collect, resolve

    jobs = collect(["central.recordings.schedules"])
    assert set(jobs) == {"recordings-index", "recordings-retention"}
    for job in jobs.values():
        assert callable(resolve(job.target))


@pytest.mark.django_db(transaction=True)
def test_deleting_the_organization_deletes_its_recording_files(tenants) -> None:
    """The cascade from the organization removes the rows; the files go with them (before:
    the files stayed on disk with nothing pointing at them)."""
    gone = make_recording(tenants["a"])
    kept = make_recording(tenants["b"])
    tenants["a"].delete()
    assert not storage.resolve(gone.path).exists()
    assert storage.resolve(kept.path).exists() and Recording.objects.filter(pk=kept.pk).exists()
