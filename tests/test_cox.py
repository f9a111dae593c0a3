"""The vectorized Cox model against statsmodels' PHReg called directly; its proportional-hazards test against lifelines."""

import numpy as np
import pytest
from statsmodels.duration.hazard_regression import PHReg

from study.stats import schoenfeld
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


def _non_proportional(seed: int = 20260, n: int = 400):
    """Weibull times whose shape depends on x1 (its hazard ratio changes over time), continuous, censored."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(0, 1, n)
    x2 = (rng.random(n) < 0.4).astype(float)
    shape = np.exp(0.5 * x1)
    t = (rng.exponential(1.0, n) / np.exp(0.3 * x2)) ** (1 / shape) * 10
    c = rng.uniform(5, 40, n)
    return np.round(np.minimum(t, c), 6), (t <= c).astype(float), np.column_stack([np.round(x1, 6), x2])


def test_grambsch_therneau_matches_lifelines():
    """lifelines 0.30.3: CoxPHFitter().fit(...) then proportional_hazard_test(cph, df, time_transform="rank")
    on _non_proportional() (no tied times, so Efron's fit is Breslow's): statistics and p-values as below."""
    time, status, exog = _non_proportional()
    fit = BreslowPHReg(time, exog, status=status).fit()
    np.testing.assert_allclose(fit.params, [-0.12704621, 0.04700134], atol=1e-7)
    check = schoenfeld.grambsch_therneau(fit, ["x1", "x2"])
    np.testing.assert_allclose(check["statistic"], [68.02166389, 2.91365167], rtol=1e-6)
    np.testing.assert_allclose(check["p-value"], [1.61709064e-16, 8.78327966e-02], rtol=1e-5)
    np.testing.assert_allclose(check["statistic"], (check["drift"] / check["drift SE"]) ** 2, rtol=1e-12)


def test_grambsch_therneau_finds_a_cure_process_and_not_proportional_hazards():
    """A cure-type process (whether a purchase happens depends on x, its delay does not) breaks
    proportional hazards; exponential times with hazard exp(x b) keep them."""
    rng = np.random.default_rng(8)
    n = 4_000
    x = (rng.random(n) < 0.5).astype(float)
    buys = rng.random(n) < np.where(x == 1, 0.8, 0.3)
    days = np.where(buys, rng.exponential(25.0, n), np.inf)
    fit = BreslowPHReg(np.minimum(days, 90.0), x[:, None], status=(days <= 90).astype(float)).fit()
    row = schoenfeld.grambsch_therneau(fit, ["x"]).loc["x"]
    # the ratio of hazards starts at 0.8 / 0.3 and grows as the x = 0 buyers leave the risk set
    assert row["p-value"] < 1e-6 and row["drift"] > 0.3
    assert schoenfeld.verdict(row["p-value"], row["drift"], row["log hazard ratio"], 0.05) == schoenfeld.FAILS
    time, status, exog, _ = _data(continuous=True)
    check = schoenfeld.grambsch_therneau(BreslowPHReg(time, exog, status=status).fit())
    assert check["p-value"].min() > 0.001  # three terms under the null: a p-value below 0.001 is a 0.3% event


@pytest.mark.parametrize("p_value, drift, log_ratio, expected", [
    (0.20, 0.50, 0.10, schoenfeld.HOLDS),        # not significant: holds however large the drift
    (1e-9, 0.010, 0.0, schoenfeld.NEGLIGIBLE),   # significant, below the 2% floor
    (1e-9, 0.030, 0.0, schoenfeld.FAILS),        # significant, above the floor, no average effect
    (1e-9, 0.080, 0.40, schoenfeld.NEGLIGIBLE),  # a fifth of the average log ratio
    (1e-9, 0.100, 0.40, schoenfeld.FAILS),       # a quarter of it
    (0.012, -0.055, -0.058, schoenfeld.FAILS),   # the sample's speed term
])
def test_verdict_needs_significance_and_size(p_value, drift, log_ratio, expected):
    assert schoenfeld.verdict(p_value, drift, log_ratio, alpha=0.05) == expected


def test_score_residuals_are_the_full_expression_value_for_value():
    """The in-place residuals equal own - compensator written out over every ticket, bit for bit."""
    time, status, exog, _ = _data()
    model = BreslowPHReg(time, exog, status=status)
    params = np.array([-0.15, 0.3, 0.05])
    sums = model._risk_sums(params)
    events = (model.surv.status_s[0] == 1)[:, None]
    cumulative_average = np.cumsum(sums["hazard"][:, None] * sums["average"], axis=0)[sums["slot"]]
    own = np.where(events, sums["exog"] - sums["average"][sums["slot"]], 0.0)
    compensator = sums["weight"][:, None] * (sums["cumulative_hazard"][:, None] * sums["exog"] - cumulative_average)
    expected = np.full(exog.shape, np.nan)
    expected[model.surv.stratum_rows[0]] = own - compensator
    np.testing.assert_array_equal(model.score_residuals(params), expected)


def test_the_kept_hessian_is_a_copy_and_the_same_as_a_fresh_one():
    time, status, exog, _ = _data()
    model, fresh = BreslowPHReg(time, exog, status=status), BreslowPHReg(time, exog, status=status)
    params = np.array([-0.15, 0.3, 0.05])
    first = model.hessian(params)
    first[0, 0] += 1.0  # as Newton's ridge does, in place
    np.testing.assert_array_equal(model.hessian(params), fresh.hessian(params))
    np.testing.assert_allclose(fresh.hessian(params), PHReg(time, exog, status=status).hessian(params), rtol=1e-10)


def test_a_dummy_per_agent_is_summed_through_its_codes_and_fits_as_phreg():
    time, status, exog, customers = _data()
    agent = np.random.default_rng(4).integers(0, 20, len(time))
    design = np.column_stack([exog, (agent[:, None] == np.arange(1, 20)).astype(float)])
    ours = BreslowPHReg(time, design, status=status, ties="breslow")
    direct = PHReg(time, design, status=status, ties="breslow")
    assert ours._dummies() is not None and len(ours._dummies().groups[0][0]) == 19
    params = np.r_[-0.15, 0.3, 0.05, np.linspace(-0.2, 0.2, 19)]
    np.testing.assert_allclose(ours.score(params), direct.score(params), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ours.hessian(params), direct.hessian(params), rtol=1e-10, atol=1e-10)
    fit, reference = ours.fit(groups=customers), direct.fit(groups=customers)
    np.testing.assert_allclose(fit.params, reference.params, rtol=1e-9)
    np.testing.assert_allclose(fit.bse, reference.bse, rtol=1e-9)


@pytest.mark.parametrize("agents", [0, 20])
def test_the_robust_covariance_sums_each_customers_residuals_without_forming_them(agents):
    time, status, exog, customers = _data()
    if agents:
        agent = np.random.default_rng(4).integers(0, agents, len(time))
        exog = np.column_stack([exog, (agent[:, None] == np.arange(1, agents)).astype(float)])
    model = BreslowPHReg(time, exog, status=status)
    model.groups = customers
    params = np.r_[-0.15, 0.3, 0.05, np.zeros(exog.shape[1] - 3)]
    residuals = model.score_residuals(params)
    codes = np.unique(customers, return_inverse=True)[1]
    by_group = np.column_stack([np.bincount(codes, weights=residuals[:, j]) for j in range(exog.shape[1])])
    hess_inv = np.linalg.inv(model.hessian(params))
    expected = hess_inv @ (by_group.T @ by_group) @ hess_inv
    np.testing.assert_allclose(model.robust_covariance(params), expected, rtol=1e-11, atol=1e-13 * np.abs(expected).max())
    early = time.copy()
    early[np.flatnonzero(status == 0)[:3]] = 0.5  # censored before the first purchase: in no risk set
    censored = BreslowPHReg(early, exog, status=status)
    censored.groups = customers
    assert np.isnan(censored.robust_covariance(params)).all()
