"""The rollout's DiD against pyfixest called directly, a hand-written imputation, the ticket-level fit and differences."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
import statsmodels.api as sm
from scipy import stats

from study.rollout import did
from study.rollout.panel import build_panel
from tests.fixtures.rollout_generator import simulate

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def staggered():
    tickets, truth = simulate(seed=11, teams=24, per_cell=8)
    return tickets, truth, build_panel(tickets)


def _direct(cells, second_stage):
    data = cells.assign(team=cells["team"].astype(str), treat=cells["treat"].astype(bool), one=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.did2s(data, yname="y", first_stage=did.FIRST_STAGE, second_stage=second_stage, treatment="treat",
                        cluster="team", weights="w")


def _imputation(cells):
    """Borusyak-Jaravel-Spiess by hand: team and week dummies fitted by weighted least squares on the cells not
    yet adopted; the effect is the weighted mean of the adopted cells' outcome minus its imputed value."""
    untreated = cells[cells["treat"] == 0]
    teams = sorted(cells["team"].unique())
    periods = sorted(cells["period"].unique())

    def dummies(frame):
        team = (frame["team"].to_numpy()[:, None] == np.array(teams)[None, :]).astype(float)
        week = (frame["period"].to_numpy()[:, None] == np.array(periods)[None, 1:]).astype(float)
        return np.hstack([team, week])

    fit = sm.WLS(untreated["y"].to_numpy(), dummies(untreated), weights=untreated["w"].to_numpy()).fit()
    treated = cells[cells["treat"] == 1]
    residual = treated["y"].to_numpy() - dummies(treated) @ fit.params
    return float(np.average(residual, weights=treated["w"].to_numpy()))


@pytest.mark.parametrize("outcome", ["csat", "response_hours"])
def test_att_is_pyfixest_did2s_and_the_hand_written_imputation(staggered, outcome):
    cells = staggered[2].outcome_cells(outcome)
    estimate, fit = did.att(cells, outcome, 0.05)
    direct = _direct(cells, "~treat")
    teams = cells["team"].nunique()
    assert estimate.value == pytest.approx(float(direct.coef().iloc[0]), abs=1e-10)
    assert estimate.value == pytest.approx(_imputation(cells), abs=1e-8)
    # pyfixest's two-stage variance times G / (G - 1), read with t(G - 1)
    assert estimate.se == pytest.approx(float(np.sqrt(direct._vcov[0, 0] * teams / (teams - 1))), rel=1e-10)
    half = stats.t.ppf(0.975, teams - 1) * estimate.se
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx((estimate.value - half, estimate.value + half), rel=1e-12)


