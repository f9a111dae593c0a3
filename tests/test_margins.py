"""Average marginal effects of a logit against statsmodels' get_margeff called directly."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from study.stats.margins import is_binary, logit_marginal_effects


@pytest.fixture(scope="module")
def fit():
    rng = np.random.default_rng(8)
    n = 5_000
    customers = rng.integers(0, 2_000, n)
    design = pd.DataFrame({
        "speed": rng.normal(0, 1.5, n), "csat": rng.integers(1, 6, n).astype(float),
        "resolved": (rng.random(n) < 0.7) * 1.0, "kind_b": (rng.random(n) < 0.3) * 1.0,
    })
    linear = -0.5 - 0.2 * design["speed"] + 0.3 * design["csat"] + 0.6 * design["resolved"] - 0.4 * design["kind_b"]
    bought = (rng.random(n) < 1 / (1 + np.exp(-linear))).astype(float)
    return sm.Logit(bought, sm.add_constant(design)).fit(disp=0, cov_type="cluster", cov_kwds={"groups": customers})


def test_marginal_effects_are_statsmodels_get_margeff_with_dummies(fit):
    terms = ["speed", "csat", "resolved", "kind_b"]
    ours = logit_marginal_effects(fit, terms, alpha=0.1)
    direct = fit.get_margeff(at="overall", method="dydx", dummy=True).summary_frame(alpha=0.1).loc[terms]
    assert list(ours.columns) == list(direct.columns)
    np.testing.assert_allclose(ours.to_numpy(), direct.to_numpy(), rtol=1e-9, atol=1e-14)


def test_binary_is_statsmodels_dummy_test():
    assert is_binary(np.array([0.0, 1.0, 1.0])) and not is_binary(np.array([0.0, 1.0, 2.0]))
    assert not is_binary(np.array([0.0, 0.5, 1.0])) and not is_binary(np.array([1.0, 1.0]))
