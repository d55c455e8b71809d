"""Pacing decision (central.dialer.pacing.decide): modes, reasons, fallback, caps."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from central.dialer.pacing import (
    REASONS,
    AbandonStats,
    AgentView,
    DurationModel,
    Estimates,
    PacingError,
    PacingParams,
    PacingSnapshot,
    decide,
)

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free

NOW = 1000.0
NO_ABANDON = AbandonStats(0, 0)


def agents(free=0, talking=(), wrapup=(), paused=0):
    """Agent views; talking/wrapup give each agent's elapsed seconds in that state."""
    out = [AgentView("free", NOW - 30) for _ in range(free)]
    out += [AgentView("talking", NOW - e) for e in talking]
    out += [AgentView("wrapup", NOW - e) for e in wrapup]
    out += [AgentView("paused", NOW - 60) for _ in range(paused)]
    return out


def estimates(
    answer_rate=0.3,
    talk=None,
    theta=0.045,
    abandon=NO_ABANDON,
    answered=300,
    dials=1000,
    observed=3600.0,
):
    return Estimates(
        answer_rate=answer_rate,
        dials=dials,
        answered=answered,
        ring=DurationModel([6.0 + 12.0 * i / 199 for i in range(200)]),  # 6..18 s
        unanswered=DurationModel([4.0] * 20 + [30.0] * 80),
        talk=talk or DurationModel.exponential(90.0),
        wrapup=DurationModel.constant(5.0),
        abandon=abandon,
        theta=theta,
        observed=observed,
    )


def snap(**kw):
    return PacingSnapshot(**kw)


# -- reasons before any mode ------------------------------------------------


def test_inactive_and_outside_hours_place_nothing():
    params = PacingParams(mode="progressive")
    d = decide(snap(agents=agents(free=3), active=False), params, NOW)
    assert (d.calls_to_place, d.reason) == (0, "inactive")
    d = decide(snap(agents=agents(free=3), within_hours=False), params, NOW)
    assert (d.calls_to_place, d.reason) == (0, "outside_hours")
    assert d.message == REASONS["outside_hours"]


def test_preview_never_dials_by_itself():
    d = decide(snap(agents=agents(free=5)), PacingParams(mode="preview"), NOW)
    assert d.calls_to_place == 0
    assert d.reason == "preview" and "prévia" in d.message


def test_no_agents_when_all_paused_or_none():
    params = PacingParams(mode="ratio", ratio=3.0)
    d = decide(snap(agents=agents(paused=4)), params, NOW)
    assert (d.calls_to_place, d.reason) == (0, "no_agents")
    d = decide(snap(agents=[]), params, NOW)
    assert d.reason == "no_agents"


def test_no_contacts_due():
    d = decide(snap(agents=agents(free=2), contacts_due=0), PacingParams(mode="progressive"), NOW)
    assert (d.calls_to_place, d.reason) == (0, "no_contacts")
    assert "contato" in d.message


# -- progressive and ratio ---------------------------------------------------


def test_progressive_one_call_per_free_agent_minus_in_flight():
    params = PacingParams(mode="progressive")
    d = decide(snap(agents=agents(free=3, talking=[10])), params, NOW)
    assert (d.calls_to_place, d.reason) == (3, "dialing")
    assert "progressivo" in d.message
    d = decide(snap(agents=agents(free=3), calls_in_flight=[NOW - 5]), params, NOW)
    assert d.calls_to_place == 2
    d = decide(snap(agents=agents(free=2), calls_in_flight=[NOW - 5], queued=1), params, NOW)
    assert (d.calls_to_place, d.reason) == (0, "covered")
    d = decide(snap(agents=agents(talking=[10, 20])), params, NOW)
    assert (d.calls_to_place, d.reason) == (0, "no_free_agents")


def test_ratio_calls_per_free_agent_minus_in_flight():
    params = PacingParams(mode="ratio", ratio=2.5)
    d = decide(snap(agents=agents(free=2)), params, NOW)
    assert d.calls_to_place == 5
    d = decide(snap(agents=agents(free=2), calls_in_flight=[NOW - 1] * 4), params, NOW)
    assert d.calls_to_place == 1
    d = decide(snap(agents=agents(talking=[5])), params, NOW)
    assert d.reason == "no_free_agents"


