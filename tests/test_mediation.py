"""Speed -> CSAT -> repeat purchase: against statsmodels called directly, refits on resampled customers, the truth."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.stats.mediation import Mediation

from study.data import simulate
from study.data.dataset import TicketData, from_frame
from study.regression import mediation

REPLICATES = 2000


@pytest.fixture(scope="module")
def large():
    """50,000 simulated tickets (seed 1), their mediation analysis and the truth."""
    study = simulate.simulate(rows=50_000, seed=1)
    data = from_frame(study.tickets)
    return data, mediation.speed_through_satisfaction(data, replicates=REPLICATES), study.truth


@pytest.fixture(scope="module")
def small(small_data):
    return mediation.speed_through_satisfaction(small_data, replicates=200)


def _respondents(tickets):
    frame = tickets[tickets["csat"].notna()].copy()
    for column in ("csat", "repeat_purchase", "resolved", "reopened"):
        frame[column] = frame[column].astype(float)
    for column in ("category", "channel", "loyalty_tier"):
        frame[column] = frame[column].astype(str)
    return frame


def test_both_models_match_statsmodels_called_directly(small_data, small):
    frame = _respondents(small_data.tickets)
    clustered = {"cov_type": "cluster", "cov_kwds": {"groups": pd.factorize(frame["customer_id"])[0]}}
    controls = "resolved + reopened + C(category) + C(channel) + C(loyalty_tier)"
    mediator = smf.ols(f"csat ~ response_log2_hours + {controls}", frame).fit(**clustered)
    outcome = smf.ols(f"repeat_purchase ~ response_log2_hours + csat + {controls}", frame).fit(**clustered)
    for ours, direct in [(small.fits["mediator"], mediator), (small.fits["outcome"], outcome)]:
        np.testing.assert_allclose(ours.params.to_numpy(), direct.params.to_numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(ours.bse.to_numpy(), direct.bse.to_numpy(), rtol=0, atol=1e-10)
    a, b = mediator.params["response_log2_hours"], outcome.params["csat"]
    direct_effect = outcome.params["response_log2_hours"]
    assert small.get("repeat_per_doubling_indirect_via_csat").value == pytest.approx(a * b, abs=1e-12)
    assert small.get("repeat_per_doubling_direct_lpm").value == pytest.approx(direct_effect, abs=1e-12)
    assert small.get("share_of_speed_effect_via_csat").value == pytest.approx(a * b / (a * b + direct_effect), abs=1e-10)
    assert small.get("csat_per_doubling_mediator_model").ci_low == pytest.approx(
        mediator.conf_int().loc["response_log2_hours", 0], abs=1e-10
    )


def test_total_effect_equals_the_regression_without_csat_on_the_same_rows(small):
    """Least squares on the same rows: c = c' + a * b exactly, not just in expectation."""
    without_csat = small.fits["total"].params["response_log2_hours"]
    assert small.get("repeat_per_doubling_total_lpm").value == pytest.approx(without_csat, abs=1e-10)
    table = small.table()
    assert table["value"].tolist() == pytest.approx([100 * e.value for e in small.effects])  # percentage points


def test_bootstrap_replicates_are_refits_on_resampled_customers(small):
    """Per-customer sums give the same coefficients as refitting OLS on the drawn customers' tickets."""
    fit = small.fits["outcome"]
    codes = pd.factorize(small.ledger.frame["customer_id"], sort=True)[0]
    fast = mediation.cluster_bootstrap_ols([(fit.model.exog, fit.model.endog)], codes, replicates=5, seed=11)[0]
    rng = np.random.default_rng(11)
    n_clusters = codes.max() + 1
    for replicate in range(5):
        copies = np.bincount(rng.integers(0, n_clusters, n_clusters), minlength=n_clusters)[codes]
        rows = np.repeat(np.arange(len(codes)), copies)
        refit = sm.OLS(fit.model.endog[rows], fit.model.exog[rows]).fit()
        np.testing.assert_allclose(fast[replicate], refit.params, rtol=1e-9, atol=1e-12)


def test_bootstrap_sums_each_distinct_product_once_and_gives_the_per_system_sums(small):
    """Shared columns and symmetric x'x summed once: the same coefficients as each system's full cross-products."""
    mediator, outcome = small.fits["mediator"], small.fits["outcome"]
    codes = pd.factorize(small.ledger.frame["customer_id"], sort=True)[0]
    systems = [(mediator.model.exog, mediator.model.endog), (outcome.model.exog, outcome.model.endog)]
    shared = mediation.cluster_bootstrap_ols(systems, codes, replicates=150, seed=3)
    rng = np.random.default_rng(3)
    n_clusters = codes.max() + 1
    for replicate in range(150):
        counts = np.bincount(rng.integers(0, n_clusters, n_clusters), minlength=n_clusters)[codes].astype(float)
        for (design, outcome_values), draws in zip(systems, shared):
            weighted = design * counts[:, None]
            direct = np.linalg.solve(weighted.T @ design, weighted.T @ outcome_values)
            np.testing.assert_allclose(draws[replicate], direct, rtol=1e-9, atol=1e-12)


