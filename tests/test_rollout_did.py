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


def _imputation(cells, groups=None):
    """Borusyak-Jaravel-Spiess by hand: team and week dummies fitted by weighted least squares on the cells not
    yet adopted; each group's effect is the weighted mean of its cells' outcome minus the imputed value."""
    groups = cells["treat"].to_numpy() if groups is None else groups
    untreated = cells[cells["treat"] == 0]
    teams = sorted(cells["team"].unique())
    periods = sorted(cells["period"].unique())

    def dummies(frame):
        team = (frame["team"].to_numpy()[:, None] == np.array(teams)[None, :]).astype(float)
        week = (frame["period"].to_numpy()[:, None] == np.array(periods)[None, 1:]).astype(float)
        return np.hstack([team, week])

    fit = sm.WLS(untreated["y"].to_numpy(), dummies(untreated), weights=untreated["w"].to_numpy()).fit()
    residual = cells["y"].to_numpy() - dummies(cells) @ fit.params
    labels = sorted(set(groups[cells["treat"].to_numpy() == 1].tolist()))
    return np.array([np.average(residual[groups == k], weights=cells["w"].to_numpy()[groups == k]) for k in labels])


@pytest.mark.parametrize("outcome", ["csat", "log2_response_hours"])
def test_att_is_pyfixest_did2s_and_the_hand_written_imputation(staggered, outcome):
    cells = staggered[2].outcome_cells(outcome)
    estimate, _ = did.att(cells, outcome, 0.05)
    direct = _direct(cells, "~treat")
    teams = cells["team"].nunique()
    assert estimate.value == pytest.approx(float(direct.coef().iloc[0]), abs=1e-10)
    assert estimate.value == pytest.approx(_imputation(cells)[0], abs=1e-8)
    assert estimate.extra["se_pyfixest_gmm"] == pytest.approx(float(np.sqrt(direct._vcov[0, 0])), rel=1e-12)
    # leave-one-team-out jackknife of the hand-written estimator: (G - 1) / G times the sum of squared deviations
    replicates = np.array([_imputation(cells[cells["team"] != team])[0] for team in sorted(cells["team"].unique())])
    jackknife = np.sqrt((teams - 1) / teams * ((replicates - replicates.mean()) ** 2).sum())
    assert estimate.se == pytest.approx(jackknife, rel=1e-8)
    half = stats.t.ppf(0.975, teams - 1) * estimate.se
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx((estimate.value - half, estimate.value + half), rel=1e-12)
    closed, _ = did.att(cells, outcome, 0.05, fitter="closed_form")
    assert closed.value == pytest.approx(estimate.value, abs=1e-8) and closed.se == estimate.se


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


def test_event_study_is_pyfixest_and_the_pretrend_test_the_bjs_regression(staggered):
    cells = staggered[2].outcome_cells("csat")
    table, test = did.event_study(cells, "csat", 0.05, window=6)
    assert sorted(table.index) == list(range(-6, 7)) and table.loc[-1, "estimate"] == 0
    event = cells["event_week"].clip(-6, 6)
    after = event.where(cells["treat"] == 1, -1).fillna(-1).astype(int)
    direct = _direct(cells.assign(event=after), "~i(event, ref=-1)")
    for name, value in direct.coef().items():
        assert table.loc[int(name.split("::")[1]), "estimate"] == pytest.approx(float(value), abs=1e-10)
    by_hand = _imputation(cells, after.to_numpy())
    assert table.loc[range(7), "estimate"].to_numpy() == pytest.approx(by_hand, abs=1e-8)
    # Leads: team and week effects and lead indicators on the cells not yet adopted (pyfixest's feols as reference)
    before = cells[cells["treat"] == 0].assign(team=lambda f: f["team"].astype(str))
    lead = event[cells["treat"] == 0]
    for k in range(-6, -1):
        before[f"lead{-k}"] = (lead == k).astype(float)
    leads = " + ".join(f"lead{-k}" for k in range(-6, -1))
    reference = pf.feols(f"y ~ {leads} | team + period", data=before, weights="w", vcov={"CRV1": "team"})
    for k in range(-6, -1):
        assert table.loc[k, "estimate"] == pytest.approx(float(reference.coef()[f"lead{-k}"]), abs=1e-6)
    # The Wald statistic of the five leads, read as Hotelling's T² with G teams
    g, q = before["team"].nunique(), 5
    b = table.loc[range(-6, -1), "estimate"].to_numpy()
    x = pd.concat([pd.get_dummies(before["team"], dtype=float), pd.get_dummies(before["period"], dtype=float).iloc[:, 1:],
                   before[[f"lead{-k}" for k in range(-6, -1)]]], axis=1).to_numpy()
    fit = sm.WLS(before["y"].to_numpy(), x, weights=before["w"].to_numpy()).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(before["team"])[0]})
    v = fit.cov_params()[-q:, -q:]
    f = float(b @ np.linalg.inv(v) @ b) * (g - q) / (q * (g - 1))
    assert (test.statistic, test.df_num, test.df_den) == (pytest.approx(f, rel=1e-6), q, g - q)
    assert test.p_value == pytest.approx(stats.f.sf(f, q, g - q), rel=1e-6)


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
        # the closed-form coefficients equal pyfixest's (test above); the interval is the analysis's own
        estimate, _ = did.att(build_panel(tickets).outcome_cells("csat"), "csat", 0.05, fitter="closed_form")
        covered += estimate.covers(truth["rollout_att_csat"])
    mc_se = np.sqrt(0.95 * 0.05 * runs)
    assert abs(covered - 0.95 * runs) <= 3 * mc_se
