import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from study import cli, config
from study.data import io, scenarios, simulate
from study.data.dataset import from_frame
from study.regression import models


def test_same_seed_same_data_and_other_seed_other_data():
    a, b, c = simulate.simulate(500, seed=1), simulate.simulate(500, seed=1), simulate.simulate(500, seed=2)
    pd.testing.assert_frame_equal(a.tickets, b.tickets)
    assert a.truth == b.truth
    assert not a.tickets["csat"].equals(c.tickets["csat"])


def test_embedded_sample_is_what_the_documented_command_writes():
    study = simulate.simulate(rows=40_000, seed=2026)
    committed = pd.read_parquet(config.SAMPLE_DATA)
    pd.testing.assert_frame_equal(committed, study.tickets, check_dtype=False)
    committed = json.loads((config.DATA / "truth.json").read_text())
    written = json.loads(json.dumps(study.truth))
    assert set(written) == {k for k in committed if not k.startswith("data_")}
    for key, value in written.items():  # to rounding: numpy's SIMD sums may differ in the last bit between processors
        assert committed[key] == (pytest.approx(value, rel=1e-12) if isinstance(value, float) else value), key
    assert committed["data_fingerprint"] == io.fingerprint(config.SAMPLE_DATA)


def test_values_respect_the_contract_ranges():
    tickets = simulate.simulate(20_000, seed=3).tickets
    assert tickets["csat"].dropna().between(1, 5).all()
    assert tickets["first_response_minutes"].between(simulate.RESPONSE_FLOOR_MINUTES, simulate.RESPONSE_CAP_MINUTES).all()
    assert tickets["ticket_id"].is_unique
    assert (tickets.loc[~tickets["resolved"], "resolution_minutes"].isna()).all()
    assert not (tickets["reopened"] & ~tickets["resolved"]).any()
    assert set(tickets["variant"]) == {"control", "treatment"}
    assert tickets.groupby("customer_id")["variant"].nunique().max() == 1  # customers are randomized whole


# The most extreme process the knobs allow: every scenario lies inside it.
EXTREME = scenarios.Scenario(agent_confounding=1.0, sla_direct_effect=-0.10, heteroskedastic=1.0)


@pytest.mark.parametrize("process", [scenarios.PRESETS["default"], EXTREME], ids=["default", "extreme knobs"])
def test_means_stay_inside_their_bounds_for_every_combination(process):
    """The linear CSAT mean must stay in [1, 5] and the probability of resolution in [0, 1] at the extremes
    (treated or not), or the truth would not be exact."""
    extremes, resolution = [], []
    for minutes in (simulate.RESPONSE_FLOOR_MINUTES, simulate.RESPONSE_CAP_MINUTES):
        for resolved, reopened in [(0, 0), (1, 0), (1, 1)]:
            for category in simulate.CATEGORIES:
                for channel in simulate.CHANNELS:
                    for tier in simulate.TIERS:
                        for skill, customer in [(-1, -simulate.CSAT_CUSTOMER_SPREAD), (1, simulate.CSAT_CUSTOMER_SPREAD)]:
                            mean = simulate._csat_mean(
                                np.log2(np.array([minutes]) / 60), resolved, reopened, np.array([category]),
                                np.array([channel]), np.array([tier]), np.array([float(skill)]), customer, process)[0]
                            extremes += [mean, mean + process.sla_direct_effect]
    for category in simulate.CATEGORIES:
        for skill in (-1.0, 1.0):
            p = simulate.RESOLVED_BASE + simulate.RESOLVED_CATEGORY[category] + process.agent_effect(
                np.array([skill]), simulate.RESOLVED_AGENT_SKILL, scenarios.AGENT_SKILL_EXTRA_RESOLVED)[0]
            resolution += [p, p + process.sla_resolved_shift]
    assert 1 <= min(extremes) and max(extremes) <= 5
    assert 0 <= min(resolution) and max(resolution) <= 1


def test_scenarios_are_named_checked_and_written_into_the_truth():
    default = simulate.simulate(500, seed=1)
    for same in (None, "default", scenarios.Scenario()):
        pd.testing.assert_frame_equal(simulate.simulate(500, seed=1, scenario=same).tickets, default.tickets)
    assert default.truth["scenario"] == {"name": "default", "agent_confounding": 0.0, "sla_direct_effect": 0.0, "heteroskedastic": 0.0}
    truth = simulate.simulate(500, seed=1, scenario="sla-direct-effect").truth
    assert truth["scenario"]["name"] == "sla-direct-effect" and truth["sla_direct_effect_on_csat"] == -0.05
    assert truth["sla_effect_on_resolved"] == pytest.approx(-0.01)
    assert scenarios.Scenario(agent_confounding=0.5).name == "custom"
    with pytest.raises(ValueError, match="sla_direct_effect must be between"):
        scenarios.Scenario(sla_direct_effect=0.05)
    with pytest.raises(ValueError, match="unknown scenario 'nope'"):
        simulate.simulate(10, seed=1, scenario="nope")
    parser = cli.build_parser()
    for name in scenarios.PRESETS:
        assert parser.parse_args(["simulate", "--out", "t.parquet", "--scenario", name]).scenario == name
    with pytest.raises(SystemExit):
        parser.parse_args(["simulate", "--out", "t.parquet", "--scenario", "nope"])


