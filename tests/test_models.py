"""Regression helpers against statsmodels called directly, closed forms and the simulator's truth."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from study import config
from study.core.inference import critical_value
from study.data import simulate
from study.data.dataset import from_frame, load_tickets
from study.regression import fitting, models, within
from study.stats.absorb import absorbed_model, fit_absorbed
from study.stats.design import design_matrix

ADJUSTED = "csat ~ response_log2_hours + resolved + reopened + C(category) + C(channel) + C(loyalty_tier) + C(agent_id)"


def _direct_frame(tickets, answered=True):
    columns = ["csat", "response_log2_hours", "resolved", "reopened", "category", "channel", "loyalty_tier", "customer_id", "agent_id"]
    frame = tickets[[c for c in columns if c in tickets.columns]]
    frame = frame[frame["csat"].notna()].copy() if answered else frame.copy()
    for column in ("csat", "resolved", "reopened"):
        frame[column] = frame[column].astype(float)
    for column in ("category", "channel", "loyalty_tier", "agent_id"):
        if column in frame.columns:
            frame[column] = frame[column].astype(str)
    return frame


@pytest.fixture(scope="module")
def many_agents():
    """2,000 tickets among 800 agents: most agents answer one or two surveys (absorbed singletons count too)."""
    return from_frame(simulate.simulate(rows=2_000, seed=8, n_agents=800).tickets)


@pytest.mark.parametrize("which", ["small_data", "many_agents"])
def test_adjusted_ols_matches_statsmodels_with_agent_dummies_called_directly(which, request):
    """Agents absorbed (within transformation) give statsmodels' OLS with C(agent_id) dummies: coefficients,
    CR1 standard errors clustered by customer, intervals and p-values to 1e-8; HC1 as well."""
    data = request.getfixturevalue(which)
    drivers = models.satisfaction_drivers(data)
    frame = _direct_frame(data.tickets)
    customers = pd.factorize(frame["customer_id"])[0]
    for cluster, cov in [("customer_id", {"cov_type": "cluster", "cov_kwds": {"groups": customers}}), (None, {"cov_type": "HC1"})]:
        direct = smf.ols(ADJUSTED, frame).fit(**cov)
        ours = drivers.fits["adjusted"] if cluster else models.satisfaction_drivers(data, cluster=None).fits["adjusted"]
        terms = list(ours.params.index)
        assert not any("agent_id" in t for t in terms) and len(terms) == 11
        np.testing.assert_allclose(ours.params.to_numpy(), direct.params[terms].to_numpy(), rtol=0, atol=1e-8)
        np.testing.assert_allclose(ours.bse.to_numpy(), direct.bse[terms].to_numpy(), rtol=1e-8, atol=0)
        np.testing.assert_allclose(ours.conf_int().to_numpy(), direct.conf_int().loc[terms].to_numpy(), rtol=0, atol=1e-8)
        np.testing.assert_allclose(ours.pvalues.to_numpy(), direct.pvalues[terms].to_numpy(), rtol=1e-6, atol=1e-12)
        assert ours.df_resid == direct.df_resid
    estimate = drivers.get("csat_per_doubling_adjusted")
    direct = smf.ols(ADJUSTED, frame).fit(cov_type="cluster", cov_kwds={"groups": customers})
    assert estimate.value == pytest.approx(direct.params["response_log2_hours"], abs=1e-10)
    assert estimate.se == pytest.approx(direct.bse["response_log2_hours"], rel=1e-8)
    assert estimate.ci_low == pytest.approx(direct.conf_int().loc["response_log2_hours", 0], abs=1e-8)
    assert f"fixed effects for {frame['agent_id'].nunique():,} agents" in estimate.method


def test_without_agent_id_the_adjusted_model_is_the_plain_one_and_says_so(small_data):
    data = type(small_data)(small_data.tickets.drop(columns="agent_id"), small_data.source)
    drivers = models.satisfaction_drivers(data)
    frame = _direct_frame(data.tickets)
    direct = smf.ols(ADJUSTED.replace(" + C(agent_id)", ""), frame).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(frame["customer_id"])[0]})
    ours = drivers.fits["adjusted"]
    np.testing.assert_allclose(ours.params.to_numpy(), direct.params.to_numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.bse.to_numpy(), direct.bse.to_numpy(), rtol=0, atol=1e-10)
    assert drivers.fixed_effects == []
    assert "agent not held fixed (agent_id: the data has no such column)" in drivers.get("csat_resolved_adjusted").method
    assert any(n.startswith("agent not held fixed") and "confounded by agent skill" in n for n in drivers.notes)


def test_cluster_robust_se_matches_the_sandwich_formula():
    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(150), 4)
    x = rng.normal(size=groups.size) + rng.normal(size=150)[groups]
    y = 1 + 0.5 * x + rng.normal(size=150)[groups] + rng.normal(size=groups.size)
    tickets = pd.DataFrame({"csat": y, "response_log2_hours": x, "customer_id": groups.astype(str)})
    fit = fitting.fit_ols(tickets, "csat", ["response_log2_hours"], cluster="customer_id")

    design = np.column_stack([np.ones_like(x), x])
    bread = np.linalg.inv(design.T @ design)
    residual = y - design @ (bread @ design.T @ y)
    meat = sum(np.outer(s, s) for s in (design[groups == g].T @ residual[groups == g] for g in range(150)))
    n, k, g = groups.size, 2, 150
    sandwich = g / (g - 1) * (n - 1) / (n - k) * bread @ meat @ bread  # CR1
    np.testing.assert_allclose(fit.bse.to_numpy(), np.sqrt(np.diag(sandwich)), rtol=1e-10)


def test_logit_marginal_effects_match_the_closed_form(small_data):
    repeat = models.repeat_purchase(small_data)
    fit = repeat.fits["direct"]
    p = fit.predict()
    for term, name in [("response_log2_hours", "repeat_per_doubling_direct"), ("csat", "repeat_per_csat_point")]:
        closed_form = np.mean(fit.params[term] * p * (1 - p))  # AME of a continuous term in a logit
        assert repeat.get(name).value == pytest.approx(closed_form, abs=1e-10)


def test_formula_enters_any_name_as_a_name_to_look_up_never_as_code():
    """A name that reads as code enters as Q('...'), a string patsy looks up among the columns (more in test_drivers_fitting)."""
    assert fitting.formula("csat", ["__import__('os').system('true')"]) == "csat ~ Q(\"__import__('os').system('true')\")"
    with pytest.raises(ValueError, match="name of a formula function"):
        fitting.formula("csat", ["C"])


def test_scaled_coefficient_scales_value_and_interval(small_data):
    drivers = models.satisfaction_drivers(small_data)
    per_doubling, per_day = drivers.get("csat_per_doubling_adjusted"), drivers.get("csat_24h_vs_1h_adjusted")
    assert per_day.value == pytest.approx(per_doubling.value * np.log2(24))
    assert per_day.ci_low == pytest.approx(per_doubling.ci_low * np.log2(24))
    assert per_day.p_value == per_doubling.p_value


def test_naive_and_adjusted_use_the_same_rows(small_data):
    drivers = models.satisfaction_drivers(small_data)
    assert drivers.naive.n == drivers.get("csat_per_doubling_adjusted").n == drivers.ledger.rows_used
    assert drivers.ledger.rows_in == len(small_data.tickets)


def test_controls_absent_from_the_data_are_left_out(small_data):
    tickets = small_data.tickets.drop(columns=["channel", "loyalty_tier", "reopened"])
    data = type(small_data)(tickets, small_data.source)
    drivers = models.satisfaction_drivers(data)
    assert drivers.controls == ["category"] and drivers.fixed_effects == ["agent_id"]
    assert "reopened" not in drivers.fits["adjusted"].params
    assert drivers.notes[:3] == ["case outcomes held fixed: resolved", "known confounders held fixed: category",
                                 "agent held fixed (60 agents): compares tickets handled by the same agent"]
    assert "reopened not held fixed: the data has no such column" in drivers.notes
    assert drivers.get("csat_per_doubling_adjusted").label.endswith("direct: resolution held fixed")
    assert drivers.get("csat_per_doubling_total_adjusted").label.endswith("total: resolution not held fixed")


def test_embedded_sample_recovers_the_truth_and_shows_the_naive_bias():
    data = load_tickets(config.SAMPLE_DATA)
    truth = simulate.simulate(rows=40_000, seed=2026).truth
    drivers = models.satisfaction_drivers(data)
    true_slope = truth["csat_per_doubling_response_time"]
    assert drivers.get("csat_per_doubling_adjusted").covers(true_slope)
    assert drivers.get("csat_resolved_adjusted").covers(truth["csat_resolved"])
    assert not drivers.naive.covers(true_slope)
    assert drivers.naive.value < true_slope  # confounding makes speed look more harmful


# 560 runs: a true 95% coverage gives 516 to 546 covered with probability 0.9976 for each estimate
# (binomial; both tails 0.0012), so all three pass with probability at least 1 - 3 x 0.0024 = 0.993
# whatever their dependence; a true 90% coverage lands in that range with probability 0.049 (the test
# then fails with probability 0.951), a true 99% with probability 0.002.
COVERAGE_RUNS, COVERED_LOW, COVERED_HIGH = 560, 516, 546


def test_adjusted_intervals_cover_the_truth_at_the_nominal_rate():
    """The 95% intervals of the adjusted speed (direct and total) and resolution effects cover the truth 95% of the time.

    560 simulated data sets of about 1,000 tickets (some 300 answered surveys): the customers of one
    large simulation dealt into 560 hands. Customers are drawn independently, so the hands are
    independent data sets given the agents (whom the model holds fixed). Each hand gets the default
    adjusted model (:func:`study.regression.within.fit_within`, the fit of ``satisfaction_drivers``,
    on a design built once for all hands) and the total effect (:func:`study.regression.within.combine_total`).
    Tolerance from the Monte-Carlo error and the test's power: see ``COVERAGE_RUNS`` above.
    """
    runs = COVERAGE_RUNS
    tickets = from_frame(simulate.simulate(rows=runs * 1_000, seed=12_345).tickets).tickets
    controls, flags = ["category", "channel", "loyalty_tier"], ["resolved", "reopened"]
    frame = fitting.model_frame(tickets, ["csat", *flags, fitting.SPEED, *controls], None)
    design = design_matrix(frame, fitting.formula("csat", [fitting.SPEED, *flags], controls).split("~", 1)[1])
    design = design.drop(columns="Intercept")
    paths_design = design.drop(columns=flags)
    customer, agent = pd.factorize(tickets["customer_id"])[0], tickets["agent_id"].to_numpy()
    hand = customer % runs
    order = np.argsort(hand, kind="stable")
    bounds = np.searchsorted(hand[order], np.arange(runs + 1))
    answered = tickets["csat_answered"].to_numpy()
    truth = {fitting.SPEED: simulate.CSAT_PER_DOUBLING, "resolved": simulate.CSAT_RESOLVED, "total": simulate.CSAT_PER_DOUBLING}
    covered = dict.fromkeys(truth, 0)
    for r in range(runs):
        rows = order[bounds[r]:bounds[r + 1]]
        respondents = rows[answered[rows]]
        codes = pd.factorize(customer[rows])[0]  # one coding for the hand's tickets and its respondents
        respondent_codes = codes[answered[rows]]
        model = absorbed_model(frame["csat"].iloc[respondents], design.iloc[respondents], agent[respondents])[0]
        fit = fit_absorbed(model, "cluster", {"groups": respondent_codes.astype(float)})
        paths = {f: absorbed_model(frame[f].iloc[rows], paths_design.iloc[rows], agent[rows])[0].fit() for f in flags}
        value, se, _ = within.combine_total(fit, paths, [respondent_codes, codes, codes], codes.max() + 1)
        interval = fit.conf_int()
        for term in (fitting.SPEED, "resolved"):
            covered[term] += interval.loc[term, 0] <= truth[term] <= interval.loc[term, 1]
        covered["total"] += abs(value - truth["total"]) <= critical_value(0.05) * se
    assert all(COVERED_LOW <= n <= COVERED_HIGH for n in covered.values()), covered
