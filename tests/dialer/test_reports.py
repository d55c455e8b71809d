"""Dialer reports: SQL aggregations per day and hour in the tenant's zone, on a dataset whose
figures are known by hand (runs on SQLite and on PostgreSQL), the page, and tenants."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from central.dialer import reports
from central.dialer.models import Attempt
from central.dialer.reports import ReportQuery
from tests.dialer import factories

pytestmark = pytest.mark.django_db

SP = ZoneInfo("America/Sao_Paulo")


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """March ``day`` 2026, local São Paulo time (UTC-3)."""
    return datetime(2026, 3, day, hour, minute, second, tzinfo=SP)


def _attempt(org, camp, created: datetime, result: str, *, agent: str = "", talk: float | None = None,
             connected: datetime | None = None, short: bool = False) -> Attempt:
    contact = factories.contact(org, camp)
    ended = (connected + timedelta(seconds=talk)) if connected and talk is not None else created
    return factories.attempt(org, contact, created_at=created, result=result, agent=agent, talk_seconds=talk,
                             connected_at=connected, ended_at=ended, short_call=short,
                             state="completed" if result else "ringing")


@pytest.fixture
def dataset(tenants):
    """Campaign "Março" of tenant A over March 10-11 (local), plus noise that must not count."""
    org = tenants["a"]
    camp = factories.campaign(org, name="Março", max_abandon_rate=0.05)
    other_camp = factories.campaign(org, name="Outra")
    # March 10: agent 2001 talks 60 s at 10:00 and 120 s at 10:09 (span 10:00-10:11 = 660 s)
    _attempt(org, camp, at(10, 9, 59), "answered", agent="PJSIP/2001", talk=60, connected=at(10, 10, 0))
    _attempt(org, camp, at(10, 10, 8), "answered", agent="PJSIP/2001", talk=120, connected=at(10, 10, 9))
    _attempt(org, camp, at(10, 10, 30), "answered", agent="PJSIP/2002", talk=6, connected=at(10, 10, 31), short=True)
    _attempt(org, camp, at(10, 10, 40), "abandoned")
    _attempt(org, camp, at(10, 11, 0), "busy")
    _attempt(org, camp, at(10, 11, 5), "busy")
    _attempt(org, camp, at(10, 11, 10), "no_answer")
    # 23:30 local on March 10 is 02:30 UTC on March 11: it belongs to the 10th, hour 23
    _attempt(org, camp, at(10, 23, 30), "no_answer")
    # March 11
    _attempt(org, camp, at(11, 9, 0), "answered", agent="PJSIP/2002", talk=100, connected=at(11, 9, 1))
    _attempt(org, camp, at(11, 9, 30), "failed")
    _attempt(org, camp, at(11, 9, 45), "")  # still ringing
    # the previous period (March 8-9) for the comparison
    _attempt(org, camp, at(9, 12, 0), "answered", agent="PJSIP/2001", talk=50, connected=at(9, 12, 0))
    _attempt(org, camp, at(8, 12, 0), "busy")
    # noise: another campaign, another tenant, outside the range
    _attempt(org, other_camp, at(10, 10, 0), "answered", agent="PJSIP/2003", talk=500, connected=at(10, 10, 0))
    _attempt(tenants["b"], factories.campaign(tenants["b"]), at(10, 10, 0), "abandoned")
    _attempt(org, camp, at(12, 0, 0), "answered", agent="PJSIP/2001", talk=999, connected=at(12, 0, 0))
    factories.contact(org, camp, status="pending")
    return {"org": org, "camp": camp, "other": other_camp}


def _q(camp, **kw) -> ReportQuery:
    return ReportQuery(since=date(2026, 3, 10), until=date(2026, 3, 11), campaign_id=camp.pk, **kw)


def test_totals_of_the_known_dataset(dataset):
    t = reports.totals(dataset["org"].pk, _q(dataset["camp"]), SP)
    assert t["by_result"] == {"answered": 4, "abandoned": 1, "no_answer": 2, "busy": 2, "congestion": 0,
                              "failed": 1, "unknown": 0}
    assert (t["attempts"], t["ended"], t["in_progress"]) == (11, 10, 1)
    assert t["answer_rate"] == pytest.approx(5 / 10)  # answered + abandoned over ended
    assert t["abandon_rate"] == pytest.approx(1 / 5)  # abandoned over customer-answered (pacing's rule)
    assert t["aht"] == pytest.approx((60 + 120 + 6 + 100) / 4)
    assert t["short_calls"] == 1


def test_days_and_hours_are_the_tenant_zone(dataset):
    org, camp = dataset["org"], dataset["camp"]
    days = reports.series(org.pk, _q(camp), SP)
    assert days["labels"] == ["10/03", "11/03"]
    assert days["counts"]["no_answer"] == [2, 0]  # the 23:30 call stays on the 10th
    assert days["counts"]["answered"] == [3, 1] and days["counts"]["failed"] == [0, 1]
    assert days["answer_rate"] == [50.0, 50.0]  # 4 of 8 ended on the 10th, 1 of 2 on the 11th
    assert days["abandon_rate"] == [25.0, 0.0]
    assert days["aht"] == [62.0, 100.0]
    hours = reports.series(org.pk, _q(camp, grain="hour"), SP)
    assert len(hours["labels"]) == 48 and hours["labels"][23] == "10/03 23h"
    assert hours["counts"]["no_answer"][23] == 1 and hours["counts"]["no_answer"][11] == 1
    assert hours["counts"]["answered"][9] == 1 and hours["counts"]["answered"][10] == 2
    assert hours["counts"]["answered"][24 + 9] == 1
    assert hours["answer_rate"][0] is None  # no call at midnight: a gap, not 0 %


def test_agents_talk_average_and_occupancy(dataset):
    rows = {a["interface"]: a for a in reports.agents(dataset["org"].pk, _q(dataset["camp"]), SP)}
    assert set(rows) == {"PJSIP/2001", "PJSIP/2002"}
    a1 = rows["PJSIP/2001"]
    assert (a1["calls"], a1["talk"], a1["aht"]) == (2, 180.0, 90.0)
    assert a1["occupancy"] == pytest.approx(180 / 660)  # 10:00 -> 10:11 on the 10th
    a2 = rows["PJSIP/2002"]
    # one call each day: 6 s over 6 s and 100 s over 100 s
    assert (a2["calls"], a2["talk"], a2["occupancy"]) == (2, 106.0, 1.0)


def test_comparison_with_the_period_before(dataset):
    report = reports.build(dataset["org"].pk, _q(dataset["camp"], compare=True), SP)
    prev = report["previous"]
    assert (prev["query"].since, prev["query"].until) == (date(2026, 3, 8), date(2026, 3, 9))
    assert prev["totals"]["attempts"] == 2 and prev["totals"]["answer_rate"] == pytest.approx(0.5)
    assert prev["series"]["labels"] == ["08/03", "09/03"]
    assert report["contacts"]["pending"] >= 1


def test_all_campaigns_has_a_row_per_campaign(dataset):
    q = ReportQuery(since=date(2026, 3, 10), until=date(2026, 3, 11))
    rows = {r["name"]: r for r in reports.campaign_rows(dataset["org"].pk, q, SP)}
    assert set(rows) == {"Março", "Outra"}  # tenant B's campaign is not there
    assert rows["Março"]["attempts"] == 11 and rows["Outra"]["attempts"] == 1
    assert rows["Março"]["remaining"] >= 1


def test_the_range_is_bounded_and_checked():
    today = date(2026, 3, 31)
    q = ReportQuery.from_query({"since": "2020-01-01", "until": "2026-03-31", "grain": "hour"}, today, set())
    assert q.days == reports.MAX_DAYS and q.grain == "day" and len(q.errors) == 2
    q = ReportQuery.from_query({"range": "30"}, today, set())
    assert (q.since, q.until, q.grain) == (date(2026, 3, 2), today, "day")
    q = ReportQuery.from_query({"range": "1"}, today, set())
    assert q.grain == "hour" and q.days == 1
    q = ReportQuery.from_query({"campaign": "77", "since": "ontem"}, today, {5})
    assert q.campaign_id is None and len(q.errors) == 2


def test_page_in_portuguese_numbers_and_tenant_scoped(client, tenants, dataset):
    camp = dataset["camp"]
    contact = factories.contact(dataset["org"], camp)
    Attempt.objects.bulk_create([
        Attempt(organization=dataset["org"], campaign=camp, contact=contact,
                phone="+5511900000000", uid=f"bulk-{i}", created_at=at(11, 12, 0), result="busy",
                state="completed") for i in range(1200)])
    client.force_login(tenants["alice"])
    html = client.get("/dialer/reports/", {"campaign": camp.pk, "since": "2026-03-10", "until": "2026-03-11",
                                           "compare": "1"}).content.decode()
    assert re.search(r'data-testid="kpi-attempts">1\.211<', html)  # pt-BR thousands separator
    assert re.search(r'data-testid="kpi-abandon">20,0%<', html)
    assert "over-cap" in html  # 20 % against the campaign's 5 % cap
    assert re.search(r'data-testid="kpi-aht">1:12<', html)
    assert 'id="report-chart"' in html and "chart.umd.min.js" in html and "cdn" not in html.lower()
    assert "Comparação de períodos" in html and "+1.209" in html
    # tenant B's owner cannot read A's campaign: the id is refused, B's own (empty) figures shown
    client.force_login(tenants["bob"])
    other = client.get("/dialer/reports/", {"campaign": camp.pk}).content.decode()
    assert "Campanha não encontrada" in other and "Março" not in other
    assert client.get("/dialer/reports/", HTTP_X_ORGANIZATION=str(tenants["a"].pk)).status_code == 404


def test_times_in_utc_boundaries_are_not_shifted(tenants):
    """A tenant in Manaus (UTC-4): 22:30 local on the 10th is 02:30 UTC on the 11th."""
    org = tenants["a"]
    camp = factories.campaign(org)
    manaus = ZoneInfo("America/Manaus")
    _attempt(org, camp, datetime(2026, 3, 11, 2, 30, tzinfo=UTC), "busy")
    days = reports.series(org.pk, ReportQuery(since=date(2026, 3, 10), until=date(2026, 3, 11),
                                              campaign_id=camp.pk), manaus)
    assert days["counts"]["busy"] == [1, 0]
