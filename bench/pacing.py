"""bench/pacing: predictive vs progressive vs tuned ratio on an 8-hour virtual shift.

Run: ``.venv/bin/python bench/pacing.py`` (options: ``--hours``, ``--agents 5,10``,
``--seeds N``, ``--json``).

Scenario (issue 4, "Measure and report"): answer rate 30 %, talk time exponential
with mean 90 s, wrap-up 5 s, an answered call with no agent within 2 s is
abandoned; 5, 10, 20 and 50 agents. Every mode uses the engine's own
``central.dialer.pacing.decide`` through ``central.dialer.planner.simulate`` (one
decision per virtual second). The ratio mode is tuned in the same run: the
highest-occupancy ratio (0.1 steps) whose abandonment stays within 3 %.

Occupancy = talk time / logged time (the whole shift, warm-up included);
abandonment = abandoned / answered.

Wrap-up (issue 13): a second table, in the same run and with the same seeds, gives
progressive and predictive when agents take a *real* wrap-up (until they save the
disposition on their page: lognormal, mean ``--real-wrapup`` s, sigma 0.6) and the pacing
sees either that real wrap-up (the page reports each disposition) or only the queue's
fixed ``Wrapuptime`` (``--queue-wrapup`` s, after which an agent still typing looks free).
``--wrapup-only`` prints only that table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from central.dialer.planner import PlanScenario, SimResult, simulate  # noqa: E402

GOALS = {5: 0.70, 10: 0.74, 20: 0.82, 50: 0.88}
TARGET = 0.03


def _runs(scenario: PlanScenario, mode: str, ratio: float | None, seeds: int) -> dict:
    """Pool several seeds: occupancy averaged, abandonment over all answered calls."""
    res: list[SimResult] = [
        simulate(scenario, scenario.params(mode, ratio), seed=seed) for seed in range(1, seeds + 1)
    ]
    answered = sum(r.answered for r in res)
    abandoned = sum(r.abandoned for r in res)
    return {
        "mode": mode,
        "ratio": ratio,
        "occupancy": sum(r.occupancy for r in res) / len(res),
        "abandon_rate": abandoned / answered if answered else 0.0,
        "answered": answered,
        "abandoned": abandoned,
        "dials": sum(r.dials for r in res),
        "fallback_share": sum(r.fallback_share for r in res) / len(res),
        "wall": sum(r.wall_seconds for r in res),
    }


def tuned_ratio(scenario: PlanScenario, seeds: int) -> tuple[dict, int]:
    """Coarse sweep (0.5 steps) then fine (0.1) below the first ratio over the target."""
    tried = 0
    best = None
    last_ok = 1.0
    r = 1.5
    while r <= 10.0:
        out = _runs(scenario, "ratio", r, seeds)
        tried += 1
        if out["abandon_rate"] > TARGET:
            break
        best, last_ok = out, r
        r += 0.5
    fine = round(last_ok + 0.1, 2)
    while fine < r - 1e-9:
        out = _runs(scenario, "ratio", fine, seeds)
        tried += 1
        if out["abandon_rate"] > TARGET:
            break
        best = out
        fine = round(fine + 0.1, 2)
    if best is None:
        best = _runs(scenario, "ratio", 1.0, seeds)
        tried += 1
    return best, tried


def wrapup_rows(agent_counts: list[int], hours: float, seeds: int, real: float, queue: float) -> list[dict]:
    """Occupancy and abandonment, real wrap-up seen vs the queue's fixed one seen."""
    from dataclasses import replace

    rows = []
    for agents in agent_counts:
        base = PlanScenario(agents=agents, hours=hours, wrapup_time=real, wrapup_sigma=0.6)
        row = {"agents": agents}
        for view, sc in (("real", base), ("fixed", replace(base, queue_wrapup=queue))):
            for mode in ("progressive", "predictive"):
                row[f"{mode}_{view}"] = _runs(sc, mode, None, seeds)
        rows.append(row)
    return rows


