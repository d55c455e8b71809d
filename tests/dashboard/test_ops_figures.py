"""The overview's figure cores and alarm rules, sans-I/O with a fake clock."""

from __future__ import annotations

import pytest

from central.dashboard import figures as f

pytestmark = pytest.mark.backend_free

NOW = 1_800_000_000.0


def test_service_level_is_answered_within_over_offered():
    # 8 answered within 20 s, 2 answered later, 2 abandoned: 8 / 12 (ServicelevelPerf2).
    assert f.service_level(8, 10, 2) == pytest.approx(8 / 12)
    assert f.service_level(0, 0, 3) == 0.0
    assert f.service_level(0, 0, 0) is None  # no call yet: no figure, not 100 %


def test_longest_wait_runs_from_the_oldest_join():
    assert f.longest_wait([NOW - 5, None, NOW - 42, NOW - 1], NOW) == (42, NOW - 42)
    assert f.longest_wait([], NOW) == (0.0, None)
    # Ten seconds later on the same callers: the clock ran.
    assert f.longest_wait([NOW - 42], NOW + 10)[0] == 52


@pytest.mark.parametrize(("rate", "level"), [(None, "ok"), (0.0, "ok"), (0.02, "ok"), (0.024, "near"),
                                             (0.03, "near"), (0.0301, "over"), (0.25, "over")])
def test_abandonment_against_a_3_percent_cap(rate, level):
    assert f.abandon_level(rate, 0.03) == level


def test_agents_count_once_across_queues_busiest_state_wins():
    members = [
        {"queue": "sales", "interface": "PJSIP/2001", "availability": "free"},
        {"queue": "support", "interface": "PJSIP/2001", "availability": "in_call"},
        {"queue": "sales", "interface": "PJSIP/2002", "availability": "paused"},
        {"queue": "sales", "interface": "PJSIP/2003", "availability": "unavailable"},
    ]
    counts, state = f.agents_by_state(members)
    assert state == {"PJSIP/2001": "in_call", "PJSIP/2002": "paused", "PJSIP/2003": "unavailable"}
    assert counts["in_call"] == 1 and counts["paused"] == 1 and counts["free"] == 0
    assert counts["logged"] == 2  # unavailable is not logged in


def _campaign(**kw):
    base = {"id": 7, "name": "Cobrança", "cap": 0.03, "answered_1h": 40, "abandoned_1h": 0,
            "answered_today": 100, "abandoned_today": 1, "engine": {
                "agents": {"logged": 4, "free": 1}, "calls_in_progress": 6, "reason": "dialing"}}
    base.update(kw)
    return base


def test_campaign_row_dial_level_and_levels():
    row = f.campaign_row(_campaign())
    assert row["dial_level"] == 1.5 and not row["stopped"]
    assert row["level_1h"] == "ok" and row["level_today"] == "ok"
    over = f.campaign_row(_campaign(abandoned_1h=10))  # 25 % with a 3 % cap
    assert over["abandon_level"] == "over" and over["level_1h"] == "over"


def test_alarm_rules():
    campaigns = [f.campaign_row(c) for c in (
        _campaign(id=1, name="Acima", abandoned_1h=10),
        _campaign(id=2, name="Sem agentes", engine={"agents": {"logged": 0}, "reason": "no_agents"}),
        _campaign(id=3, name="Sem discador", engine={}),
        _campaign(id=4, name="Recusada", alarm={"code": "originate_failing"}),
        _campaign(id=5, name="Normal"),
    )]
    queues = f.queue_rows([], [{"state": "queued", "queue": "sales", "queued_at": NOW - 90},
                               {"state": "queued", "queue": "vip", "queued_at": NOW - 10}], {}, NOW)
    servers = [{"id": 1, "name": "principal", "status": "disconnected", "status_detail": "Connection refused"},
               {"id": 2, "name": "filial", "status": "connected"}]
    out = f.alarms(campaigns, queues, servers, max_wait_s=60)
    codes = [(a.code, a.key) for a in out]
    assert codes == [
        ("pbx_down", "pbx-1"), ("abandon_over_cap", "campaign-1"), ("campaign_refused", "campaign-4"),
        ("campaign_stopped", "campaign-2"), ("campaign_stopped", "campaign-3"), ("queue_wait", "queue-sales"),
    ]
    stopped = {a.params["campaign"]: a.params["reason"] for a in out if a.code == "campaign_stopped"}
    assert stopped == {"Sem agentes": "no_agents", "Sem discador": "no_dialer"}
    assert out[1].params["rate"] == 0.25 and out[1].params["cap"] == 0.03


def test_queue_wait_alarm_appears_as_the_clock_runs():
    calls = [{"state": "queued", "queue": "sales", "queued_at": NOW - 30}]
    assert not f.alarms([], f.queue_rows([], calls, {}, NOW), [], max_wait_s=60)
    later = f.queue_rows([], calls, {}, NOW + 31)
    assert [a.code for a in f.alarms([], later, [], max_wait_s=60)] == ["queue_wait"]


def test_queue_rows_figures():
    members = [{"queue": "sales", "interface": "a", "availability": "free"},
               {"queue": "sales", "interface": "b", "availability": "paused"}]
    calls = [{"state": "queued", "queue": "sales", "queued_at": NOW - 12},
             {"state": "up", "queue": "sales", "queued_at": None}]
    today = {"sales": {"answered": 9, "abandoned": 1, "within": 8}, "old": {"answered": 1, "abandoned": 0, "within": 1}}
    rows = {r["queue"]: r for r in f.queue_rows(members, calls, today, NOW)}
    sales = rows["sales"]
    assert sales["waiting"] == 1 and sales["longest_wait_s"] == 12 and sales["oldest_since"] == NOW - 12
    assert sales["service_level"] == pytest.approx(0.8) and sales["abandoned_today"] == 1
    assert sales["agents"]["free"] == 1 and sales["agents"]["paused"] == 1
    assert rows["old"]["waiting"] == 0  # a queue with calls today and nobody now still shows


def test_build_is_bounded():
    calls = [{"state": "queued", "queue": f"q{i:02}", "queued_at": NOW - i} for i in range(40)]
    out = f.build(campaigns=[_campaign(id=i, name=str(i)) for i in range(30)],
                  live={"members": [], "calls": calls, "servers": []},
                  records={"totals": {"calls": 5}, "queues": {}}, max_wait_s=60, service_level_s=20, now=NOW)
    assert len(out["queues"]) == f.MAX_ROWS and out["queues_more"] == 40 - f.MAX_ROWS
    assert len(out["campaigns"]) == f.MAX_ROWS and out["campaigns_more"] == 30 - f.MAX_ROWS
    assert out["calls"]["waiting"] == 40 and out["calls"]["longest_wait_s"] == 39
    assert out["today"] == {"calls": 5, "answered": 0, "abandoned": 0, "talk_s": 0}
