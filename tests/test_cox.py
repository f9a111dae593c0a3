"""The vectorized Cox model against statsmodels' PHReg called directly."""

import numpy as np
import pytest
from statsmodels.duration.hazard_regression import PHReg

from study.stats.cox import BreslowPHReg


def _data(n: int = 3_000, seed: int = 3, continuous: bool = False):
    """Purchase days with ties (or continuous times), censoring at day 90, clusters and a few covariates."""
    rng = np.random.default_rng(seed)
    customers = rng.integers(0, n // 2, n)
    exog = np.column_stack([rng.normal(0, 1.5, n), (rng.random(n) < 0.8) * 1.0, rng.normal(size=n)])
    days = rng.exponential(60 / np.exp(exog @ np.array([-0.2, 0.4, 0.1])))
    if not continuous:
        days = np.ceil(days)
    status = (days <= 90).astype(float)
    return np.minimum(days, 90.0), status, exog, customers


@pytest.mark.parametrize("continuous", [False, True])
def test_fit_and_robust_covariance_match_phreg(continuous):
    time, status, exog, customers = _data(continuous=continuous)
    ours = BreslowPHReg(time, exog, status=status, ties="breslow").fit(groups=customers)
    direct = PHReg(time, exog, status=status, ties="breslow").fit(groups=customers)
    np.testing.assert_allclose(ours.params, direct.params, rtol=1e-9)
    np.testing.assert_allclose(ours.bse, direct.bse, rtol=1e-9)
    np.testing.assert_allclose(ours.cov_params(), direct.cov_params(), rtol=1e-9, atol=1e-15)
    model_based = BreslowPHReg(time, exog, status=status).fit()
    np.testing.assert_allclose(model_based.bse, PHReg(time, exog, status=status).fit().bse, rtol=1e-9)


def test_likelihood_derivatives_and_residuals_match_phreg():
    time, status, exog, _ = _data()
    ours, direct = BreslowPHReg(time, exog, status=status), PHReg(time, exog, status=status)
    params = np.array([-0.15, 0.3, 0.05])
    assert ours.loglike(params) == pytest.approx(direct.loglike(params), rel=1e-12)
    np.testing.assert_allclose(ours.score(params), direct.score(params), rtol=1e-10)
    np.testing.assert_allclose(ours.hessian(params), direct.hessian(params), rtol=1e-10)
    np.testing.assert_allclose(ours.weighted_covariate_averages(params)[0],
                               direct.weighted_covariate_averages(params)[0], rtol=1e-10)
    np.testing.assert_allclose(ours.score_residuals(params), direct.score_residuals(params), rtol=1e-9, atol=1e-12)
    fit, reference = ours.fit(), direct.fit()
    np.testing.assert_allclose(fit.schoenfeld_residuals, reference.schoenfeld_residuals, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fit.martingale_residuals, reference.martingale_residuals, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fit.baseline_cumulative_hazard[0][1], reference.baseline_cumulative_hazard[0][1], rtol=1e-9)


def test_risk_sets_are_phregs_index_for_index():
    time, status, exog, _ = _data(n=800)
    time[:5] = 0.5  # censored before the first purchase: in no risk set
    status[:5] = 0.0
    ours, direct = BreslowPHReg(time, exog, status=status).surv, PHReg(time, exog, status=status).surv
    for name in ("stratum_rows", "time_s", "exog_s", "status_s", "entry_s", "ufailt"):
        for a, b in zip(getattr(ours, name), getattr(direct, name), strict=True):
            assert a.dtype == b.dtype and np.array_equal(a, b), name
    for name in ("ufailt_ix", "risk_enter", "risk_exit"):
        for per_stratum_a, per_stratum_b in zip(getattr(ours, name), getattr(direct, name), strict=True):
            assert len(per_stratum_a) == len(per_stratum_b), name
            for a, b in zip(per_stratum_a, per_stratum_b, strict=True):
                assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert (ours.n_obs, ours.nstrat, ours.nstrat_orig) == (direct.n_obs, direct.nstrat, direct.nstrat_orig)
    params = np.array([-0.1, 0.2, 0.0])
    residuals = BreslowPHReg(time, exog, status=status).score_residuals(params)
    np.testing.assert_array_equal(np.isnan(residuals), np.isnan(PHReg(time, exog, status=status).score_residuals(params)))


def test_strata_fall_back_to_phregs_own_loops():
    time, status, exog, customers = _data(n=1_000)
    strata = customers % 2
    ours = BreslowPHReg(time, exog, status=status, strata=strata).fit(groups=customers)
    direct = PHReg(time, exog, status=status, strata=strata).fit(groups=customers)
    np.testing.assert_allclose(ours.params, direct.params, rtol=1e-12)
    np.testing.assert_allclose(ours.bse, direct.bse, rtol=1e-12)
