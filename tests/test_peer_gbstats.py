"""Agreement with a peer engine: gbstats' sequential and Bayesian numbers on seeded data, recorded in a fixture.

The fixture is written by benchmarks/peer/gbstats_cases.py in a separate environment (gbstats is
not a dependency of this project). Both engines evaluate the same closed forms from the same sums,
so they agree to floating-point order of operations (1e-9 relative), except gbstats' expected loss,
which it takes from scipy's truncated-normal mean (ours is the closed form
``mean Phi(mean/sd) + sd phi(mean/sd)``): 1e-7 relative there.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from study.ab import abstats
from study.ab.bayes import NormalPrior, bayes_summary, relative_difference
from study.ab.cuped_pooled import pooled_cuped_effect
from study.ab.sequential import always_valid
from study.ab.sufficient import CovariateMoments, Moments, rounded_origin

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "peer_gbstats.json").read_text())
SAME_FORMULA = 1e-9


def _inputs(case) -> tuple[float, float, int]:
    """(estimate, se, units) of the case's difference, computed by study from the recorded sums."""
    data = FIXTURE["data"][case["data"]]
    proportion = data["kind"] == "proportion"
    arms = [Moments(a["n"], a["sum"], a["sum"] if proportion else a["sum_sq"]) for a in (data["control"], data["treatment"])]
    n = arms[0].n + arms[1].n
    if case["difference"] == "relative":
        variances = [a.mean * (1 - a.mean) if proportion else a.var for a in arms]
        lift, se = relative_difference(arms[0].mean, variances[0], arms[0].n, arms[1].mean, variances[1], arms[1].n)
        return lift, se, n
    effect = (abstats.proportion_effect(*arms, lift=False) if proportion
              else abstats.mean_effect(*arms, reference="z", lift=False))
    return effect.estimate, effect.se, n


CUPED = [c for c in FIXTURE["cases"] if c["test"] == "cuped"]
SEQUENTIAL = [c for c in FIXTURE["cases"] if c["test"] == "sequential"]
BAYES = [c for c in FIXTURE["cases"] if c["test"] == "bayes"]


def test_the_fixture_holds_the_peer_and_both_kinds_of_case():
    assert FIXTURE["peer"] == "gbstats" and FIXTURE["peer_version"] == "0.8.0"
    assert len(SEQUENTIAL) >= 8 and len(BAYES) >= 8
    p_values = [c["gbstats"]["p_value"] for c in SEQUENTIAL]
    assert min(p_values) < 0.01 and any(0.01 < p < 1 for p in p_values) and max(p_values) == 1.0


@pytest.mark.parametrize("case", SEQUENTIAL, ids=lambda c: c["case"])
def test_always_valid_interval_and_p_value_match_gbstats(case):
    estimate, se, n = _inputs(case)
    peer = case["gbstats"]
    assert estimate == pytest.approx(peer["expected"], rel=SAME_FORMULA)
    assert se == pytest.approx(peer["stddev"], rel=SAME_FORMULA)
    ours = always_valid(estimate, se, n, alpha=case["alpha"], tuning=case["tuning"], null=case["null"])
    assert [ours.ci_low, ours.ci_high] == pytest.approx(peer["ci"], rel=SAME_FORMULA)
    assert ours.p_value == pytest.approx(peer["p_value"], rel=SAME_FORMULA)


@pytest.mark.parametrize("case", BAYES, ids=lambda c: c["case"])
def test_bayesian_summary_matches_gbstats(case):
    estimate, se, _ = _inputs(case)
    peer = case["gbstats"]
    prior = NormalPrior() if case["prior"] is None else NormalPrior(case["prior"]["mean"], case["prior"]["variance"])
    ours = bayes_summary(estimate, se, prior=prior, alpha=case["alpha"], lower_is_better=case["inverse"])
    assert ours.posterior_mean == pytest.approx(peer["expected"], rel=SAME_FORMULA)
    assert ours.posterior_sd == pytest.approx(peer["stddev"], rel=SAME_FORMULA)
    assert [ours.credible_low, ours.credible_high] == pytest.approx(peer["ci"], rel=SAME_FORMULA)
    assert ours.chance_to_win == pytest.approx(peer["chance_to_win"], rel=SAME_FORMULA)
    assert [ours.risk_control, ours.risk_treatment] == pytest.approx(peer["risk"], rel=1e-7)
    assert ("flat" in ours.describe()) == (case["prior"] is None)


def test_max_differences_from_gbstats_are_at_rounding_level():
    """The largest relative gap over every compared number, for the record (and a floor on drift)."""
    worst = 0.0
    for case in SEQUENTIAL:
        estimate, se, n = _inputs(case)
        ours = always_valid(estimate, se, n, alpha=case["alpha"], tuning=case["tuning"], null=case["null"])
        pairs = zip([ours.ci_low, ours.ci_high, ours.p_value], case["gbstats"]["ci"] + [case["gbstats"]["p_value"]])
        worst = max(worst, *(abs(a - b) / max(abs(b), 1e-300) for a, b in pairs))
    assert worst < SAME_FORMULA and math.isfinite(worst)


@pytest.mark.parametrize("case", CUPED, ids=lambda c: c["case"])
def test_pooled_cuped_matches_gbstats_regression_adjustment(case):
    """gbstats' theta (compute_theta), difference, standard deviation, interval and p-value. Its p-values
    are ``1 - t.cdf``, exact to about 1e-16 absolute; its 'less' interval's upper bound is the point
    minus the width (the 'greater' lower bound), so only the finite 'greater' and two-sided bounds
    are compared with ours, and the 'less' bound with our 'greater' one."""
    units = FIXTURE["units"][case["data"]]
    x = [np.array(units[arm]["pre"]) for arm in ("control", "treatment")]
    y = [np.array(units[arm]["post"]) for arm in ("control", "treatment")]
    origin = (rounded_origin(np.concatenate(x).mean()), rounded_origin(np.concatenate(y).mean()))
    pair = [CovariateMoments.from_arrays(a, b, origin=origin) for a, b in zip(x, y)]
    peer, alternative = case["gbstats"], case["alternative"]
    ours = pooled_cuped_effect(*pair, alpha=case["alpha"], alternative=alternative)
    effect = ours.adjusted
    assert ours.theta == pytest.approx(case["theta"], rel=SAME_FORMULA)
    assert effect.estimate == pytest.approx(peer["expected"], rel=SAME_FORMULA)
    assert effect.se == pytest.approx(peer["stddev"], rel=SAME_FORMULA)
    assert effect.p_value == pytest.approx(peer["p_value"], rel=SAME_FORMULA, abs=1e-15)
    if alternative == "less":
        greater = pooled_cuped_effect(*pair, alpha=case["alpha"], alternative="greater").adjusted
        assert effect.ci_low == -math.inf and peer["ci"][1] == pytest.approx(greater.ci_low, rel=SAME_FORMULA)
        assert effect.ci_high - effect.estimate == pytest.approx(effect.estimate - greater.ci_low, rel=SAME_FORMULA)
    else:
        assert [effect.ci_low, effect.ci_high] == pytest.approx(peer["ci"], rel=SAME_FORMULA)


def test_the_cuped_cases_cover_each_alternative_on_small_and_large_samples():
    assert {(c["data"], c["alternative"]) for c in CUPED} == {
        (d, a) for d in ("cuped_large", "cuped_small") for a in ("two-sided", "greater", "less")}