def _arm_difference(tickets, column):
    """Treatment minus control mean of ``column`` with its SE clustered by customer (customers are randomized whole)."""
    frame = pd.DataFrame({"y": tickets[column].astype(float), "t": (tickets["variant"] == "treatment").astype(float)})
    fit = smf.ols("y ~ t", frame).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(tickets["customer_id"])[0]})
    return fit.params["t"], fit.bse["t"]


def test_sla_direct_effect_scenario_moves_csat_resolution_and_qa_score_as_its_truth_says():
    """150,000 tickets: each arm difference (answered CSAT, resolution, QA score) within 3 SE of the truth, which
    the SLA's direct effect moves well beyond 3 SE from what speed alone would give."""
    study = simulate.simulate(150_000, seed=43, scenario="sla-direct-effect")
    truth, tickets = study.truth, study.tickets
    speed_only = simulate.simulate(2_000, seed=43).truth  # same process without the direct effect (truths are exact)
    for column, key in [("csat", "sla_effect_on_csat"), ("resolved", "sla_effect_on_resolved"), ("quality_score", "sla_effect_on_quality_score")]:
        rows = tickets[tickets["csat"].notna()] if column == "csat" else tickets
        difference, se = _arm_difference(rows, column)
        assert abs(difference - truth[key]) < 3 * se, (column, difference, truth[key])
    difference, se = _arm_difference(tickets[tickets["csat"].notna()], "csat")
    assert difference - speed_only["sla_effect_on_csat"] < -3 * se
    # Beside the direct -0.05: resolution down 1 pp, worth 0.80 CSAT points each.
    moved = truth["sla_effect_on_csat_all_tickets"] - truth["csat_per_doubling_response_time"] * truth["sla_effect_on_log2_response_hours"]
    assert -0.05 - 0.8 * 0.01 - 0.002 < moved < -0.05 - 0.8 * 0.01 + 0.002


def test_heteroskedastic_scenario_spreads_slow_answers_and_keeps_the_means_linear():
    """60,000 tickets at one seed, with and without the scenario: the adjusted slopes stay within 3 SE of the truth,
    and the residual variance of the slowest fifth over the fastest grows by more than half."""
    ratios = {}
    for name in ("default", "heteroskedastic"):
        data = from_frame(simulate.simulate(60_000, seed=44, scenario=name).tickets)
        drivers = models.satisfaction_drivers(data)
        for estimate, truth in [("csat_per_doubling_adjusted", -0.15), ("csat_resolved_adjusted", 0.80)]:
            assert abs(drivers.get(estimate).value - truth) < 3 * drivers.get(estimate).se, (name, estimate)
        residual = drivers.fits["adjusted"].resid.to_numpy()
        speed = data.tickets.loc[drivers.fits["adjusted"].resid.index, "response_log2_hours"].to_numpy()
        slow, fast = np.quantile(speed, [0.8, 0.2])
        ratios[name] = residual[speed >= slow].var() / residual[speed <= fast].var()
    assert ratios["heteroskedastic"] > 1.5 * ratios["default"], ratios


def test_agent_confounding_scenario_makes_skilled_agents_faster():
    """Across the 60 agents, mean response time falls with mean QA score (skill) when agents confound."""
    for name, low, high in [("default", -0.4, 0.4), ("agent-confounding", -1.0, -0.5)]:
        tickets = simulate.simulate(30_000, seed=45, scenario=name).tickets
        by_agent = tickets.assign(log_minutes=np.log(tickets["first_response_minutes"])).groupby("agent_id")
        correlation = by_agent["log_minutes"].mean().corr(by_agent["quality_score"].mean())
        assert low < correlation < high, (name, correlation)


def test_truth_of_the_experiment_follows_from_the_structural_slope():
    truth = simulate.simulate(5_000, seed=4).truth
    # Satisfaction is linear in log2 hours, so the SLA's effect on all tickets is slope x shift.
    assert truth["sla_effect_on_csat_all_tickets"] == pytest.approx(
        truth["csat_per_doubling_response_time"] * truth["sla_effect_on_log2_response_hours"], rel=1e-12
    )
    assert truth["repeat_indirect_per_doubling_response_time"] == pytest.approx(-0.15 * 0.06)
    assert -1 < truth["sla_effect_on_log2_response_hours"] < -0.7  # halving, less the 4-minute floor


def test_large_simulation_matches_the_documented_rates():
    """Survey response and repeat rates agree with the truth's expectations within 4 binomial SEs."""
    study = simulate.simulate(100_000, seed=5)
    answered = study.tickets["csat"].notna().mean()
    se = np.sqrt(answered * (1 - answered) / 100_000)
    assert abs(answered - study.truth["survey_response_rate"]) < 4 * se


def test_write_refuses_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match="parquet or .csv"):
        simulate.write(simulate.simulate(10, seed=1), tmp_path / "t.json")
