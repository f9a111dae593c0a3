"""CUPED against statsmodels' OLS of the metric on arm and centred covariate with HC1 errors (1e-9)."""

import numpy as np
import pytest
import statsmodels.api as sm

from study.ab.abstats import mean_effect
from study.ab.cuped import cuped_effect
from study.ab.sufficient import CovariateMoments, Moments, rounded_origin


def _experiment(seed, n_control, n_treatment, covariate_level=0.0, effect=0.7):
    rng = np.random.default_rng(seed)
    x = covariate_level + 10 * rng.lognormal(0, 1, n_control + n_treatment)
    treated = np.r_[np.zeros(n_control), np.ones(n_treatment)]
    # Heavy-tailed noise whose spread differs by arm: the case HC errors exist for.
    y = 5 + 0.8 * (x - covariate_level) + effect * treated + rng.standard_t(4, x.size) * (1 + treated)
    return x, y, treated


def _cuped(x, y, treated):
    origin = (rounded_origin(x.mean()), rounded_origin(y.mean()))
    arms = [CovariateMoments.from_arrays(x[treated == k], y[treated == k], origin=origin) for k in (0, 1)]
    return cuped_effect(*arms, metric="spend", covariate="pre_spend")


@pytest.mark.parametrize("seed, n_control, n_treatment, level", [(1, 40, 60, 0.0), (2, 300, 500, 50.0), (3, 2000, 1500, 2020.0)])
def test_cuped_is_the_ols_coefficient_with_hc1_errors(seed, n_control, n_treatment, level):
    x, y, treated = _experiment(seed, n_control, n_treatment, level)
    result = _cuped(x, y, treated)
    fit = sm.OLS(y, np.column_stack([np.ones_like(y), treated, x - x.mean()])).fit(cov_type="HC1", use_t=True)
    low, high = fit.conf_int(0.05)[1]
    adjusted = result.adjusted
    assert adjusted.estimate == pytest.approx(fit.params[1], rel=1e-9)
    assert adjusted.se == pytest.approx(fit.bse[1], rel=1e-9)
    assert adjusted.p_value == pytest.approx(fit.pvalues[1], rel=1e-9)
    assert (adjusted.ci_low, adjusted.ci_high) == (pytest.approx(low, rel=1e-9), pytest.approx(high, rel=1e-9))
    assert adjusted.df == fit.df_resid
    assert result.theta == pytest.approx(fit.params[2], rel=1e-9)
    assert adjusted.control_value == pytest.approx(fit.params[0], rel=1e-9)


def test_adjusted_lift_uses_the_sandwich_covariance_of_the_adjusted_means():
    x, y, treated = _experiment(4, 800, 900)
    lift = _cuped(x, y, treated).adjusted
    fit = sm.OLS(y, np.column_stack([np.ones_like(y), treated, x - x.mean()])).fit(cov_type="HC1", use_t=True)
    b0, b1 = fit.params[:2]
    gradient = np.array([1 / (b0 + b1) - 1 / b0, 1 / (b0 + b1)])
    log_se = np.sqrt(gradient @ np.asarray(fit.cov_params())[:2, :2] @ gradient)
    q = fit.t_test([0, 1, 0]).dist.ppf(0.975, fit.df_resid)
    assert lift.lift == pytest.approx((b0 + b1) / b0 - 1, rel=1e-9)
    assert lift.lift_ci_high == pytest.approx((b0 + b1) / b0 * np.exp(q * log_se) - 1, rel=1e-9)


def test_unadjusted_estimate_sits_beside_the_adjusted_one():
    x, y, treated = _experiment(5, 600, 600)
    result = _cuped(x, y, treated)
    welch = mean_effect(Moments.from_arrays(y[treated == 0]), Moments.from_arrays(y[treated == 1]))
    assert result.unadjusted.estimate == pytest.approx(welch.estimate, rel=1e-9)
    assert result.unadjusted.se == pytest.approx(welch.se, rel=1e-9)
    assert result.variance_reduction == pytest.approx(1 - result.adjusted.se**2 / welch.se**2, rel=1e-12)
    assert result.adjusted.extra["unadjusted"]["estimate"] == pytest.approx(welch.estimate, rel=1e-12)
    assert result.adjusted.extra["variance_reduction"] == result.variance_reduction
    assert result.adjusted.method_code == "cuped_ols_hc1_t"


def test_variance_reduction_is_the_squared_correlation():
    """y = x + e with var(x) = 4, var(e) = 1: rho^2 = 0.8. The sample reduction's SE is about
    2 rho (1 - rho^2) / sqrt(n) < 0.003 at n = 20,000; the tolerance is 3 SEs plus the O(1/n) gap."""
    rng = np.random.default_rng(6)
    n = 20_000
    x = rng.normal(0, 2, n)
    treated = (rng.random(n) < 0.5).astype(float)
    y = x + rng.normal(0, 1, n) + 0.1 * treated
    result = _cuped(x, y, treated)
    assert result.variance_reduction == pytest.approx(0.8, abs=0.01)
    assert result.adjusted_sd == pytest.approx(1.0, abs=0.02) and result.unadjusted_sd == pytest.approx(np.sqrt(5), abs=0.05)


def test_a_constant_covariate_is_refused():
    with pytest.raises(ValueError, match="does not vary"):
        cuped_effect(CovariateMoments.from_arrays(np.ones(5), np.arange(5.0)), CovariateMoments.from_arrays(np.ones(5), np.arange(5.0)))
