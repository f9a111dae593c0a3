"""Benchmark: coverage of the 95% intervals of the adjusted and randomized speed effects over many simulations.

    .venv/bin/python benchmarks/coverage_adjusted_slope.py [--runs 1000] [--rows 1500]

Prints the share of intervals that contain the true CSAT change per doubling of the wait, with its
binomial standard error; the naive slope's coverage is printed for contrast.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from study.data import simulate
from study.data.dataset import from_frame
from study.regression import causal, models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=1500)
    args = parser.parse_args()
    started = time.perf_counter()
    covered = {"naive": 0, "adjusted": 0, "randomized": 0}
    for run in range(args.runs):
        data = from_frame(simulate.simulate(rows=args.rows, seed=100_000 + run).tickets, "simulation")
        drivers = models.satisfaction_drivers(data)
        covered["naive"] += drivers.naive.covers(simulate.CSAT_PER_DOUBLING)
        covered["adjusted"] += drivers.get("csat_per_doubling_adjusted").covers(simulate.CSAT_PER_DOUBLING)
        covered["randomized"] += causal.randomized_speed_effect(data).covers(simulate.CSAT_PER_DOUBLING)
    for name, count in covered.items():
        share = count / args.runs
        print(f"{name}: 95% interval covers the truth in {share:.1%} of {args.runs} simulations "
              f"of {args.rows:,} tickets (binomial SE {np.sqrt(share * (1 - share) / args.runs):.1%})")
    print(f"time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