def print_wrapup(rows: list[dict], real: float, queue: float, seeds: int) -> None:
    print(f"\nwrap-up: agents' real wrap-up lognormal mean {real:g} s (sigma 0.6); pacing sees the real "
          f"one (dispositions) or the queue's fixed Wrapuptime {queue:g} s; same seeds 1..{seeds}")
    hdr = (f"{'agents':>6} | {'progressive real':>17} | {'progressive fixed':>17} | "
           f"{'predictive real':>17} | {'predictive fixed':>17}")
    print(hdr)
    print("-" * len(hdr))
    for row in rows:
        cells = []
        for key in ("progressive_real", "progressive_fixed", "predictive_real", "predictive_fixed"):
            r = row[key]
            cells.append(f"{r['occupancy']:>7.1%} / {r['abandon_rate']:>6.2%}")
        print(f"{row['agents']:>6} | " + " | ".join(cells))
    print("(occupancy / abandonment; abandonment target 3 %)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--agents", default="5,10,20,50")
    ap.add_argument("--seeds", type=int, default=1, help="shifts per mode (pooled)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--real-wrapup", type=float, default=20.0, help="mean real wrap-up, s")
    ap.add_argument("--queue-wrapup", type=float, default=5.0, help="the queue's fixed Wrapuptime, s")
    ap.add_argument("--wrapup-only", action="store_true", help="only the real vs fixed wrap-up table")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    counts = [int(a) for a in args.agents.split(",")]
    wrap = wrapup_rows(counts, args.hours, args.seeds, args.real_wrapup, args.queue_wrapup)
    if args.wrapup_only:
        if args.json:
            print(json.dumps({"hours": args.hours, "seeds": args.seeds, "wrapup": wrap}, indent=2))
        else:
            print_wrapup(wrap, args.real_wrapup, args.queue_wrapup, args.seeds)
            print(f"total wall time {time.perf_counter() - started:.0f} s")
        return 0
    rows = []
    for agents in counts:
        sc = PlanScenario(agents=agents, hours=args.hours)
        prog = _runs(sc, "progressive", None, args.seeds)
        ratio, tried = tuned_ratio(sc, args.seeds)
        pred = _runs(sc, "predictive", None, args.seeds)
        goal = GOALS.get(agents)
        rows.append(
            {
                "agents": agents,
                "progressive": prog,
                "ratio": ratio,
                "ratios_tried": tried,
                "predictive": pred,
                "goal": goal,
                "goal_met": bool(
                    pred["abandon_rate"] <= TARGET
                    and (goal is None or pred["occupancy"] >= goal)
                    and pred["occupancy"] > ratio["occupancy"]
                ),
            }
        )
        if not args.json:
            print(
                f"  ... {agents} agents done ({time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
            )
    elapsed = time.perf_counter() - started
    if args.json:
        print(
            json.dumps(
                {"hours": args.hours, "seeds": args.seeds, "rows": rows, "wrapup": wrap, "seconds": elapsed},
                indent=2,
            )
        )
        return 0
    print(
        f"bench/pacing: {args.hours:g} h virtual shift x {args.seeds} seed(s), answer 30 %, "
        "talk exp(90 s), wrap-up 5 s, abandon after 2 s; target abandonment <= 3 %"
    )
    hdr = (
        f"{'agents':>6} | {'progressive occ/aband':>21} | {'ratio (tuned) occ/aband':>27} | "
        f"{'predictive occ/aband':>21} | {'goal':>5} | {'met':>3}"
    )
    print(hdr)
    print("-" * len(hdr))
    for row in rows:
        p, r, d = row["progressive"], row["ratio"], row["predictive"]
        print(
            f"{row['agents']:>6} | {p['occupancy']:>9.1%} / {p['abandon_rate']:>8.2%} | "
            f"r={r['ratio']:<4g} {r['occupancy']:>8.1%} / {r['abandon_rate']:>8.2%} | "
            f"{d['occupancy']:>9.1%} / {d['abandon_rate']:>8.2%} | "
            f"{row['goal']:>5.0%} | {'yes' if row['goal_met'] else 'NO':>3}"
        )
    print(
        "predictive fallback share (ticks in progressive): "
        + ", ".join(f"{row['agents']}: {row['predictive']['fallback_share']:.1%}" for row in rows)
    )
    print_wrapup(wrap, args.real_wrapup, args.queue_wrapup, args.seeds)
    print(f"total wall time {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
