"""The monitoring analysis on tickets: weekly values, partial and small weeks, skips with reasons, teams, words."""

from __future__ import annotations

import json
import math

import nbformat
import numpy as np
import pandas as pd
import pytest

import study
from study.core.results import Skipped
from study.monitoring import analyse
from study.monitoring.findings import false_alarm_rate
from study.monitoring.indicators import calendar
from tests.ledgers import all_ledgers


def tickets(weeks: int = 14, per_week: int = 210, seed: int = 0, start: str = "2026-01-05", teams: int = 0,
            shift_week: int | None = None) -> pd.DataFrame:
    """Stable simulated tickets, spread evenly over each day of ``weeks`` full weeks from Monday ``start``."""
    rng = np.random.default_rng(seed)
    rows = weeks * per_week
    offsets = np.sort(rng.uniform(0, weeks * 7 * 86_400, rows))
    created = pd.Timestamp(start) + pd.to_timedelta(offsets, unit="s")
    resolved = rng.random(rows) < 0.8
    csat = np.where(rng.random(rows) < 0.5, rng.integers(1, 6, rows), np.nan)
    frame = pd.DataFrame({
        "ticket_id": [f"t{i}" for i in range(rows)], "created_at": created,
        "first_response_minutes": rng.gamma(2.0, 40.0, rows),
        "resolution_minutes": np.where(resolved, rng.gamma(3.0, 90.0, rows), np.nan),
        "resolved": pd.array(resolved, dtype="boolean"), "csat": pd.array(csat, dtype="Float64").astype("Int64"),
        "repeat_purchase": pd.array(rng.random(rows) < 0.4, dtype="boolean"),
    })
    if teams:
        frame["team"] = [f"T{i % teams}" for i in range(rows)]
    if shift_week is not None:
        week = (offsets // (7 * 86_400)).astype(int) == shift_week
        frame.loc[week, "first_response_minutes"] *= 1.8
    return frame


def test_weekly_values_counts_and_standard_errors_are_the_groupby_ones():
    frame = tickets()
    result = analyse(frame)
    weeks = frame["created_at"].dt.to_period("W-SUN").dt.start_time
    csat = frame["csat"].astype(float)
    expected = csat.groupby(weeks).agg(["count", "mean", "std"])
    table = result.weekly("csat")
    np.testing.assert_array_equal(table["n"], expected["count"])
    np.testing.assert_allclose(table["value"], expected["mean"], rtol=1e-12)
    np.testing.assert_allclose(table["se"], expected["std"] / np.sqrt(expected["count"]), rtol=1e-12)
    rate = frame["resolved"].astype(float).groupby(weeks).mean()
    n = frame.groupby(weeks).size()
    np.testing.assert_allclose(result.weekly("resolution_rate")["se"], np.sqrt(rate * (1 - rate) / n), rtol=1e-12)
    hours = (frame["resolution_minutes"] / 60).groupby(weeks).mean()
    np.testing.assert_allclose(result.weekly("resolution_hours")["value"], hours, rtol=1e-12)


def test_stable_tickets_are_in_control_and_a_shifted_week_is_flagged_in_words():
    result = analyse(tickets(shift_week=11))
    signals = result.signals()
    response = signals[(signals["indicator"] == "First response time") & (signals["chart"] != "EWMA")]
    assert list(response["week"]) == [pd.Timestamp("2026-03-23")]
    assert "First response time rose above its upper limit in the week of 23 Mar 2026" in response["in words"].iloc[0]
    status = result.statuses()[0]
    # the EWMA carries a jump this large on for a few weeks: those count as out of control too
    calm = 14 - len(result.charts["response_hours"].flagged)
    assert status.startswith(f"First response time: in control for {calm} of 14 weeks; rose above its upper limit in "
                             "the week of 23 Mar 2026")
    assert "a week (95% CI" in status
    assert result.findings()[0].headline and "week by week" in result.findings()[0].text


def test_partial_weeks_are_flagged_not_charted_and_counted():
    frame = tickets(start="2026-01-05")
    frame = frame[frame["created_at"] >= "2026-01-08"]  # the first week keeps Thursday to Sunday only
    result = analyse(frame)
    week = result.calendar.loc[pd.Timestamp("2026-01-05")]
    assert bool(week["partial"]) and week["days"] == 4
    assert pd.Timestamp("2026-01-05") not in result.weekly("csat").index
    dropped = result.rows["CSAT"]["dropped"]["in a partial week"]
    assert dropped == int(((frame["created_at"] < "2026-01-12") & frame["csat"].notna()).sum())
    assert any("partial weeks, listed but not charted" in note and "5 Jan 2026 (4 of 7 days)" in note for note in result.notes)


def test_calendar_counts_days_inside_the_data_at_both_ends():
    created = pd.Series(pd.to_datetime(["2026-01-01 10:00", "2026-01-20 08:00", "2026-02-03 23:00"]))
    cal = calendar(created)
    assert list(cal["days"]) == [4, 7, 7, 7, 7, 2] and list(cal["tickets"]) == [1, 0, 0, 1, 0, 1]


def test_tickets_without_a_date_and_small_weeks_are_counted():
    frame = tickets()
    frame.loc[frame.index[:7], "created_at"] = pd.NaT
    quiet = (frame["created_at"] >= "2026-02-09") & (frame["created_at"] < "2026-02-16")
    frame = frame[~quiet | (frame.index % 20 == 0)]  # one week keeps about 10 tickets
    result = analyse(frame)
    for ledger in all_ledgers(result.rows):
        assert ledger["in"] == len(frame) and ledger["in"] == ledger["used"] + sum(ledger["dropped"].values())
        assert ledger["dropped"]["no created_at (the ticket cannot be put into a week)"] == 7
    assert any(reason.startswith("in a week with fewer than 20") for reason in result.rows["Repeat-purchase rate"]["dropped"])
    assert pd.Timestamp("2026-02-09") not in result.weekly("repeat_purchase_rate").index
    assert result.rows["CSAT"]["used"] == result.charts["csat"].rows_used


def test_degenerate_data_skips_with_reasons():
    one_week = analyse(tickets(weeks=1))
    assert all(isinstance(c, Skipped) and "the charts need 10" in c.reason for c in one_week.charts.values())
    assert one_week.statuses()[0].startswith("First response time: not charted, only 1 full week")
    flat = tickets()
    flat["csat"] = pd.array([4] * len(flat), dtype="Int64")
    result = analyse(flat)
    assert "does not vary within the baseline weeks" in result.charts["csat"].reason
    assert result.findings()  # the other indicators still speak
    no_columns = analyse(tickets()[["ticket_id", "created_at", "csat"]])
    assert no_columns.charts["repeat_purchase_rate"].reason == "the data has no repeat_purchase"
    assert "repeat_purchase_rate" not in no_columns.ledgers
    undated = analyse(tickets().drop(columns="created_at"))
    assert undated.skipped and undated.findings()[0].kind == "skipped" and undated.estimates == []
    assert "weeks" in analyse(tickets(weeks=9)).charts["csat"].reason  # 9 weeks: fewer than 8 + 2


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="baseline_weeks"):
        analyse(tickets(), baseline_weeks=1)
    with pytest.raises(ValueError, match="alpha"):
        analyse(tickets(), alpha=1.5)
    with pytest.raises(ValueError, match="events"):
        analyse(tickets(), events={"not a date": "sale"})


