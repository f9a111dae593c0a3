"""Pooled-theta CUPED for means and ratio metrics: against closed forms computed unit by unit with numpy
and scipy, through the aggregation backends, and by simulated coverage."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from study.ab import abtest, aggregate
from study.ab.cuped import cuped_effect
from study.ab.cuped_pooled import pooled_cuped_effect, ratio_cuped_effect
from study.ab.sufficient import (
    CovariateMoments,
    Metric,
    RatioCovariateMoments,
    rounded_origin,
)


def _mean_experiment(seed, n_c, n_t, effect=0.5, level=0.0):
    rng = np.random.default_rng(seed)
    x = level + rng.gamma(2.0, 5.0, n_c + n_t)
    treated = np.r_[np.zeros(n_c), np.ones(n_t)].astype(bool)
    y = 3 + 0.7 * (x - level) + effect * treated + rng.standard_t(5, x.size) * (1 + treated)
    return x, y, treated


def _pair(x, y, treated):
    origin = (rounded_origin(x.mean()), rounded_origin(y.mean()))
    return [CovariateMoments.from_arrays(x[k], y[k], origin=origin) for k in (~treated, treated)]


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
@pytest.mark.parametrize("seed, n_c, n_t, level", [(1, 40, 55, 0.0), (2, 900, 1100, 2020.0)])
def test_pooled_cuped_is_welch_on_the_adjusted_units(alternative, seed, n_c, n_t, level):
    """theta from both arms' units together, treated as known: Welch's test on y - theta (x - mean x)."""
    x, y, treated = _mean_experiment(seed, n_c, n_t, level=level)
    theta = np.cov(x, y)[0, 1] / np.var(x, ddof=1)
    adjusted = y - theta * (x - x.mean())
    result = pooled_cuped_effect(*_pair(x, y, treated), alternative=alternative)
    reference = stats.ttest_ind(adjusted[treated], adjusted[~treated], equal_var=False, alternative=alternative)
    interval = reference.confidence_interval(0.95)
    effect = result.adjusted
    assert result.theta == pytest.approx(theta, rel=1e-9)
    assert effect.control_value == pytest.approx(adjusted[~treated].mean(), rel=1e-9)
    assert effect.estimate == pytest.approx(adjusted[treated].mean() - adjusted[~treated].mean(), rel=1e-9)
    assert effect.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert (effect.ci_low, effect.ci_high) == (pytest.approx(interval.low, rel=1e-9), pytest.approx(interval.high, rel=1e-9))
    assert effect.method_code == "cuped_pooled_welch_t" and result.unadjusted.method_code == "welch_t"


def test_pooled_and_regression_forms_agree_to_a_fraction_of_a_standard_error():
    x, y, treated = _mean_experiment(3, 3000, 3000)
    pooled, ols = pooled_cuped_effect(*_pair(x, y, treated)), cuped_effect(*_pair(x, y, treated))
    assert abs(pooled.adjusted.estimate - ols.adjusted.estimate) < 0.02 * ols.adjusted.se
    assert pooled.adjusted.se == pytest.approx(ols.adjusted.se, rel=0.02)
    assert pooled.variance_reduction > 0.5


def _surveys(seed, n, lift=0.0):
    rng = np.random.default_rng(seed)
    treated = rng.random(n) < 0.5
    leaning = rng.normal(0, 0.8, n)
    den, cden = rng.poisson(1.3, n), rng.poisson(1.5, n) + 1
    num = den * np.clip(3.6 + leaning + lift * treated + rng.normal(0, 0.6, n), 1, 5)
    cnum = cden * np.clip(3.6 + leaning + rng.normal(0, 0.6, n), 1, 5)
    return np.column_stack([num, den, cnum, cden]), treated


def _linearized(m, theta, anchor):
    """Per-unit delta-method influence of R - theta Q, about ``anchor``'s means."""
    mean = anchor.mean(axis=0)
    r, q = mean[0] / mean[1], mean[2] / mean[3]
    return (m[:, 0] - r * m[:, 1]) / mean[1] - theta * (m[:, 2] - q * m[:, 3]) / mean[3]


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
@pytest.mark.parametrize("seed, n", [(4, 150), (5, 4000)])
def test_ratio_cuped_is_the_delta_method_on_per_unit_influences(alternative, seed, n):
    m, treated = _surveys(seed, n, lift=0.1)
    a_all = _linearized(m, 0.0, m)
    b_all = -_linearized(m, 1.0, m) + a_all  # the covariate ratio's influence alone
    theta = np.cov(a_all, b_all)[0, 1] / np.var(b_all, ddof=1)
    result = ratio_cuped_effect(*(RatioCovariateMoments.from_arrays(*m[k].T) for k in (~treated, treated)),
                                alternative=alternative)
    q_all = m[:, 2].sum() / m[:, 3].sum()
    values = [m[k, 0].sum() / m[k, 1].sum() - theta * (m[k, 2].sum() / m[k, 3].sum() - q_all) for k in (~treated, treated)]
    variances = [np.var(_linearized(m[k], theta, m[k]), ddof=1) / k.sum() for k in (~treated, treated)]
    se = math.sqrt(sum(variances))
    df = sum(variances) ** 2 / sum(v * v / (k.sum() - 1) for v, k in zip(variances, (~treated, treated)))
    t = (values[1] - values[0]) / se
    p = {"two-sided": 2 * stats.t.sf(abs(t), df), "greater": stats.t.sf(t, df), "less": stats.t.cdf(t, df)}[alternative]
    effect = result.adjusted
    assert result.theta == pytest.approx(theta, rel=1e-9)
    assert [effect.control_value, effect.treatment_value] == pytest.approx(values, rel=1e-9)
    assert effect.se == pytest.approx(se, rel=1e-9) and effect.df == pytest.approx(df, rel=1e-9)
    assert effect.p_value == pytest.approx(p, rel=1e-9)
    assert effect.method_code == "cuped_ratio_welch_t" and result.unadjusted.method_code == "delta_ratio_welch_t"


