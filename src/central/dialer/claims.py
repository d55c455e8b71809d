"""The dialer's database writes: claiming due contacts, writing attempts, recording outcomes.

Synchronous Django code run by the engine in its one database thread. Every function
that changes a campaign's contacts or attempts runs in one transaction that starts with
:func:`central.dialer.leases.fence`, so a dialer whose lease was taken over cannot write.

Claiming (``claim``): due contacts are selected with ``SELECT ... FOR UPDATE SKIP LOCKED``
on PostgreSQL, so two dialers (or a dialer and an operator's bulk edit) never pick the
same row and never wait on each other; SQLite has no row locks and serialises writers,
which gives the same guarantee (the fence's UPDATE makes the transaction the writer
first). Within the transaction the contacts move to ``in_progress`` and their ``Attempt``
rows are inserted in state ``created`` with a pre-assigned ``uid``: the attempt exists
before any Originate can leave (DESIGN principle 4).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import F, Q

from central.dialer import hours, services
from central.dialer.core import Outcome, retry_decision, within_hours
from central.dialer.leases import Lease, fence
from central.dialer.models import Attempt, Callback, Campaign, Contact, DoNotCall

log = logging.getLogger(__name__)

__all__ = [
    "Claimed",
    "ClaimResult",
    "claim",
    "contacts_due",
    "inflight_attempts",
    "is_holiday",
    "mark_connected",
    "mark_sent",
    "mark_state",
    "mark_unsent",
    "raise_originate_alarm",
    "record_outcomes",
    "settle",
    "ts",
]

#: When a contact cannot be called now because of its own time zone (DDD), look again
#: after this long instead of re-reading it on every tick.
CONTACT_HOURS_RETRY = timedelta(minutes=15)

LIVE_STATES = (Attempt.State.CREATED, Attempt.State.SENT, Attempt.State.RINGING,
               Attempt.State.ANSWERED, Attempt.State.UNKNOWN)


def ts(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


@dataclass(frozen=True, slots=True)
class Claimed:
    """An attempt written and ready to originate (plain data: no ORM object leaves the
    database thread)."""

    uid: str
    campaign_id: int
    contact_id: int
    phone: str


@dataclass
class ClaimResult:
    attempts: list[Claimed] = field(default_factory=list)
    dnc: int = 0
    exhausted: int = 0
    deferred: int = 0


def is_holiday(campaign: Campaign, now: datetime, tz: str | None = None) -> bool:
    """Brazilian national (and the campaign's state) holidays: :mod:`central.core.holidays`
    (an unknown state code falls back to the national calendar there)."""
    if not campaign.respect_holidays:
        return False
    local = now.astimezone(ZoneInfo(tz or campaign.timezone or "America/Sao_Paulo")).date()
    return hours.holiday_name(local, campaign.holiday_subdivision) is not None


def campaign_within_hours(campaign: Campaign, now: datetime, tz: str | None = None) -> bool:
    """Working hours of the campaign (and of the contact's zone ``tz``), holidays included."""
    try:
        ok, _reason = hours.is_callable_now(
            campaign.working_hours, campaign.timezone, tz, now,
            respect_holidays=campaign.respect_holidays, subdivision=campaign.holiday_subdivision)
        return ok
    except (hours.HoursError, ValueError):
        zone = tz or campaign.timezone  # malformed hours: the plain reading of the model default
        return within_hours(campaign.working_hours, zone, now, holiday=is_holiday(campaign, now, zone))


def contacts_due(campaign_id: int, now: datetime, limit: int) -> int:
    """How many contacts could be dialed now, counted up to ``limit`` (cheap on 1M rows)."""
    qs = Contact.objects.filter(campaign_id=campaign_id, status=Contact.Status.PENDING).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    return len(qs.values_list("id", flat=True)[:limit])


def _locked(qs):
    if connection.features.has_select_for_update_skip_locked:
        return qs.select_for_update(skip_locked=True, of=("self",))
    return qs


def claim(lease: Lease, n: int, now: datetime, dialer: str, pacing_mode: str = "") -> ClaimResult:
    """Claim up to ``n`` due contacts of the lease's campaign and write their attempts.

    Order: callbacks due (an agent promised the call), then retries that are due, then
    contacts never tried. Checked here, at dial time: the contact's attempt caps, the
    organization-wide and campaign do-not-call lists, and the working hours in the
    contact's own time zone.
    """
    out = ClaimResult()
    if n <= 0:
        return out
    with transaction.atomic():
        fence(lease, now)
        campaign = Campaign.objects.get(pk=lease.campaign_id)
        if campaign.status != Campaign.Status.ACTIVE:
            return out
        zone = ZoneInfo(campaign.timezone or "America/Sao_Paulo")
        today = now.astimezone(zone).date()

        callbacks = list(
            Callback.objects.filter(campaign_id=campaign.id, done_at__isnull=True,
                                    scheduled_for__lte=now, contact__status=Contact.Status.PENDING)
            .order_by("scheduled_for").values_list("id", "contact_id")[:n]
        )
        picked: list[Contact] = []
        seen: set[int] = set()
        if callbacks:
            ids = [cid for _, cid in callbacks]
            by_id = {c.id: c for c in _locked(Contact.objects.filter(id__in=ids, status=Contact.Status.PENDING))}
            for cid in ids:
                if cid in by_id and cid not in seen:
                    picked.append(by_id[cid])
                    seen.add(cid)
        fetch = max(n * 2, n + 10)
        due = _locked(
            Contact.objects.filter(campaign_id=campaign.id, status=Contact.Status.PENDING)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .order_by(F("next_attempt_at").asc(nulls_last=True), "id")
        )[:fetch]
        for c in due:
            if c.id not in seen:
                picked.append(c)
                seen.add(c.id)

        # Do-not-call, checked now and not at import: lists change daily.
        phones = {c.phone for c in picked}
        blocked = set(
            DoNotCall.objects.filter(organization_id=campaign.organization_id, phone__in=phones)
            .filter(Q(campaign__isnull=True) | Q(campaign_id=campaign.id))
            .values_list("phone", flat=True)
        ) if phones else set()

        accepted: list[Contact] = []
        changed: list[Contact] = []
        for c in picked:
            if len(accepted) >= n:
                break
            max_attempts = c.max_attempts or campaign.max_attempts
            if c.phone in blocked:
                c.status, c.last_result = Contact.Status.DNC, "dnc"
                changed.append(c)
                out.dnc += 1
                continue
            if c.attempts >= max_attempts:
                c.status = Contact.Status.FAILED
                changed.append(c)
                out.exhausted += 1
                continue
            today_count = c.attempts_today if c.attempts_day == today else 0
            if today_count >= campaign.max_attempts_per_day:
                nxt = retry_decision("failed", attempts=c.attempts, max_attempts=max_attempts + 1,
                                     attempts_today=today_count, max_per_day=campaign.max_attempts_per_day,
                                     policy={"failed": 0}, now=now, tz=campaign.timezone)
                c.next_attempt_at = nxt.next_attempt_at
                changed.append(c)
                out.deferred += 1
                continue
            if c.timezone and c.timezone != campaign.timezone and not campaign_within_hours(campaign, now, c.timezone):
                c.next_attempt_at = now + CONTACT_HOURS_RETRY
                changed.append(c)
                out.deferred += 1
                continue
            c.status = Contact.Status.IN_PROGRESS
            c.attempts += 1
            c.attempts_today = today_count + 1
            c.attempts_day = today
            c.last_attempt_at = now
            accepted.append(c)
            changed.append(c)
        if changed:
            Contact.objects.bulk_update(
                changed, ["status", "last_result", "attempts", "attempts_today", "attempts_day",
                          "last_attempt_at", "next_attempt_at"])
        rows = [
            Attempt(organization_id=campaign.organization_id, uid=uuid.uuid4().hex, campaign_id=campaign.id,
                    contact_id=c.id, phone=c.phone, state=Attempt.State.CREATED, dialer=dialer,
                    pacing_mode=pacing_mode, created_at=now, queue=campaign.queue)
            for c in accepted
        ]
        Attempt.objects.bulk_create(rows)
        if callbacks:
            done_ids = [cb_id for cb_id, cid in callbacks if any(c.id == cid for c in accepted)]
            if done_ids:
                Callback.objects.filter(id__in=done_ids).update(done_at=now)
        out.attempts = [Claimed(a.uid, campaign.id, a.contact_id, a.phone) for a in rows]
    return out


def mark_sent(lease: Lease, uids: list[str], now: datetime) -> None:
    if uids:
        Attempt.objects.filter(uid__in=uids, state=Attempt.State.CREATED).update(
            state=Attempt.State.SENT, sent_at=now)


def mark_state(uids: list[str], state: str, now: datetime | None = None, note: str = "") -> None:
    """Progress of live attempts (ringing, answered, unknown). Never moves a completed one."""
    if not uids:
        return
    fields: dict = {"state": state}
    if state == Attempt.State.ANSWERED and now is not None:
        fields["answered_at"] = now
    if note:
        fields["note"] = note[:300]
    Attempt.objects.filter(uid__in=uids, state__in=LIVE_STATES).update(**fields)


def mark_unsent(lease: Lease, uids: list[str], now: datetime, note: str) -> None:
    """Originates that never left (AMI not connected): the attempt did not happen, so the
    contact goes back to the pool without spending one of its attempts."""
    if not uids:
        return
    with transaction.atomic():
        fence(lease, now)
        contact_ids = list(Attempt.objects.filter(uid__in=uids, state=Attempt.State.CREATED)
                           .values_list("contact_id", flat=True))
        Attempt.objects.filter(uid__in=uids, state=Attempt.State.CREATED).update(
            state=Attempt.State.COMPLETED, result=Attempt.Result.FAILED, ended_at=now, note=note[:300])
        Contact.objects.filter(id__in=contact_ids, status=Contact.Status.IN_PROGRESS).update(
            status=Contact.Status.PENDING, attempts=F("attempts") - 1,
            attempts_today=F("attempts_today") - 1, next_attempt_at=now)


def record_outcomes(lease: Lease, outcomes: list[Outcome], now: datetime) -> int:
    """Write final results and schedule each contact's next attempt (retry policy)."""
    if not outcomes:
        return 0
    written = 0
    with transaction.atomic():
        fence(lease, now)
        campaign = Campaign.objects.get(pk=lease.campaign_id)
        contacts = {c.id: c for c in Contact.objects.filter(id__in=[o.contact_id for o in outcomes])}
        changed: list[Contact] = []
        for o in outcomes:
            end_known = o.ended_known and o.ended_at is not None
            fields = {
                "state": Attempt.State.COMPLETED, "result": o.result,
                "ended_at": ts(o.ended_at) if end_known else None,
                "answered_at": ts(o.answered_at) if o.answered_at is not None else None,
                "connected_at": ts(o.connected_at) if o.connected_at is not None else None,
                "agent": o.agent[:120], "hangup_cause": o.hangup_cause,
                "hangup_cause_text": o.hangup_cause_text[:80], "talk_seconds": o.talk_seconds,
                "billsec": o.billsec if end_known else None,
                "short_call": o.short_call,
            }
            if o.note:
                fields["note"] = o.note[:300]
            if o.reconciled:
                fields["reconciled"] = True
            n = Attempt.objects.filter(uid=o.uid).exclude(state=Attempt.State.COMPLETED).update(**fields)
            if not n:
                continue  # already recorded (e.g. by a reconcile that raced the events)
            written += 1
            c = contacts.get(o.contact_id)
            if c is None or c.status != Contact.Status.IN_PROGRESS:
                continue
            # The campaign's retry policy, moved into the next open window of the working
            # hours (campaign's and contact's zone, holidays): services.schedule_next.
            # An ``unknown`` result follows the policy's "unknown" delay (else "failed").
            services.schedule_next(c, o.result, ts(o.ended_at) if end_known else now, campaign=campaign)
            changed.append(c)
        if changed:
            Contact.objects.bulk_update(changed, ["status", "next_attempt_at", "last_result"])
    return written


def inflight_attempts(campaign_id: int) -> list[dict]:
    """Attempts that may still be on the PBX: what reconcile must account for."""
    return list(Attempt.objects.filter(campaign_id=campaign_id, state__in=LIVE_STATES)
                .values("uid", "contact_id", "phone", "state", "created_at", "sent_at", "answered_at",
                        "connected_at", "agent", "dialer"))


def mark_connected(items: list[tuple[str, str, datetime]]) -> None:
    """An agent took these calls: ``(uid, agent interface, when)``. Written as it happens,
    so a dialer that dies mid-call leaves the truth behind for the reconcile of the next
    one (issue 14: bridged calls that ended during a takeover were stored as abandoned)."""
    for uid, agent, when in items:
        Attempt.objects.filter(uid=uid, state__in=LIVE_STATES, connected_at__isnull=True).update(
            connected_at=when, agent=agent[:120])


def settle(lease: Lease, outcomes: list[Outcome], now: datetime) -> int:
    """Outcomes decided by reconcile (``reconcile.settle_gone``), written fenced like any
    other; the attempts are flagged ``reconciled`` and keep the reason in ``note``."""
    return record_outcomes(lease, outcomes, now)


def raise_originate_alarm(lease: Lease, alarm: str, message: str, now: datetime) -> bool:
    """Every Originate of the campaign failed: pause it and keep why (Asterisk's own
    message). Returns False when the campaign was no longer active (nothing changed)."""
    with transaction.atomic():
        fence(lease, now)
        n = Campaign.objects.filter(pk=lease.campaign_id, status=Campaign.Status.ACTIVE).update(
            status=Campaign.Status.PAUSED, alarm=alarm[:40], alarm_message=message[:300], alarm_at=now,
            updated_at=now)
        if n:
            from central.core import audit

            campaign = Campaign.objects.get(pk=lease.campaign_id)
            audit.record("campaign.alarm", organization=campaign.organization, target=campaign,
                         name=campaign.name, alarm=alarm, message=message[:300], dialer=lease.holder)
    if n:
        campaign = Campaign.objects.get(pk=lease.campaign_id)
        services.publish_campaign(campaign)
    return bool(n)
