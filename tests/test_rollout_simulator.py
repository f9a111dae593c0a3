"""The simulated rollout: its traps are there, its truth is what the tickets were drawn from."""

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from study import config
from study.core.weeks import week_start
from study.data import rollout
import study


@pytest.fixture(scope="module")
def drawn():
    return rollout.simulate_rollout(rows=30_000, seed=11)


def test_teams_adopt_in_staggered_cohorts_on_mondays_and_some_never(drawn):
    t = drawn.tickets
    per_team = t.groupby("team")["adopted_at"].agg(["nunique", "first", "size"])
    assert (per_team["nunique"] <= 1).all() and len(per_team) == 30
    dates = per_team["first"].dropna()
    assert set(dates.dt.day_of_week) == {0} and dates.nunique() == len(rollout.COHORT_WEEKS)
    assert per_team["first"].isna().sum() == round(rollout.NEVER_SHARE * 30)
    assert sorted(drawn.truth["cohorts"]) == sorted({str(d.date()) for d in dates.unique()} | {"never"})


def test_all_at_once_has_one_go_live_and_no_team_left_out():
    t = rollout.simulate_rollout(rows=3_000, seed=1, staggered=False).tickets
    assert t["adopted_at"].nunique() == 1 and t["adopted_at"].notna().all()
    assert t["adopted_at"].iloc[0] == rollout.START + pd.Timedelta(weeks=rollout.ALL_AT_ONCE_WEEK)


def test_sale_peak_weeks_carry_twice_the_volume_and_slower_replies(drawn):
    t = drawn.tickets.assign(week=week_start(drawn.tickets["created_at"]))
    peak = t["week"].isin(pd.to_datetime(rollout.SALE_PEAK_WEEKS))
    weekly = t.groupby("week").size()
    assert weekly[weekly.index.isin(pd.to_datetime(rollout.SALE_PEAK_WEEKS))].mean() / weekly.median() == pytest.approx(2.0, rel=0.1)
    log_minutes = np.log(t["first_response_minutes"])
    # Untreated tickets only: the rollout itself speeds replies up after go-live.
    untreated = t["adopted_at"].isna() | (t["created_at"] < t["adopted_at"])
    gap = log_minutes[peak & untreated].median() - log_minutes[~peak & untreated].median()
    assert gap > 0.3


def test_early_adopters_answer_faster_before_anyone_adopts(drawn):
    t = drawn.tickets
    before = t[t["created_at"] < rollout.START + pd.Timedelta(weeks=rollout.COHORT_WEEKS[0])]
    first, never = (before[before["adopted_at"] == before["adopted_at"].min()], before[before["adopted_at"].isna()])
    assert np.log(first["first_response_minutes"]).mean() < np.log(never["first_response_minutes"]).mean() - 0.3


def test_a_change_that_does_nothing_has_zero_truth_and_leaves_untreated_tickets_as_they_were(drawn):
    null = rollout.simulate_rollout(rows=30_000, seed=11, effect=False)
    for key in ("rollout_att_log2_response_hours", "rollout_att_response_hours", "rollout_att_csat", "rollout_att_repeat_purchase"):
        assert null.truth[key] == 0.0
    untreated = (drawn.tickets["adopted_at"].isna() | (drawn.tickets["created_at"] < drawn.tickets["adopted_at"])).to_numpy()
    pd.testing.assert_series_equal(null.tickets["first_response_minutes"][untreated], drawn.tickets["first_response_minutes"][untreated])
    treated = ~untreated
    assert (null.tickets["first_response_minutes"][treated] >= drawn.tickets["first_response_minutes"][treated]).all()


def test_the_speed_up_builds_up_to_its_full_size_over_the_ramp_weeks(drawn):
    by_week = drawn.truth["rollout_att_by_event_week"]
    full = -np.log2(rollout.SPEEDUP_AT_SCALE)
    # The 4-minute floor keeps the fastest replies from speeding up fully: a little less than the full factor.
    assert by_week[rollout.RAMP_WEEKS + 2]["log2_response_hours"] == pytest.approx(full, rel=0.15)
    assert by_week[0]["log2_response_hours"] / by_week[rollout.RAMP_WEEKS + 2]["log2_response_hours"] == pytest.approx(
        1 / rollout.RAMP_WEEKS, rel=0.25)
    # Through speed alone, CSAT moves by the pilot's slope per doubling.
    assert by_week[rollout.RAMP_WEEKS + 2]["csat"] == pytest.approx(
        rollout.pilot.CSAT_PER_DOUBLING * by_week[rollout.RAMP_WEEKS + 2]["log2_response_hours"], rel=0.05)


def test_a_regression_with_team_and_week_effects_recovers_the_truth_and_a_naive_comparison_does_not(drawn):
    """The reference here is a plain two-way fixed-effects regression with statsmodels, valid in this
    process for a ticket's effect after its ramp; the rollout analysis's own estimators are tested in
    test_rollout_*.py. The naive before/after among adopting teams misses by the trap's size."""
    t = drawn.tickets.dropna(subset=["csat"]).copy()
    t["csat"] = t["csat"].astype(float)
    t["week"] = week_start(t["created_at"]).dt.strftime("%Y%m%d")
    t["after"] = (t["adopted_at"].notna() & (t["created_at"] >= t["adopted_at"])).astype(float)
    adopters = t[t["adopted_at"].notna()]
    naive = smf.ols("csat ~ after", adopters).fit(cov_type="cluster", cov_kwds={"groups": adopters["team"]})
    truth = drawn.truth["rollout_att_csat"]
    assert not naive.conf_int().loc["after", 0] <= truth <= naive.conf_int().loc["after", 1]
    assert naive.params["after"] - truth == pytest.approx(drawn.truth["rollout_naive_bias_csat"], abs=3 * naive.bse["after"])


def test_tickets_meet_the_contract_and_the_committed_sample_is_what_write_example_builds(tmp_path):
    data_file, truth_file = rollout.write_example(tmp_path)
    committed = config.DATA / "rollout" / "tickets.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(committed), pd.read_parquet(data_file))
    written = json.loads((config.DATA / "rollout" / "truth.json").read_text())
    fresh = json.loads(truth_file.read_text())
    assert written["rollout_att_csat"] == pytest.approx(fresh["rollout_att_csat"], rel=1e-9)
    assert written["cohorts"] == fresh["cohorts"]
    data = study.load(committed)
    assert str(data.tickets["adopted_at"].dtype).startswith("datetime64") and data.tickets["team"].nunique() == 30


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="rows and teams"):
        rollout.simulate_rollout(rows=0)