def test_bootstrap_is_reproducible_from_its_seed(small_data, small):
    again = mediation.speed_through_satisfaction(small_data, replicates=200)
    pd.testing.assert_frame_equal(small.replicates, again.replicates)
    other = mediation.speed_through_satisfaction(small_data, replicates=200, seed=1)
    assert not np.allclose(small.replicates["indirect"], other.replicates["indirect"])


def test_bootstrap_standard_errors_agree_with_the_sandwich(large):
    """The bootstrap SD of c' equals the CR1 SE, and that of a * b the delta-method SE, within Monte Carlo error.

    Tolerance: four Monte Carlo standard errors of an SD from B replicates (1/sqrt(2(B-1)) relative)
    plus 3% for the finite-sample gap between bootstrap and sandwich.
    """
    _, result, _ = large
    tolerance = 4 / np.sqrt(2 * (REPLICATES - 1)) + 0.03
    outcome, mediator = result.fits["outcome"], result.fits["mediator"]
    direct = result.get("repeat_per_doubling_direct_lpm")
    assert direct.se == pytest.approx(outcome.bse["response_log2_hours"], rel=tolerance)
    a, b = mediator.params["response_log2_hours"], outcome.params["csat"]
    se_a, se_b = mediator.bse["response_log2_hours"], outcome.bse["csat"]
    delta = np.sqrt(b**2 * se_a**2 + a**2 * se_b**2)  # the two models' coefficients are nearly uncorrelated here
    assert result.get("repeat_per_doubling_indirect_via_csat").se == pytest.approx(delta, rel=tolerance)


def test_statsmodels_quasi_bayesian_mediation_agrees_on_the_effects(large):
    """statsmodels' Mediation (cluster-robust draws) finds the same indirect and direct effects.

    Its estimates are means of simulations: tolerance is four Monte Carlo SEs (SD of its draws /
    sqrt(draws)). Its intervals are wider than ours, because each draw also re-simulates every
    respondent's CSAT, adding noise that is not uncertainty about the effects.
    """
    _, result, _ = large
    outcome, mediator = result.fits["outcome"], result.fits["mediator"]
    groups = pd.factorize(result.ledger.frame["customer_id"])[0]
    clustered = {"cov_type": "cluster", "cov_kwds": {"groups": groups}}
    exposure = (outcome.model.exog_names.index("response_log2_hours"), mediator.model.exog_names.index("response_log2_hours"))
    draws = 200
    reference = Mediation(
        sm.OLS(outcome.model.endog, outcome.model.exog), sm.OLS(mediator.model.endog, mediator.model.exog),
        exposure, outcome.model.exog_names.index("csat"),
        outcome_fit_kwargs=clustered, mediator_fit_kwargs=clustered,
    ).fit(n_rep=draws, rng=5)
    indirect_draws = reference.indirect_effects[0].mean(axis=0)
    direct_draws = reference.direct_effects[0].mean(axis=0)
    indirect, direct = result.get("repeat_per_doubling_indirect_via_csat"), result.get("repeat_per_doubling_direct_lpm")
    assert reference.ACME_avg.mean() == pytest.approx(indirect.value, abs=4 * indirect_draws.std() / np.sqrt(draws))
    assert reference.ADE_avg.mean() == pytest.approx(direct.value, abs=4 * direct_draws.std() / np.sqrt(draws))
    assert indirect_draws.std() > indirect.se


def test_intervals_cover_the_true_effects(large):
    _, result, truth = large
    expected = mediation.expected_values(truth)
    assert expected["repeat_per_doubling_indirect_via_csat"] == pytest.approx(-0.009)
    for estimate in result.estimates:
        assert estimate.covers(expected[estimate.name]), (estimate.name, estimate.ci_low, estimate.ci_high)
    assert result.get("repeat_per_doubling_indirect_via_csat").ci_high < 0  # the indirect path is detected


def test_rows_are_the_survey_respondents(large):
    data, result, _ = large
    answered = int(data.tickets["csat_answered"].sum())
    assert result.ledger.as_dict() == {"in": 50_000, "used": answered, "dropped": {"no survey answer": 50_000 - answered}}
    assert all(e.n == answered for e in result.estimates)
    assert result.clusters == data.tickets.loc[data.tickets["csat_answered"], "customer_id"].nunique()


def test_runs_without_optional_columns_and_says_what_it_left_out(small_data):
    tickets = small_data.tickets.drop(columns=["agent_id", "reopened", "category", "channel", "loyalty_tier"])
    result = mediation.speed_through_satisfaction(TicketData(tickets, small_data.source), replicates=50)
    assert result.skipped is None and result.controls == [] and result.flags == ["resolved"]
    assert result.fits["outcome"].model.exog_names == ["Intercept", "response_log2_hours", "csat", "resolved"]
    assert [n.split(" not held fixed")[0] for n in result.notes] == ["reopened", "category", "channel", "loyalty_tier"]


def test_skips_when_no_survey_was_answered(small_data):
    tickets = small_data.tickets.assign(csat=pd.NA, csat_answered=False)
    result = mediation.speed_through_satisfaction(TicketData(tickets, small_data.source), replicates=50)
    assert result.estimates == [] and result.skipped == "no survey answer with every model variable"
    assert result.ledger.as_dict()["dropped"] == {"no survey answer": len(tickets)}
