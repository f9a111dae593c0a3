"""Agents held fixed beyond the adjusted CSAT model: mediation, survey non-response, the repeat-purchase logits
and the Cox model, each against statsmodels called directly with C(agent_id) dummies."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from study.data import simulate
from study.data.dataset import TicketData, from_frame
from study.regression import agent_terms, mediation
from study.regression.fitting import model_frame
from study.stats import bootstrap_ols
from study.stats.design import design_matrix

CONTROLS = "resolved + reopened + C(category) + C(channel) + C(loyalty_tier)"
AGENT_HELD = "agent held fixed (60 agents): compares tickets handled by the same agent"


def _plain(frame):
    frame = frame.copy()
    for column in ("csat", "repeat_purchase", "resolved", "reopened", "csat_answered"):
        if column in frame.columns:
            frame[column] = frame[column].astype(float)
    for column in ("category", "channel", "loyalty_tier", "agent_id"):
        frame[column] = frame[column].astype(str)
    return frame


@pytest.fixture(scope="module")
def medium():
    """6,000 tickets, 60 agents, seed 5."""
    return from_frame(simulate.simulate(rows=6_000, seed=5).tickets)


@pytest.fixture(scope="module")
def split(medium):
    return mediation.speed_through_satisfaction(medium, replicates=100, seed=4)


# Mediation -----------------------------------------------------------------------------------------


def test_mediation_models_equal_ols_with_agent_dummies_and_say_agents_are_held_fixed(medium, split):
    frame = _plain(medium.tickets[medium.tickets["csat"].notna()])
    clustered = {"cov_type": "cluster", "cov_kwds": {"groups": pd.factorize(frame["customer_id"])[0]}}
    rhs = f"response_log2_hours + {CONTROLS} + C(agent_id)"
    direct = {
        "mediator": smf.ols(f"csat ~ {rhs}", frame).fit(**clustered),
        "outcome": smf.ols(f"repeat_purchase ~ csat + {rhs}", frame).fit(**clustered),
        "total": smf.ols(f"repeat_purchase ~ {rhs}", frame).fit(**clustered),
    }
    for key, reference in direct.items():
        ours = split.fits[key]
        terms = list(ours.params.index)
        assert "Intercept" not in terms and not any("agent_id" in t for t in terms)
        np.testing.assert_allclose(ours.params, reference.params[terms], rtol=0, atol=1e-8)
        np.testing.assert_allclose(ours.bse, reference.bse[terms], rtol=1e-8, atol=0)
    a, b = direct["mediator"].params["response_log2_hours"], direct["outcome"].params["csat"]
    assert split.get(mediation.NAMES["indirect"]).value == pytest.approx(a * b, abs=1e-10)
    assert split.get(mediation.NAMES["a"]).ci_high == pytest.approx(direct["mediator"].conf_int().loc["response_log2_hours", 1], abs=1e-8)
    # The sensitivity's shares of total variance use the dummy models' R-squared.
    assert split.sensitivity.r2_mediator == pytest.approx(direct["mediator"].rsquared, abs=1e-10)
    assert split.sensitivity.r2_outcome == pytest.approx(direct["outcome"].rsquared, abs=1e-10)
    assert AGENT_HELD in split.notes
    assert "agent means estimated again on each draw" in split.effects[0].method


def test_mediation_draws_refit_the_agent_dummies_on_each_resampled_set_of_customers(medium, split):
    """Each bootstrap draw equals OLS with C(agent_id) dummies refitted on the drawn customers' tickets
    (agent means estimated again, not carried over from the full sample), and rho the correlation of its residuals."""
    rows = split.ledger.frame
    frame = model_frame(rows, ["csat", "repeat_purchase", "response_log2_hours", "resolved", "reopened", "category",
                               "channel", "loyalty_tier", "agent_id"], None)
    design = design_matrix(frame, f"response_log2_hours + {CONTROLS} + C(agent_id)")
    speed = list(design.columns).index("response_log2_hours")  # patsy puts the dummies first
    design = design.to_numpy()
    codes = pd.factorize(rows["customer_id"], sort=True)[0]
    rng, n_clusters = np.random.default_rng(4), codes.max() + 1
    for replicate in range(4):
        counts = np.bincount(rng.integers(0, n_clusters, n_clusters), minlength=n_clusters)[codes].astype(float)
        used = (counts[:, None] * np.abs(design)).sum(axis=0) > 0  # an agent no drawn customer reached has no dummy
        x = design[:, used]
        mediator = sm.WLS(frame["csat"].to_numpy(), x, weights=counts).fit()
        total = sm.WLS(frame["repeat_purchase"].to_numpy(), x, weights=counts).fit()
        outcome = sm.WLS(frame["repeat_purchase"].to_numpy(), np.column_stack([x, frame["csat"]]), weights=counts).fit()
        speed_used = int(used[:speed].sum())
        assert split.replicates["a"].iloc[replicate] == pytest.approx(mediator.params[speed_used], abs=1e-9)
        assert split.replicates["b"].iloc[replicate] == pytest.approx(outcome.params[-1], abs=1e-9)
        assert split.replicates["direct"].iloc[replicate] == pytest.approx(outcome.params[speed_used], abs=1e-9)
        covariance = np.cov(mediator.resid, total.resid, aweights=counts, bias=True)
        assert split.replicates["rho_at_zero"].iloc[replicate] == pytest.approx(
            covariance[0, 1] / np.sqrt(covariance[0, 0] * covariance[1, 1]), abs=1e-9)


def test_grouped_bootstrap_with_one_group_is_the_bootstrap_with_an_intercept(split):
    """One group: its mean taken out on each draw is the intercept of the plain bootstrap, on the same draws."""
    mediator, total = split.fits["mediator"], split.fits["total"]
    rows = split.ledger.frame
    frame = model_frame(rows, ["csat", "repeat_purchase", "response_log2_hours", "resolved", "reopened", "category",
                               "channel", "loyalty_tier"], None)
    design = design_matrix(frame, f"response_log2_hours + {CONTROLS}")
    speed = list(design.columns).index("response_log2_hours")
    design = design.to_numpy()
    codes = pd.factorize(rows["customer_id"], sort=True)[0]
    m, y = frame["csat"].to_numpy(), frame["repeat_purchase"].to_numpy()
    plain = bootstrap_ols.cluster_bootstrap_mediation(design, m, y, speed, codes, 30, 8)
    centred = design[:, 1:] - design[:, 1:].mean(axis=0)
    grouped = bootstrap_ols.cluster_bootstrap_mediation(centred, m - m.mean(), y - y.mean(), speed - 1, codes, 30, 8,
                                                        groups=np.zeros(len(codes), dtype=int))
    for key in ("a", "b", "direct", "rho"):
        np.testing.assert_allclose(grouped[key], plain[key], rtol=1e-8, atol=1e-12)
    assert mediator.model.exog.shape[1] == design.shape[1] - 1 and total.nobs == len(rows)


def test_agent_dummy_rule_leaves_agents_out_above_the_limit_and_says_so(medium):
    from study.regression.adjustment import adjustment

    held = adjustment(medium)
    assert agent_terms.for_dummies(held, medium.tickets).fixed_effects == ["agent_id"]
    many = medium.tickets.assign(agent_id=[f"A{i % 250:03d}" for i in range(len(medium.tickets))])
    left_out = agent_terms.for_dummies(adjustment(TicketData(many, medium.source)), many)
    assert left_out.fixed_effects == []
    assert left_out.fixed_effect_notes[0].startswith("agent not held fixed (250 agents, more than the 200 this model enters as dummies)")


# Survey non-response ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def weighted(medium):
    from study.regression import nonresponse

    return nonresponse.survey_nonresponse(medium)


def test_ipw_slope_is_statsmodels_wls_with_agent_dummies_and_weights_from_a_logit_with_them(medium, weighted):
    """Logit with C(agent_id) called directly, its inverse probabilities as WLS weights with C(agent_id): the same
    slope (1e-8) and weights-known CR1 SE; the complete-case slope is OLS with the dummies."""
    frame = _plain(medium.tickets)
    customers = pd.factorize(frame["customer_id"])[0]
    logit = smf.logit(f"csat_answered ~ response_log2_hours + {CONTROLS} + C(agent_id)", frame).fit(
        disp=0, cov_type="cluster", cov_kwds={"groups": customers})
    answered = frame["csat_answered"] == 1
    respondents, weight = frame[answered], 1 / logit.predict()[answered.to_numpy()]
    clustered = {"cov_type": "cluster", "cov_kwds": {"groups": pd.factorize(respondents["customer_id"])[0]}}
    wls = smf.wls(f"csat ~ response_log2_hours + {CONTROLS} + C(agent_id)", respondents, weights=weight).fit(**clustered)
    ols = smf.ols(f"csat ~ response_log2_hours + {CONTROLS} + C(agent_id)", respondents).fit(**clustered)
    ipw, complete = weighted.get("csat_per_doubling_ipw"), weighted.get("csat_per_doubling_complete_case")
    assert ipw.value == pytest.approx(wls.params["response_log2_hours"], abs=1e-8)
    assert ipw.extra["se_weights_known"] == pytest.approx(wls.bse["response_log2_hours"], rel=1e-8)
    assert complete.value == pytest.approx(ols.params["response_log2_hours"], abs=1e-8)
    assert complete.se == pytest.approx(ols.bse["response_log2_hours"], rel=1e-8)
    assert weighted.get("survey_response_per_doubling").value == pytest.approx(
        (logit.params["response_log2_hours"] * logit.predict() * (1 - logit.predict())).mean(), abs=1e-8)
    assert AGENT_HELD in weighted.notes
    assert "dummies for 60 agents" in ipw.method and "fixed effects for 60 agents, absorbed" in ipw.method
    assert not any("agent" in term for term in weighted.balance.index)


def test_ipw_covariance_with_agents_absorbed_is_the_stacked_covariance_of_the_dummy_model(weighted):
    """Frisch-Waugh-Lovell for the stacked estimating equations: the speed block of the estimated-weights
    covariance with the full dummy design equals the one computed from the weighted-demeaned design."""
    from study.regression import nonresponse

    response, fit = weighted.fits["response"], weighted.fits["slope_ipw"]
    rows = weighted.ledger.frame
    answered = response.model.endog.astype(bool)
    frame = model_frame(rows[answered], ["csat", "response_log2_hours", "resolved", "reopened", "category", "channel",
                                         "loyalty_tier", "agent_id"], None)
    full = design_matrix(frame, f"response_log2_hours + {CONTROLS} + C(agent_id)")
    p = response.predict()
    wls = sm.WLS(frame["csat"].to_numpy(), full, weights=1 / p[answered]).fit()
    clusters = rows["customer_id"].to_numpy()
    reference = nonresponse.stacked_covariance(response.model.exog, answered, p, full.to_numpy(), np.asarray(wls.resid), clusters)
    column = list(full.columns).index("response_log2_hours")
    ours = weighted.get("csat_per_doubling_ipw")
    assert ours.se == pytest.approx(np.sqrt(reference[column, column]), rel=1e-8)
    np.testing.assert_allclose(fit.resid, wls.resid, rtol=0, atol=1e-10)


def test_response_logit_leaves_agents_out_above_200_and_the_slopes_still_hold_them():
    from study.regression import nonresponse

    data = from_frame(simulate.simulate(rows=3_000, seed=3, n_agents=250).tickets)
    result = nonresponse.survey_nonresponse(data)
    assert not any("agent_id" in name for name in result.fits["response"].model.exog_names)
    assert any(n.startswith("survey-response logit: agent not held fixed") and "more than the 200" in n for n in result.notes)
    assert result.fits["slope_ipw"].model.absorbed_groups == data.tickets.loc[data.tickets["csat_answered"], "agent_id"].nunique()


# Repeat-purchase logits and the Cox model -------------------------------------------------------------


def test_repeat_purchase_logits_equal_statsmodels_logit_with_agent_dummies(small_data):
    from study.regression import models

    result = models.repeat_purchase(small_data)
    frame = _plain(small_data.tickets)
    for key, rows, rhs in [("total", frame, "response_log2_hours"),
                           ("direct", frame[frame["csat"].notna()], "response_log2_hours + csat")]:
        direct = smf.logit(f"repeat_purchase ~ {rhs} + {CONTROLS} + C(agent_id)", rows).fit(
            disp=0, cov_type="cluster", cov_kwds={"groups": pd.factorize(rows["customer_id"])[0]})
        ours = result.fits[key]
        assert list(ours.params.index) == list(direct.params.index)
        np.testing.assert_allclose(ours.params, direct.params, rtol=0, atol=1e-8)
        np.testing.assert_allclose(ours.bse, direct.bse, rtol=1e-7, atol=0)
        margins = direct.get_margeff(dummy=True).summary_frame()
        speed = result.get(f"repeat_per_doubling_{key}")
        assert speed.value == pytest.approx(margins.loc["response_log2_hours", "dy/dx"], abs=1e-8)
        assert speed.se == pytest.approx(margins.loc["response_log2_hours", "Std. Err."], rel=1e-6)
        assert "agent held fixed (dummies for 60 agents)" in speed.method
    assert AGENT_HELD in result.notes


@pytest.fixture(scope="module")
def many_agents():
    """3,000 tickets among 250 agents: more than a logit or a Cox model enters as dummies."""
    return from_frame(simulate.simulate(rows=3_000, seed=3, n_agents=250).tickets)


def test_logits_and_cox_above_200_agents_run_without_them_and_say_so(many_agents):
    from study.regression import models, survival

    logits, cox = models.repeat_purchase(many_agents), survival.time_to_next_purchase(many_agents)
    assert not any("agent_id" in name for fit in logits.fits.values() for name in fit.model.exog_names)
    assert not any("agent_id" in name for name in cox.fit.model.exog_names)
    assert any(n.startswith("repeat-purchase logits: agent not held fixed (") and "more than the 200" in n for n in logits.notes)
    assert any(n.startswith("Cox model: agent not held fixed (") and "more than the 200" in n for n in cox.notes)
    assert "agent not held fixed" in cox.hazard_ratios[0].method


def test_cox_holds_agents_fixed_by_dummies_and_hides_them_from_the_tables(small_data):
    """(PHReg with C(agent_id) called directly: tests/test_survival.py::test_hazard_ratios_match_phreg_called_directly.)"""
    from study.regression import survival

    result = survival.time_to_next_purchase(small_data)
    assert sum(name.startswith("C(agent_id)") for name in result.fit.model.exog_names) == 59
    assert len(result.table) == len(result.proportional_hazards) == 11
    assert AGENT_HELD in result.notes and "agent held fixed (dummies for 60 agents)" in result.hazard_ratios[0].method
    assert "agents held fixed" not in result.periods.columns and any(n.startswith("hazard ratios by period: agents not held fixed") for n in result.notes)


# The agent-confounding scenario --------------------------------------------------------------------------


def test_with_agents_held_fixed_path_a_and_the_ipw_slope_recover_the_truth_when_agents_confound_speed():
    """100,000 tickets of the agent-confounding scenario (skilled agents reply faster, resolve more, satisfy more).

    Holding agents fixed, path a of the mediation and the IPW slope are within 3 SE of the true CSAT per
    doubling (a miss has probability 0.3% each under correct specification); without agent_id the same
    path a is biased by about 0.035 points (9 SE on seed 21), so the test can tell the two apart (it requires
    more than 4 SE).
    """
    from study.regression import nonresponse

    study = simulate.simulate(rows=100_000, seed=21, scenario="agent-confounding")
    data, truth = from_frame(study.tickets), study.truth["csat_per_doubling_response_time"]
    path_a = mediation.speed_through_satisfaction(data, replicates=200).get(mediation.NAMES["a"])
    ipw = nonresponse.survey_nonresponse(data).get("csat_per_doubling_ipw")
    for estimate in (path_a, ipw):
        assert abs(estimate.value - truth) < 3 * estimate.se, (estimate.name, estimate.value, estimate.se, truth)
    confounded = mediation.speed_through_satisfaction(TicketData(data.tickets.drop(columns="agent_id"), data.source),
                                                      replicates=20).get(mediation.NAMES["a"])
    assert confounded.value - truth < -4 * confounded.se
