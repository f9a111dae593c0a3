"""False alarms and coverage of the rollout's DiD when the change does nothing, and the pre-trend test's power.

Runs ``simulate_rollout(effect=False)`` (30 teams, parallel trends hold) many times and, per outcome, counts

- how often the joint pre-trend test rejects at 5% (should be 5%, within 3 Monte-Carlo SE), and
- how often the 95% interval of the average effect on the treated covers 0 (should be 95%, within 1.5
  percentage points, the issue's tolerance; 2,000 runs make 3 MC SE = 1.46 pp);

then ``simulate_rollout()`` with its effect (growing over four weeks after go-live, so it differs by cohort
and by week), where the interval must cover the true average effect on the treated at 95% (within 3 MC SE),
and ``simulate_rollout(pre_trend=...)`` (adopting teams' CSAT climbing before they adopt) to show how often
the test catches a broken assumption. Prints the rates with their MC SE, and asserts them for CSAT and for
response time on the log scale (the scale on which the simulator's teams move in parallel: its sale peaks
and growth multiply every team's waits by the same factor).

Speed: the coefficients come from the closed-form imputation that ``tests/test_rollout_did.py`` checks
against ``pyfixest.did2s`` to 1e-8 (``fitter="closed_form"``); the variance, intervals and test are the
analysis's own. Run from the repository root (about 10 minutes on two cores)::

    python benchmarks/rollout_null.py [runs] [power_runs] [effect_runs]
"""

from __future__ import annotations

import os

# One BLAS thread per worker: two workers each spawning threads for 60 x 60 matrices only fight over the cores.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import sys
import time
from multiprocessing import Pool

import numpy as np

from study.data.rollout import simulate_rollout
from study.rollout import did
from study.rollout.panel import build_panel

OUTCOMES = ("csat", "log2_response_hours")
ALPHA = 0.05
PRE_TRENDS = (0.02, 0.05)  # CSAT points per week by which adopting teams climb before they adopt


def one_run(args: tuple[int, bool, float]) -> dict:
    """Pre-trend rejection and coverage of the true effect (0 without one) for each outcome of one simulated rollout."""
    seed, effect, pre_trend = args
    simulated = simulate_rollout(seed=seed, effect=effect, pre_trend=pre_trend)
    panel = build_panel(simulated.tickets)
    out = {}
    for outcome in OUTCOMES:
        cells = panel.outcome_cells(outcome)
        estimate, _ = did.att(cells, outcome, ALPHA, fitter="closed_form")
        test, _ = did.pretrend_test(cells)
        truth = simulated.truth[f"rollout_att_{outcome}"]
        out[outcome] = (test.p_value < ALPHA, estimate.covers(truth), (estimate.value - truth) / estimate.se)
    return out


def rate(values: list[bool]) -> tuple[float, float]:
    p = float(np.mean(values))
    return p, float(np.sqrt(p * (1 - p) / len(values)))


def main(runs: int = 2000, power_runs: int = 300, effect_runs: int = 600) -> None:
    start = time.time()
    with Pool(2) as pool:
        null = pool.map(one_run, [(10_000 + i, False, 0.0) for i in range(runs)], chunksize=20)
        broken = {trend: pool.map(one_run, [(50_000 + i, False, trend) for i in range(power_runs)], chunksize=20)
                  for trend in PRE_TRENDS}
        with_effect = pool.map(one_run, [(90_000 + i, True, 0.0) for i in range(effect_runs)], chunksize=20)
    print(f"simulate_rollout(effect=False): {runs:,} runs, 30 teams, 26 weeks, 30,000 tickets each")
    failures = []
    for outcome in OUTCOMES:
        reject, reject_se = rate([r[outcome][0] for r in null])
        cover, cover_se = rate([r[outcome][1] for r in null])
        t_sd = float(np.std([r[outcome][2] for r in null]))
        print(f"  {outcome:20s} pre-trend test rejects {reject:6.2%} (MC SE {reject_se:.2%}; want 5% +- {3 * np.sqrt(0.0475 / runs):.2%})"
              f"   95% CI covers 0: {cover:6.2%} (MC SE {cover_se:.2%}; want 95% +- 1.5 pp)   SD of t: {t_sd:.3f}")
        if abs(reject - 0.05) > 3 * np.sqrt(0.05 * 0.95 / runs):
            failures.append(f"{outcome}: pre-trend rejection {reject:.2%}")
        if abs(cover - 0.95) > 0.015:
            failures.append(f"{outcome}: coverage {cover:.2%}")
    print(f"simulate_rollout(): {effect_runs:,} runs with the change's effect")
    for outcome in OUTCOMES:
        cover, cover_se = rate([r[outcome][1] for r in with_effect])
        t_sd = float(np.std([r[outcome][2] for r in with_effect]))
        band = 3 * np.sqrt(0.95 * 0.05 / effect_runs)
        print(f"  {outcome:20s} 95% CI covers the true effect on the treated: {cover:6.2%} (MC SE {cover_se:.2%}; "
              f"want 95% +- {band:.2%})   SD of (estimate - truth) / SE: {t_sd:.3f}")
        if abs(cover - 0.95) > band:
            failures.append(f"{outcome}: coverage of the true effect {cover:.2%}")
    for trend, results in broken.items():
        power, power_se = rate([r["csat"][0] for r in results])
        cover, _ = rate([r["csat"][1] for r in results])
        print(f"simulate_rollout(effect=False, pre_trend={trend}): {power_runs:,} runs; CSAT pre-trend test rejects "
              f"{power:6.2%} (MC SE {power_se:.2%}), its 95% CI covers 0: {cover:6.2%}")
        # A broken assumption must be caught more often than the 5% false alarms (by 3 MC SE at least).
        if power - 0.05 < 3 * power_se:
            failures.append(f"csat: pre-trend test power {power:.2%} under pre_trend={trend}")
    print(f"{time.time() - start:.0f} s")
    assert not failures, "; ".join(failures)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