def test_teams_get_their_own_charts_and_small_teams_are_left_out_with_the_reason():
    frame = tickets(weeks=14, per_week=400, teams=3)
    frame.loc[frame["team"] == "T2", "team"] = np.where(np.arange((frame["team"] == "T2").sum()) % 10 == 0, "T2", "T0")
    result = analyse(frame)
    status = result.team_status()
    assert list(status.index) == ["T0", "T1", "T2"]
    assert status.loc["T1", "First response time"].endswith("of 14 in control")
    left = result.teams_left_out()
    assert set(left["team"]) == {"T2"} and left["reason"].str.contains("fewer than|only").all()
    assert "T2" in set(left["team"]) and any("left out" in f.text for f in result.findings())
    one = tickets(teams=1)
    assert "one team (T0)" in analyse(one).team_skipped


def test_sale_peak_weeks_are_found_kept_out_of_the_baseline_and_named():
    frame = tickets(weeks=16, per_week=300)
    peak = (frame["created_at"] >= "2026-01-26") & (frame["created_at"] < "2026-02-02")
    extra = frame[peak].copy()
    extra["ticket_id"] = "x" + extra["ticket_id"]
    extra["first_response_minutes"] *= 2.5
    frame.loc[peak, "first_response_minutes"] *= 2.5
    result = analyse(pd.concat([frame, extra], ignore_index=True))
    assert result.calendar.loc[pd.Timestamp("2026-01-26"), "volume"] == "high-volume week"
    table = result.weekly("response_hours")
    assert not table.loc[pd.Timestamp("2026-01-26"), "baseline"] and table["baseline"].sum() == 8
    assert math.isnan(table.loc[pd.Timestamp("2026-01-26"), "ewma"])  # the EWMA passes over it
    assert "26 Jan (a high-volume week)" in result.statuses()[0] or "26 Jan 2026 (a high-volume week)" in result.statuses()[0]


