"""Team x week cells of a rollout: counts and means against pandas, the mid-week and varying-adoption rules, and skips."""

import numpy as np
import pandas as pd
import pytest

import study.core.results
import study.rollout
from study.core.results import Skipped
from study.data.schema import DataError
from study.rollout.panel import MIXED, NO_TEAM, build_panel
from tests.fixtures.rollout_generator import simulate


@pytest.fixture(scope="module")
def tickets():
    return simulate(seed=5, teams=12, weeks=16, per_cell=5)[0]


def test_cells_are_team_week_counts_and_means(tickets):
    panel = build_panel(tickets)
    monday = tickets["created_at"].dt.normalize() - pd.to_timedelta(tickets["created_at"].dt.day_of_week, unit="D")
    expected = tickets.assign(week=monday).groupby(["team", "week"])
    cells = panel.cells.set_index(["team", "week"])
    assert len(cells) == expected.ngroups
    assert (cells["tickets"] == expected.size()).all()
    assert np.allclose(cells["csat"], expected["csat"].mean(), equal_nan=True)
    assert (cells["csat_n"] == expected["csat"].count()).all()  # answered surveys only
    log2_hours = np.log2(np.maximum(tickets["first_response_minutes"], 1.0) / 60)
    assert np.allclose(cells["log2_response_hours"], log2_hours.groupby([tickets["team"], monday]).mean())
    resolved_hours = np.log2(np.maximum(tickets["resolution_minutes"].where(tickets["resolved"]), 1.0) / 60)
    assert np.allclose(cells["log2_resolution_hours"], resolved_hours.groupby([tickets["team"], monday]).mean(), equal_nan=True)
    adopted = tickets.groupby("team")["adopted_at"].first()
    adoption = cells.index.get_level_values("team").map(adopted)
    treat = adoption.notna() & (cells.index.get_level_values("week") >= adoption)
    assert (cells["treat"].to_numpy() == treat).all()
    assert panel.ledger.as_dict() == {"in": len(tickets), "used": len(tickets), "dropped": {}}


def test_mid_week_adoption_sets_the_mixed_week_aside():
    tickets = simulate(seed=6, teams=12, weeks=16, per_cell=5, mid_week=True)[0]
    panel = build_panel(tickets)
    adopted = tickets["adopted_at"]
    same_week = adopted.notna() & ((tickets["created_at"] - adopted).abs() < pd.Timedelta(days=7)) & \
        ((tickets["created_at"].dt.normalize() - pd.to_timedelta(tickets["created_at"].dt.day_of_week, unit="D"))
         == adopted.dt.normalize() - pd.to_timedelta(adopted.dt.day_of_week, unit="D"))
    assert panel.ledger.dropped[MIXED] == int(same_week.sum()) > 0
    assert not (panel.cells["event_week"] == 0).any()  # no adoption week survives for a mid-week adopter
    assert panel.adoption["mid_week"].sum() == tickets.loc[adopted.notna(), "team"].nunique()


def test_a_team_whose_adoption_time_varies_is_an_error_naming_it(tickets):
    bad = tickets.copy()
    rows = bad.index[(bad["team"] == "T03")][:7]
    bad.loc[rows, "adopted_at"] = pd.Timestamp("2026-08-03")
    with pytest.raises(DataError, match=r"adopted_at varies within team T03: .*\(7 rows\)"):
        build_panel(bad)
    never = tickets.loc[tickets["adopted_at"].isna(), "team"].iloc[0]
    partly = tickets.copy()
    partly.loc[partly.index[partly["team"] == never][:2], "adopted_at"] = pd.Timestamp("2026-09-07")
    with pytest.raises(DataError, match=rf"team {never}: .*empty \(\d+ rows\)"):
        build_panel(partly)


def test_tickets_without_a_team_or_a_time_are_counted(tickets):
    holes = tickets.copy()
    holes.loc[holes.index[:9], "team"] = None
    holes.loc[holes.index[20:24], "created_at"] = pd.NaT
    panel = build_panel(holes)
    assert panel.ledger.dropped[NO_TEAM] == 9
    assert panel.ledger.dropped["no creation time (created_at)"] == 4
    assert panel.cells["tickets"].sum() == len(holes) - 13


