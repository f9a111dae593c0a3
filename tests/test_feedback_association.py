"""The theme comparisons' least squares against statsmodels called directly."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.regression.linear_model import OLS

from study.core.results import Skipped
from study.feedback import association
from study.feedback.association import robust_difference


def comments(n: int, customers: int, seed: int, collinear: bool = False):
    rng = np.random.default_rng(seed)
    level = rng.integers(0, 4, n)
    X = np.column_stack([np.ones(n), rng.random(n) < 0.3, *(level == j for j in (1, 2, 3))]).astype(float)
    if collinear:  # a confounder level that is the theme exactly: statsmodels' pseudo-inverse answers
        X[:, 4] = X[:, 1]
    groups = rng.integers(0, customers, n)
    shared = rng.normal(size=customers)[groups]  # customers' tickets go together, as clustering assumes
    y = 3 + 0.4 * X[:, 1] + 0.2 * X[:, 2] + shared + rng.normal(size=n) * (1 + X[:, 1])
    return X, y, np.unique(groups, return_inverse=True)[1]


@pytest.mark.parametrize("customers", [12, 40, 900])
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_clustered_difference_is_statsmodels_cr1(customers, alpha):
    X, y, groups = comments(3_000, customers, seed=customers)
    few = len(np.unique(groups)) < 50  # Student's t on G - 1 degrees of freedom, as the project's rule has it
    fit = OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=few)
    assert (fit.df_resid_inference == customers - 1) if few else not fit.use_t
    low, high = fit.conf_int(alpha)[1]
    expected = [fit.params[1], fit.bse[1], low, high, fit.pvalues[1]]
    assert robust_difference(X, y, groups, alpha) == pytest.approx(expected, rel=1e-9)


def test_without_customers_the_difference_is_statsmodels_hc1():
    X, y, _ = comments(2_000, 100, seed=3)
    fit = OLS(y, X).fit(cov_type="HC1")
    low, high = fit.conf_int(0.05)[1]
    expected = [fit.params[1], fit.bse[1], low, high, fit.pvalues[1]]
    assert robust_difference(X, y, None, 0.05) == pytest.approx(expected, rel=1e-9)


def test_a_theme_that_is_a_confounder_level_is_skipped_not_given_a_number():
    X, y, groups = comments(2_000, 300, seed=4, collinear=True)
    assert robust_difference(X, y, groups, 0.05) is None  # statsmodels' pseudo-inverse here: about -2e12
    rows = pd.DataFrame({"csat": y, "customer_id": groups, "category": np.where(X[:, 1] == 1, "returns", "orders")})
    skipped = association.theme_effect(rows, pd.Series(X[:, 1] == 1), "csat", 0.05, "x", "refund delay")
    assert isinstance(skipped, Skipped) and "cannot be told apart from category" in skipped.reason