def test_coverage_of_pooled_cuped_intervals_for_means_and_ratios():
    """1,000 simulated experiments each, true effect known: 95% intervals cover it within 3 Monte-Carlo
    SEs (3 * sqrt(0.95 * 0.05 / 1000) = 0.021) of 95%, and the adjusted interval is narrower."""
    rng = np.random.default_rng(7)
    reps, hits, narrower = 1000, {"mean": 0, "ratio": 0}, {"mean": 0, "ratio": 0}
    for _ in range(reps):
        x, y, treated = _mean_experiment(int(rng.integers(1 << 31)), 150, 150, effect=0.5)
        result = pooled_cuped_effect(*_pair(x, y, treated))
        hits["mean"] += result.adjusted.ci_low <= 0.5 <= result.adjusted.ci_high
        narrower["mean"] += result.adjusted.se < result.unadjusted.se
        # No lift: both arms' ratios are the same expectation, so the true difference is 0.
        m, treated = _surveys(int(rng.integers(1 << 31)), 300)
        ratio = ratio_cuped_effect(*(RatioCovariateMoments.from_arrays(*m[k].T) for k in (~treated, treated)))
        hits["ratio"] += ratio.adjusted.ci_low <= 0.0 <= ratio.adjusted.ci_high
        narrower["ratio"] += ratio.adjusted.se < ratio.unadjusted.se
    for kind in hits:
        assert abs(hits[kind] / reps - 0.95) < 3 * math.sqrt(0.95 * 0.05 / reps), kind
        assert narrower[kind] > 0.95 * reps, kind


def test_ratio_metrics_with_a_covariate_aggregate_alike_and_are_compared_with_ratio_cuped():
    m, treated = _surveys(8, 1200, lift=0.15)
    frame = pd.DataFrame(m, columns=["csat_sum", "surveys", "pre_csat_sum", "pre_surveys"])
    frame["variant"] = np.where(treated, "treatment", "control")
    frame.loc[3, "pre_surveys"] = np.nan  # a unit without a pre-period is left out of this metric
    metric = Metric("csat", "csat_sum", "ratio", denominator="surveys", covariate="pre_csat_sum",
                    covariate_denominator="pre_surveys")
    by_frame = aggregate.aggregate_frame(frame, [metric])
    by_duckdb = aggregate.aggregate_duckdb(frame, [metric], arm="variant")
    for arm in ("control", "treatment"):
        a, b = by_frame.by_arm("csat")[arm], by_duckdb.by_arm("csat")[arm]
        assert isinstance(a, RatioCovariateMoments) and a.n == b.n
        for name in RatioCovariateMoments.TERMS:
            assert getattr(a, name) == pytest.approx(getattr(b, name), rel=1e-12)
    (effect,) = abtest.compare_metrics(by_frame)
    direct = ratio_cuped_effect(*(by_frame.by_arm("csat")[a] for a in ("control", "treatment")), metric="csat",
                                covariate="pre_csat_sum", arms=("control", "treatment"))
    assert effect.method_code == "cuped_ratio_welch_t" and effect.estimate == direct.adjusted.estimate
    assert effect.n_control + effect.n_treatment == 1199


def test_compare_metrics_selects_the_cuped_form_and_keeps_the_default():
    x, y, treated = _mean_experiment(9, 500, 500)
    frame = pd.DataFrame({"variant": np.where(treated, "b", "a"), "spend": y, "pre": x})
    aggregates = aggregate.aggregate_frame(frame, [Metric("spend", "spend", covariate="pre")])
    (default,) = abtest.compare_metrics(aggregates, control="a")
    (pooled,) = abtest.compare_metrics(aggregates, control="a", cuped="pooled", alternative="greater")
    assert default.method_code == "cuped_ols_hc1_t" and default.alternative == "two-sided"
    assert pooled.method_code == "cuped_pooled_welch_t" and pooled.ci_high == math.inf
    with pytest.raises(ValueError, match="two-sided only"):
        abtest.compare_metrics(aggregates, control="a", alternative="less")
    with pytest.raises(ValueError, match="cuped"):
        abtest.compare_metrics(aggregates, control="a", cuped="within")


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="covariate denominator"):
        Metric("csat", "csat_sum", "ratio", denominator="surveys", covariate="pre_csat_sum")
    with pytest.raises(ValueError, match="covariate denominator"):
        Metric("spend", "spend", covariate="pre", covariate_denominator="pre_orders")
    x, y, treated = _mean_experiment(10, 30, 30)
    with pytest.raises(ValueError, match="does not vary"):
        pooled_cuped_effect(*_pair(np.full_like(x, 2.0), y, treated))
    m, treated = _surveys(11, 200)
    m[:, 2] = 4.0 * m[:, 3]
    with pytest.raises(ValueError, match="does not vary"):
        ratio_cuped_effect(*(RatioCovariateMoments.from_arrays(*m[k].T) for k in (~treated, treated)))
