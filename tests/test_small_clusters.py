"""Few clusters: t(G - 1) critical values, against Stata's published Grunfeld numbers and statsmodels."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from study.regression import fitting
from study.stats.cluster import (
    FEW_CLUSTERS,
    cluster_count,
    few_clusters_df,
    few_clusters_words,
    wild_cluster_bootstrap,
)
from study.stats.ols import CholeskyOLS


@pytest.fixture(scope="module")
def grunfeld():
    """Stata's ``webuse grunfeld``: 10 firms x 20 years (statsmodels' copy adds American Steel, an 11th)."""
    data = sm.datasets.grunfeld.load_pandas().data
    data = data[data["firm"] != "American Steel"].reset_index(drop=True)
    assert len(data) == 200 and data["firm"].nunique() == 10
    return data


def _grunfeld_fit(data, **fit_kwds):
    design = sm.add_constant(data[["value", "capital"]])
    return CholeskyOLS(data["invest"], design).fit(**fit_kwds)


def test_grunfeld_with_ten_firms_gets_stata_s_t9_interval(grunfeld):
    """Stata: ``regress invest mvalue kstock, vce(cluster company)`` prints mvalue .1155622 (SE .0158943),
    95% CI .0796 to .1515 from t(9); kstock .2306785 (SE .0849671); _cons -42.71437 (SE 20.4252)."""
    groups = pd.factorize(grunfeld["firm"])[0].astype(float)
    kwds = fitting.cluster_cov_kwds(groups)
    assert kwds["use_t"] is True and kwds["cov_type"] == "cluster"
    fit = _grunfeld_fit(grunfeld, **kwds)
    assert fit.df_resid_inference == 9
    np.testing.assert_allclose(fit.params[["value", "capital", "const"]], [0.1155622, 0.2306785, -42.71437], rtol=5e-7)  # 7 significant digits, as printed
    np.testing.assert_allclose(fit.bse[["value", "capital", "const"]], [0.0158943, 0.0849671, 20.4252], rtol=5e-6)
    mvalue = fitting.coefficient(fit, "value", "mvalue", "mvalue", "OLS; SE clustered by firm")
    assert (round(mvalue.ci_low, 4), round(mvalue.ci_high, 4)) == (0.0796, 0.1515)
    # The normal interval the issue found too narrow: 0.084 to 0.147.
    normal = _grunfeld_fit(grunfeld, cov_type="cluster", cov_kwds={"groups": groups}).conf_int().loc["value"]
    assert (round(normal[0], 3), round(normal[1], 3)) == (0.084, 0.147)
    # p-value from t(9), by scipy directly.
    assert mvalue.p_value == pytest.approx(2 * stats.t.sf(abs(0.1155622 / 0.0158943), 9), rel=1e-4)
    assert mvalue.method == "OLS; SE clustered by firm; t(9) critical values: only 10 clusters (fewer than 50)"


def test_an_interval_made_again_at_another_level_keeps_t9(grunfeld):
    groups = pd.factorize(grunfeld["firm"])[0].astype(float)
    fit = _grunfeld_fit(grunfeld, **fitting.cluster_cov_kwds(groups))
    estimate = fitting.coefficient(fit, "value", "mvalue", "mvalue", "OLS")
    assert estimate.interval.df == 9
    for alpha in (0.10, 0.01):
        np.testing.assert_allclose(estimate.conf_int(alpha), fit.conf_int(alpha).loc["value"], rtol=1e-12)
    scaled = fitting.coefficient(fit, "value", "mvalue", "mvalue", "OLS", scale=-2.0)
    np.testing.assert_allclose(scaled.conf_int(0.10), sorted(-2.0 * fit.conf_int(0.10).loc["value"]), rtol=1e-12)


def test_the_rule_counts_clusters_and_takes_the_smaller_count_of_two_ways():
    assert FEW_CLUSTERS == 50
    assert few_clusters_df(np.repeat(np.arange(49), 3)) == 48
    assert few_clusters_df(np.repeat(np.arange(50), 3)) is None
    assert few_clusters_df(10) == 9 and few_clusters_df(60) is None
    two_way = np.column_stack([np.arange(300), np.arange(300) % 12])
    assert cluster_count(two_way) == 12 and few_clusters_df(two_way) == 11
    assert "use_t" not in fitting.cluster_cov_kwds(np.arange(300) % 60)
    assert few_clusters_words(10) == "t(9) critical values: only 10 clusters (fewer than 50)"


def test_two_way_clustering_with_few_clusters_uses_t_of_the_smaller_count():
    rng = np.random.default_rng(3)
    n = 600
    customer, agent = np.arange(n) // 3, rng.integers(0, 12, n)
    x = rng.normal(size=n) + rng.normal(size=12)[agent]
    y = 1 + 0.5 * x + rng.normal(size=12)[agent] + rng.normal(size=n)
    groups = np.column_stack([customer, agent]).astype(float)
    fit = CholeskyOLS(y, sm.add_constant(x)).fit(**fitting.cluster_cov_kwds(groups))
    se = fit.bse[1]
    np.testing.assert_allclose(fit.conf_int()[1], fit.params[1] + np.array([-1, 1]) * stats.t.ppf(0.975, 11) * se, rtol=1e-12)


def _tickets(customers: int, seed: int = 5) -> pd.DataFrame:
    """Tickets of a few customers, in contract column names; each customer shares a CSAT shift."""
    rng = np.random.default_rng(seed)
    owner = np.repeat(np.arange(customers), 12)
    hours = rng.normal(size=owner.size) + rng.normal(size=customers)[owner]
    csat = 3.5 - 0.15 * hours + rng.normal(size=customers)[owner] * 0.5 + rng.normal(size=owner.size)
    repeat = (rng.random(owner.size) < 1 / (1 + np.exp(0.3 * hours))).astype(float)
    return pd.DataFrame({"customer_id": [f"c{g}" for g in owner], "csat": csat, "response_log2_hours": hours,
                         "repeat_purchase": repeat})


def test_models_of_the_study_use_t_with_few_customers_and_the_normal_with_many():
    few = _tickets(12)
    fit = fitting.fit_ols(few, "csat", ["response_log2_hours"])
    estimate = fitting.coefficient(fit, "response_log2_hours", "slope", "slope", "OLS; SE clustered by customer_id")
    half = estimate.ci_high - estimate.value
    assert half == pytest.approx(stats.t.ppf(0.975, 11) * estimate.se, rel=1e-10)
    assert estimate.p_value == pytest.approx(2 * stats.t.sf(abs(estimate.value / estimate.se), 11), rel=1e-10)
    assert estimate.method.endswith("t(11) critical values: only 12 clusters (fewer than 50)")
    # The same estimate and SE as statsmodels' own normal-reference fit: only the reference changes.
    reference = sm.OLS(few["csat"], sm.add_constant(few["response_log2_hours"])).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(few["customer_id"])[0]})
    assert estimate.se == pytest.approx(reference.bse["response_log2_hours"], rel=1e-9)

    many = fitting.fit_ols(_tickets(200), "csat", ["response_log2_hours"])
    wide = fitting.coefficient(many, "response_log2_hours", "slope", "slope", "OLS")
    assert wide.interval.df is None and "critical values" not in wide.method
    assert wide.ci_high - wide.value == pytest.approx(stats.norm.ppf(0.975) * wide.se, rel=1e-10)


def test_logit_marginal_effects_use_t_with_few_customers():
    fit = fitting.fit_logit(_tickets(15, seed=8), "repeat_purchase", ["response_log2_hours"])
    assert fit.use_t and fit.df_resid_inference == 14
    (effect,) = fitting.average_marginal_effects(fit, {"response_log2_hours": ("ame", "AME")}, "logit AME")
    # statsmodels' margins give the normal interval; the rule widens it to t(14) around the same SE.
    margins = fit.get_margeff(at="overall", method="dydx").summary_frame()
    assert effect.se == pytest.approx(margins["Std. Err."].iloc[0], rel=1e-6)
    assert effect.ci_high - effect.value == pytest.approx(stats.t.ppf(0.975, 14) * effect.se, rel=1e-10)
    assert effect.p_value == pytest.approx(2 * stats.t.sf(abs(effect.value / effect.se), 14), rel=1e-10)
    assert effect.interval.df == 14 and "t(14) critical values: only 15 clusters" in effect.method
    np.testing.assert_allclose(effect.conf_int(0.1), effect.value + np.array([-1, 1]) * stats.t.ppf(0.95, 14) * effect.se)


# wildboottest 0.3.2 (PyPI), ``wildboottest(sm.OLS(invest, [const, value, capital]), B, cluster=firm, param,
# weights_type, seed)``, defaults otherwise (WCR, type "11"), on the 10 Grunfeld firms. With 2^10 < B it
# enumerates all 1,024 Rademacher sign vectors. Two of them (all +1, all -1) give the original statistic
# itself; wildboottest counts them or not as rounding falls (it printed 28/1024 for const): counted as
# ties from its own bootstrap statistics, const is 26/1024.
WILDBOOTTEST_GRUNFELD = [
    ("value", "rademacher", 9999, 1, 7.270649831813569, 2 / 1024),
    ("capital", "rademacher", 9999, 1, 2.714915001542395, 22 / 1024),
    ("const", "rademacher", 9999, 1, -2.091258020110686, 26 / 1024),
    ("value", "webb", 999, 7, 7.270649831813569, 0.024024024024024024),
    ("capital", "webb", 999, 7, 2.714915001542395, 0.028028028028028028),
    ("const", "webb", 999, 7, -2.091258020110686, 0.03903903903903904),
    ("capital", "rademacher", 999, 3, 2.714915001542395, 0.013013013013013013),
]


@pytest.mark.parametrize("term, weights, replicates, seed, statistic, p_value", WILDBOOTTEST_GRUNFELD)
def test_wild_cluster_bootstrap_matches_wildboottest_on_grunfeld(grunfeld, term, weights, replicates, seed, statistic, p_value):
    design = sm.add_constant(grunfeld[["value", "capital"]])
    firm = pd.factorize(grunfeld["firm"], sort=True)[0]
    test = wild_cluster_bootstrap(design.to_numpy(), grunfeld["invest"].to_numpy(), firm, list(design.columns).index(term),
                                  replicates, seed, weights)
    assert test.statistic == pytest.approx(statistic, rel=1e-10)
    assert test.p_value == pytest.approx(p_value, abs=1e-12)
    assert test.enumerated == (weights == "rademacher" and replicates > 1024) and test.clusters == 10
    assert test.replicates == (1024 if test.enumerated else replicates)


@pytest.mark.parametrize("weights, seed, p_value", [("webb", 11, 0.6793587174348698), ("rademacher", 5, 0.6653306613226453)])
def test_wild_cluster_bootstrap_matches_wildboottest_with_uneven_text_clusters(weights, seed, p_value):
    """15 clusters of uneven size, labelled by text, three regressors; reference from wildboottest 0.3.2, B = 499."""
    rng = np.random.default_rng(20260)
    owner = np.sort(rng.integers(0, 15, 300))
    x = rng.normal(size=(300, 3)) + rng.normal(size=(15, 3))[owner]
    y = 1.0 + 0.08 * x[:, 0] - 0.5 * x[:, 1] + rng.normal(size=15)[owner] + rng.standard_t(4, 300)
    labels = np.array([f"g{o:02d}" for o in owner])
    test = wild_cluster_bootstrap(np.column_stack([np.ones(300), x]), y, labels, 1, 499, seed, weights)
    assert test.statistic == pytest.approx(0.7502534346131545, rel=1e-9)
    assert test.p_value == pytest.approx(p_value, abs=1e-12)


def test_wild_cluster_bootstrap_refuses_what_it_cannot_do():
    design = np.column_stack([np.ones(6), np.arange(6.0)])
    with pytest.raises(ValueError, match="weights"):
        wild_cluster_bootstrap(design, np.arange(6.0), np.arange(6) % 2, 1, weights="mammen")
    with pytest.raises(ValueError, match="at least 2 clusters"):
        wild_cluster_bootstrap(design, np.arange(6.0), np.zeros(6), 1)
