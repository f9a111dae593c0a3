"""The one place a level becomes a critical value, an interval and a p-value, against statsmodels."""

import numpy as np
import pytest
import statsmodels.api as sm

from study.core.inference import critical_value, wald_interval, wald_p_value


@pytest.fixture(scope="module")
def fit():
    rng = np.random.default_rng(3)
    x = rng.normal(size=12)
    return sm.OLS(1 + 0.4 * x + rng.normal(size=12), sm.add_constant(x)).fit()


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1])
def test_t_intervals_and_p_values_match_statsmodels(fit, alpha):
    low, high = wald_interval(fit.params[1], fit.bse[1], alpha, df=fit.df_resid)
    assert (low, high) == pytest.approx(tuple(fit.conf_int(alpha)[1]), rel=1e-12)
    assert wald_p_value(fit.params[1], fit.bse[1], df=fit.df_resid) == pytest.approx(fit.pvalues[1], rel=1e-10)


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1])
def test_normal_intervals_and_p_values_match_statsmodels(fit, alpha):
    normal = fit.get_robustcov_results("HC1", use_t=False)
    low, high = wald_interval(normal.params[1], normal.bse[1], alpha)
    assert (low, high) == pytest.approx(tuple(normal.conf_int(alpha)[1]), rel=1e-12)
    assert wald_p_value(normal.params[1], normal.bse[1]) == pytest.approx(normal.pvalues[1], rel=1e-10)
    assert critical_value(alpha, df=float("inf")) == critical_value(alpha)


def test_critical_values_are_scipy_stats_quantiles_bit_for_bit():
    from scipy import stats

    for alpha in (1e-12, 0.001, 0.01, 0.05, 0.1, 0.2, 0.5, 0.9):
        assert critical_value(alpha) == stats.norm.ppf(1 - alpha / 2)
        assert critical_value(alpha, sides=1) == stats.norm.isf(alpha)
        for df in (1, 2.5, 9, 49, 1000):
            assert critical_value(alpha, df=df) == stats.t.ppf(1 - alpha / 2, df)
            assert critical_value(alpha, df=df, sides=1) == stats.t.isf(alpha, df)


def test_published_critical_values_and_bad_levels():
    assert critical_value(0.05) == pytest.approx(1.959964, abs=1e-6)
    assert critical_value(0.05, df=9) == pytest.approx(2.262157, abs=1e-6)  # t(9), as Stata uses with 10 clusters
    for alpha in (0, 1, -0.1, 1.5):
        with pytest.raises(ValueError, match="alpha"):
            critical_value(alpha)
