"""Means, proportions, ratio metrics and relative lift against scipy, statsmodels and hand formulas (1e-9)."""

import json
import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats import proportion as sm_proportion

from study.ab import abstats
from study.ab.sufficient import Moments, RatioMoments
from study.core.results import Estimate

TOL = 1e-9


def _samples(seed, n_control, n_treatment, shift=0.4):
    rng = np.random.default_rng(seed)
    return rng.lognormal(2, 0.8, n_control), rng.lognormal(2, 1.0, n_treatment) + shift


@pytest.mark.parametrize("seed, n_control, n_treatment", [(1, 40, 25), (2, 800, 1300), (3, 5000, 5000)])
def test_welch_matches_scipy(seed, n_control, n_treatment):
    control, treatment = _samples(seed, n_control, n_treatment)
    effect = abstats.mean_effect(Moments.from_arrays(control), Moments.from_arrays(treatment))
    reference = stats.ttest_ind(treatment, control, equal_var=False)
    low, high = reference.confidence_interval(0.95)
    assert effect.estimate == pytest.approx(treatment.mean() - control.mean(), rel=TOL)
    assert effect.p_value == pytest.approx(reference.pvalue, rel=TOL)
    assert effect.df == pytest.approx(reference.df, rel=TOL)
    assert (effect.ci_low, effect.ci_high) == (pytest.approx(low, rel=TOL), pytest.approx(high, rel=TOL))
    assert effect.estimate / effect.se == pytest.approx(reference.statistic, rel=TOL)
    assert effect.method_code == "welch_t"


def test_normal_reference_uses_the_same_standard_error():
    control, treatment = _samples(4, 300, 400)
    effect = abstats.mean_effect(Moments.from_arrays(control), Moments.from_arrays(treatment), reference="z", alpha=0.1)
    se = math.sqrt(control.var(ddof=1) / 300 + treatment.var(ddof=1) / 400)
    z = (treatment.mean() - control.mean()) / se
    assert effect.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=TOL)
    assert effect.ci_high - effect.estimate == pytest.approx(stats.norm.ppf(0.95) * se, rel=TOL)
    assert effect.method_code == "welch_z" and math.isinf(effect.df)


def test_lift_is_the_delta_method_on_the_log_ratio_with_welch_df_of_the_log_scale():
    control, treatment = _samples(5, 500, 700)
    effect = abstats.mean_effect(Moments.from_arrays(control), Moments.from_arrays(treatment))
    mc, mt = control.mean(), treatment.mean()
    a, b = control.var(ddof=1) / 500 / mc**2, treatment.var(ddof=1) / 700 / mt**2
    df = (a + b) ** 2 / (a**2 / 499 + b**2 / 699)
    log_se, q = math.sqrt(a + b), stats.t.ppf(0.975, df)
    assert effect.lift == pytest.approx(mt / mc - 1, rel=TOL)
    assert effect.lift_ci_low == pytest.approx(math.exp(math.log(mt / mc) - q * log_se) - 1, rel=TOL)
    assert effect.lift_ci_high == pytest.approx(math.exp(math.log(mt / mc) + q * log_se) - 1, rel=TOL)
    assert effect.lift_p_value == pytest.approx(2 * stats.t.sf(abs(math.log(mt / mc)) / log_se, df), rel=TOL)
    assert effect.lift_method.startswith("delta_log")


def test_lift_is_not_defined_when_the_control_mean_is_not_positive():
    effect = abstats.mean_effect(Moments.from_arrays([-1.0, -2, 0.5]), Moments.from_arrays([1.0, 2, 3]))
    assert math.isnan(effect.lift) and effect.lift_ci_low is None and "not defined" in effect.lift_method


def _bernoulli(seed, n_control, n_treatment, p_control=0.30, p_treatment=0.33):
    rng = np.random.default_rng(seed)
    return (rng.random(n_control) < p_control).astype(float), (rng.random(n_treatment) < p_treatment).astype(float)


@pytest.mark.parametrize("seed, n_control, n_treatment", [(6, 4000, 4000), (7, 300, 900), (8, 53, 47)])
def test_proportions_match_statsmodels_and_scipy(seed, n_control, n_treatment):
    control, treatment = _bernoulli(seed, n_control, n_treatment)
    c, t = Moments.from_arrays(control), Moments.from_arrays(treatment)
    successes, sizes = [treatment.sum(), control.sum()], [n_treatment, n_control]

    pooled = abstats.proportion_effect(c, t, pooled=True)
    assert pooled.p_value == pytest.approx(sm_proportion.proportions_ztest(successes, sizes)[1], rel=TOL)
    assert pooled.method_code == "z_pooled" and "pooled variance" in pooled.method

    unpooled = abstats.proportion_effect(c, t)
    wald = sm_proportion.test_proportions_2indep(*successes[:1], sizes[0], successes[1], sizes[1], method="wald", compare="diff")
    low, high = sm_proportion.confint_proportions_2indep(successes[0], sizes[0], successes[1], sizes[1], method="wald", compare="diff")
    assert unpooled.p_value == pytest.approx(wald.pvalue, rel=TOL)
    assert (unpooled.ci_low, unpooled.ci_high) == (pytest.approx(low, rel=TOL), pytest.approx(high, rel=TOL))
    assert unpooled.method_code == "z_unpooled"

    corrected = abstats.proportion_effect(c, t, pooled=True, continuity=True)
    table = [[treatment.sum(), n_treatment - treatment.sum()], [control.sum(), n_control - control.sum()]]
    assert corrected.p_value == pytest.approx(stats.chi2_contingency(table, correction=True).pvalue, rel=TOL)
    correction = 0.5 * (1 / n_control + 1 / n_treatment)
    assert corrected.ci_high - corrected.estimate == pytest.approx(unpooled.ci_high - unpooled.estimate + correction, rel=TOL)
    assert corrected.method_code == "z_pooled_cc" and "continuity correction" in corrected.method


