"""The analytic ordered logit against statsmodels called directly: OrderedModel, and Logit for two levels."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.miscmodels.ordinal_model import OrderedModel
from statsmodels.tools.numdiff import approx_fprime

from study.stats import ordinal
from study.stats.ordinal import OrderedLogitModel


def _simulated(levels: int, n: int = 4_000, seed: int = 5):
    """Ordered outcome from a latent logistic model; a continuous term, a flag and a 3-level factor; clusters."""
    rng = np.random.default_rng(seed)
    customers = rng.integers(0, n // 3, n)
    speed = rng.normal(0, 1.5, n) + rng.normal(0, 0.5, n // 3)[customers]
    resolved = (rng.random(n) < 0.7).astype(float)
    kind = rng.integers(0, 3, n)
    design = pd.DataFrame({"speed": speed, "resolved": resolved, "kind_b": (kind == 1) * 1.0, "kind_c": (kind == 2) * 1.0})
    latent = design.to_numpy() @ np.array([-0.3, 1.2, 0.4, -0.2]) + rng.logistic(size=n) + rng.normal(0, 0.5, n // 3)[customers]
    cuts = np.quantile(latent, np.linspace(0, 1, levels + 1)[1:-1])
    outcome = pd.Categorical(np.searchsorted(cuts, latent) + 1, categories=range(1, levels + 1), ordered=True)
    return outcome, design, customers


def _fit(model, customers):
    # The settings of study.regression.csat.ordered_logit.
    return model.fit(method="bfgs", disp=False, maxiter=1000, cov_type="cluster", cov_kwds={"groups": customers})


@pytest.fixture(scope="module")
def five_levels():
    outcome, design, customers = _simulated(5)
    ours, reference = OrderedLogitModel(outcome, design), OrderedModel(outcome, design, distr="logit")
    return ours, reference, customers


def test_loglike_is_statsmodels_and_the_score_is_its_derivative(five_levels):
    ours, reference, _ = five_levels
    params = reference.start_params + np.array([-0.2, 0.8, 0.3, -0.1, 0.05, 0.1, -0.1, 0.2])
    assert ours.loglike(params) == reference.loglike(params)
    # statsmodels' own numerical per-observation score (central differences)
    numerical = reference.score_obs(params)
    np.testing.assert_allclose(ours.score_obs(params), numerical, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ours.score(params), ours.score_obs(params).sum(axis=0), rtol=1e-12, atol=1e-9)


def test_hessian_matches_statsmodels_numerical_hessian(five_levels):
    ours, reference, _ = five_levels
    params = reference.start_params + np.array([-0.2, 0.8, 0.3, -0.1, 0.05, 0.1, -0.1, 0.2])
    analytic = ours.hessian(params)
    scale = np.abs(analytic).max()
    np.testing.assert_allclose(analytic, reference.hessian(params), rtol=0, atol=1e-5 * scale)  # approx_hess's own error
    # Tighter: central differences of the exact score (error ~1e-9), including the exp-increment curvature.
    np.testing.assert_allclose(analytic, approx_fprime(params, ours.score, centered=True), rtol=0, atol=1e-7 * scale)
    assert np.allclose(analytic, analytic.T, rtol=0, atol=1e-12 * scale)


def test_fit_matches_ordered_model_params_standard_errors_and_thresholds(five_levels):
    ours, reference, customers = five_levels
    fit, direct = _fit(ours, customers), _fit(reference, customers)
    np.testing.assert_allclose(fit.params, direct.params, rtol=1e-6)
    np.testing.assert_allclose(ours.transform_threshold_params(np.asarray(fit.params))[1:-1],
                               reference.transform_threshold_params(np.asarray(direct.params))[1:-1], rtol=1e-6)
    # statsmodels' clustered SEs rest on a numerical Hessian and a numerical per-observation score,
    # whose own error is a few 1e-6 (here 1e-6 to 3e-6). The exact check of the sandwich is the
    # two-level test below.
    np.testing.assert_allclose(fit.bse, direct.bse, rtol=1e-5)
    assert fit.mle_retvals["converged"]


def test_average_marginal_effects_match_statsmodels_predictions(five_levels):
    ours, reference, customers = five_levels
    direct = _fit(reference, customers)
    params = np.asarray(direct.params)
    exog = np.asarray(reference.exog)

    def top_share(p, design):  # P(level >= 4) from statsmodels' predict
        return reference.predict(p, exog=design)[:, 3:].sum(axis=1).mean()

    for column, flag in [(0, False), (1, True)]:
        value, gradient = ordinal.upper_share_effect(params, exog, reference.k_levels, 3, column, flag)
        if flag:
            on, off = exog.copy(), exog.copy()
            on[:, column], off[:, column] = 1.0, 0.0
            expected = top_share(params, on) - top_share(params, off)

            def effect(p):
                return top_share(p, on) - top_share(p, off)
        else:
            step = 1e-5
            up, down = exog.copy(), exog.copy()
            up[:, column] += step
            down[:, column] -= step
            expected = (top_share(params, up) - top_share(params, down)) / (2 * step)

            def effect(p):
                return ordinal.upper_share_effect(p, exog, reference.k_levels, 3, column)[0]
        assert value == pytest.approx(expected, rel=1e-6)
        np.testing.assert_allclose(gradient, approx_fprime(params, effect, centered=True), rtol=1e-6, atol=1e-9)


def test_two_levels_is_statsmodels_logit_exactly():
    """With two levels the ordered logit is a logit with intercept -c: params, clustered SEs (CR1) and AMEs."""
    outcome, design, customers = _simulated(2, seed=9)
    ours = OrderedLogitModel(outcome, design)
    # Newton with the analytic derivatives converges to machine precision, as Logit's does.
    fit = ours.fit(method="newton", disp=False, cov_type="cluster", cov_kwds={"groups": customers})
    logit = sm.Logit((np.asarray(outcome.codes) == 1).astype(float), sm.add_constant(design)).fit(
        disp=0, cov_type="cluster", cov_kwds={"groups": customers})
    params = np.asarray(fit.params)
    np.testing.assert_allclose(params[:-1], logit.params.to_numpy()[1:], rtol=1e-9)
    assert -params[-1] == pytest.approx(logit.params["const"], rel=1e-9)
    np.testing.assert_allclose(np.asarray(fit.bse)[:-1], logit.bse.to_numpy()[1:], rtol=1e-9)
    assert np.asarray(fit.bse)[-1] == pytest.approx(logit.bse["const"], rel=1e-9)

    margins = logit.get_margeff(at="overall", method="dydx", dummy=True).summary_frame()
    cov = np.asarray(fit.cov_params())
    for column, name in enumerate(design.columns):
        value, gradient = ordinal.upper_share_effect(params, design.to_numpy(), 2, 1, column, flag=name != "speed")
        assert value == pytest.approx(margins.loc[name, "dy/dx"], rel=1e-9)
        assert np.sqrt(gradient @ cov @ gradient) == pytest.approx(margins.loc[name, "Std. Err."], rel=1e-9)


def test_cut_points_and_their_jacobian():
    params = np.array([0.5, -1.0, np.log(0.5), np.log(2.0)])
    np.testing.assert_allclose(ordinal.cut_points(params, 4), [-np.inf, -1.0, -0.5, 1.5, np.inf])
    jacobian = ordinal.cut_jacobian(params, 4)
    numerical = approx_fprime(params[1:], lambda t: ordinal.cut_points(np.r_[params[:1], t], 4)[1:-1], centered=True)
    np.testing.assert_allclose(jacobian[1:-1], numerical, rtol=1e-8)
    assert not jacobian[0].any() and not jacobian[-1].any()
