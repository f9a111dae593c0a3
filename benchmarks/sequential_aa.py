"""A/A experiments looked at 20 times: how often each monitoring rule declares a difference.

Each run is an A/A experiment (no effect) analysed after every 100 units per arm, 20 looks in all
(2,000 units per arm at the end), for a 0/1 outcome (share 0.2) and a heavy-tailed one (lognormal).
Rules, at alpha = 0.05 two-sided:

- naive: the fixed-horizon z-test at every look, stop at the first p < 0.05 (what peeking does);
- fixed horizon: the z-test at the last look only (the reference);
- always-valid: the normal-mixture confidence sequence (:func:`study.ab.sequential.always_valid`),
  tuned to the final size, significant at the first look whose interval excludes 0;
- group-sequential: Lan-DeMets O'Brien-Fleming-type and Pocock-type boundaries for the 20 looks.

Prints each rule's rate and asserts: naive > 15%; every other rule <= 5% + 3 Monte Carlo SEs. A
third block draws the z statistics from the exact Gaussian score process (no data approximation):
there the group-sequential rules must also be >= 5% - 3 SEs, since they spend all of alpha (on
data, a skewed outcome's z-test is slightly conservative at 100 units, which is not the plan's doing).

    python benchmarks/sequential_aa.py [--runs 20000] [--seed 2026]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy import stats

from study.ab.sequential import always_valid, group_sequential_boundaries

LOOKS, PER_LOOK, ALPHA = 20, 100, 0.05


def looks(rng: np.random.Generator, runs: int, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(difference, se, units) at each look of every run."""
    n = PER_LOOK * np.arange(1, LOOKS + 1)
    arms = []
    for _ in range(2):
        if kind == "proportion":
            sums = np.cumsum(rng.binomial(PER_LOOK, 0.2, (runs, LOOKS)), axis=1).astype(float)
            mean = sums / n
            var = mean * (1 - mean)
        else:
            sums, squares = np.zeros((runs, LOOKS)), np.zeros((runs, LOOKS))
            for start in range(0, runs, 500):  # in chunks: runs x looks x units would not fit at once
                y = rng.lognormal(0.0, 1.0, (min(500, runs - start), LOOKS, PER_LOOK))
                sums[start:start + len(y)] = np.cumsum(y.sum(axis=2), axis=1)
                squares[start:start + len(y)] = np.cumsum((y * y).sum(axis=2), axis=1)
            mean = sums / n
            var = (squares - sums * mean) / (n - 1)
        arms.append((mean, var / n))
    (m_c, v_c), (m_t, v_t) = arms
    return m_t - m_c, np.sqrt(v_c + v_t), np.broadcast_to(2 * n, m_t.shape)


def score_process(rng: np.random.Generator, runs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z statistics as a Brownian motion observed at the looks: difference = z, se = 1."""
    z = np.cumsum(rng.standard_normal((runs, LOOKS)), axis=1) / np.sqrt(np.arange(1, LOOKS + 1))
    return z, np.ones_like(z), np.broadcast_to(2 * PER_LOOK * np.arange(1, LOOKS + 1), z.shape)


def rates(difference: np.ndarray, se: np.ndarray, units: np.ndarray) -> dict[str, float]:
    z = difference / se
    tuning = float(units[0, -1])
    valid = np.vectorize(lambda d, s, n: always_valid(d, s, int(n), alpha=ALPHA, tuning=tuning).p_value)(difference, se, units)
    t = units[0] / units[0, -1]
    out = {
        "naive (z-test at every look)": (np.abs(z) >= stats.norm.isf(ALPHA / 2)).any(axis=1).mean(),
        "fixed horizon (last look only)": (np.abs(z[:, -1]) >= stats.norm.isf(ALPHA / 2)).mean(),
        "always-valid mixture interval": (valid < ALPHA).any(axis=1).mean(),
    }
    for kind, words in (("obrien_fleming", "O'Brien-Fleming-type"), ("pocock", "Pocock-type")):
        bounds = np.array(group_sequential_boundaries(t, alpha=ALPHA, spending_function=kind).boundaries)
        out[f"group-sequential {words}"] = (np.abs(z) >= bounds).any(axis=1).mean()
    return {k: float(v) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    if args.runs < 2000:
        parser.error("at least 2,000 runs: fewer cannot tell 5% from 6.5%")
    rng = np.random.default_rng(args.seed)
    se = math.sqrt(ALPHA * (1 - ALPHA) / args.runs)
    ceiling, floor = ALPHA + 3 * se, ALPHA - 3 * se
    print(f"{args.runs} A/A runs per outcome, {LOOKS} looks of {PER_LOOK} units per arm; 5% + 3 MC SE = {ceiling:.2%}")
    failures = []
    for kind in ("proportion", "mean", "score process"):
        start = time.perf_counter()
        result = rates(*(score_process(rng, args.runs) if kind == "score process" else looks(rng, args.runs, kind)))
        print(f"\n{kind} ({time.perf_counter() - start:.1f} s)")
        for rule, rate in result.items():
            print(f"  {rule:<40} {rate:7.2%}")
            if rule.startswith("naive"):
                ok = rate > 0.15
            elif rule.startswith("group-sequential") and kind == "score process":
                ok = floor <= rate <= ceiling
            else:
                ok = rate <= ceiling
            if not ok:
                failures.append(f"{kind}: {rule} {rate:.2%}")
    assert not failures, "rates outside their bounds: " + "; ".join(failures)
    print("\nall rates within their bounds")


if __name__ == "__main__":
    main()
