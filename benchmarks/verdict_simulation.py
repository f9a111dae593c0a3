"""The ship / don't ship / inconclusive verdict, simulated: how often it ships what it should not.

Each run draws the effect estimates an experiment with the stated truth produces (arms sharing one
control) and asks ``study.report.verdict`` for its decision. Prints and asserts, per check, the
"ship" rate against its bound plus 2 Monte Carlo SE:

- null arms (1, 4 and 8 treatment arms, no true effect): ship in at most 5% of experiments;
- an A/A experiment read at each of 20 looks under a monitoring plan (group-sequential and always-valid):
  ship at one of the looks in at most 5% (read without a plan, it ships far more often: printed, not bounded);
- a guardrail whose true loss is twice its margin, the primary clearly up: ship in at most 5%;
- a lower-is-better primary (churn) that truly rises: never ship.

    python benchmarks/verdict_simulation.py [--runs 4000] [--seed 2026]
"""

from __future__ import annotations

import argparse
import gc
import math
import time

import numpy as np
from scipy import stats

from study.ab import monitoring
from study.report import verdict

Z = float(stats.norm.ppf(0.975))


def effect(metric: str, value: float, se: float, treatment: str = "treatment", **role) -> dict:
    """An effect as the results file holds it."""
    return {"name": f"{metric}_effect_{treatment}_vs_control", "label": metric, "value": value, "se": se,
            "ci_low": value - Z * se, "ci_high": value + Z * se, "n": 10_000, "method": "simulated", "ci_level": 0.95,
            "p_value": float(2 * stats.norm.sf(abs(value) / se)),
            "extra": {"metric": metric, "arms": {"control": "control", "treatment": treatment}, "segment": {},
                      "value_by_arm": {"control": 0.4, treatment: 0.4 + value}, **role}}


def decisions(*effects: dict) -> list[str]:
    srm = {"name": "sample_ratio_chi2", "value": 0.1, "p_value": 0.5, "ci_level": 0.999, "extra": {"mismatch": False}}
    payload = {"analysis": "05_experiment_table", "parameters": {"srm_alpha": 0.001}, "estimates": [srm, *effects]}
    return [v.decision for v in verdict.experiment_verdicts(payload, None)]


def null_arms(rng: np.random.Generator, runs: int, arms: int) -> float:
    se_arm = 0.01
    shipped = 0
    for _ in range(runs):
        control = rng.normal(0.0, se_arm)
        effects = [effect("converted", float(rng.normal(0.0, se_arm) - control), math.sqrt(2) * se_arm, f"t{k}",
                          role="primary", better="higher") for k in range(arms)]
        shipped += verdict.SHIP in decisions(*effects)
    return shipped / runs


def twenty_looks(rng: np.random.Generator, runs: int, method: str | None) -> float:
    """Share of A/A experiments, read at 20 equally spaced looks, that ship at one of them."""
    plan = monitoring.Plan(4_000, 20, method) if method else None
    per_look, shipped = 100, 0  # units per arm added at each look
    for _ in range(runs):
        sums = np.cumsum(rng.normal(0.0, math.sqrt(per_look), size=(20, 2)), axis=0)
        for j in range(20):
            n_arm = per_look * (j + 1)
            estimate, se = float((sums[j, 1] - sums[j, 0]) / n_arm), math.sqrt(2 / n_arm)
            primary = effect("converted", estimate, se, role="primary", better="higher")
            if plan:
                primary["extra"]["sequential"] = monitoring.judge(plan, estimate, se, 2 * n_arm, 0.05)
            if decisions(primary)[0] == verdict.SHIP:
                shipped += 1
                break
    return shipped / runs


def guardrail_at_twice_its_margin(rng: np.random.Generator, runs: int) -> float:
    margin, se = 0.01, 0.01
    primary = effect("converted", 0.05, 0.005, role="primary", better="higher")
    return float(np.mean([decisions(primary, effect("repeat", float(loss), se, role="guardrail", better="higher",
                                                       margin=margin))[0] == verdict.SHIP
                          for loss in rng.normal(-2 * margin, se, runs)]))


def rising_churn(rng: np.random.Generator, runs: int) -> float:
    return float(np.mean([decisions(effect("churn_7", float(x), 0.004, role="primary", better="lower"))[0] == verdict.SHIP
                          for x in rng.normal(0.01, 0.004, runs)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    gc.collect = lambda *a: 0  # statsmodels' multipletests collects garbage on every call: 50 ms a verdict
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    bound = 0.05 + 2 * math.sqrt(0.05 * 0.95 / args.runs)
    checks = [(f"{arms} null arm{'s' if arms > 1 else ''}: ship rate", null_arms(rng, args.runs, arms), bound)
              for arms in (1, 4, 8)]
    checks += [(f"A/A, 20 looks, {method.replace('_', '-')} plan: ship rate", twenty_looks(rng, args.runs, method), bound)
               for method in ("group_sequential", "always_valid")]
    checks.append(("A/A, 20 looks, no plan (for contrast): ship rate", twenty_looks(rng, args.runs, None), 1.0))
    checks.append(("guardrail losing twice its margin: ship rate", guardrail_at_twice_its_margin(rng, args.runs), bound))
    checks.append(("lower-is-better primary that rose: ship rate", rising_churn(rng, args.runs), 0.0))
    print(f"{args.runs:,} simulated experiments per check, seed {args.seed}")
    misses = []
    for name, rate, limit in checks:
        print(f"{name:48s} {rate:7.2%}   (at most {limit:.2%})")
        if rate > limit:
            misses.append(name)
    print(f"{time.perf_counter() - started:.1f} s")
    if misses:
        raise SystemExit("above the bound: " + "; ".join(misses))


if __name__ == "__main__":
    main()
