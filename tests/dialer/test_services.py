"""Retry policy application (schedule_next) and callbacks, as the engine and agents use them."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from central.core.models import AuditLog
from central.dialer import services
from tests.dialer import factories

pytestmark = pytest.mark.django_db
SP = ZoneInfo("America/Sao_Paulo")


def test_busy_retries_after_policy_delay(tenants):
    c = factories.contact(tenants["a"], attempts=1, attempts_today=1)
    now = datetime(2026, 11, 24, 10, 0, tzinfo=SP)  # Tuesday
    services.schedule_next(c, "busy", now, save=True)
    c.refresh_from_db()
    assert (c.status, c.last_result) == ("pending", "busy")
    assert c.next_attempt_at == now + timedelta(seconds=600)


def test_answered_is_done_and_max_attempts_fails(tenants):
    now = datetime(2026, 11, 24, 10, 0, tzinfo=SP)
    done = services.schedule_next(factories.contact(tenants["a"], attempts=1), "answered", now)
    assert (done.status, done.next_attempt_at) == ("done", None)
    camp = factories.campaign(tenants["a"], max_attempts=3)
    spent = services.schedule_next(factories.contact(tenants["a"], camp, attempts=3), "no_answer", now)
    assert (spent.status, spent.next_attempt_at) == ("failed", None)
    own_limit = services.schedule_next(factories.contact(tenants["a"], camp, attempts=3, max_attempts=5),
                                       "no_answer", now)
    assert own_limit.status == "pending"


def test_retry_outside_hours_moves_to_next_window(tenants):
    camp = factories.campaign(tenants["a"])
    c = factories.contact(tenants["a"], camp, attempts=1, attempts_today=1)
    now = datetime(2026, 11, 24, 19, 50, tzinfo=SP)  # no answer +30 min = 20:20, closed
    services.schedule_next(c, "no_answer", now)
    assert c.next_attempt_at == datetime(2026, 11, 25, 9, 0, tzinfo=SP)
    acre = factories.contact(tenants["a"], camp, attempts=1, attempts_today=1, timezone="America/Rio_Branco",
                             phone="+5568999991234")
    services.schedule_next(acre, "busy", datetime(2026, 11, 24, 8, 0, tzinfo=SP))
    assert acre.next_attempt_at == datetime(2026, 11, 24, 11, 0, tzinfo=SP)  # 09:00 in Acre


def test_daily_cap_moves_to_tomorrow(tenants):
    camp = factories.campaign(tenants["a"], max_attempts=10, max_attempts_per_day=2)
    c = factories.contact(tenants["a"], camp, attempts=2, attempts_today=2)
    services.schedule_next(c, "busy", datetime(2026, 11, 24, 10, 0, tzinfo=SP))
    assert c.next_attempt_at == datetime(2026, 11, 25, 9, 0, tzinfo=SP)


def test_dnc_contact_stays_dnc(tenants):
    c = factories.contact(tenants["a"], status="dnc", attempts=1)
    services.schedule_next(c, "busy", datetime(2026, 11, 24, 10, 0, tzinfo=SP))
    assert (c.status, c.next_attempt_at) == ("dnc", None)


def test_schedule_callback_service(tenants):
    c = factories.contact(tenants["a"], status="done")
    when = datetime(2026, 11, 30, 15, 0, tzinfo=SP)
    cb = services.schedule_callback(c, when, agent="PJSIP/2001", user=tenants["artur"])
    c.refresh_from_db()
    assert (c.status, c.next_attempt_at) == ("pending", when)
    assert cb.campaign_id == c.campaign_id
    assert AuditLog.objects.filter(action="dialer.callback.create", actor_name="artur").exists()
    with pytest.raises(services.CampaignActionError):
        services.schedule_callback(factories.contact(tenants["a"], status="dnc"), when)


def test_counts_by_status(tenants):
    camp = factories.campaign(tenants["a"])
    for status in ("pending", "pending", "done", "dnc"):
        factories.contact(tenants["a"], camp, status=status)
    counts = services.counts_by_status(camp)
    assert counts["pending"] == 2 and counts["done"] == 1 and counts["dnc"] == 1 and counts["failed"] == 0
