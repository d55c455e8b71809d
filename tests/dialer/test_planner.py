"""What-if planner: the world on a virtual clock with the engine's decide()."""

from __future__ import annotations

import pytest

from central.dialer.planner import PlanScenario, plan, simulate, tune_ratio

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free


def test_plan_reports_each_mode_in_the_expected_order():
    out = plan(agents=10, hours=1.0)
    by_mode = {r["mode"]: r for r in out["results"]}
    assert set(by_mode) == {"progressive", "ratio", "predictive"}
    prog, ratio, pred = by_mode["progressive"], by_mode["ratio"], by_mode["predictive"]
    # progressive reserves an agent for every call: no abandonment
    assert prog["abandon_rate"] == 0.0
    assert prog["abandoned"] == 0
    # over-dialing modes keep agents busier
    assert ratio["occupancy"] > prog["occupancy"] + 0.05
    assert pred["occupancy"] > prog["occupancy"] + 0.10
    assert pred["abandon_rate"] <= 0.05
    assert 0.0 < prog["occupancy"] < pred["occupancy"] < 0.95
    assert out["best_mode"] in ("ratio", "predictive")
    assert out["scenario"]["agents"] == 10
    assert pred["label"] == "preditivo"
    assert pred["calls_per_hour"] > prog["calls_per_hour"]


def test_simulation_is_deterministic_for_a_seed():
    sc = PlanScenario(agents=5, hours=0.5)
    a = simulate(sc, sc.params("predictive"), seed=3)
    b = simulate(sc, sc.params("predictive"), seed=3)
    assert (a.occupancy, a.abandoned, a.dials) == (b.occupancy, b.abandoned, b.dials)
    assert a.answered == a.connected + a.abandoned
    assert a.reasons.get("warming_up", 0) > 0  # starts in progressive fallback


def test_more_calls_per_agent_abandon_more():
    sc = PlanScenario(agents=10, hours=0.5)
    low = simulate(sc, sc.params("ratio", 1.5))
    high = simulate(sc, sc.params("ratio", 6.0))
    assert high.abandon_rate > low.abandon_rate
    assert high.abandon_rate > 0.05
    assert high.occupancy > low.occupancy


def test_tune_ratio_picks_best_within_target():
    sc = PlanScenario(agents=10, hours=0.5)
    best, tried = tune_ratio(sc, ratios=(1.5, 2.0, 3.0, 8.0))
    assert best.abandon_rate <= sc.target_abandon
    assert tried[-1].abandon_rate > sc.target_abandon or len(tried) == 4
    assert all(best.occupancy >= t.occupancy for t in tried if t.abandon_rate <= 0.03)