def test_known_events_leave_the_baseline_and_are_named():
    result = analyse(tickets(), events={"2026-01-14": "winter sale"})
    table = result.weekly("csat")
    assert not table.loc[pd.Timestamp("2026-01-12"), "baseline"]
    assert result.parameters["events"] == {"2026-01-12": "winter sale"}


def test_results_file_holds_statuses_estimates_and_rows(tmp_path):
    result = analyse(tickets(), name="simulated tickets")
    payload = study.save(result, tmp_path)
    written = json.loads((tmp_path / "08_monitoring.json").read_text())
    names = {e["name"] for e in written["estimates"]}
    assert {"kpi_trend_csat", "kpi_change_csat", "kpi_out_of_control_csat", "kpi_latest_csat"} <= names
    assert written["rows"] == payload["rows"] and written["findings"][0]["headline"]
    assert len(result.statuses()) == 5


def test_the_sample_data_runs():
    data = study.load("data/tickets.parquet")
    result = analyse(data)
    assert len(result.charted) == 5 and result.team_skipped.startswith("the data has no team")
    assert result.calendar["partial"].sum() == 2  # 1-4 Jan and 29-30 Jun 2026
    assert all(c.weeks == 25 for c in result.charted)
    # a stable sample: out-of-control points stay near what chance gives
    rate = false_alarm_rate(3.0, 8)
    assert sum((c.table["signal"] != "").sum() for c in result.charted) <= 125 * rate + 3 * math.sqrt(125 * rate) + 1


def test_the_rollout_sample_shows_its_sale_peaks_and_charts_its_teams():
    data = study.load("data/rollout/tickets.parquet")
    result = analyse(data)
    busy = result.calendar.index[result.calendar["volume"] == "high-volume week"]
    assert len(busy) == 2
    response = result.weekly("response_hours")
    assert (response.loc[busy, "signal"] == "above").all()  # the sale peaks' slower replies
    assert result.team == "team" and len(result.team_charted()) >= 90


def test_without_signals_or_teams_the_tables_say_so():
    first = tickets(weeks=1, per_week=300, seed=11)
    same = pd.concat([first.assign(created_at=first["created_at"] + pd.Timedelta(weeks=k), ticket_id=first["ticket_id"] + f"w{k}")
                      for k in range(12)], ignore_index=True)  # twelve identical weeks: nothing to flag
    result = analyse(same)
    assert len(result.charted) == 5
    assert result.signals() == "No week of any chart was out of control."
    assert result.signals(teams=True) is None and result.teams_left_out() is None
    assert isinstance(result.team_status(), Skipped)


def test_notebook_08_takes_the_agreed_parameters_and_stops_where_its_data_cannot_carry_it():
    """Its thinness is checked with every notebook's (tests/test_public_api.py)."""
    import papermill

    from study import config

    path = config.NOTEBOOKS / "08_monitoring.ipynb"
    code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    assert list(papermill.inspect_notebook(str(path))) == [
        "data_path", "columns_path", "baseline_weeks", "alpha", "min_week_n", "results_dir"]
    assert 'study.require(data, "08")' in "".join(c.source for c in code)
    assert code[-1].source.startswith("_ = study.save(result, results_dir, findings)")
