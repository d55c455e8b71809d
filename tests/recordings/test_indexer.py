"""The indexer: spool files become recordings once their call is over, safely."""

from __future__ import annotations

import os
import stat
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from central.recordings import indexer, storage
from central.recordings.models import Recording
from central.simulator.recording import wav_bytes
from tests.telephony.factories import make_call_record

pytestmark = pytest.mark.django_db


def _spool(uid: str, data: bytes | None = None, age: float = 0.0):
    path = storage.spool_dir() / f"{uid}.wav"
    path.write_bytes(data if data is not None else wav_bytes(1.5))
    if age:
        old = path.stat().st_mtime - age
        os.utime(path, (old, old))
    return path


def test_file_waits_for_its_call_record_then_moves_into_the_store(tenants) -> None:
    uid = str(uuid.uuid4())
    spooled = _spool(uid)
    assert indexer.index_pending()["waiting"] == 1  # the call is not over: no record yet
    assert not Recording.objects.exists() and spooled.exists()
    record = make_call_record(tenants["a"], attempt_id=uid, agent="Agent One",
                              agent_interface="Local/agent1@agent-phones", campaign_id="7")
    counts = indexer.index_pending()
    assert counts["indexed"] == 1
    rec = Recording.objects.get()
    assert (rec.organization_id, rec.call_record_id, rec.agent, rec.campaign_id) == (
        tenants["a"].id, record.id, "Local/agent1@agent-phones", "7")
    assert rec.duration == 1.5 and rec.size == len(wav_bytes(1.5))
    assert not spooled.exists()
    stored = storage.resolve(rec.path)
    assert rec.path.startswith(f"{tenants['a'].id}/") and stored.read_bytes() == wav_bytes(1.5)
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    for directory in (stored.parent, stored.parent.parent, stored.parent.parent.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert indexer.index_pending()["indexed"] == 0  # nothing twice


def test_unsettled_symlinked_oversized_and_foreign_names_are_not_taken(tenants, settings, tmp_path) -> None:
    settings.RECORDINGS_SETTLE_SECONDS = 60
    fresh = str(uuid.uuid4())
    _spool(fresh)
    make_call_record(tenants["a"], attempt_id=fresh)
    secret = tmp_path / "secret.txt"
    secret.write_text("not a recording")
    linked = str(uuid.uuid4())
    os.symlink(secret, storage.spool_dir() / f"{linked}.wav")
    make_call_record(tenants["a"], attempt_id=linked)
    (storage.spool_dir() / "notes.txt").write_text("x")
    (storage.spool_dir() / f".{fresh}.wav.part").write_bytes(b"x")
    counts = indexer.index_pending()
    assert counts["indexed"] == 0 and counts["waiting"] == 1
    settings.RECORDINGS_SETTLE_SECONDS = 0
    settings.RECORDINGS_MAX_BYTES = 100
    big = str(uuid.uuid4())
    _spool(big, b"x" * 101)
    make_call_record(tenants["a"], attempt_id=big)
    counts = indexer.index_pending()
    assert counts["rejected"] == 2  # the fresh file is too large now too
    assert (storage.spool_dir() / "rejected" / f"{big}.wav").exists()
    assert not Recording.objects.exists()  # the symlink was never followed


def test_orphan_is_indexed_against_its_attempt_after_the_grace_and_linked_later(tenants) -> None:
    from tests.dialer.engine_support import make_campaign, make_contacts

    campaign = make_campaign(tenants["a"])
    contact = make_contacts(campaign, ["+5511911110001"])[0]
    from central.dialer.models import Attempt

    attempt = Attempt.objects.create(organization=tenants["a"], campaign=campaign, contact=contact,
                                     phone=contact.phone, agent="Local/agent2@agent-phones")
    _spool(attempt.uid, age=2 * 3600)
    unknown = str(uuid.uuid4())
    _spool(unknown, age=2 * 3600)  # no record, no attempt: tenant unknown
    counts = indexer.index_pending()
    assert (counts["indexed"], counts["unmatched"]) == (1, 1)
    rec = Recording.objects.get()
    assert rec.organization_id == tenants["a"].id and rec.call_record is None
    assert rec.campaign_id == str(campaign.id) and rec.agent == "Local/agent2@agent-phones"
    record = make_call_record(tenants["a"], attempt_id=attempt.uid)
    assert indexer.index_pending()["linked"] == 1
    rec.refresh_from_db()
    assert rec.call_record_id == record.id and rec.started_at == record.started_at


def test_record_and_attempt_of_different_tenants_are_refused(tenants) -> None:
    from tests.dialer.engine_support import make_campaign, make_contacts

    campaign = make_campaign(tenants["b"])
    contact = make_contacts(campaign, ["+5511911110002"])[0]
    from central.dialer.models import Attempt

    attempt = Attempt.objects.create(organization=tenants["b"], campaign=campaign, contact=contact,
                                     phone=contact.phone)
    _spool(attempt.uid)
    make_call_record(tenants["a"], attempt_id=attempt.uid)  # a's PBX claims b's attempt
    assert indexer.index_pending()["refused"] == 1
    assert not Recording.objects.exists()


def test_started_at_comes_from_the_call(tenants) -> None:
    uid = str(uuid.uuid4())
    _spool(uid)
    started = timezone.now() - timedelta(days=40)
    make_call_record(tenants["a"], attempt_id=uid, started_at=started)
    indexer.index_pending()
    rec = Recording.objects.get()
    assert rec.started_at == started and rec.path.split("/")[1:3] == [f"{started:%Y}", f"{started:%m}"]


def test_a_file_that_cannot_be_stored_stays_and_the_others_are_indexed(tenants, settings, tmp_path) -> None:
    """The store refuses one file (here: a directory already sits where it would go); that
    file stays in the spool for the next pass and the rest of the pass goes on."""
    from central.recordings.storage import relative_path, resolve

    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    _spool(first)
    _spool(second)
    started = timezone.now()
    make_call_record(tenants["a"], attempt_id=first, started_at=started)
    make_call_record(tenants["a"], attempt_id=second, started_at=started)
    blocker = resolve(relative_path(tenants["a"].id, started, f"{first}.wav"))
    (blocker / "occupied").mkdir(parents=True)
    counts = indexer.index_pending()
    assert (counts["indexed"], counts["failed"]) == (1, 1)
    assert list(Recording.objects.values_list("attempt_uid", flat=True)) == [second]
    assert (storage.spool_dir() / f"{first}.wav").exists()