def test_proportion_lift_uses_the_unpooled_log_variance():
    control, treatment = _bernoulli(9, 2000, 2100)
    effect = abstats.proportion_effect(Moments.from_arrays(control), Moments.from_arrays(treatment))
    pc, pt = control.mean(), treatment.mean()
    log_se = math.sqrt((1 - pc) / (2000 * pc) + (1 - pt) / (2100 * pt))
    assert effect.lift_ci_high == pytest.approx(pt / pc * math.exp(stats.norm.ppf(0.975) * log_se) - 1, rel=TOL)


def test_proportions_refuse_a_metric_that_is_not_zero_one():
    with pytest.raises(ValueError, match="not a 0/1 metric"):
        abstats.proportion_effect(Moments.from_arrays([0.0, 2.0, 1.0]), Moments.from_arrays([1.0, 0.0, 1.0]))


def test_ratio_metric_matches_a_hand_written_delta_method():
    rng = np.random.default_rng(10)
    orders = [1 + rng.poisson(1.5, n) for n in (900, 1100)]
    spend = [o * rng.lognormal(2.5, 0.7, o.size) * f for o, f in zip(orders, (1.0, 1.06))]
    effect = abstats.ratio_effect(*(RatioMoments.from_arrays(s, o) for s, o in zip(spend, orders)))

    def ratio_and_unit_variance(num, den):
        r = num.mean() / den.mean()
        covariance = np.cov(num, den, ddof=1)
        return r, (covariance[0, 0] - 2 * r * covariance[0, 1] + r * r * covariance[1, 1]) / den.mean() ** 2

    (r_c, v_c), (r_t, v_t) = (ratio_and_unit_variance(s, o) for s, o in zip(spend, orders))
    se = math.sqrt(v_c / 900 + v_t / 1100)
    df = (v_c / 900 + v_t / 1100) ** 2 / ((v_c / 900) ** 2 / 899 + (v_t / 1100) ** 2 / 1099)
    assert effect.estimate == pytest.approx(r_t - r_c, rel=TOL)
    assert effect.se == pytest.approx(se, rel=TOL)
    assert effect.p_value == pytest.approx(2 * stats.t.sf(abs(r_t - r_c) / se, df), rel=TOL)
    assert effect.ci_low == pytest.approx(r_t - r_c - stats.t.ppf(0.975, df) * se, rel=TOL)
    assert effect.method_code == "delta_ratio_welch_t"


def test_a_ratio_with_unit_denominators_is_a_mean():
    control, treatment = _samples(11, 200, 260)
    ratio = abstats.ratio_effect(RatioMoments.from_arrays(control, np.ones(200)), RatioMoments.from_arrays(treatment, np.ones(260)))
    mean = abstats.mean_effect(Moments.from_arrays(control), Moments.from_arrays(treatment))
    assert (ratio.estimate, ratio.se, ratio.p_value, ratio.lift_ci_low) == pytest.approx(
        (mean.estimate, mean.se, mean.p_value, mean.lift_ci_low), rel=1e-9)


def test_effects_become_results_file_estimates_with_arms_method_and_adjusted_p():
    control, treatment = _samples(12, 100, 120)
    effect = abstats.mean_effect(Moments.from_arrays(control), Moments.from_arrays(treatment), metric="next_spend",
                                 arms=("control", "fast"), label="Spend in the follow-up window")
    effect = effect.with_adjusted_p_values(holm=0.2, benjamini_hochberg=0.1)
    difference, lift = (Estimate(**json.loads(json.dumps(e.to_dict()))) for e in effect.estimates())
    assert difference.name == "next_spend_effect_fast_vs_control" and difference.n == 220
    assert difference.value == pytest.approx(effect.estimate) and difference.p_value == pytest.approx(effect.p_value)
    assert difference.extra["arms"] == {"control": "control", "treatment": "fast"}
    assert difference.extra["adjusted_p_values"] == {"holm": 0.2, "benjamini_hochberg": 0.1}
    assert difference.extra["method_code"] == "welch_t" and difference.method.startswith("welch_t:")
    assert lift.name == "next_spend_relative_lift_fast_vs_control" and lift.method.startswith("delta_log")


def test_too_few_units_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="at least 2 units"):
        abstats.mean_effect(Moments.from_arrays([1.0]), Moments.from_arrays([1.0, 2.0]))
