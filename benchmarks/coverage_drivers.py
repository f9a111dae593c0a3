"""Benchmark: coverage of the driver analysis's 95% intervals on simulated orders exports.

    .venv/bin/python benchmarks/coverage_drivers.py [--runs 400] [--orders 4000] [--workers 2]

Each run simulates an orders export (study.data.orders, seed 10,000 + run), keeps the delivered orders as
the worked example's column map does, and runs the driver analysis of the review score on the delivery
delay and on lateness, with category and state held fixed and standard errors clustered by customer.
It records whether each interval covers its truth:

- the naive and adjusted slopes of the delay and of lateness, each against its own population
  least-squares value (``orders.truth()``: weighted by the chance of a review, as the fit on the
  reviewed orders targets);
- the curve's step at zero (true -0.64 points) and its difference between 10 days late and 10 days early
  (true -0.64 - 10 x 0.032 - 10 x 0.004), which the spline with a step and a change of slope at zero
  can represent exactly.

The naive slopes must miss (the controls confound them); every other coverage must lie within the
acceptance band of tests/coverage_rules.py for the number of runs (the four together pass with 99%
when each covers 95%),
else the script exits with an error.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CONTROLS = ["category", "state"]


def one_run(run: int, orders_per_run: int) -> dict[str, bool]:
    from study.data import orders
    from study.drivers import analyse

    warnings.simplefilter("ignore")
    truth = orders.truth()
    frame, aside = orders.analysis_frame(orders.simulate(orders=orders_per_run, seed=10_000 + run))
    covered = {}
    for driver in ("delivery_delay_days", "late"):
        result = analyse(frame, "review_score", driver, CONTROLS, cluster="customer_unique_id", set_aside=aside,
                         shape="auto" if driver == "delivery_delay_days" else "linear")
        for estimate in (result.naive, result.adjusted):
            covered[f"{driver} {estimate.name}"] = estimate.covers(truth[driver][estimate.name])
        if driver == "late":  # the naive interval against the adjusted truth: confounding shows
            covered["confounded: late naive covers the adjusted truth"] = result.naive.covers(truth[driver]["driver_adjusted"])
        if driver == "delivery_delay_days" and result.has("shape"):
            covered["curve step at zero"] = result.shape.jump().covers(truth["score_curve"]["step_when_late"])
            far = float(orders.true_curve(np.array([10.0]), -10.0)[0])
            covered["curve +10 against -10 days"] = result.shape.difference(-10, 10).covers(far)
    return covered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--orders", type=int, default=4_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from tests.coverage_rules import acceptance_range

    with ProcessPoolExecutor(args.workers) as pool:
        runs = list(pool.map(one_run, range(args.runs), [args.orders] * args.runs))
    names = sorted({name for run in runs for name in run})
    failures = []
    print(f"{args.runs} runs of {args.orders:,} orders; 95% intervals")
    for name in names:
        hits = [run[name] for run in runs if name in run]
        rate = float(np.mean(hits))
        se = float(np.sqrt(rate * (1 - rate) / len(hits)))
        if name.startswith("confounded"):
            verdict = "rarely, as it must" if rate < 0.5 else "FAILS: the naive interval should miss the adjusted truth"
            failures += [name] if rate >= 0.5 else []
        else:
            # Six intervals are checked on the same runs: the band holds all six with 99% when they are right.
            low, high = acceptance_range(len(hits), estimates=6)
            inside = low <= sum(hits) <= high
            verdict = "ok" if inside else f"FAILS: outside {low / len(hits):.1%}-{high / len(hits):.1%}"
            failures += [] if inside else [name]
        print(f"  {name:40s} {rate:6.1%} (MC SE {se:.1%}, {len(hits)} runs)  {verdict}")
    if failures:
        raise SystemExit(f"coverage off for: {', '.join(failures)}")


if __name__ == "__main__":
    main()
