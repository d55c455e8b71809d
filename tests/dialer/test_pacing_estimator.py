"""PacingEstimator: live statistics and the abandonment controller, fed with times."""

from __future__ import annotations

import math

import pytest

from central.dialer.pacing import PacingEstimator

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free


def test_answer_rate_and_ring_time_from_results():
    est = PacingEstimator()
    for i in range(100):
        est.dialed(float(i))
        if i % 4 == 0:
            est.call_result(float(i) + 10, "answered", 10.0)
        elif i % 4 == 1:
            est.call_result(float(i) + 3, "busy", 3.0)
        else:
            est.call_result(float(i) + 30, "noanswer", 30.0)
    recent = est.estimates(100.0)
    assert recent.dial_rate == pytest.approx(59 / 60.0)  # dials 41..99 in the last 60 s
    e = est.estimates(200.0)
    assert e.dial_rate == 0.0
    assert e.answer_rate == pytest.approx(0.25)
    assert (e.dials, e.answered, e.total_dials) == (100, 25, 100)
    assert e.ring.mean == pytest.approx(10.0)
    assert e.observed == pytest.approx(200.0)
    # a call ringing 5 s may still be answered at 10 s; one ringing 15 s never will
    assert e.p_answer_within(5.0, 6.0) > 0.25
    assert e.p_answer_within(15.0, 10.0) == 0.0
    # other spellings are understood; unknown labels are counted, never raised
    est.call_result(300.0, "no_answer", 30.0)
    est.call_result(300.0, "abandoned", 9.0)
    est.call_result(300.0, "maybe", 1.0)
    assert est.unknown_results == {"maybe": 1}
    e = est.estimates(400.0)
    assert (e.dials, e.answered) == (103, 26)


def test_abandonment_windows_today_and_rolling():
    est = PacingEstimator()
    # 100 answered calls two hours ago with 10 abandoned, 50 in the last hour with 1
    for i in range(100):
        est.queue_result(i * 10.0, abandoned=i < 10)
    for i in range(50):
        est.queue_result(7200.0 + i * 10.0, abandoned=i == 0)
    now = 7200.0 + 600.0
    hour = est.abandonment(now, 3600.0)
    day = est.abandonment(now, 86400.0)
    assert (hour.answered, hour.abandoned) == (50, 1)
    assert hour.rate == pytest.approx(0.02)
    assert (day.answered, day.abandoned) == (150, 11)
    today = est.abandonment_since(500.0, now)  # e.g. local midnight at t=500
    assert (today.answered, today.abandoned) == (49 + 50, 1)
    two_hours = est.abandonment(now, 7200.0)  # not a kept window: scanned
    assert (two_hours.answered, two_hours.abandoned) == (39 + 50, 1)  # t > 600
    # 24 h later everything has left the windows
    assert est.abandonment(now + 86400.0, 86400.0).answered == 0


def test_controller_lowers_theta_on_abandon_and_raises_it_on_connects():
    est = PacingEstimator(theta=0.05)
    est.queue_result(1.0, abandoned=True)
    after_abandon = est.theta
    assert after_abandon < 0.05
    for i in range(20):
        est.queue_result(2.0 + i, abandoned=False)
    assert est.theta > after_abandon
    # calls placed by a progressive fallback do not move it (no wind-up)
    frozen = est.theta
    for i in range(50):
        est.queue_result(100.0 + i, abandoned=False, predictive=False)
    assert est.theta == frozen


def test_controller_converges_to_the_setpoint_rate():
    """At exactly the setpoint rate, theta does not drift."""
    est = PacingEstimator(theta=0.05, target_abandon=0.03, setpoint_share=1.0, setpoint_cap=1.0)
    # 3 abandons per 100 answered, spread out
    for i in range(1000):
        est.queue_result(float(i), abandoned=i % 100 in (10, 50, 90))
    assert est.theta == pytest.approx(0.05, rel=0.1)
    # well above target: theta falls hard
    for i in range(200):
        est.queue_result(2000.0 + i, abandoned=i % 5 == 0)
    assert est.theta < 0.01


def test_talk_time_early_in_the_day_accounts_for_calls_still_in_progress():
    est = PacingEstimator()
    # 10 agents connected at t=0; at t=60 two short calls (10 s) ended, eight go on
    for _ in range(10):
        est.queue_result(0.0, abandoned=False)
    est.talk_ended(10.0, 10.0)
    est.talk_ended(10.0, 10.0)
    e = est.estimates(60.0)
    # samples alone say 10 s; the censored estimate is (20 + 8 * 60) / 2 = 250 s
    assert e.talk.mean == pytest.approx(250.0, rel=0.05)
    assert e.talk.p_within(30.0, 14.0) == pytest.approx(1 - math.exp(-14 / 250), abs=0.03)


def test_short_calls_are_counted_for_the_anatel_guard():
    est = PacingEstimator(short_call_seconds=6.0)
    for t, talk in [(10.0, 3.0), (20.0, 6.0), (30.0, 7.0), (40.0, 120.0)]:
        est.talk_ended(t, talk)
    assert est.short_calls(50.0) == 2
    assert est.short_calls(50.0 + 86400.0) == 0


def test_wrapup_samples_feed_the_model():
    est = PacingEstimator()
    for i in range(10):
        est.wrapup_ended(float(i), 5.0)
    e = est.estimates(20.0)
    assert e.wrapup.mean == pytest.approx(5.0)
    assert e.wrapup.p_within(1.0, 4.5) == 1.0


def test_setpoint_keeps_a_reserve_of_abandons_in_the_window():
    """Same abandonment, more volume: the bigger window lets theta run higher."""
    small = PacingEstimator(theta=0.05, gain=0.02, reserve_abandons=6.0)
    big = PacingEstimator(theta=0.05, gain=0.02, reserve_abandons=6.0)
    for i in range(300):  # 300 answered: budget 9 abandons, setpoint at the floor
        small.queue_result(float(i), abandoned=False)
    for i in range(3000):  # budget 90 abandons: setpoint near the cap
        big.queue_result(float(i), abandoned=False)
    small.queue_result(400.0, abandoned=True)
    big.queue_result(4000.0, abandoned=True)
    before_small, before_big = small.theta, big.theta
    small.queue_result(401.0, abandoned=False)
    big.queue_result(4001.0, abandoned=False)
    # the step after a connect is gain * setpoint: larger setpoint, larger step
    step_small = math.log(small.theta / before_small)
    step_big = math.log(big.theta / before_big)
    assert step_big / math.sqrt(150 / 3001) > step_small / math.sqrt(150 / 301)
    assert small.theta < 0.6 and big.theta < 0.6  # nowhere near the clamp
