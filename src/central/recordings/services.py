"""What other apps (and this one's views) call: who may hear which recording, the
recordings of a call or of a page of calls, and retention.

Who may listen: supervisors and above, every recording of their organization; an agent,
the recordings of calls answered at one of their own interfaces (``central.agents``:
``agent_for_user``; without that app agents hear none); viewers none. Everyone else gets
404 from the views (the recording's existence is not confirmed).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from central.core.roles import Role, at_least

from . import storage
from .models import Recording

log = logging.getLogger("central.recordings")

#: The least role that hears every recording of its organization.
LISTEN_ALL = Role.SUPERVISOR


def _agent_interfaces(membership) -> list[str]:
    from central.agents.identity import agent_for_user, interfaces_of

    agent = agent_for_user(membership.organization_id, membership.user)
    if agent is None:
        return []
    return [row.interface for row in interfaces_of(membership.organization_id, [agent.id]).get(agent.id, [])]


def listenable(membership) -> QuerySet[Recording]:
    """The recordings this member may hear (always within their organization)."""
    rows = Recording.objects.for_org(membership.organization_id)
    if at_least(membership.role, LISTEN_ALL):
        return rows
    if at_least(membership.role, Role.AGENT):
        interfaces = _agent_interfaces(membership)
        if interfaces:
            return rows.filter(agent__in=interfaces)
    return rows.none()


def recordings_for_call(call_record, membership=None) -> list[Recording]:
    """The recordings of one call record (for the call detail page's player); with
    ``membership``, only those that member may hear."""
    rows = listenable(membership) if membership is not None else Recording.objects.for_org(
        call_record.organization_id)
    return list(rows.filter(call_record=call_record).order_by("started_at", "id"))


def recordings_by_call(membership, call_record_ids) -> dict[int, list[Recording]]:
    """``{call record id: [recordings]}`` for a page of calls, in one query (the agent's
    history, reports): rows the member may not hear are absent."""
    found: dict[int, list[Recording]] = {}
    for rec in listenable(membership).filter(call_record_id__in=list(call_record_ids)).order_by("started_at", "id"):
        found.setdefault(rec.call_record_id, []).append(rec)
    return found


def recording_urls(organization_id: int, attempt_uids) -> dict[str, str]:
    """``{attempt uid: audio URL}`` for the attempts that have a recording (one query): for
    pages that list attempts (the agent's desk history). The URL still answers only to who
    may hear it (the view checks), so callers pass only attempts their user may hear."""
    from django.urls import reverse

    rows = Recording.objects.for_org(organization_id).filter(attempt_uid__in=list(attempt_uids))
    return {uid: reverse("recordings:audio", args=[pk]) for uid, pk in rows.values_list("attempt_uid", "pk")}


def purge_recordings(organization_id: int, before: datetime, *, dry_run: bool) -> int:
    """Delete the organization's recordings of calls started before ``before``: the file,
    then the row (a crash in between leaves a row whose file is gone, which the next run
    deletes; never a file without its row, which nothing would delete). Idempotent: two
    runs at once delete each file once (the second finds it gone)."""
    rows = Recording.objects.filter(organization_id=organization_id, started_at__lt=before)
    if dry_run:
        return rows.count()
    deleted = 0
    for rec in rows.only("id", "path").iterator(chunk_size=500):
        storage.delete(rec.path)
        deleted += Recording.objects.filter(pk=rec.pk).delete()[0]
    return deleted


def apply_retention(now: datetime | None = None) -> dict[str, int]:
    """Each organization's recordings past its retention (``RetentionPolicy.recordings_days``
    or ``CENTRAL_RETENTION_RECORDINGS_DAYS``; 0 keeps them): the periodic job. ``central
    maintenance`` applies the same policy through :func:`purge_recordings`."""
    from central.core import audit
    from central.core.maintenance import policy_days
    from central.core.models import Organization

    now = now or timezone.now()
    result: dict[str, int] = {}
    for org in Organization.objects.select_related("retention").order_by("slug"):
        days = policy_days(org).get("recordings", 0)
        if not days:
            continue
        count = purge_recordings(org.id, now - timedelta(days=days), dry_run=False)
        if count:
            result[org.slug] = count
            audit.record("recordings.retention", organization=org, details={"days": days, "rows": count})
    if result:
        log.info("recordings deleted by retention", extra={"deleted": result})
    return result


def run_retention() -> None:
    """The periodic job (``schedules.py``)."""
    apply_retention()