def test_channel_cap_counts_in_flight_queued_and_talking():
    params = PacingParams(mode="ratio", ratio=3.0, max_channels=10)
    s = snap(agents=agents(free=3, talking=[5, 6]), calls_in_flight=[NOW - 1] * 2, queued=1)
    d = decide(s, params, NOW)
    # wanted 9 - 3 = 6; channels in use 2 + 1 + 2 talking = 5, room 5
    assert d.details["wanted"] == 6
    assert (d.calls_to_place, d.reason) == (5, "channel_cap")
    assert "channel_cap" in d.notes
    full = replace(params, max_channels=5)
    d = decide(s, full, NOW)
    assert (d.calls_to_place, d.reason) == (0, "channel_cap")
    assert "5 de 5" in d.message


def test_cps_cap_and_contacts_cap():
    params = PacingParams(mode="ratio", ratio=4.0, max_cps=5)
    d = decide(snap(agents=agents(free=3), originated_last_second=2), params, NOW)
    assert (d.calls_to_place, d.reason) == (3, "cps_cap")
    d = decide(snap(agents=agents(free=3), originated_last_second=5), params, NOW)
    assert (d.calls_to_place, d.reason) == (0, "cps_cap")
    d = decide(
        snap(agents=agents(free=3), contacts_due=4), PacingParams(mode="ratio", ratio=4.0), NOW
    )
    assert (d.calls_to_place, d.reason) == (4, "contacts_cap")


# -- predictive ---------------------------------------------------------------


def test_predictive_without_reliable_estimates_falls_back_to_progressive():
    params = PacingParams(mode="predictive")
    d = decide(snap(agents=agents(free=4)), params, NOW)
    assert d.calls_to_place == 4
    assert d.effective_mode == "progressive"
    assert d.reason == "warming_up" and "progressivo" in d.message
    few = estimates(answered=5, dials=20)
    d = decide(snap(agents=agents(free=4), estimates=few), params, NOW)
    assert (d.reason, d.calls_to_place) == ("warming_up", 4)
    assert "5 atendidas de 20" in d.message
    young = estimates(observed=30.0)
    d = decide(snap(agents=agents(free=4), estimates=young), params, NOW)
    assert d.reason == "warming_up"


def test_predictive_abandon_budget_spent_falls_back():
    params = PacingParams(mode="predictive")
    spent = estimates(abandon=AbandonStats(answered=200, abandoned=7))  # 3.5 %
    d = decide(snap(agents=agents(free=4), estimates=spent), params, NOW)
    assert d.reason == "abandon_budget" and d.effective_mode == "progressive"
    assert d.calls_to_place == 4
    assert "3.5%" in d.message and "3.0%" in d.message
    # few answered calls: one abandon is no evidence, keep predicting
    early = estimates(abandon=AbandonStats(answered=20, abandoned=1))
    d = decide(snap(agents=agents(free=4), estimates=early), params, NOW)
    assert d.effective_mode == "predictive"


def test_predictive_over_dials_free_agents_by_about_one_over_answer_rate():
    params = PacingParams(mode="predictive")
    d = decide(snap(agents=agents(free=10), estimates=estimates(answer_rate=0.3)), params, NOW)
    assert d.effective_mode == "predictive" and d.reason == "dialing"
    assert 15 <= d.calls_to_place <= 40  # ~10 / 0.3 = 33 at most
    low = decide(snap(agents=agents(free=10), estimates=estimates(answer_rate=0.15)), params, NOW)
    assert low.calls_to_place > d.calls_to_place
    assert "preditivo" in d.message


def test_predictive_is_never_slower_than_progressive():
    params = PacingParams(mode="predictive")
    tiny = estimates(theta=1e-6)
    d = decide(snap(agents=agents(free=3), estimates=tiny), params, NOW)
    assert d.calls_to_place == 3


def test_predictive_counts_in_flight_calls():
    params = PacingParams(mode="predictive")
    base = decide(snap(agents=agents(free=5), estimates=estimates()), params, NOW)
    busy = decide(
        snap(agents=agents(free=5), calls_in_flight=[NOW - 3] * 10, estimates=estimates()),
        params,
        NOW,
    )
    assert busy.calls_to_place < base.calls_to_place
    assert busy.details["expected_answers"] > 0


