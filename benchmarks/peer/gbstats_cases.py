"""Peer numbers for always-valid and Bayesian summaries: gbstats on seeded data, written as a test fixture.

Run with a Python that has gbstats (kept out of the project's dependencies), e.g. a throwaway
virtual environment with ``pip install gbstats==0.8.0``:

    python benchmarks/peer/gbstats_cases.py tests/fixtures/peer_gbstats.json

Each case holds the arms' sufficient statistics (n, sum, sum of squares; proportions: n, sum), the
gbstats settings and its results. ``tests/test_peer_gbstats.py`` recomputes them with
``study.ab.sequential`` and ``study.ab.bayes``.

gbstats conventions recorded here: the variance of a mean is the sample variance (n - 1) over n,
that of a proportion ``p (1 - p) / n``; the relative difference is ``(t - c) / c`` with the
delta-method variance ``v_t / c**2 + v_c t**2 / c**4`` (not the log scale); its sequential test
uses ``N = n_c + n_t`` and treats the variance as known.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version

import numpy as np
from gbstats.bayesian.tests import (
    EffectBayesianABTest,
    EffectBayesianConfig,
    GaussianPrior,
)
from gbstats.frequentist.tests import (
    FrequentistConfig,
    OneSidedTreatmentGreaterTTest,
    OneSidedTreatmentLesserTTest,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import (
    ProportionStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
    compute_theta,
)


def mean_arms(seed: int, n: int, lift: float) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for shift in (0.0, lift):
        y = np.round(rng.lognormal(2.0, 0.8, n) * (1 + shift), 2)
        out.append({"n": n, "sum": round(float(y.sum()), 6), "sum_sq": round(float((y**2).sum()), 6)})
    return out


def proportion_arms(seed: int, n: int, p_control: float, p_treatment: float) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"n": n, "sum": int((rng.random(n) < p).sum())} for p in (p_control, p_treatment)]


def covariate_units(seed: int, n_control: int, n_treatment: int, effect: float) -> dict:
    """Unit-level spend and pre-period spend per arm, rounded so both engines read the same numbers."""
    rng = np.random.default_rng(seed)
    arms = {}
    for arm, n, shift in (("control", n_control, 0.0), ("treatment", n_treatment, effect)):
        pre = np.round(rng.lognormal(2.5, 0.7, n), 2)
        arms[arm] = {"pre": pre.tolist(), "post": np.round(0.8 * pre + rng.gamma(2.0, 4.0, n) + shift, 2).tolist()}
    return arms


def adjusted_statistics(arms: dict) -> list[RegressionAdjustedStatistic]:
    out = []
    for arm in ("control", "treatment"):
        pre, post = np.array(arms[arm]["pre"]), np.array(arms[arm]["post"])
        out.append(RegressionAdjustedStatistic(
            n=len(pre), post_statistic=SampleMeanStatistic(n=len(pre), sum=float(post.sum()), sum_squares=float((post**2).sum())),
            pre_statistic=SampleMeanStatistic(n=len(pre), sum=float(pre.sum()), sum_squares=float((pre**2).sum())),
            post_pre_sum_of_products=float((pre * post).sum()), theta=0))
    theta = compute_theta(*out)
    for statistic in out:
        statistic.theta = theta
    return out


def statistics(kind: str, arms: list[dict]):
    if kind == "mean":
        return [SampleMeanStatistic(n=a["n"], sum=a["sum"], sum_squares=a["sum_sq"]) for a in arms]
    return [ProportionStatistic(n=a["n"], sum=a["sum"]) for a in arms]


def main(out: str) -> None:
    data = {
        "means_large": ("mean", mean_arms(1, 4000, 0.10)),
        "means_medium": ("mean", mean_arms(5, 2000, 0.06)),
        "means_small": ("mean", mean_arms(2, 150, 0.10)),
        "proportions": ("proportion", proportion_arms(3, 6000, 0.30, 0.33)),
        "proportions_flat": ("proportion", proportion_arms(4, 2500, 0.12, 0.12)),
    }
    cases = []
    sequential = [
        ("means_large", "absolute", 0.05, 5000, 0.0),
        ("means_large", "relative", 0.05, 5000, 0.0),
        ("means_large", "absolute", 0.10, 20000, 0.0),
        ("means_medium", "absolute", 0.05, 4000, 0.0),
        ("means_medium", "relative", 0.05, 4000, 0.0),
        ("means_small", "absolute", 0.05, 5000, 0.0),
        ("means_small", "relative", 0.01, 300, 0.0),
        ("proportions", "absolute", 0.05, 12000, 0.0),
        ("proportions", "relative", 0.05, 5000, 0.0),
        ("proportions", "absolute", 0.05, 5000, 0.01),
        ("proportions_flat", "absolute", 0.05, 5000, 0.0),
    ]
    for name, difference, alpha, tuning, null in sequential:
        kind, arms = data[name]
        config = SequentialConfig(difference_type=difference, alpha=alpha, sequential_tuning_parameter=tuning,
                                  test_value=null)
        result = SequentialTwoSidedTTest(*statistics(kind, arms), config).compute_result()
        cases.append({"case": f"sequential_{name}_{difference}_a{alpha:g}_tuning{tuning}_null{null:g}", "test": "sequential",
                      "data": name, "difference": difference, "alpha": alpha, "tuning": tuning, "null": null,
                      "gbstats": {"expected": float(result.expected), "ci": [float(x) for x in result.ci],
                                  "p_value": float(result.p_value), "stddev": float(result.uplift.stddev)}})
    bayesian = [
        ("means_large", "absolute", 0.05, None, False),
        ("means_large", "relative", 0.05, None, False),
        ("means_large", "absolute", 0.05, (0.0, 0.04), False),
        ("means_large", "relative", 0.10, (0.0, 0.0025), False),
        ("means_medium", "absolute", 0.05, (0.2, 0.25), False),
        ("means_small", "relative", 0.05, (0.05, 0.01), False),
        ("means_small", "absolute", 0.05, None, True),
        ("proportions", "absolute", 0.05, None, False),
        ("proportions", "relative", 0.05, (0.0, 0.01), True),
        ("proportions_flat", "absolute", 0.05, (0.0, 1e-4), False),
    ]
    for name, difference, alpha, prior, inverse in bayesian:
        kind, arms = data[name]
        gaussian = GaussianPrior() if prior is None else GaussianPrior(mean=prior[0], variance=prior[1], proper=True)
        config = EffectBayesianConfig(difference_type=difference, alpha=alpha, inverse=inverse, prior_effect=gaussian,
                                      prior_type=difference)
        result = EffectBayesianABTest(*statistics(kind, arms), config).compute_result()
        label = "flat" if prior is None else f"normal_{prior[0]:g}_{prior[1]:g}"
        cases.append({"case": f"bayes_{name}_{difference}_a{alpha:g}_{label}{'_inverse' if inverse else ''}", "test": "bayes",
                      "data": name, "difference": difference, "alpha": alpha,
                      "prior": None if prior is None else {"mean": prior[0], "variance": prior[1]}, "inverse": inverse,
                      "gbstats": {"expected": float(result.expected), "ci": [float(x) for x in result.ci],
                                  "chance_to_win": float(result.chance_to_win), "risk": [float(x) for x in result.risk],
                                  "stddev": float(result.uplift.stddev), "error_message": result.error_message}})
    # CUPED (regression-adjusted statistics): theta pooled over both arms, absolute difference, Welch df.
    covariate_data = {"cuped_large": covariate_units(6, 1500, 1400, 1.0), "cuped_small": covariate_units(7, 50, 45, 2.0)}
    tests = {"two-sided": TwoSidedTTest, "greater": OneSidedTreatmentGreaterTTest, "less": OneSidedTreatmentLesserTTest}
    for name, arms in covariate_data.items():
        for alternative, test in tests.items():
            for alpha in (0.05, 0.1):
                config = FrequentistConfig(difference_type="absolute", alpha=alpha)
                a, b = adjusted_statistics(arms)
                result = test(a, b, config).compute_result()
                cases.append({"case": f"cuped_{name}_{alternative}_a{alpha:g}", "test": "cuped", "data": name,
                              "alternative": alternative, "alpha": alpha, "theta": float(a.theta),
                              "gbstats": {"expected": float(result.expected), "ci": [float(x) for x in result.ci],
                                          "p_value": float(result.p_value), "stddev": float(result.uplift.stddev)}})
    payload = {
        "peer": "gbstats", "peer_version": version("gbstats"), "made_by": "benchmarks/peer/gbstats_cases.py",
        "convention": "risk = [expected loss if control is chosen, expected loss if treatment is chosen]; "
                      "inverse = lower is better (chance to win and risk flipped); the prior is on the scale of the "
                      "difference compared (prior_type equal to difference_type)",
        "data": {name: {"kind": kind, "control": arms[0], "treatment": arms[1]} for name, (kind, arms) in data.items()},
        "units": covariate_data,
        "cuped_convention": "theta = pooled cov(post, pre) / var(pre) over both arms' units (compute_theta); "
                            "adjusted means post - theta * pre; variance of post - theta * pre per arm; Welch df; "
                            "p-values as 1 - t.cdf (absolute error near 1e-16, not relative); the 'less' interval's "
                            "upper bound is point - width in gbstats 0.8.0 (the 'greater' lower bound), not point + width",
        "cases": cases,
    }
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=1)
        handle.write("\n")
    print(f"{len(cases)} cases written to {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/peer_gbstats.json")