def test_no_adoption_time_at_all_skips_everything(tickets):
    for data in (tickets.assign(adopted_at=pd.NaT), tickets.drop(columns="adopted_at")):
        result = study.rollout.analyse(data)
        assert result.skipped and "adopt" in result.skipped
        assert [f.kind for f in result.findings()] == ["skipped"]
        assert result.estimates == [] and isinstance(result.table(), Skipped)
        assert result.rows["used"] == 0


def test_every_team_at_once_is_an_interrupted_time_series():
    tickets = simulate(seed=7, teams=12, weeks=26, per_cell=5, staggered=False)[0]
    result = study.rollout.analyse(tickets)
    assert result.design == "at_once" and "same week" in result.did_skipped
    assert not result.att and result.its and not result.its_skipped
    assert {e.name for e in result.estimates} >= {"rollout_its_csat", "rollout_naive_csat"}


def test_too_few_teams_and_too_few_weeks_are_skipped_with_the_number_needed():
    few = study.rollout.analyse(simulate(seed=8, teams=6, weeks=16, per_cell=5, never_share=0.5)[0])
    assert "only 6 teams" in few.did_skipped and "10 or more" in few.did_skipped and not few.att
    assert any(f.kind == "skipped" and "6 teams" in f.text for f in few.findings())
    short = simulate(seed=9, teams=12, weeks=26, per_cell=3)[0]
    start = short["created_at"].min().normalize()
    # keep only the weeks from two weeks before the first cohort adopts (week 8)
    late = short[short["created_at"] >= start + pd.Timedelta(weeks=7)]
    late = late.assign(adopted_at=late["adopted_at"].where(late["adopted_at"].isna(), start + pd.Timedelta(weeks=8)))
    result = study.rollout.analyse(late)
    assert "at most 1 week(s) before" in result.did_skipped and "at least 3 before" in result.did_skipped
    its = study.rollout.analyse(late.assign(team="all", adopted_at=start + pd.Timedelta(weeks=8)))
    assert "1 week(s) before" in its.its_skipped and "at least 8 before" in its.its_skipped


def test_no_team_left_to_compare_is_skipped():
    tickets = simulate(seed=10, teams=12, weeks=12, per_cell=3)[0]
    start = tickets["created_at"].min()
    # every team adopted before the data begins, in two different weeks: nothing untreated to impute from
    early = np.where(tickets["team"].str[-1].astype(int) % 2, start - pd.Timedelta(days=30), start - pd.Timedelta(days=60))
    result = study.rollout.analyse(tickets.assign(adopted_at=early))
    assert result.design == "staggered"
    assert result.did_skipped == ("the 12 adopting teams went live before the data's first week: no adopting team has a "
                                  "week before go-live to compare with (their tickets are set aside and counted)")
    reason = "its team had adopted before the data's first week: no week before to compare"
    assert result.ledger.dropped[reason] == len(tickets)
    at_once = study.rollout.analyse(tickets.assign(adopted_at=start - pd.Timedelta(days=30)))
    assert at_once.design == "at_once" and "0 week(s) before" in at_once.its_skipped


def test_an_outcome_with_one_value_is_skipped_not_estimated(tickets):
    result = study.rollout.analyse(tickets.assign(csat=4.0), min_teams=5)
    assert isinstance(result.att["csat"], Skipped)
    assert result.att["csat"].reason == "CSAT has one value in every ticket analysed: nothing to compare"
    assert "csat" not in result.naive and "csat" not in result.events
    assert any(f.kind == "skipped" and "CSAT has one value" in f.text for f in result.findings())
    assert isinstance(result.att["log2_response_hours"], study.core.results.Estimate)
    assert "response_hours" not in result.att  # hours are not compared: trends are parallel in proportion, not in hours