def test_agents_about_to_finish_count_as_partly_free():
    # talk times 95-105 s: an agent 100 s into a call is about to finish,
    # one 10 s into a call is not
    talk = DurationModel([95.0 + i / 20 for i in range(200)])
    params = PacingParams(mode="predictive")
    est = estimates(talk=talk, theta=0.2)
    late = decide(snap(agents=agents(talking=[100.0] * 8), estimates=est), params, NOW)
    early = decide(snap(agents=agents(talking=[10.0] * 8), estimates=est), params, NOW)
    assert late.calls_to_place > 0 and late.reason == "dialing"
    assert late.details["expected_free"] > 7
    assert early.calls_to_place == 0 and early.reason == "no_capacity"
    assert early.details["expected_free"] == 0
    # wrap-up agents free within the horizon count fully
    wrap = decide(snap(agents=agents(wrapup=[1.0] * 4), estimates=est), params, NOW)
    assert wrap.calls_to_place > 0


def test_higher_theta_places_more_calls_and_budget_taper_places_fewer():
    params = PacingParams(mode="predictive")
    a = agents(free=2, talking=[30, 60, 90, 120, 150, 20, 40, 80])
    low = decide(snap(agents=a, estimates=estimates(theta=0.01)), params, NOW)
    high = decide(snap(agents=a, estimates=estimates(theta=0.2)), params, NOW)
    assert high.calls_to_place > low.calls_to_place
    roomy = estimates(theta=0.2, abandon=AbandonStats(1000, 5))  # 25 abandons of slack
    tight = estimates(theta=0.2, abandon=AbandonStats(1000, 29))  # 1 left
    d_roomy = decide(snap(agents=a, estimates=roomy), params, NOW)
    d_tight = decide(snap(agents=a, estimates=tight), params, NOW)
    assert d_tight.calls_to_place < d_roomy.calls_to_place
    assert d_tight.details["budget_slack"] == pytest.approx(1.0)


def test_decide_is_pure():
    params = PacingParams(mode="predictive")
    s = snap(
        agents=agents(free=3, talking=[50, 70]), calls_in_flight=[NOW - 2], estimates=estimates()
    )
    first = decide(s, params, NOW)
    second = decide(s, params, NOW)
    assert first == second


def test_invalid_params_and_snapshot_are_rejected_with_a_clear_error():
    with pytest.raises(PacingError, match="mode"):
        PacingParams(mode="turbo")
    with pytest.raises(PacingError, match="ratio"):
        PacingParams(mode="ratio", ratio=0)
    with pytest.raises(PacingError, match="target_abandon"):
        PacingParams(target_abandon=1.5)
    with pytest.raises(PacingError, match="agent state"):
        PacingSnapshot(agents=[AgentView("sleeping", 0.0)])
    with pytest.raises(PacingError, match="queued"):
        PacingSnapshot(agents=[], queued=-1)


# -- durations ------------------------------------------------------------------


def test_duration_model_conditional_probabilities():
    exp = DurationModel.exponential(90.0, n=2000)
    # memoryless: the chance to finish in the next 14 s does not depend on elapsed
    expected = 1 - math.exp(-14 / 90)
    for elapsed in (0.0, 60.0, 200.0, 900.0):
        assert exp.p_within(elapsed, 14.0) == pytest.approx(expected, abs=0.02)
    assert exp.p_within(10.0, 0.0) == 0.0
    fixed = DurationModel.constant(5.0)
    assert fixed.p_within(1.0, 4.0) == 1.0
    assert fixed.p_within(1.0, 3.0) == 0.0
    uniform = DurationModel([float(i) for i in range(1, 101)])
    assert uniform.p_within(50.0, 10.0) == pytest.approx(0.2)
    assert uniform.cdf(25.0) == pytest.approx(0.25)
    assert uniform.quantile(0.5) == 51.0
    with pytest.raises(PacingError):
        DurationModel([])


def test_in_flight_answer_probability_falls_with_elapsed_ring_time():
    est = estimates()
    fresh = est.p_answer_within(0.0, 12.0)
    old = est.p_answer_within(20.0, 12.0)  # past every answered ring time
    assert fresh > 0.1
    assert old == 0.0
