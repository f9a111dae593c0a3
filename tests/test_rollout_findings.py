"""The rollout in words and numbers: acceptance on simulated rollouts, findings, results file, pilot against rollout."""

import numpy as np
import pandas as pd
import pytest

import study
import study.rollout
from study.core.results import Skipped, save
from study.data.rollout import simulate_rollout
from study.rollout import did
from study.rollout import pilot as pilots
from study.rollout.panel import build_panel
from tests.fixtures.rollout_generator import simulate

PILOT = "data/tickets.parquet"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_on_the_rollout_simulator_the_did_interval_covers_the_truth_and_the_naive_one_does_not(seed):
    """The issue's acceptance on study.data.rollout.simulate_rollout: for three seeds the DiD 95% CI covers the
    true average effect on the treated, for CSAT and first response time, while the naive before/after CI excludes
    it (satisfaction slips and replies slow week by week, so later weeks look worse whatever the change did)."""
    simulated = simulate_rollout(seed=seed)
    panel = build_panel(simulated.tickets)
    for outcome in ("csat", "log2_response_hours"):
        cells, true = panel.outcome_cells(outcome), simulated.truth[f"rollout_att_{outcome}"]
        estimate, _ = did.att(cells, outcome, 0.05)
        naive = did.naive(cells, outcome, 0.05)
        assert estimate.covers(true), (outcome, estimate, true)
        assert not naive.covers(true), (outcome, naive, true)


@pytest.fixture(scope="module")
def rollout():
    tickets, truth = simulate(seed=4, teams=20, per_cell=6)
    return study.rollout.analyse(tickets, alpha=0.1), truth


def test_the_executive_sentence_comes_first_and_quotes_its_estimates(rollout):
    result, truth = rollout
    findings = result.findings(truth)
    first = findings[0]
    att, naive = result.att["csat"], result.naive["csat"]
    assert first.headline and first.estimates == ("rollout_att_csat", "rollout_naive_csat")
    assert att.ci_low > 0  # so the sentence need not say the interval holds zero
    assert first.text == (f"After go-live, CSAT in the teams that adopted was {abs(att.value):.2f} points "
                          f"{'higher' if att.value > 0 else 'lower'} than the teams not yet adopted imply (difference in "
                          f"differences, 90% CI {att.ci_low:+.2f} to {att.ci_high:+.2f}); a naive before/after comparison "
                          f"would have said {naive.value:+.2f} points.")
    assert [f for f in findings if f.headline] == [first]
    kinds = {f.kind for f in findings}
    assert {"finding", "truth", "skipped"} <= kinds and kinds & {"check", "warning"}
    quoted = {name for f in findings for name in f.estimates}
    assert quoted <= {e.name for e in result.estimates}


def test_the_results_file_carries_every_estimate_and_the_assumptions(rollout, tmp_path):
    result, _ = rollout
    payload = save(result, tmp_path)
    names = {e["name"] for e in payload["estimates"]}
    assert {"rollout_att_csat", "rollout_naive_csat", "rollout_pretrend_p_csat", "rollout_att_log2_response_hours"} <= names
    assert (tmp_path / "07_rollout.json").exists()
    pretrend = next(e for e in payload["estimates"] if e["name"] == "rollout_pretrend_p_csat")
    assert pretrend["value"] == pretrend["p_value"] == result.pretrend["csat"].p_value
    assert any(n.startswith("Parallel trends: teams that adopted later") for n in payload["notes"])
    assert any("pilot against rollout: skipped" in n for n in payload["notes"])
    assert payload["rows"] == result.ledger.as_dict()
    assert len(result.model_words()) >= 4 and len(result.assumptions()) == 6


def test_tables_of_the_notebook(rollout):
    result, _ = rollout
    table = result.table()
    assert list(table.columns) == ["naive before/after", "naive CI", "DiD", "CI", "pre-trend p"]
    assert table.loc["CSAT (1-5, answered surveys)", "DiD"] == result.att["csat"].value
    events = result.event_table("csat")
    assert events.loc[-1, "estimate"] == 0 and (events["tickets"] > 0).all()
    assert isinstance(result.event_table("no_such"), Skipped)
    assert result.adoption()["teams"].sum() == result.panel.teams


def test_event_study_figure_draws_every_week(rollout):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    result, _ = rollout
    fig = study.rollout.plots.event_study(result, "csat")
    points = sum(len(line.get_xdata()) for line in fig.axes[0].lines if line.get_marker() == "o")
    assert points == len(result.events["csat"])
    plt.close(fig)


