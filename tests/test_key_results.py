"""The index's results table and headline: numbers written as their findings write them, evidence and verdict chips."""

import json

import pytest

from study.report import headline, index, key_results
from study.report.sentences import Sentence
from study.report.verdict import Verdict


def estimate(name, value, low=None, high=None, p=None, label="a label", level=0.95):
    return {"name": name, "label": label, "value": value, "se": None, "ci_low": low, "ci_high": high,
            "p_value": p, "n": 100, "method": "m", "ci_level": level}


@pytest.mark.parametrize(("est", "text", "value", "interval"), [
    (estimate("survey_response_rate", 0.3105, 0.3060, 0.3151, label="Share of tickets with a CSAT answer"),
     "**Satisfaction.** 31.1% of tickets have a CSAT answer; their mean is 3.59.", "31.1%", "95% CI 30.6% to 31.5%"),
    (estimate("csat_mean", 3.587, 3.571, 3.606), "their mean is 3.59 (95% CI 3.57 to 3.61) on the 1-5 scale",
     "3.59", "95% CI 3.57 to 3.61"),
    (estimate("repeat_per_doubling_total", -0.0189, -0.0231, -0.0147, p=1e-9),
     "goes with -1.9 pp (95% CI -2.3 to -1.5 pp) in the chance", "-1.9 pp", "95% CI -2.3 to -1.5 pp"),
    (estimate("csat_effect_treatment_vs_control", 0.1501, 0.11, 0.19, p=1e-6),
     "3.66 with the faster SLA against 3.51 without: +0.15 (95% CI +0.11 to +0.19) points, p < 0.001",
     "+0.15 points", "95% CI +0.11 to +0.19 points"),
    (estimate("csat_relative_lift_treatment_vs_control", 0.0427, 0.032, 0.054, p=1e-6),
     "points, p < 0.001; relative lift +4.3% (95% CI +3.2% to +5.4%).", "+4.3%", "95% CI +3.2% to +5.4%"),
    (estimate("repeat_auc_boosted", 0.5953, 0.5812, 0.6083),
     "with AUC 0.595 (95% CI 0.581 to 0.608); the logistic baseline reaches 0.600", "0.595", "95% CI 0.581 to 0.608"),
    (estimate("share_of_speed_effect_via_csat", 0.5967, 0.39, 1.18), "is the path through CSAT, 60% of that total",
     "60%", "95% CI 39% to 118%"),
    (estimate("d", 0.0412, 0.030, 0.052, p=1e-5), "a repeat purchase 4.1 percentage points more often (95% CI 3.0 to 5.2)",
     "+4.1 pp", "95% CI +3.0 to +5.2 pp"),
    (estimate("rollout_att_csat", 0.1241, 0.04, 0.21, p=0.004),
     "CSAT in the teams that adopted was 0.12 points higher (95% CI +0.04 to +0.21)", "+0.12 points",
     "95% CI +0.04 to +0.21 points"),
])
def test_a_key_result_is_written_in_the_unit_and_decimals_of_its_finding(est, text, value, interval):
    [row] = key_results.key_results({"x": {"estimates": [est]}}, [Sentence("x", text, "x.html#S", (est["name"],))])
    assert (row.value, row.interval) == (value, interval)
    assert row.href == "x.html#S"


def test_an_estimate_no_finding_writes_falls_back_to_its_label():
    rate = estimate("kpi", 0.4167, 0.41, 0.42, label="Repeat-purchase rate")
    change = estimate("d", 0.0162, 0.006, 0.026, p=0.001, label="Change in repeat-purchase probability")
    weeks = estimate("w", 1.0, label="weeks out of control")
    rows = key_results.key_results({"x": {"estimates": [rate, change, weeks]}},
                                   [Sentence("x", "no numbers here", None, ("kpi", "d", "w"))])
    assert [r.value for r in rows] == ["41.7%", "+1.6 pp", "1"]
    assert rows[2].interval == "" and rows[2].bar is None


