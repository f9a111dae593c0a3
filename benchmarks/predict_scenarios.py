"""Coverage of the repeat-purchase scenarios: does the interval of the change cover the simulator's true change?

Simulates ``runs`` data sets (default 1,000, each ``rows`` = 10,000 tickets), fits the adjusted causal model of
:mod:`study.predict.scenarios` and checks, for both scenarios (every first response halved; capped at
60 minutes), whether the 95% interval of the change of the repeat-purchase rate covers the truth,
``truth["repeat_total_per_doubling_response_time"] * mean(d_i)``; whether the SLA experiment's randomized
ratio's interval covers its truth (``sla_effect_on_repeat_purchase / sla_effect_on_log2_response_hours``);
and how often the test of adjusted minus randomized rejects at 5% (both are unbiased in the default
simulation, so the rate is the test's size). Prints each rate with its Monte-Carlo SE and the mean
standardised error, and asserts each within 3 MC SE of its nominal value.
Run from the repository root (about four to six minutes on two cores)::

    python benchmarks/predict_scenarios.py [runs] [rows]
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import sys
import time
from multiprocessing import Pool

import numpy as np

from study.data.dataset import from_frame
from study.data.simulate import simulate
from study.predict import scenarios

SLA_MINUTES = 60.0
LEVEL = 0.95


def one_run(args: tuple[int, int]) -> dict:
    """Coverage and standardised error of each scenario's change on one simulated data set."""
    seed, rows = args
    sim = simulate(rows=rows, seed=seed)
    found = scenarios.scenarios(from_frame(sim.tickets), SLA_MINUTES, 1 - LEVEL)
    minutes = sim.tickets["first_response_minutes"].to_numpy()
    per = sim.truth["repeat_total_per_doubling_response_time"]
    out = {}
    for key, change in found.changes.items():
        true = scenarios.true_change(minutes, per, key, SLA_MINUTES)
        out[key] = (change.covers(true), (change.value - true) / change.se)
    ratio = found.randomized.ratio
    true = sim.truth["sla_effect_on_repeat_purchase"] / sim.truth["sla_effect_on_log2_response_hours"]
    out["randomized"] = (ratio.covers(true), (ratio.value - true) / ratio.se)
    d = found.difference
    out["difference"] = (d.covers(0.0), d.value / d.se)
    return out


def main(runs: int = 1000, rows: int = 10_000) -> None:
    start = time.time()
    with Pool(2) as pool:
        results = pool.map(one_run, [(1000 + i, rows) for i in range(runs)])
    mc_se = np.sqrt(LEVEL * (1 - LEVEL) / runs)
    print(f"{runs} simulated data sets of {rows:,} tickets ({time.time() - start:.0f} s); 3 MC SE = {3 * mc_se:.4f}")
    for key in ("halved", "sla", "randomized", "difference"):
        covered = np.mean([r[key][0] for r in results])
        z = np.array([r[key][1] for r in results])
        print(f"  {key:10s}: coverage {covered:.3f} (MC SE {mc_se:.3f}); standardised error mean {z.mean():+.3f}, "
              f"sd {z.std(ddof=1):.3f}")
        assert abs(covered - LEVEL) <= 3 * mc_se, f"{key}: coverage {covered:.3f} is not within 3 MC SE of {LEVEL}"
    print("ok")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
