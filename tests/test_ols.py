"""Least squares from the normal equations against statsmodels' OLS called directly."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from study.stats.ols import CholeskyOLS


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(12)
    n = 6_000
    agent = rng.integers(0, 60, n)
    customers = rng.integers(0, 2_500, n)
    design = pd.get_dummies(pd.Series(agent, name="agent").astype(str), prefix="agent", drop_first=True, dtype=float)
    design.insert(0, "speed", rng.normal(0, 1.5, n))
    design.insert(1, "resolved", (rng.random(n) < 0.7) * 1.0)
    design = sm.add_constant(design)
    y = design.to_numpy() @ rng.normal(0, 0.3, design.shape[1]) + rng.normal(size=n) + rng.normal(size=2_500)[customers]
    return y, design, customers


@pytest.mark.parametrize("cov", [{"cov_type": "nonrobust"}, {"cov_type": "HC1"}, "cluster"])
def test_normal_equations_give_statsmodels_ols(data, cov):
    y, design, customers = data
    if cov == "cluster":
        cov = {"cov_type": "cluster", "cov_kwds": {"groups": customers}}
    ours, direct = CholeskyOLS(y, design).fit(**cov), sm.OLS(y, design).fit(**cov)
    np.testing.assert_allclose(ours.params, direct.params, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(ours.bse, direct.bse, rtol=1e-10)
    np.testing.assert_allclose(ours.normalized_cov_params, direct.normalized_cov_params, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(ours.resid, direct.resid, rtol=1e-9, atol=1e-12)
    assert (ours.df_model, ours.df_resid, ours.rsquared) == pytest.approx((direct.df_model, direct.df_resid, direct.rsquared), rel=1e-12)
    assert ours.condition_number == pytest.approx(direct.condition_number, rel=1e-6)


def test_a_rank_deficient_design_is_left_to_statsmodels(data):
    y, design, _ = data
    collinear = design.assign(twice=2 * design["speed"])
    with pytest.warns(Warning):
        direct = sm.OLS(y, collinear).fit()
    with pytest.warns(Warning):
        ours = CholeskyOLS(y, collinear).fit()
    np.testing.assert_array_equal(ours.params, direct.params)
