"""One-sided tests ('greater', 'less') against scipy and statsmodels called directly, and by simulation."""

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats import proportion as sm_proportion

from study.ab.abstats import mean_effect, proportion_effect, ratio_effect
from study.ab.sufficient import Moments, RatioMoments
from study.core.inference import critical_value, wald_interval, wald_p_value

SCIPY = {"greater": "greater", "less": "less"}
STATSMODELS = {"greater": "larger", "less": "smaller"}


def _spend(seed, n_c, n_t, lift):
    rng = np.random.default_rng(seed)
    return rng.lognormal(2.0, 0.9, n_c), rng.lognormal(2.0, 0.9, n_t) * (1 + lift)


@pytest.mark.parametrize("alternative", ["greater", "less"])
@pytest.mark.parametrize("seed, n_c, n_t, lift, alpha", [(1, 25, 40, 0.2, 0.05), (2, 800, 700, 0.03, 0.1), (3, 300, 300, -0.1, 0.01)])
def test_welch_one_sided_matches_scipy_ttest_ind(alternative, seed, n_c, n_t, lift, alpha):
    c, t = _spend(seed, n_c, n_t, lift)
    ours = mean_effect(Moments.from_arrays(c), Moments.from_arrays(t), alpha=alpha, alternative=alternative)
    theirs = stats.ttest_ind(t, c, equal_var=False, alternative=SCIPY[alternative])
    interval = theirs.confidence_interval(1 - alpha)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9)
    assert ours.df == pytest.approx(theirs.df, rel=1e-9)
    assert (ours.ci_low, ours.ci_high) == (pytest.approx(interval.low, rel=1e-9), pytest.approx(interval.high, rel=1e-9))
    assert math.isinf(ours.ci_high if alternative == "greater" else ours.ci_low)
    assert ours.alternative == alternative and f"alternative {alternative}" in ours.method


@pytest.mark.parametrize("alternative", ["greater", "less"])
@pytest.mark.parametrize("counts", [(300, 1000, 345, 1000), (19, 53, 13, 47), (40, 400, 31, 420)])
def test_proportion_one_sided_matches_statsmodels(alternative, counts):
    x_c, n_c, x_t, n_t = counts
    arms = [Moments(n, x, x) for x, n in ((x_c, n_c), (x_t, n_t))]
    pooled = proportion_effect(*arms, pooled=True, alternative=alternative)
    _, p_pooled = sm_proportion.proportions_ztest([x_t, x_c], [n_t, n_c], alternative=STATSMODELS[alternative])
    assert pooled.p_value == pytest.approx(p_pooled, rel=1e-9)
    unpooled = proportion_effect(*arms, alpha=0.1, alternative=alternative)
    wald = sm_proportion.test_proportions_2indep(x_t, n_t, x_c, n_c, method="wald", compare="diff",
                                                 alternative=STATSMODELS[alternative], correction=False)
    assert unpooled.p_value == pytest.approx(wald.pvalue, rel=1e-9)
    bound = unpooled.estimate + (-1 if alternative == "greater" else 1) * stats.norm.isf(0.1) * unpooled.se
    assert (unpooled.ci_low if alternative == "greater" else unpooled.ci_high) == pytest.approx(bound, rel=1e-12)
    assert (unpooled.ci_high if alternative == "greater" else unpooled.ci_low) == (1.0 if alternative == "greater" else -1.0)


def test_one_sided_p_value_is_half_the_two_sided_on_the_side_of_the_estimate():
    c, t = _spend(4, 200, 200, 0.1)
    pair = Moments.from_arrays(c), Moments.from_arrays(t)
    two = mean_effect(*pair)
    toward, away = (mean_effect(*pair, alternative=a) for a in (("greater", "less") if two.estimate > 0 else ("less", "greater")))
    assert toward.p_value == pytest.approx(two.p_value / 2, rel=1e-12)
    assert away.p_value == pytest.approx(1 - two.p_value / 2, rel=1e-12)
    assert toward.lift_p_value == pytest.approx(two.lift_p_value / 2, rel=1e-12)


def test_ratio_one_sided_bound_is_the_two_sided_bound_at_twice_alpha():
    rng = np.random.default_rng(5)
    arms = [RatioMoments.from_arrays(rng.gamma(2, 10, 500) * k, rng.poisson(2, 500) + 1) for k in (1.0, 1.05)]
    two = ratio_effect(*arms, alpha=0.1)
    greater, less = (ratio_effect(*arms, alpha=0.05, alternative=a) for a in ("greater", "less"))
    assert greater.ci_low == pytest.approx(two.ci_low, rel=1e-12) and less.ci_high == pytest.approx(two.ci_high, rel=1e-12)
    assert greater.lift_ci_low == pytest.approx(two.lift_ci_low, rel=1e-12) and greater.lift_ci_high == math.inf
    assert less.lift_ci_low == -1.0


def test_inference_one_sided_pieces_and_bad_alternatives():
    assert critical_value(0.05, sides=1) == pytest.approx(1.644854, abs=1e-6)
    assert critical_value(0.05, df=9, sides=1) == pytest.approx(1.833113, abs=1e-6)
    assert wald_interval(1.0, 0.5, 0.05, alternative="greater") == (pytest.approx(1 - 0.5 * 1.644854, abs=1e-6), math.inf)
    assert wald_p_value(-1.0, 0.5, 12, "less") == pytest.approx(stats.t.cdf(-2.0, 12), rel=1e-12)
    for bad in ("larger", "two_sided", ""):
        with pytest.raises(ValueError, match="alternative"):
            wald_p_value(1.0, 0.5, alternative=bad)
    with pytest.raises(ValueError, match="alternative"):
        mean_effect(Moments(3, 3.0, 5.0), Moments(3, 4.0, 8.0), alternative="larger")


def test_a_one_sided_test_rejects_a_true_null_at_its_level_and_gains_power():
    """4,000 A/A experiments of 60 lognormal units per arm at alpha = 0.05: the rejection rate of each
    one-sided test lies within 3 Monte-Carlo SEs (3 * sqrt(0.05 * 0.95 / 4000) = 0.010) of 5%, plus 0.01
    for Welch's small-sample error under skew. With a true lift the one-sided test rejects more often
    than the two-sided one, and its direction-reversed twin almost never."""
    rng = np.random.default_rng(6)
    reps, n = 4000, 60
    null = {"greater": 0, "less": 0}
    for _ in range(reps):
        pair = [Moments.from_arrays(rng.lognormal(2.0, 0.7, n)) for _ in range(2)]
        for alternative in null:
            null[alternative] += mean_effect(*pair, lift=False, alternative=alternative).p_value < 0.05
    for alternative, rejections in null.items():
        assert abs(rejections / reps - 0.05) < 3 * math.sqrt(0.05 * 0.95 / reps) + 0.01, alternative
    power = {"greater": 0, "less": 0, "two-sided": 0}
    for _ in range(1000):
        c, t = rng.lognormal(2.0, 0.7, n), rng.lognormal(2.0, 0.7, n) * 1.25
        pair = Moments.from_arrays(c), Moments.from_arrays(t)
        for alternative in power:
            power[alternative] += mean_effect(*pair, lift=False, alternative=alternative).p_value < 0.05
    assert power["greater"] > power["two-sided"] + 30 and power["less"] < 5
