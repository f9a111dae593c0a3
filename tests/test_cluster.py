"""The closed-form cluster-robust covariance against statsmodels called directly."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from study.stats.cluster import cluster_bootstrap, cluster_robust_cov


def _clustered(rng, clusters=150):
    sizes = 1 + rng.poisson(2.0, clusters)
    owner = np.repeat(np.arange(clusters), sizes)
    rng.shuffle(owner)  # a cluster's rows are scattered, not contiguous
    x = rng.normal(size=owner.size) + rng.normal(size=clusters)[owner]
    treated = (rng.random(clusters) < 0.4)[owner].astype(float)
    y = 1.0 + 0.5 * treated - 0.3 * x + rng.normal(size=clusters)[owner] + rng.standard_t(3, owner.size)
    return np.column_stack([np.ones_like(y), treated, x]), y, owner


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_statsmodels_cluster_covariance(seed):
    design, y, owner = _clustered(np.random.default_rng(seed))
    labels = np.array([f"customer-{g:04d}" for g in owner])
    fit = sm.OLS(y, design).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(labels)[0]})
    ours = cluster_robust_cov(design, y - design @ fit.params, pd.factorize(labels)[0])
    np.testing.assert_allclose(ours, fit.cov_params(), rtol=1e-10, atol=0)


def test_codes_need_not_be_contiguous_and_only_clusters_with_rows_count():
    design, y, owner = _clustered(np.random.default_rng(4), clusters=40)
    fit = sm.OLS(y, design).fit(cov_type="cluster", cov_kwds={"groups": owner})
    residual = y - design @ fit.params
    # Codes 0, 7, 14, ...: 40 clusters with rows among 274 possible codes. G is 40, not 274.
    np.testing.assert_allclose(cluster_robust_cov(design, residual, owner * 7), fit.cov_params(), rtol=1e-10, atol=0)


def test_one_row_per_cluster_is_hc1():
    rng = np.random.default_rng(5)
    design = np.column_stack([np.ones(200), rng.normal(size=200)])
    y = design @ [1.0, 2.0] + rng.normal(size=200) * (1 + np.abs(design[:, 1]))
    fit = sm.OLS(y, design).fit(cov_type="HC1")
    # CR1 with singleton clusters: G/(G-1) (N-1)/(N-K) = N/(N-K), HC1's factor.
    np.testing.assert_allclose(cluster_robust_cov(design, fit.resid, np.arange(200)), fit.cov_params(), rtol=1e-10, atol=0)


def test_rows_without_a_cluster_and_a_single_cluster_are_refused():
    design = np.column_stack([np.ones(4), [0.0, 1, 0, 1]])
    with pytest.raises(ValueError, match="no cluster"):
        cluster_robust_cov(design, np.zeros(4), np.array([0, 1, -1, 1]))
    with pytest.raises(ValueError, match="at least 2 clusters"):
        cluster_robust_cov(design, np.zeros(4), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="integers"):
        cluster_robust_cov(design, np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match="design must be"):
        cluster_robust_cov(design, np.zeros(3), np.arange(4))


def test_the_cluster_bootstrap_draws_whole_clusters_as_a_loop_over_customers_would():
    rng = np.random.default_rng(4)
    sizes = rng.integers(1, 6, 40)
    codes = np.repeat(np.arange(40), sizes)
    y = rng.normal(size=codes.size) + np.repeat(rng.normal(size=40), sizes)
    per_cluster = np.column_stack([np.bincount(codes), np.bincount(codes, weights=y)])
    means = np.concatenate(cluster_bootstrap(per_cluster, 250, 11, lambda totals: totals[:, 1] / totals[:, 0], chunk=64))
    draws = np.random.default_rng(11)
    expected = []
    for _ in range(250):
        drawn = draws.integers(0, 40, 40)
        expected.append(np.concatenate([y[codes == g] for g in drawn]).mean())
    np.testing.assert_allclose(means, expected, rtol=1e-12)


def test_the_cluster_bootstrap_se_of_a_mean_agrees_with_the_sandwich():
    """Both estimate the same sampling SD; 2,000 replicates put the bootstrap SE within about 3% of it."""
    rng = np.random.default_rng(5)
    sizes = rng.integers(1, 8, 300)
    codes = np.repeat(np.arange(300), sizes)
    y = rng.normal(size=codes.size) + 2 * np.repeat(rng.normal(size=300), sizes)
    per_cluster = np.column_stack([np.bincount(codes), np.bincount(codes, weights=y)])
    boot = np.concatenate(cluster_bootstrap(per_cluster, 2_000, 3, lambda t: t[:, 1] / t[:, 0]))
    design = np.ones((codes.size, 1))
    sandwich_se = np.sqrt(cluster_robust_cov(design, y - y.mean(), codes)[0, 0])
    # The SE of a bootstrap SD from R replicates is about SD / sqrt(2R): 1.6% here; allow 4 of those.
    assert abs(boot.std(ddof=1) / sandwich_se - 1) < 4 / np.sqrt(2 * 2_000) + 0.01
