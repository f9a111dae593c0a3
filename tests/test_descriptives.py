import numpy as np
import pandas as pd
import pytest
import reference_descriptives
from scipy import stats

from study.data import descriptives
from study.report import titles


def test_mean_interval_is_the_t_interval():
    values = pd.Series([1.0, 2.0, 4.0, None, 7.0])
    mean, half, n = reference_descriptives.mean_interval(values)
    x = np.array([1.0, 2.0, 4.0, 7.0])
    assert (mean, n) == (x.mean(), 4)
    assert half == pytest.approx(stats.t.ppf(0.975, 3) * x.std(ddof=1) / 2)


def test_mean_interval_of_nothing_and_of_one_value():
    assert reference_descriptives.mean_interval(pd.Series([], dtype=float))[2] == 0
    mean, half, n = reference_descriptives.mean_interval(pd.Series([3.0]))
    assert (mean, n) == (3.0, 1) and np.isnan(half)


def test_outcomes_by_group_counts_answers_and_rates(small_data):
    table = reference_descriptives.outcomes_by(small_data.tickets, "resolved")
    tickets = small_data.tickets
    assert table["tickets"].sum() == len(tickets)
    resolved = tickets[tickets["resolved"]]
    assert table.loc[True, "csat answers"] == resolved["csat"].notna().sum()
    assert table.loc[True, "csat mean"] == pytest.approx(resolved["csat"].astype(float).mean())
    assert table.loc[True, "repeat_purchase mean"] == pytest.approx(resolved["repeat_purchase"].astype(float).mean())


def test_headline_facts(small_data):
    facts = {e.name: e for e in reference_descriptives.headline(small_data.tickets)}
    tickets = small_data.tickets
    assert facts["survey_response_rate"].value == pytest.approx(tickets["csat"].notna().mean())
    assert facts["median_first_response_minutes"].value == tickets["first_response_minutes"].median()
    assert facts["csat_mean"].ci_low < facts["csat_mean"].value < facts["csat_mean"].ci_high


def test_row_accounting_adds_up(small_data):
    tickets = small_data.tickets
    measured = {"csat": int(tickets["csat_answered"].sum()), "first_response_minutes": len(tickets) - 3}
    table = descriptives.row_accounting(len(tickets), len(tickets) + 7, measured, {"excluded by a filter": 7})
    counts = table["count"]
    assert counts["rows read"] == counts["rows kept"] + counts["rows failing the data contract"] + 7
    assert counts["set aside: excluded by a filter"] == 7 and counts["rows failing the data contract"] == 0
    assert counts["  with a CSAT answer"] + counts["  without a CSAT answer"] == counts["rows kept"]
    assert counts["  without a first response time"] == 3
    assert "  without a resolution outcome" not in counts.index  # not measured: the data lacks it


def test_column_report_marks_absent_optional_and_mapped_columns(small_data):
    report = descriptives.column_report(small_data.tickets.drop(columns=["agent_id"]), {"csat": "score"})
    assert report.loc["agent_id", "status"] == "absent (optional)"
    assert report.loc["csat", "status"] == "mapped from 'score'" and report.loc["csat", "problem"] == ""
    report = descriptives.column_report(small_data.tickets.drop(columns=["repeat_purchase"]))
    assert report.loc["repeat_purchase", "status"] == "absent (needed by 03, 04, 09)"


def test_display_table_formats_numbers_as_text():
    table = descriptives.display_table(pd.DataFrame({"rate": [0.1234], "x": [1234.5678], "n": [12345]}), percent=["rate"])
    assert table.iloc[0].tolist() == ["12.3%", "1,234.568", "12,345"]


def test_distribution_quantiles():
    summary = reference_descriptives.distribution(pd.Series(np.arange(101.0), name="m"))
    assert summary["50% quantile"] == 50 and summary["count"] == 101 and summary["missing"] == 0


def test_display_table_shows_counts_as_integers():
    # distribution(...).to_frame().T stores count and missing as floats
    summary = reference_descriptives.distribution(pd.Series([1.5, 2.5, None, 4.0], name="m")).to_frame().T
    row = descriptives.display_table(summary, digits=1).iloc[0]
    assert (row["count"], row["missing"], row["mean"]) == ("3", "1", "2.7")
    # counts as rows of a single float column (the survey-weights table of notebook 02)
    weights = pd.Series({"tickets": 40000, "respondents": 12420, "mean weight": 3.2209,
                         "effective sample size (Kish)": 11666.94}, name="w").to_frame()
    shown = descriptives.display_table(weights, digits=2)["w"]
    assert shown.tolist() == ["40,000", "12,420", "3.22", "11,666.94"]


def test_outcomes_table_has_words_in_headers_and_half_width_in_points(small_data):
    table = reference_descriptives.outcomes_by(small_data.tickets, "response_band")
    shown = descriptives.display_table(table, percent=["repeat_purchase mean"])
    assert list(shown.columns) == ["tickets", "CSAT answers", "mean CSAT (1-5)", "CSAT ± (95% CI)",
                                   "repeat purchase", "repeat purchase ± (95% CI)"]
    assert not any("_" in c or "half-width" in c for c in shown.columns)
    assert shown.index.name == "first response time"
    first = table.index[0]
    assert shown["repeat purchase"].iloc[0] == f"{table.loc[first, 'repeat_purchase mean']:.1%}"
    assert shown["repeat purchase ± (95% CI)"].iloc[0] == f"{100 * table.loc[first, 'repeat_purchase ci half-width']:.1f} pp"
    assert shown["tickets"].iloc[0] == f"{table.loc[first, 'tickets']:,}"
    # the frame itself keeps its code names (used by findings and plots)
    assert "repeat_purchase mean" in table.columns and "csat ci half-width" in table.columns


def test_resolution_groups_read_as_words(small_data):

    table = reference_descriptives.outcomes_by(small_data.tickets, "resolved")
    assert list(table.index) == [False, True]  # data unchanged
    shown = descriptives.display_table(table, percent=["repeat_purchase mean"])
    assert list(shown.index) == ["unresolved", "resolved"]
    title = titles.title_by_group(table, "resolved =")
    assert "unresolved" in title and "False" not in title and "True" not in title
    assert title == (f"Mean CSAT {table.loc[False, 'csat mean']:.2f} for unresolved tickets, "
                     f"{table.loc[True, 'csat mean']:.2f} for resolved (unadjusted)")
    assert descriptives.group_label("resolved", True) == "resolved"
    assert descriptives.group_label("response_band", "1-4 h") == "1-4 h"
