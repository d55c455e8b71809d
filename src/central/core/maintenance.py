"""``central maintenance``: retention per tenant, expired data, database optimisation.

LGPD wants personal data kept no longer than needed. Each organization's
:class:`~central.core.models.RetentionPolicy` (or the installation's defaults,
``CENTRAL_RETENTION_*_DAYS``) says how many days of dialer attempts, call records,
conversations, call recordings (files too) and audit log it keeps; older rows are deleted through the owning app's
service function (one app never deletes another's rows itself). Then expired sign-in
sessions and JWT records, expired document cache files, heartbeat rows of processes gone
for a day, and the database's own housekeeping (``VACUUM (ANALYZE)`` on PostgreSQL,
``PRAGMA optimize`` on SQLite).

A dry run (the default on the command line) counts what would go and changes nothing;
the daily job (``core/schedules.py``) applies. Deletes are idempotent, so two runs at once
(two workers) delete each row once and report it at most twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib.util import find_spec

from django.conf import settings
from django.db import connection
from django.utils import timezone

log = logging.getLogger("central.maintenance")

#: Kinds of tenant data under retention: (policy field, settings default).
KINDS = {
    "attempts": ("attempts_days", "RETENTION_ATTEMPTS_DAYS"),
    "call_records": ("call_records_days", "RETENTION_CALL_RECORDS_DAYS"),
    "conversations": ("conversations_days", "RETENTION_CONVERSATIONS_DAYS"),
    "audit": ("audit_days", "RETENTION_AUDIT_DAYS"),
    "recordings": ("recordings_days", "RETENTION_RECORDINGS_DAYS"),
}
#: Heartbeat rows older than this are deleted (the process is long gone).
HEARTBEAT_KEEP = timedelta(days=1)


@dataclass
class Report:
    applied: bool
    retention: list[dict] = field(default_factory=list)
    expired: dict[str, int | str] = field(default_factory=dict)
    database: str = ""
    gaps: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"applied": self.applied, "retention": self.retention, "expired": self.expired,
                "database": self.database, "gaps": self.gaps}


def policy_days(org) -> dict[str, int]:
    """Days kept per kind for ``org`` (0 = forever): its policy, else the defaults."""
    from .models import RetentionPolicy

    try:
        policy = org.retention
    except RetentionPolicy.DoesNotExist:
        policy = None
    return {kind: (getattr(policy, attr) if policy is not None else getattr(settings, default))
            for kind, (attr, default) in KINDS.items()}


def _purge_audit(organization_id: int, before: datetime, *, dry_run: bool) -> int:
    from .models import AuditLog

    rows = AuditLog.objects.filter(organization_id=organization_id, created_at__lt=before)
    return rows.count() if dry_run else rows.delete()[0]


def _purgers() -> tuple[dict, list[str]]:
    """The service function deleting each kind, and the kinds no app can delete yet."""
    purgers: dict = {"audit": _purge_audit}
    gaps = []
    if find_spec("central.dialer.services"):
        from central.dialer.services import purge_attempts

        purgers["attempts"] = purge_attempts
    if find_spec("central.telephony.store"):
        from central.telephony.store import purge_call_records

        purgers["call_records"] = purge_call_records
    if find_spec("central.recordings.services"):
        from central.recordings.services import purge_recordings

        purgers["recordings"] = purge_recordings
    messaging = None
    if find_spec("central.messaging.services"):
        from central.messaging import services as messaging
    if messaging is not None and hasattr(messaging, "purge_conversations"):
        purgers["conversations"] = messaging.purge_conversations
    else:
        gaps.append("conversations: the messaging app has no deletion service "
                    "(central.messaging.services.purge_conversations) yet; nothing deleted")
    return purgers, gaps


def retention(report: Report, now: datetime) -> None:
    from .models import Organization

    purgers, gaps = _purgers()
    report.gaps.extend(gaps)
    for org in Organization.objects.select_related("retention").order_by("slug"):
        for kind, days in policy_days(org).items():
            purge = purgers.get(kind)
            if not days or purge is None:
                continue
            before = now - timedelta(days=days)
            count = purge(org.id, before, dry_run=not report.applied)
            report.retention.append({"organization": org.slug, "kind": kind, "days": days,
                                     "before": before.isoformat(timespec="seconds"), "rows": count})
            if count and report.applied:
                from . import audit

                audit.record("maintenance.retention", organization=org,
                             details={"kind": kind, "days": days, "rows": count})


def expired(report: Report, now: datetime) -> None:
    from django.contrib.sessions.models import Session

    from .models import ProcessHeartbeat

    sets = {
        "sessions": Session.objects.filter(expire_date__lt=now),
        "heartbeats": ProcessHeartbeat.objects.filter(last_seen__lt=now - HEARTBEAT_KEEP),
    }
    try:
        from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

        sets["jwt_tokens"] = OutstandingToken.objects.filter(expires_at__lt=now)
    except (ImportError, RuntimeError):
        pass
    for name, rows in sets.items():
        report.expired[name] = rows.delete()[0] if report.applied else rows.count()
    if find_spec("central.documents.services"):
        from central.documents import services as documents

        if hasattr(documents, "expire_cache"):
            report.expired["document_cache"] = documents.expire_cache(now) if report.applied else "checked when applied"
    # The key-value cache (Redis, or the process's memory in embedded mode) expires its
    # keys by itself: nothing to remove there.


def optimise(report: Report) -> None:
    if connection.vendor == "postgresql":
        statement = "VACUUM (ANALYZE)"
    elif connection.vendor == "sqlite":
        statement = "PRAGMA optimize"
    else:
        report.database = f"nothing for {connection.vendor}"
        return
    if not report.applied:
        report.database = f"would run {statement}"
        return
    with connection.cursor() as cur:  # autocommit: VACUUM cannot run inside a transaction
        cur.execute(statement)
    report.database = f"ran {statement}"


def run(apply: bool = False, now: datetime | None = None) -> Report:
    now = now or timezone.now()
    report = Report(applied=apply)
    retention(report, now)
    expired(report, now)
    optimise(report)
    deleted = sum(r["rows"] for r in report.retention)
    log.info("maintenance %s: %s retention rows, expired %s, %s", "applied" if apply else "dry run",
             deleted, report.expired, report.database, extra={"gaps": report.gaps})
    return report


def scheduled_maintenance() -> None:
    """The daily job (``core/schedules.py``)."""
    run(apply=True)
