"""Campaign leases: expiry, takeover within 30 s, generation fencing of stale holders."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from central.dialer import claims, leases
from central.dialer.core import Outcome
from tests.dialer.engine_support import make_campaign, make_contacts, phones

T0 = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)


@pytest.fixture
def campaign(db):
    from central.core.models import Organization

    org = Organization.objects.create(name="L", slug="l")
    c = make_campaign(org)
    make_contacts(c, phones(20))
    return c


def test_acquire_hold_expire_take_over(campaign):
    a = leases.acquire(campaign.id, "A", T0)
    assert a is not None and a.generation == 1
    assert leases.acquire(campaign.id, "B", T0 + timedelta(seconds=10)) is None  # A holds it
    a = leases.renew(a, T0 + timedelta(seconds=5))
    assert a is not None
    # A dies after renewing at t=5: its lease runs to t=20
    assert leases.acquire(campaign.id, "B", T0 + timedelta(seconds=19.9)) is None
    b = leases.acquire(campaign.id, "B", T0 + timedelta(seconds=20))
    assert b is not None and b.generation == 2 and b.holder == "B"
    assert leases.renew(a, T0 + timedelta(seconds=21)) is None  # A woke up: refused


def test_takeover_bound_with_default_timings_is_under_30_s():
    # The holder renews every RENEW_EVERY for TTL; it dies right after a renewal; the
    # others poll every RENEW_EVERY: worst case TTL + RENEW_EVERY after the death.
    assert leases.TTL + leases.RENEW_EVERY <= 30.0
    assert leases.RENEW_EVERY * 2 < leases.TTL  # one missed renewal does not lose the lease


def test_stale_holder_writes_are_refused(campaign):
    a = leases.acquire(campaign.id, "A", T0, ttl=15)
    claimed = claims.claim(a, 2, T0, "A")
    assert len(claimed.attempts) == 2
    later = T0 + timedelta(seconds=16)
    b = leases.acquire(campaign.id, "B", later)
    assert b.generation == 2
    with pytest.raises(leases.LeaseLost):
        claims.claim(a, 2, later, "A")
    done = Outcome(uid=claimed.attempts[0].uid, campaign_id=campaign.id, contact_id=claimed.attempts[0].contact_id,
                   result="busy", dialed_at=T0.timestamp(), ended_at=later.timestamp())
    with pytest.raises(leases.LeaseLost):
        claims.record_outcomes(a, [done], later)
    with pytest.raises(leases.LeaseLost):
        leases.fence(a, later)
    # same holder name but an old generation is stale too (a restarted process)
    with pytest.raises(leases.LeaseLost):
        leases.fence(leases.Lease(campaign.id, "B", 1, later), later)
    assert claims.record_outcomes(b, [done], later) == 1


def test_release_lets_another_take_at_once(campaign):
    a = leases.acquire(campaign.id, "A", T0)
    leases.release(a, T0 + timedelta(seconds=1))
    b = leases.acquire(campaign.id, "B", T0 + timedelta(seconds=1))
    assert b is not None and b.generation == 2


@pytest.mark.django_db(transaction=True)
def test_racing_takeovers_only_one_wins():
    from django.db import connection

    from central.core.models import Organization

    org = Organization.objects.create(name="R", slug="r")
    c = make_campaign(org)
    leases.acquire(c.id, "dead", T0, ttl=1)
    later = T0 + timedelta(seconds=5)
    won: list = []
    barrier = threading.Barrier(4)

    def contender(name):
        try:
            barrier.wait()
            lease = None
            for _ in range(20):
                try:
                    lease = leases.acquire(c.id, name, later)
                    break
                except Exception:  # SQLite busy under four writers: try again
                    continue
            if lease is not None:
                won.append(lease)
        finally:
            connection.close()

    threads = [threading.Thread(target=contender, args=(f"P{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and won[0].generation == 2