def test_cells_give_the_ticket_level_fit(staggered):
    """Weighted team-week means give the ticket-level did2s: the same effect and the same clustered variance."""
    tickets, _, panel = staggered
    cells = panel.outcome_cells("csat")
    answered = tickets[tickets["csat"].notna()].copy()
    week = (answered["created_at"] - pd.Timestamp("2026-07-06")).dt.days // 7  # the generator starts on a Monday
    adopted_week = ((answered["adopted_at"] - pd.Timestamp("2026-07-06")).dt.days // 7)
    answered = answered.assign(y=answered["csat"], w=1.0, period=week,
                               treat=(adopted_week.notna() & (week >= adopted_week)).astype(int))
    tickets_fit = _direct(answered, "~treat")
    cells_fit = _direct(cells, "~treat")
    assert float(cells_fit.coef().iloc[0]) == pytest.approx(float(tickets_fit.coef().iloc[0]), abs=1e-9)
    assert cells_fit._vcov[0, 0] == pytest.approx(tickets_fit._vcov[0, 0], rel=1e-8)


def test_event_study_is_pyfixest_and_the_pretrend_test_a_wald_test(staggered):
    cells = staggered[2].outcome_cells("csat")
    table, fit = did.event_study(cells, "csat", 0.05, window=6)
    data = cells.assign(event=cells["event_week"].clip(-6, 6).fillna(-1).astype(int))
    direct = _direct(data, "~i(event, ref=-1)")
    teams = cells["team"].nunique()
    for name, value in direct.coef().items():
        k = int(name.split("::")[1])
        assert table.loc[k, "estimate"] == pytest.approx(float(value), abs=1e-10)
    assert table.loc[-1, "estimate"] == 0 and np.isnan(table.loc[-1, "se"])
    assert sorted(table.index) == list(range(-6, 7))
    test = did.pretrend_test(table, fit)
    names = [f"event::{k}" for k in range(-6, -1)]
    b = direct.coef().loc[names].to_numpy()
    index = [list(direct.coef().index).index(n) for n in names]
    v = direct._vcov[np.ix_(index, index)] * teams / (teams - 1)
    f = float(b @ np.linalg.inv(v) @ b) / len(names)
    assert test.statistic == pytest.approx(f, rel=1e-8)
    assert (test.df_num, test.df_den) == (5, teams - 1)
    assert test.p_value == pytest.approx(stats.f.sf(f, 5, teams - 1), rel=1e-8)


def test_naive_is_the_ticket_level_difference_with_clustered_errors(staggered):
    tickets, _, panel = staggered
    cells = panel.outcome_cells("csat")
    estimate = did.naive(cells, "csat", 0.05)
    adopters = cells[cells["adoption_week"].notna()]
    rows = tickets[tickets["csat"].notna() & tickets["adopted_at"].notna()]
    after = rows["created_at"] >= rows["adopted_at"]
    assert estimate.value == pytest.approx(rows.loc[after, "csat"].mean() - rows.loc[~after, "csat"].mean(), abs=1e-10)
    design = sm.add_constant(after.astype(float).to_numpy())
    fit = sm.OLS(rows["csat"].to_numpy(), design).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(rows["team"])[0]})
    # statsmodels' CR1 carries (N - 1) / (N - k) on N cells or N tickets: without it the two variances are one
    n_cells, n_tickets = len(adopters), len(rows)
    assert estimate.se**2 * (n_cells - 2) / (n_cells - 1) == pytest.approx(fit.bse[1] ** 2 * (n_tickets - 2) / (n_tickets - 1), rel=1e-8)
    assert estimate.extra["df"] == rows["team"].nunique() - 1


def test_agrees_with_callaway_santanna_recorded_from_differences():
    """A second library on the same panel (benchmarks/rollout_differences_fixture.py): both estimate the average
    effect over the adopted cells; they differ by sampling noise less than that of independent estimates."""
    record = json.loads((FIXTURES / "rollout_differences.json").read_text())
    cells = pd.read_csv(FIXTURES / "rollout_differences_panel.csv").assign(w=1.0)
    estimate, _ = did.att(cells, "csat", 0.05)
    tolerance = 1.96 * np.hypot(estimate.se, record["se"])
    assert abs(estimate.value - record["att"]) <= tolerance
    assert tolerance < record["att"] / 2  # the check has teeth: no effect, a sign error or a doubled effect fails it


def test_coverage_with_small_cluster_correction_over_simulated_rollouts():
    """40 small rollouts (30 teams, 6 tickets a cell): the 95% interval covers the true average effect on the
    treated in 38 +- 3 MC SE runs (3.4 runs); the benchmark runs 1,000 (benchmarks/rollout_null.py)."""
    runs, covered = 40, 0
    for seed in range(runs):
        tickets, truth = simulate(seed=100 + seed, teams=30, per_cell=6)
        estimate, _ = did.att(build_panel(tickets).outcome_cells("csat"), "csat", 0.05)
        covered += estimate.covers(truth["rollout_att_csat"])
    mc_se = np.sqrt(0.95 * 0.05 * runs)
    assert abs(covered - 0.95 * runs) <= 3 * mc_se
