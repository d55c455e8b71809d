"""The indexer: notices finished MixMonitor files in the spool and links them to calls.

A file is taken when (a) its name is ``<attempt id>.wav`` (:func:`policy.attempt_uid_of`),
(b) it is a regular file no larger than ``CENTRAL_RECORDINGS_MAX_BYTES``, (c) it has not
changed for ``CENTRAL_RECORDINGS_SETTLE_SECONDS`` and (d) the call is over: its call
record exists (the PBX link writes it at the hangup, when MixMonitor closes the file:
apps/app_mixmonitor.c stops on the channel's hangup). A file whose call record has not
come after ``CENTRAL_RECORDINGS_ORPHAN_MINUTES`` is indexed against its dialer attempt
alone (the tenant is the attempt's) and linked when the record appears. A file no call
record nor attempt claims stays in the spool, counted as ``unmatched`` (its tenant is
unknown, so nobody may hear it). Too large files move to ``<spool>/rejected/``.

Tenancy: when both exist, the call record's and the attempt's organizations must agree
(a tenant's own Asterisk cannot file a recording under another tenant's attempt: attempt
ids are random UUIDs, and a mismatch is refused and logged).

Safe to run twice at once: the row (unique attempt id) and the file move commit
together; the loser's insert fails and it skips the file.
"""

from __future__ import annotations

import logging
import os
import time
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import policy, storage
from .models import Recording

log = logging.getLogger("central.recordings")

#: Files looked at per pass (a spool with a backlog is worked down over several passes).
MAX_PER_PASS = 500


def _duration(path: Path) -> float | None:
    try:
        with wave.open(str(path), "rb") as wav:
            rate = wav.getframerate()
            return round(wav.getnframes() / rate, 3) if rate else None
    except (wave.Error, EOFError, OSError):
        return None


def _reject(path: Path) -> None:
    target = path.parent / "rejected"
    target.mkdir(exist_ok=True, mode=0o700)
    os.replace(path, target / path.name)


def index_pending(now: datetime | None = None) -> dict[str, int]:
    """One pass over the spool; returns counts (indexed, waiting, unmatched, rejected,
    refused, failed, linked)."""
    from central.dialer.models import Attempt
    from central.telephony.models import CallRecord

    now = now or timezone.now()
    counts = {"indexed": 0, "waiting": 0, "unmatched": 0, "rejected": 0, "refused": 0, "failed": 0, "linked": 0}
    spool = storage.spool_dir()
    found: dict[str, Path] = {}
    if spool.is_dir():
        with os.scandir(spool) as entries:
            for entry in entries:
                uid = policy.attempt_uid_of(entry.name)
                if uid is not None:
                    found[uid] = Path(entry.path)
                    if len(found) >= MAX_PER_PASS:
                        break
    settle = float(settings.RECORDINGS_SETTLE_SECONDS)
    orphan_after = timedelta(minutes=settings.RECORDINGS_ORPHAN_MINUTES)
    records = {}
    attempts = {}
    if found:
        for rec in CallRecord.objects.filter(attempt_id__in=list(found)).order_by("id"):
            records.setdefault(rec.attempt_id, rec)
        for att in Attempt.objects.filter(uid__in=list(found)).values("uid", "organization_id", "campaign_id",
                                                                      "created_at", "agent"):
            attempts[att["uid"]] = att
    wall = now.timestamp()
    for uid, path in found.items():
        info = storage.regular_file(path)
        if info is None:
            continue
        if info.st_size > settings.RECORDINGS_MAX_BYTES:
            log.warning("recording %s is %s bytes, over CENTRAL_RECORDINGS_MAX_BYTES: moved to rejected/",
                        path.name, info.st_size)
            try:
                _reject(path)
            except OSError:
                log.warning("recording %s: could not move it to rejected/", path.name, exc_info=True)
            counts["rejected"] += 1
            continue
        if wall - info.st_mtime < settle:
            counts["waiting"] += 1
            continue
        record = records.get(uid)
        attempt = attempts.get(uid)
        if record is not None and attempt is not None and record.organization_id != attempt["organization_id"]:
            log.warning("recording %s: call record and attempt belong to different organizations; not indexed",
                        path.name)
            counts["refused"] += 1
            continue
        if record is None:
            mtime = datetime.fromtimestamp(info.st_mtime, tz=UTC)
            if attempt is None or now - mtime < orphan_after:
                counts["waiting" if now - mtime < orphan_after else "unmatched"] += 1
                continue
        org_id = record.organization_id if record is not None else attempt["organization_id"]
        started = (record.started_at if record is not None else attempt["created_at"]) or now
        row = Recording(
            organization_id=org_id, attempt_uid=uid, call_record=record,
            campaign_id=(record.campaign_id if record is not None else "") or
                        (str(attempt["campaign_id"]) if attempt is not None else ""),
            agent=(record.agent_interface if record is not None else "") or (attempt or {}).get("agent") or "",
            path=storage.relative_path(org_id, started, path.name), size=info.st_size,
            duration=_duration(path), content_type=policy.CONTENT_TYPE, started_at=started, created_at=now,
        )
        try:
            with transaction.atomic():
                row.save()
                row.size = storage.take(path, row.path)
                Recording.objects.filter(pk=row.pk).update(size=row.size)
        except IntegrityError:
            continue  # another indexer took it
        except FileNotFoundError:
            continue  # ... and moved it first
        except OSError:
            # The spool not writable, the store full...: this file stays for the next pass,
            # the others are still indexed.
            log.warning("recording %s could not be moved into the store", path.name, exc_info=True)
            counts["failed"] += 1
            continue
        counts["indexed"] += 1
    counts["linked"] = _link_late_records(now)
    if any(counts[k] for k in ("indexed", "rejected", "refused", "failed", "linked")):
        log.info("recordings indexed", extra=counts)
    return counts


def _link_late_records(now: datetime) -> int:
    """Recordings indexed before their call record existed, linked once it does (looked
    for during a day: a record that never came, or was deleted by its own retention, is
    not searched for on every pass)."""
    from central.telephony.models import CallRecord

    linked = 0
    recent = Recording.objects.filter(call_record__isnull=True, created_at__gte=now - timedelta(days=1))
    for rec in recent.only("id", "attempt_uid", "organization_id", "agent")[:MAX_PER_PASS]:
        call = (CallRecord.objects.filter(attempt_id=rec.attempt_uid, organization_id=rec.organization_id)
                .order_by("id").first())
        if call is not None:
            linked += Recording.objects.filter(pk=rec.pk, call_record__isnull=True).update(
                call_record=call, agent=call.agent_interface or rec.agent, started_at=call.started_at)
    return linked


def run() -> None:
    """The periodic job (``schedules.py``)."""
    started = time.monotonic()
    counts = index_pending()
    log.debug("recordings index pass in %.3f s: %s", time.monotonic() - started, counts)
