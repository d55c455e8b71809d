"""Campaign leases: which ``central dialer`` process runs a campaign, until when.

A lease is one ``CampaignLease`` row per campaign. Its holder renews it every
``RENEW_EVERY`` seconds for ``TTL`` more; if the holder dies, the row expires and any
other dialer takes it on its next pass (within ``TTL + RENEW_EVERY`` = 20 s, under the
issue's 30 s). Each takeover increments ``generation``: every write the engine makes for
a campaign first locks the lease row and checks holder *and* generation
(:func:`fence`), so a process that was paused (GC, a frozen VM) and wakes up after its
lease was taken has its writes refused instead of dialing in parallel with the new holder.

All changes are single conditional ``UPDATE`` statements (compare-and-set on
``expires_at``/``generation``), atomic on PostgreSQL and SQLite alike: no lock is held
between two statements, nothing home-made (DESIGN: "leases with expiry").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction

from central.dialer.models import CampaignLease

__all__ = ["RENEW_EVERY", "TTL", "Lease", "LeaseLost", "acquire", "fence", "release", "renew"]

TTL = 15.0
RENEW_EVERY = 5.0


class LeaseLost(Exception):
    """This process no longer holds the campaign's lease: stop dialing it."""


@dataclass(frozen=True, slots=True)
class Lease:
    campaign_id: int
    holder: str
    generation: int
    expires_at: datetime


def acquire(campaign_id: int, holder: str, now: datetime, ttl: float = TTL) -> Lease | None:
    """Take the lease if it is free, expired or already ours; None if someone else holds it."""
    expires = now + timedelta(seconds=ttl)
    row = CampaignLease.objects.filter(campaign_id=campaign_id).values("holder", "generation", "expires_at").first()
    if row is None:
        try:
            with transaction.atomic():
                CampaignLease.objects.create(campaign_id=campaign_id, holder=holder, expires_at=expires,
                                             acquired_at=now, generation=1)
        except IntegrityError:
            return None  # another dialer created it first
        return Lease(campaign_id, holder, 1, expires)
    if row["holder"] == holder and row["expires_at"] > now:
        lease = Lease(campaign_id, holder, row["generation"], row["expires_at"])
        return renew(lease, now, ttl)
    if row["expires_at"] > now:
        return None
    # Expired: compare-and-set on the generation we read, so two dialers racing for it
    # cannot both win.
    gen = row["generation"] + 1
    taken = CampaignLease.objects.filter(
        campaign_id=campaign_id, generation=row["generation"], expires_at__lte=now
    ).update(holder=holder, generation=gen, expires_at=expires, acquired_at=now)
    return Lease(campaign_id, holder, gen, expires) if taken else None


def renew(lease: Lease, now: datetime, ttl: float = TTL) -> Lease | None:
    """Extend our lease; None if it was taken over meanwhile (generation moved on)."""
    expires = now + timedelta(seconds=ttl)
    n = CampaignLease.objects.filter(
        campaign_id=lease.campaign_id, holder=lease.holder, generation=lease.generation
    ).update(expires_at=expires)
    return Lease(lease.campaign_id, lease.holder, lease.generation, expires) if n else None


def release(lease: Lease, now: datetime) -> None:
    """Give the campaign up now (paused campaign, clean shutdown): others may take it."""
    CampaignLease.objects.filter(
        campaign_id=lease.campaign_id, holder=lease.holder, generation=lease.generation
    ).update(expires_at=now)


def fence(lease: Lease, now: datetime) -> None:
    """Inside a transaction: claim the lease row for writing and check it is still ours.

    A no-op conditional ``UPDATE`` rather than ``SELECT ... FOR UPDATE``: on PostgreSQL it
    row-locks the lease like FOR UPDATE (a concurrent takeover waits until our transaction
    ends, so the check stays true for the writes that follow); on SQLite it makes the
    transaction a writer at its first statement, so it cannot fail later with "database
    is locked" when upgrading from a read. Raises :class:`LeaseLost` when not ours.
    """
    n = CampaignLease.objects.filter(
        campaign_id=lease.campaign_id, holder=lease.holder, generation=lease.generation,
        expires_at__gt=now,
    ).update(holder=lease.holder)
    if not n:
        raise LeaseLost(f"campaign {lease.campaign_id}: lease generation {lease.generation} "
                        f"no longer held by {lease.holder}")