def test_evidence_follows_the_analysis_unless_the_estimate_says_otherwise():
    assert key_results.evidence_of("02_satisfaction_drivers", "csat_per_doubling_adjusted") == "observational"
    assert key_results.evidence_of("02_satisfaction_drivers", "csat_per_doubling_randomized") == "instrument"
    assert key_results.evidence_of("02_satisfaction_drivers", "first_stage_sla_on_log2_response_hours") == "check"
    assert key_results.evidence_of("05_experiment_table", "converted_effect_b_vs_a", per_protocol=True) == "per protocol"
    assert key_results.evidence_of("05_experiment_table", "converted_itt_effect_b_vs_a", per_protocol=True) == "randomized"
    assert key_results.evidence_of("05_experiment_table", "converted_effect_b_vs_a") == "randomized"
    assert key_results.evidence_of("04_ab_test", "csat_effect_treatment_vs_control") == "randomized"
    assert key_results.evidence_of("04_ab_test", "sample_ratio_chi2") == "check"
    assert key_results.evidence_of("07_rollout", "rollout_att_csat") == "before/after"
    assert key_results.evidence_of("07_rollout", "rollout_naive_csat") == "observational"
    assert key_results.evidence_of("09_repeat_model", "repeat_auc_boosted") == "predictive"
    assert key_results.evidence_of("09_repeat_model", "repeat_rate_change_sla_cap") == "observational"
    assert key_results.evidence_of("10_feedback", "feedback_share_praise") == "descriptive"
    assert key_results.evidence_of("10_feedback", "feedback_csat_difference_slow_reply") == "observational"
    assert key_results.evidence_of("01_data_overview", "csat_mean") == "descriptive"


def test_chips_read_the_verdict_for_its_metrics_and_the_interval_for_the_others():
    effects = [estimate("primary", 0.15, 0.11, 0.19, p=0.001), estimate("guard", -0.02, -0.05, 0.01, p=0.2),
               estimate("harm", -0.1, -0.2, -0.05, p=0.001), estimate("assoc", -0.2, -0.3, -0.1, p=0.001),
               estimate("flat", 0.01, -0.1, 0.1, p=0.8), estimate("level", 3.5, 3.4, 3.6),
               estimate("repeat_auc", 0.51, 0.49, 0.53)]
    verdict = Verdict("x", "SLA", "ship", "CSAT rose. More.", None, "primary", ("guard", "harm"), ("harm",))
    sentence = Sentence("x", "", None, tuple(e["name"] for e in effects))
    rows = {r.name: r for r in key_results.key_results({"x": {"estimates": effects}}, [sentence], [verdict])}
    assert (rows["primary"].verdict, rows["primary"].verdict_kind) == ("Ship", "good")
    assert rows["primary"].verdict_reason == "CSAT rose. More."
    assert (rows["guard"].verdict, rows["harm"].verdict) == ("guardrail held", "guardrail harmed")
    assert (rows["assoc"].verdict, rows["flat"].verdict, rows["level"].verdict) == ("lower", "no clear difference", "")
    assert rows["repeat_auc"].verdict == "no better than chance"


def test_the_interval_bar_marks_no_difference_and_scales_to_the_interval():
    svg = key_results.interval_bar((-2.3, -1.9, -1.5, 0.0))
    assert svg.startswith("<svg") and 'stroke-dasharray' in svg and "#0173b2" in svg  # clear of zero: coloured
    assert "#8a8a8a" in key_results.interval_bar((-1.0, 0.5, 2.0, 0.0))  # covers zero: grey
    assert key_results.interval_bar(None) == ""


def test_the_headline_leads_with_the_verdict_then_the_main_question():
    rows = [key_results.KeyResult("02", "csat_per_doubling_adjusted", "CSAT points per doubling, direct (x held fixed)",
                                  "-0.15 points", "95% CI -0.16 to -0.14 points", "observational", "lower", "neutral",
                                  "", None, None),
            key_results.KeyResult("02", "csat_resolved_adjusted", "CSAT points for a resolved case, adjusted (x)",
                                  "+0.78 points", "95% CI +0.74 to +0.82 points", "observational", "higher", "neutral",
                                  "", None, None),
            key_results.KeyResult("04", "repeat_purchase_relative_lift", "Repeat purchase, per ticket: relative lift (t / c)",
                                  "+10.0%", "95% CI +0.8% to +20.1%", "randomized", "higher", "neutral", "", None, None)]
    assert headline.headline(rows) == ("CSAT points for a resolved case, adjusted: +0.78 points "
                                       "(95% CI +0.74 to +0.82 points), an observational association.")
    undecided = Verdict("04", "SLA experiment", "inconclusive",
                        "CSAT changed by +0.13 points (95% CI -0.03 to +0.29) (higher is better; see below): the data "
                        "cannot tell. More.", None, "p")
    # the verdict leads; the experiment's own secondary rows (a guardrail's lift) never stand in for it
    assert headline.headline(rows, [undecided]) == (
        "SLA experiment: inconclusive, CSAT changed by +0.13 points (95% CI -0.03 to +0.29); CSAT points for a resolved "
        "case, adjusted: +0.78 points (95% CI +0.74 to +0.82 points), an observational association.")
    assert headline.headline(rows[2:], [undecided]) == (
        "SLA experiment: inconclusive, CSAT changed by +0.13 points (95% CI -0.03 to +0.29).")
    assert headline.headline([]).startswith("No results:")


