"""Row factories for the recordings models (tenant isolation test) and test helpers."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from tests.factories import factory


def store_file(org_id: int, uid: str, data: bytes, started=None) -> str:
    """Write a recording's file into the store as the indexer would; its relative path."""
    from central.recordings import storage

    started = started or timezone.now()
    relative = storage.relative_path(org_id, started, f"{uid}.wav")
    path = storage.resolve(relative)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_bytes(data)
    path.chmod(0o600)
    return relative


@factory("recordings.recording")
def make_recording(org, **fields) -> models.Model:
    from central.recordings.models import Recording

    uid = fields.pop("attempt_uid", None) or str(uuid.uuid4())
    data = fields.pop("data", b"RIFF-test-recording")
    started = fields.pop("started_at", None) or timezone.now()
    defaults = {"attempt_uid": uid, "path": store_file(org.id, uid, data, started), "size": len(data),
                "started_at": started, "duration": 1.0}
    defaults.update(fields)
    return Recording.objects.create(organization=org, **defaults)
