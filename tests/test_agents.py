"""Agents held fixed: the adjusted model, the total effect of speed and the comparison without agents,
against statsmodels called directly (a stacked regression for coefficients taken from two models) and
against the simulator's truth, in the default process and in one where agents confound."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from patsy import dmatrices

from study.data import simulate
from study.data.dataset import TicketData, from_frame
from study.regression import agents, csat, models
from study.regression.adjustment import adjustment, on_rows
from tests.test_models import ADJUSTED, _direct_frame

CONTROLS = "C(category) + C(channel) + C(loyalty_tier) + C(agent_id)"


def _stacked_covariance(blocks):
    """Clustered covariance of the coefficients of several OLS models fitted together (block-diagonal design).

    ``blocks``: (formula, frame, clusters). statsmodels' raw sandwich (no small-sample factor) of the
    stacked model, then each block's CR1 factor ``G/(G-1) (n-1)/(n-k)`` (its own rows, columns and
    clusters) applied as sqrt(f_i f_j) to block (i, j).
    """
    ys, xs, labels, factors = [], [], [], []
    for text, frame, clusters in blocks:
        y, x = dmatrices(text, frame, return_type="dataframe")
        ys.append(y.to_numpy().ravel())
        xs.append(x)
        labels.append(np.asarray(clusters))
        n, k, g = x.shape[0], np.linalg.matrix_rank(x.to_numpy().T @ x.to_numpy()), len(set(clusters))
        factors.append(np.full(x.shape[1], g / (g - 1) * (n - 1) / (n - k)))
    design = np.zeros((sum(len(y) for y in ys), sum(x.shape[1] for x in xs)))
    row = col = 0
    for x in xs:
        design[row:row + x.shape[0], col:col + x.shape[1]] = x.to_numpy()
        row, col = row + x.shape[0], col + x.shape[1]
    groups = pd.factorize(np.concatenate(labels))[0]
    # QR rather than the default pseudo-inverse: the same solution, a fraction of the time on a wide design.
    fit = sm.OLS(np.concatenate(ys), design, hasconst=True).fit(
        method="qr", cov_type="cluster", cov_kwds={"groups": groups, "use_correction": False})
    scale = np.sqrt(np.concatenate(factors))
    names = [f"{i}:{c}" for i, x in enumerate(xs) for c in x.columns]
    return pd.Series(fit.params, index=names), pd.DataFrame(fit.cov_params() * np.outer(scale, scale), index=names, columns=names)


def test_total_effect_is_direct_plus_paths_with_the_stacked_sandwich_se(small_data):
    drivers = models.satisfaction_drivers(small_data)
    answered, everyone = _direct_frame(small_data.tickets), _direct_frame(small_data.tickets, answered=False)
    params, cov = _stacked_covariance([
        (ADJUSTED, answered, answered["customer_id"]),
        (f"resolved ~ response_log2_hours + {CONTROLS}", everyone, everyone["customer_id"]),
        (f"reopened ~ response_log2_hours + {CONTROLS}", everyone, everyone["customer_id"]),
    ])
    speed = "response_log2_hours"
    value = params[f"0:{speed}"] + params["0:resolved"] * params[f"1:{speed}"] + params["0:reopened"] * params[f"2:{speed}"]
    gradient = pd.Series(0.0, index=params.index)
    gradient[[f"0:{speed}", "0:resolved", "0:reopened", f"1:{speed}", f"2:{speed}"]] = [
        1.0, params[f"1:{speed}"], params[f"2:{speed}"], params["0:resolved"], params["0:reopened"]]
    total = drivers.get("csat_per_doubling_total_adjusted")
    assert total.value == pytest.approx(value, abs=1e-10)
    assert total.se == pytest.approx(np.sqrt(gradient @ cov @ gradient), rel=1e-8)
    assert total.extra["through"]["resolved"] == pytest.approx(params["0:resolved"] * params[f"1:{speed}"], abs=1e-10)
    # The stacked model's own block is the direct model's CR1 covariance: the reference is consistent.
    assert np.sqrt(cov.loc[f"0:{speed}", f"0:{speed}"]) == pytest.approx(drivers.get("csat_per_doubling_adjusted").se, rel=1e-8)
    assert total.label.endswith("total: resolution and reopening not held fixed")
    assert drivers.get("csat_per_doubling_adjusted").label.endswith("direct: resolution and reopening held fixed")


def test_without_flags_the_total_effect_is_the_direct_one(small_data):
    tickets = small_data.tickets.drop(columns=["reopened"]).assign(resolved=True)
    drivers = models.satisfaction_drivers(TicketData(tickets, small_data.source))
    direct, total = drivers.get("csat_per_doubling_adjusted"), drivers.get("csat_per_doubling_total_adjusted")
    assert (total.value, total.se) == (direct.value, direct.se)
    assert total.label.endswith("nothing on its path held fixed")


def test_without_agents_matches_statsmodels_and_the_move_has_the_stacked_se(small_data):
    estimates = {e.name: e for e in csat.without_agents(small_data)}
    frame = _direct_frame(small_data.tickets)
    customers = pd.factorize(frame["customer_id"])[0]
    plain = smf.ols(ADJUSTED.replace(" + C(agent_id)", ""), frame).fit(cov_type="cluster", cov_kwds={"groups": customers})
    params, cov = _stacked_covariance([(ADJUSTED, frame, frame["customer_id"]),
                                       (ADJUSTED.replace(" + C(agent_id)", ""), frame, frame["customer_id"])])
    for term, name in [("response_log2_hours", "csat_per_doubling_without_agents"), ("resolved", "csat_resolved_without_agents"),
                       ("reopened", "csat_reopened_without_agents")]:
        estimate = estimates[name]
        assert estimate.value == pytest.approx(plain.params[term], abs=1e-10)
        assert estimate.se == pytest.approx(plain.bse[term], rel=1e-8)
        gradient = pd.Series(0.0, index=params.index)
        gradient[[f"0:{term}", f"1:{term}"]] = [1.0, -1.0]
        assert estimate.extra["moved"] == pytest.approx(params[f"0:{term}"] - params[f"1:{term}"], abs=1e-10)
        assert estimate.extra["moved_se"] == pytest.approx(np.sqrt(gradient @ cov @ gradient), rel=1e-8)
    table = agents.comparison_table(list(estimates.values()))
    assert list(table.columns)[:3] == ["agents not held fixed", "agents held fixed", "moved"]
    no_agents = TicketData(small_data.tickets.drop(columns="agent_id"), small_data.source)
    assert "no agent_id" in csat.without_agents(no_agents).reason
    assert isinstance(agents.comparison_table(csat.without_agents(no_agents)), agents.Skipped)


def test_adjustment_says_what_is_held_fixed_and_counts_rows_without_an_agent(small_data):
    held = adjustment(small_data)
    assert held.fixed_effects == ["agent_id"] and held.levels == {"agent_id": 60}
    assert held.categorical == ["category", "channel", "loyalty_tier", "agent_id"]
    assert held.fixed_effect_notes == ["agent held fixed (60 agents): compares tickets handled by the same agent"]
    assert held.without_fixed_effects("an ordered logit would need a parameter per agent").fixed_effect_notes[0].startswith(
        "agent not held fixed (an ordered logit would need a parameter per agent): the resolution effect")
    one_agent = on_rows(held, small_data.tickets.assign(agent_id="A001"))
    assert one_agent.fixed_effects == [] and "a single value on the rows" in one_agent.statement[-len(one_agent.notes) - 1]
    tickets = small_data.tickets.copy()
    tickets.loc[tickets.index[:300], "agent_id"] = pd.NA
    drivers = models.satisfaction_drivers(TicketData(tickets, small_data.source))
    assert drivers.ledger.as_dict()["dropped"]["missing agent_id"] > 0
    assert drivers.naive.n == drivers.get("csat_per_doubling_adjusted").n == drivers.ledger.rows_used


def test_terms_constant_within_agents_are_absorbed_and_speed_constant_within_agents_is_skipped(small_data):
    tickets = small_data.tickets.copy()
    by_agent = {a: c for a, c in zip(sorted(tickets["agent_id"].unique()), ["chat", "email", "phone"] * 20)}
    tickets["channel"] = tickets["agent_id"].map(by_agent)  # every agent works one channel
    drivers = models.satisfaction_drivers(TicketData(tickets, small_data.source))
    assert not any("channel" in t for t in drivers.fits["adjusted"].params.index)
    assert any(n.startswith("C(channel)[T.email] held fixed by the agent fixed effects") for n in drivers.notes)
    tickets["first_response_minutes"] = tickets["agent_id"].str[1:].astype(int) * 10.0
    skipped = models.satisfaction_drivers(from_frame(tickets))
    assert "does not vary within agents" in skipped.reason


def test_with_fewer_answers_than_agents_the_models_run_without_agents_and_say_why():
    data = from_frame(simulate.simulate(rows=1_200, seed=9, n_agents=20_000).tickets)  # almost one answer per agent
    drivers = models.satisfaction_drivers(data)
    assert drivers.fixed_effects == [] and "Intercept" in drivers.fits["adjusted"].params
    reason = next(n for n in drivers.notes if n.startswith("agent not held fixed ("))
    assert "answered surveys, too few answers to hold each agent fixed" in reason
    assert "too few answers to hold each agent fixed" in drivers.get("csat_per_doubling_adjusted").method
    assert csat.without_agents(data).reason == reason


def _z(estimate, truth):
    return (estimate.value - truth) / estimate.se


def test_holding_agents_fixed_removes_the_agent_bias_in_large_simulations():
    """400,000 default tickets (the whole sample in the model): the adjusted effects, agents held fixed, are within
    3 SE of the truth. 100,000 tickets where agents confound (skilled agents reply faster and satisfy more):
    with agents held fixed still within 3 SE; without, speed looks more harmful and resolution more valuable
    than they are (|z| > 3), and the move made by holding agents fixed is significant."""
    data = from_frame(simulate.simulate(rows=400_000, seed=31).tickets)
    drivers = models.satisfaction_drivers(data)
    for name, truth in [("csat_per_doubling_adjusted", -0.15), ("csat_per_doubling_total_adjusted", -0.15),
                        ("csat_resolved_adjusted", 0.80), ("csat_reopened_adjusted", -0.30)]:
        assert abs(_z(drivers.get(name), truth)) < 3, (name, drivers.get(name).value)

    confounded = from_frame(simulate.simulate(rows=100_000, seed=32, scenario="agent-confounding").tickets)
    held = models.satisfaction_drivers(confounded)
    free = {e.name: e for e in csat.without_agents(confounded)}
    assert abs(_z(held.get("csat_per_doubling_adjusted"), -0.15)) < 3
    assert abs(_z(held.get("csat_resolved_adjusted"), 0.80)) < 3
    assert _z(free["csat_per_doubling_without_agents"], -0.15) < -3
    assert _z(free["csat_resolved_without_agents"], 0.80) > 3
    assert free["csat_resolved_without_agents"].extra["moved_p_value"] < 1e-3


def test_findings_say_what_is_held_fixed_and_how_far_agents_moved_each_effect(small_data):
    drivers, comparison = models.satisfaction_drivers(small_data), csat.without_agents(small_data)
    texts = [f.text for f in agents.findings(drivers, comparison)]
    assert texts[0].startswith("**What the adjusted model holds fixed.** case outcomes held fixed: resolved, reopened;")
    assert "agent held fixed (60 agents)" in texts[0]
    assert "(direct)" in texts[1] and "(total: the direct part plus" in texts[1]
    resolved = next(e for e in comparison if e.name == "csat_resolved_without_agents")
    assert f"for a resolved case from {resolved.value:+.3f} to {resolved.extra['agents_held_fixed']:+.3f}" in texts[2]
    no_agents = TicketData(small_data.tickets.drop(columns="agent_id"), small_data.source)
    texts = [f.text for f in agents.findings(models.satisfaction_drivers(no_agents), csat.without_agents(no_agents))]
    assert len(texts) == 2 and "agent not held fixed (agent_id: the data has no such column)" in texts[0]
    assert agents.findings(agents.Skipped("naive and adjusted models", "one customer"), comparison) == []
