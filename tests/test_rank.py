"""The certified rank against statsmodels' pivoted QR and numpy's SVD called directly."""

from functools import partial

import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.tools import tools

from study.stats import dummies
from study.stats.rank import RankedLogit, full_rank, qr_rank, svd_rank


def _design(n: int = 2_000, agents: int = 30, seed: int = 1) -> np.ndarray:
    """An intercept, a few numbers on different scales, flags and a dummy per agent but the first."""
    rng = np.random.default_rng(seed)
    agent = rng.integers(0, agents, n)
    dummies = (agent[:, None] == np.arange(1, agents)).astype(float)
    numbers = np.column_stack([rng.normal(size=n), rng.exponential(900, n), (rng.random(n) < 0.3) * 1.0])
    return np.column_stack([np.ones(n), numbers, dummies])


def _both_agree(x: np.ndarray) -> None:
    assert qr_rank(x) == tools.matrix_rank(x, method="qr")
    assert svd_rank(x) == np.linalg.matrix_rank(x)


def test_a_full_rank_design_is_certified_with_the_rank_of_qr_and_svd():
    x = _design()
    assert full_rank(x)
    _both_agree(x)
    assert qr_rank(x) == x.shape[1]


def test_collinear_designs_are_not_certified_and_get_the_exact_rank():
    x = _design()
    every_dummy = np.column_stack([x, 1.0 - x[:, 4:].sum(axis=1)])  # the first agent's dummy: sums to the intercept
    doubled = np.column_stack([x, 2.0 * x[:, 1]])
    empty_level = np.column_stack([x, np.zeros(len(x))])
    for design in (every_dummy, doubled, empty_level):
        assert not full_rank(design)
        _both_agree(design)
        assert qr_rank(design) < design.shape[1]


@pytest.mark.parametrize("scale", [1e-2, 1e-5, 1e-8, 1e-11, 1e-14])
def test_a_nearly_collinear_column_never_gets_a_rank_the_decompositions_do_not(scale):
    rng = np.random.default_rng(2)
    x = _design(n=2_000, agents=10)
    near = np.column_stack([x, x[:, 1] + scale * rng.normal(size=len(x))])
    _both_agree(near)
    if full_rank(near):
        assert np.linalg.matrix_rank(near) == near.shape[1]


@pytest.mark.parametrize("scale", [1e-150, 1e-155, 1e-157, 1e-160, 1e-162])
def test_a_design_whose_products_fall_below_the_normal_range_is_not_certified(scale):
    # Squares there are rounded absolutely: a collinear design could look full rank to the certificate.
    for seed in range(10):
        a = np.random.default_rng(seed).normal(size=(2, 1_000))
        collinear = np.column_stack([a[0], 3 * a[0], a[1]]) * scale
        assert not full_rank(collinear)
        _both_agree(collinear)


def test_degenerate_shapes_are_left_to_the_decompositions():
    assert not full_rank(np.ones((3, 5)))  # more columns than rows
    assert not full_rank(np.array([[1.0, np.nan], [0.0, 1.0], [1.0, 1.0]]))
    _both_agree(np.ones((3, 5)))


@pytest.mark.parametrize("agents", [4, 15])
def test_ranked_logit_fits_as_logit(agents):
    """Bit for bit without a group of dummies; with a dummy per agent, the Hessian's sums are added in another order."""
    x = _design(n=3_000, agents=agents, seed=4)
    rng = np.random.default_rng(5)
    y = (rng.random(len(x)) < 1 / (1 + np.exp(-(0.3 * x[:, 1] - 0.5 * x[:, 3])))) * 1.0
    groups = rng.integers(0, 1_500, len(x))
    kwds = {"disp": 0, "cov_type": "cluster", "cov_kwds": {"groups": groups}}
    ours, direct = RankedLogit(y, x).fit(**kwds), sm.Logit(y, x).fit(**kwds)
    assert ours.model.df_model == direct.model.df_model and ours.model.df_resid == direct.model.df_resid
    exact = agents - 1 < dummies.MIN_DUMMIES
    assert (ours.model._layout is None) == exact
    same = np.testing.assert_array_equal if exact else partial(np.testing.assert_allclose, rtol=1e-10, atol=1e-13)
    same(ours.params, direct.params)
    same(ours.bse, direct.bse)
    same(ours.cov_params(), direct.cov_params())
    params = ours.params
    kept = ours.model.hessian(params)
    kept[0, 0] += 1.0  # as Newton's ridge does, in place
    same(ours.model.hessian(params), sm.Logit(y, x).hessian(params))
    collinear = np.column_stack([x, 2.0 * x[:, 1]])
    assert RankedLogit(y, collinear).df_model == sm.Logit(y, collinear).df_model == x.shape[1] - 1