@pytest.fixture(scope="module")
def pilot_data():
    return study.load(PILOT)


def test_pilot_effects_are_the_delta_method_over_customers(pilot_data):
    effects, experiment = pilots.pilot_effects(pilot_data)
    rows = experiment.experiment.rows
    log2_hours = np.log2(np.maximum(rows["first_response_minutes"].astype(float), 1.0) / 60)
    per_customer = rows.assign(log2_hours=log2_hours, timed=log2_hours.notna().astype(float)).groupby(
        ["customer_id", "variant"]).agg(hours=("log2_hours", "sum"), timed=("timed", "sum")).reset_index()
    parts = {}
    for arm, group in per_customer.groupby("variant"):
        r = group["hours"].sum() / group["timed"].sum()
        n = len(group)
        var = ((group["hours"] - r * group["timed"]) ** 2).sum() / (n - 1) / group["timed"].mean() ** 2
        parts[arm] = (r, var / n)
    value = parts["treatment"][0] - parts["control"][0]
    assert effects["log2_response_hours"].value == pytest.approx(value, rel=1e-10)
    assert effects["log2_response_hours"].se == pytest.approx(np.sqrt(parts["treatment"][1] + parts["control"][1]), rel=1e-10)
    csat = next(e for e in experiment.effects if e.metric == "csat" and not e.segment)
    assert effects["csat"].value == csat.estimate and effects["csat"].name == "rollout_pilot_csat"


def test_pilot_against_rollout_tests_their_difference(pilot_data, rollout):
    result, _ = rollout
    comparison = pilots.compare(result.effects(), pilot_data, alpha=0.05)
    for outcome in ("csat", "log2_response_hours"):
        d, p, r = comparison.differences[outcome], comparison.pilot[outcome], comparison.rollout[outcome]
        assert d.value == pytest.approx(r.value - p.value)
        assert d.se == pytest.approx(np.sqrt(r.se**2 + p.se**2))
        assert d.ci_high - d.ci_low == pytest.approx(2 * 1.959964 * d.se, rel=1e-6)
    assert list(comparison.table().index) == ["first response time (log2 hours: -1 = twice as fast)", "CSAT (1-5, answered surveys)"]
    assert isinstance(pilots.compare(result.effects(), None), Skipped)


def test_pilot_verdict_words():
    from study.core.results import Estimate

    def e(value, low, high, p=None):
        return Estimate("x", "x", value, 0.1, low, high, p, 1, "")

    pilot = e(-0.8, -0.9, -0.7)
    assert pilots.verdict(pilot, e(-0.75, -0.9, -0.6), e(0.05, -0.1, 0.2, 0.5), 0.05) == "held"
    assert pilots.verdict(pilot, e(-0.3, -0.4, -0.2), e(0.5, 0.3, 0.7, 0.001), 0.05) == "shrank"
    assert pilots.verdict(pilot, e(-1.5, -1.7, -1.3), e(-0.7, -0.9, -0.5, 0.001), 0.05) == "grew"
    assert pilots.verdict(pilot, e(0.5, 0.3, 0.7), e(1.3, 1.1, 1.5, 0.001), 0.05) == "reversed"


def test_the_full_analysis_with_a_pilot_names_the_verdict(pilot_data):
    tickets, _ = simulate(seed=12, teams=16, per_cell=4)
    result = study.rollout.analyse(tickets, pilot_data=pilot_data)
    sentences = [f.text for f in result.findings() if f.text.startswith("The pilot's effect")]
    assert len(sentences) == 2 and all(any(w in s for w in ("held", "shrank", "grew", "reversed")) for s in sentences)
    assert {"rollout_pilot_csat", "rollout_pilot_difference_csat"} <= {e.name for e in result.estimates}
    assert isinstance(result.pilot_table(), pd.DataFrame)


def test_the_readers_table_gives_rates_in_points_and_the_rest_signed(rollout):
    result, _ = rollout
    table, summary = result.table(), result.summary()
    assert list(summary.index) == list(table.index)
    did = summary.columns[1]
    csat = result.att["csat"]
    assert summary.loc["CSAT (1-5, answered surveys)", did] == (
        f"{csat.value:+.2f} ({csat.ci_low:+.2f} to {csat.ci_high:+.2f})")
    rates = [label for label in summary.index if "rate" in label]
    assert rates and all(" pp (" in summary.loc[label, did] for label in rates)