def test_the_index_shows_the_title_headline_and_table_from_the_results(tmp_path):
    payload = {"analysis": "03_repeat_purchase",
               "estimates": [estimate("repeat_per_doubling_total", -0.0189, -0.0231, -0.0147, p=1e-9,
                                      label="Change in repeat-purchase probability per doubling of first response time")],
               "findings": [{"text": "**Speed.** Each doubling goes with -1.9 pp (95% CI -2.3 to -1.5 pp).",
                             "estimates": ["repeat_per_doubling_total"], "headline": True, "section": "Speed and repeat purchase"}]}
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "03_repeat_purchase.json").write_text(json.dumps(payload))
    runs = [index.AnalysisRun("03_repeat_purchase", "Repeat purchase", "ok", html="03_repeat_purchase.html")]
    page = index.write_index(tmp_path / "index.html", runs, {"data file": "march.csv", "period": "1 Mar 2026 to 31 Mar 2026"}).read_text()
    assert "<title>Service speed, satisfaction and repeat purchase: march.csv, 1 Mar 2026 to 31 Mar 2026</title>" in page
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page, "html.parser")
    assert soup.select_one("p.headline").get_text().startswith(
        "Change in repeat-purchase probability per doubling of first response time: -1.9 pp")
    assert soup.select_one('a.term[href="#glossary-percentage-point"] abbr')["title"].startswith("The plain difference")
    assert soup.select_one("#Glossary") is not None
    assert 'href="03_repeat_purchase.html#Speed-and-repeat-purchase"' in page  # the exact section
    assert '<td class="value">-1.9 pp</td>' in page and "<svg" in page
    assert 'href="results/03_repeat_purchase.json"' in page and 'href="results.csv"' in page


def test_an_experiment_that_set_units_aside_tables_its_comparisons_as_per_protocol():
    effects = [estimate("converted_effect_b_vs_a", 0.02, 0.006, 0.036, p=0.007),
               estimate("converted_itt_effect_b_vs_a", 0.021, 0.006, 0.036, p=0.006)]
    sentence = Sentence("05_experiment_table", "+2.1 pp (95% CI +0.6 to +3.6 pp)", None, tuple(e["name"] for e in effects))
    rows = key_results.key_results({"05_experiment_table": {"estimates": effects}}, [sentence])
    assert [(r.name, r.evidence_words) for r in rows] == [("converted_itt_effect_b_vs_a", "causal · randomized"),
                                                          ("converted_effect_b_vs_a", "per protocol · not as randomized")]


def test_the_title_period_is_the_bulk_of_the_tickets_with_strays_named_apart():
    import pandas as pd

    from study.core.weeks import period_of

    times = pd.Series(pd.date_range("2026-01-05", "2026-06-28", periods=3_000))
    assert period_of(times) == "5 Jan 2026 to 28 Jun 2026"
    times.iloc[3] = pd.Timestamp("1970-01-01")  # an export's default date
    assert period_of(times) == "5 Jan 2026 to 28 Jun 2026 (1 ticket dated outside it: 1 Jan 1970)"
    assert period_of(pd.Series([None, None])) is None


def test_the_split_check_reads_by_the_analysis_own_alarm_level():
    def srm(p, mismatch=None):
        row = estimate("sample_ratio_chi2", 5.0, p=p)
        return {**row, "extra": {} if mismatch is None else {"mismatch": mismatch}}

    def chip(e):
        [row] = key_results.key_results({"04_ab_test": {"estimates": [e]}}, [Sentence("04_ab_test", "", None, (e["name"],))])
        return row.value, row.verdict, row.evidence

    assert chip(srm(0.005, mismatch=True)) == ("p = 0.005", "split broken", "check")  # srm_alpha = 0.01
    assert chip(srm(0.005)) == ("p = 0.005", "split as planned", "check")  # without the flag: the 0.001 default
    assert chip(srm(0.0001))[1] == "split broken"
