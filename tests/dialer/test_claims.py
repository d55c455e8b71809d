"""Claiming contacts: never the same contact twice, DNC/caps/hours checked at dial time."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from central.dialer import claims, leases
from tests.dialer.engine_support import make_campaign, make_contacts, phones

T0 = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)  # Wednesday 14:00 in São Paulo


@pytest.fixture
def org(db):
    from central.core.models import Organization

    return Organization.objects.create(name="C", slug="c")


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_pick_the_same_contact():
    from django.db import connection

    from central.core.models import Organization
    from central.dialer.models import Attempt, Contact

    org = Organization.objects.create(name="Par", slug="par")
    c = make_campaign(org)
    make_contacts(c, phones(120))
    lease = leases.acquire(c.id, "A", T0, ttl=60)
    got: list[list[int]] = [[] for _ in range(4)]
    barrier = threading.Barrier(4)
    errors: list[str] = []

    def worker(i):
        try:
            barrier.wait()
            for _ in range(6):
                for _attempt in range(500):
                    try:
                        res = claims.claim(lease, 5, T0, f"w{i}")
                        break
                    except Exception as exc:  # SQLite busy: writers are serialised, try again
                        errors.append(exc)
                        time.sleep(0.01)
                        continue
                got[i].extend(a.contact_id for a in res.attempts)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [cid for g in got for cid in g]
    assert len(every) == 120 and len(set(every)) == 120
    assert Attempt.objects.filter(campaign=c).count() == 120
    assert not Contact.objects.filter(campaign=c, status="pending").exists()


def test_claim_writes_attempts_before_anything_is_sent(org):
    from central.dialer.models import Attempt, Contact

    c = make_campaign(org)
    make_contacts(c, phones(3))
    lease = leases.acquire(c.id, "A", T0)
    res = claims.claim(lease, 2, T0, "A", "progressive")
    assert len(res.attempts) == 2
    rows = Attempt.objects.filter(uid__in=[a.uid for a in res.attempts])
    assert {r.state for r in rows} == {"created"} and {r.dialer for r in rows} == {"A"}
    assert Contact.objects.filter(status="in_progress").count() == 2
    assert Contact.objects.get(id=res.attempts[0].contact_id).attempts == 1


def test_dnc_exhausted_and_daily_cap(org):
    from central.dialer.models import Contact, DoNotCall

    c = make_campaign(org, max_attempts=2, max_attempts_per_day=1)
    nums = phones(4)
    cs = make_contacts(c, nums)
    DoNotCall.objects.create(organization=org, phone=nums[0])
    Contact.objects.filter(id=cs[1].id).update(attempts=2)
    Contact.objects.filter(id=cs[2].id).update(attempts=1, attempts_today=1, attempts_day=T0.date())
    lease = leases.acquire(c.id, "A", T0)
    res = claims.claim(lease, 10, T0, "A")
    assert [a.phone for a in res.attempts] == [nums[3]]
    assert (res.dnc, res.exhausted, res.deferred) == (1, 1, 1)
    by_phone = {x.phone: x for x in Contact.objects.filter(campaign=c)}
    assert by_phone[nums[0]].status == "dnc"
    assert by_phone[nums[1]].status == "failed"
    deferred = by_phone[nums[2]]
    assert deferred.status == "pending"
    assert deferred.next_attempt_at == datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # next local midnight


def test_contact_outside_its_own_hours_is_deferred(org):
    from central.dialer.models import Contact

    c = make_campaign(org, working_hours={"wed": [["09:00", "20:00"]]})
    nums = phones(2)
    make_contacts(c, nums[:1])
    make_contacts(c, nums[1:], timezone="Asia/Tokyo")  # 02:00 there
    lease = leases.acquire(c.id, "A", T0)
    res = claims.claim(lease, 5, T0, "A")
    assert [a.phone for a in res.attempts] == [nums[0]]
    assert Contact.objects.get(phone=nums[1]).next_attempt_at == T0 + claims.CONTACT_HOURS_RETRY


def test_holidays_and_hours(org):
    c = make_campaign(org, working_hours={"wed": [["09:00", "20:00"]], "fri": [["09:00", "20:00"]]},
                      respect_holidays=True)
    assert claims.campaign_within_hours(c, T0)
    assert not claims.campaign_within_hours(c, T0 + timedelta(hours=7))  # 21:00 local
    christmas = datetime(2026, 12, 25, 15, 0, tzinfo=UTC)  # a Friday, national holiday
    assert not claims.campaign_within_hours(c, christmas)
    c.respect_holidays = False
    assert claims.campaign_within_hours(c, christmas)
