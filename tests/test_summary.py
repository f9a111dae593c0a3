"""The executive summary: headline findings and verdicts from results dicts, and their place on the index page."""

import json
import subprocess
import sys
from pathlib import Path

from scipy import stats

from study.report import index, summary
from study.report.verdict import DONT_SHIP, INCONCLUSIVE, SHIP


def estimate(name, value, low, high, p=0.01, **fields):
    return {"name": name, "label": name, "value": value, "se": None, "ci_low": low, "ci_high": high, "p_value": p,
            "n": 1000, "method": "test", "ci_level": 0.95, **fields}


def comparison(metric, value, low, high, p=None, control="control", treatment="treatment", values=(0.4, 0.42),
               lift=None, segment=None):
    """An engine effect (and its relative lift when ``lift`` is (value, low, high)) as in a results file;
    its standard error and p-value follow from the 95% interval unless ``p`` is given."""
    se = (high - low) / (2 * stats.norm.ppf(0.975))
    p = float(2 * stats.norm.sf(abs(value) / se)) if p is None else p
    extra = {"metric": metric, "arms": {"control": control, "treatment": treatment},
             "value_by_arm": {control: values[0], treatment: values[1]}, "segment": segment or {}}
    suffix = "".join(f"__{k}={v}" for k, v in (segment or {}).items())
    out = [estimate(f"{metric}_effect_{treatment}_vs_{control}{suffix}", value, low, high, p, extra=extra, se=se)]
    if lift is not None:
        out.append(estimate(f"{metric}_relative_lift_{treatment}_vs_{control}{suffix}", *lift, p=p, extra=extra))
    return out


def srm(p=0.5, mismatch=False, counts=None):
    counts = counts or {"control": 5_000, "treatment": 5_010}
    return estimate("sample_ratio_chi2", 0.1, None, None, p, ci_level=0.999,
                    extra={"counts": counts, "expected_share": {a: 1 / len(counts) for a in counts}, "mismatch": mismatch})


def ab_payload(csat=(0.15, 0.11, 0.19), repeat=(0.016, 0.006, 0.026), spend=(2.8, -2.4, 8.1), check=None, extra=()):
    estimates = [check or srm()]
    if csat:
        estimates += comparison("csat", *csat, values=(3.51, 3.66), lift=(0.043, 0.032, 0.054))
    if repeat:
        estimates += comparison("repeat_purchase", *repeat, values=(0.409, 0.425), lift=(0.040, 0.015, 0.064))
    if spend:
        estimates += comparison("customer_spend", *spend, values=(132.1, 134.9))
    return {"analysis": "04_ab_test", "parameters": {"srm_alpha": 0.001}, "estimates": estimates + list(extra)}


def one_verdict(results, runs=None):
    verdicts = summary.summarize(results, runs).verdicts
    assert len(verdicts) == 1, verdicts
    return verdicts[0]


# --- verdict branches --------------------------------------------------------------------------

def test_sample_ratio_mismatch_flag_makes_the_experiment_inconclusive():
    v = one_verdict({"04_ab_test": ab_payload(check=srm(p=0.5, mismatch=True))})
    assert v.decision == INCONCLUSIVE and "split is broken" in v.reason and "cannot be trusted" in v.reason


def test_srm_p_below_its_threshold_is_a_mismatch_even_without_the_flag():
    v = one_verdict({"04_ab_test": ab_payload(check=srm(p=0.0002, mismatch=False))})
    assert v.decision == INCONCLUSIVE and "p < 0.001" in v.reason
    # the same p above the threshold passes
    payload = ab_payload(check=srm(p=0.0002, mismatch=False))
    payload["parameters"]["srm_alpha"] = 0.0001
    assert one_verdict({"04_ab_test": payload}).decision == SHIP


def test_the_summary_quotes_the_headline_findings_each_analysis_wrote():
    payload = ab_payload(check=srm(mismatch=True, p=1e-6))
    payload["findings"] = [
        {"text": "⚠️ **Sample ratio mismatch — do not trust the results below.** p < 0.001", "estimates": ["sample_ratio_chi2"],
         "kind": "warning", "headline": True},
        {"text": "**The SLA was delivered.** detail", "estimates": [], "kind": "finding", "headline": False},
        {"text": "**CSAT.** +0.15", "estimates": ["csat_effect_treatment_vs_control"], "kind": "made-up", "headline": True},
        {"text": None, "headline": True}, "junk",
    ]
    executive = summary.summarize({"04_ab_test": payload})
    assert [s.text for s in executive.sentences] == [payload["findings"][0]["text"], "**CSAT.** +0.15"]
    assert [s.kind for s in executive.sentences] == ["warning", "finding"]  # an unknown kind is read as a finding
    assert executive.sentences[0].estimates == ("sample_ratio_chi2",)
    assert all(s.href == "04_ab_test.html#Findings" for s in executive.sentences)
    assert one_verdict({"04_ab_test": payload}).decision == INCONCLUSIVE


def test_ship_when_primary_is_above_zero_and_no_guardrail_harmed():
    v = one_verdict({"04_ab_test": ab_payload()})
    assert v.decision == SHIP
    assert v.primary == "csat_effect_treatment_vs_control"
    assert v.guardrails == ("repeat_purchase_effect_treatment_vs_control", "customer_spend_effect_treatment_vs_control")
    assert v.harmed == ()
    assert "CSAT rose by 0.15 points (95% CI 0.11 to 0.19)" in v.reason and "no guardrail" in v.reason


def test_dont_ship_when_primary_is_below_zero():
    v = one_verdict({"04_ab_test": ab_payload(csat=(-0.12, -0.2, -0.04))})
    assert v.decision == DONT_SHIP and "CSAT fell by 0.12 points (95% CI 0.04 to 0.20)" in v.reason
    assert "got worse" in v.reason


def test_dont_ship_when_a_guardrail_is_significantly_harmed_even_if_primary_wins():
    v = one_verdict({"04_ab_test": ab_payload(repeat=(-0.02, -0.03, -0.01))})
    assert v.decision == DONT_SHIP
    assert v.harmed == ("repeat_purchase_effect_treatment_vs_control",)
    assert "repeat purchase fell by 2.0 percentage points (95% CI 1.0 to 3.0)" in v.reason
    assert "CSAT rose" in v.reason and v.reason.startswith("A guardrail was harmed")


def test_inconclusive_when_the_primary_interval_includes_zero():
    v = one_verdict({"04_ab_test": ab_payload(csat=(0.02, -0.01, 0.05))})
    assert v.decision == INCONCLUSIVE and "cannot tell a gain from a loss" in v.reason
    assert "+0.02 points (95% CI -0.01 to +0.05)" in v.reason
    assert "minimum detectable" not in v.reason


def test_inconclusive_gives_the_minimum_detectable_effect_when_the_results_hold_one():
    mde = estimate("csat_mde_treatment_vs_control", 0.045, None, None, None,
                   extra={"metric": "csat", "arms": {"control": "control", "treatment": "treatment"}, "segment": {}})
    v = one_verdict({"04_ab_test": ab_payload(csat=(0.02, -0.01, 0.05), extra=[mde])})
    assert v.decision == INCONCLUSIVE and "0.04 points" in v.reason and "minimum detectable effect" in v.reason


def test_a_harmed_guardrail_makes_an_inconclusive_primary_a_dont_ship():
    v = one_verdict({"04_ab_test": ab_payload(csat=(0.02, -0.01, 0.05), spend=(-9.0, -15.0, -3.0))})
    assert v.decision == DONT_SHIP and v.harmed == ("customer_spend_effect_treatment_vs_control",)


def test_experiment_table_primary_is_the_first_mapped_metric_with_a_verdict_per_arm():
    estimates = [srm(counts={"control": 500, "b": 250, "a": 250})]
    estimates += comparison("spend", 1.0, 0.5, 1.5, treatment="a", values=(6.0, 7.0))  # listed first, but a guardrail
    estimates += comparison("converted", 0.02, 0.005, 0.035, treatment="a", values=(0.1, 0.12), lift=(0.2, 0.05, 0.35))
    estimates += comparison("converted", -0.01, -0.03, 0.01, treatment="b", values=(0.1, 0.09))
    estimates += comparison("spend", -2.0, -3.0, -1.0, treatment="b", values=(6.0, 4.0))
    estimates += comparison("converted", -0.05, -0.08, -0.02, treatment="a", segment={"device": "mobile"})
    payload = {"analysis": "05_experiment_table", "estimates": estimates,
               "parameters": {"srm_alpha": 0.001, "column_map": {"metrics": ["converted", "spend"]}}}
    executive = summary.summarize({"05_experiment_table": payload})
    by_arm = {v.experiment: v for v in executive.verdicts}
    assert set(by_arm) == {"experiment table, a vs control", "experiment table, b vs control"}
    a, b = by_arm["experiment table, a vs control"], by_arm["experiment table, b vs control"]
    assert a.decision == SHIP and a.primary == "converted_effect_a_vs_control" and a.guardrails == ("spend_effect_a_vs_control",)
    assert b.decision == DONT_SHIP and b.harmed == ("spend_effect_b_vs_control",)  # spend fell: a harmed guardrail
    assert "rose by 2.0 percentage points (95% CI 0.5 to 3.5)" in a.reason
    assert not any("mobile" in v.reason for v in executive.verdicts)  # segments are exploratory: not in the verdict


# --- what is left out, what is said --------------------------------------------------------------

def test_nothing_is_invented_for_an_analysis_without_findings_or_a_primary_estimate():
    executive = summary.summarize({"02_satisfaction_drivers": {"estimates": [estimate("csat_per_doubling_adjusted", -0.15, -0.16, -0.14)]},
                                   "03_repeat_purchase": {"estimates": [], "findings": []}})
    assert executive.sentences == [] and executive.verdicts == []
    assert summary.summarize({"04_ab_test": ab_payload(csat=None)}).verdicts == []


def test_skipped_analyses_say_nothing_and_failed_ones_one_sentence_with_where_to_look():
    runs = [
        {"name": "02_satisfaction_drivers", "title": "Speed, resolution and satisfaction", "status": "failed",
         "reason": "TypeError: bad parameter", "html": "02_satisfaction_drivers.html"},
        {"name": "04_ab_test", "title": "The SLA experiment", "status": "skipped", "reason": "data has no variant", "html": None},
    ]
    results = {"02_satisfaction_drivers": {"estimates": [estimate("csat_per_doubling_adjusted", -0.15, -0.16, -0.14)]},
               "04_ab_test": ab_payload()}
    executive = summary.summarize(results, runs)
    assert executive.verdicts == []
    [failed] = executive.sentences
    assert failed.kind == "failed" and failed.analysis == "02_satisfaction_drivers"
    assert "failed (TypeError\\: bad parameter)" in failed.text  # Markdown-escaped: it is the kernel's text
    assert "02\\_satisfaction\\_drivers.html" in failed.text and "logs/02\\_satisfaction\\_drivers.log" in failed.text
    assert failed.href == "02_satisfaction_drivers.html#papermill-error-cell"


def test_summary_is_plain_json_for_run_json():
    executive = summary.summarize({"04_ab_test": ab_payload()})
    data = json.loads(json.dumps(executive.to_dict()))
    assert data["verdicts"][0]["decision"] == "ship" and data["verdicts"][0]["reason"]
    assert all({"analysis", "text", "href", "estimates", "kind"} <= set(s) for s in data["sentences"])


def test_text_from_the_data_is_escaped_on_the_index_page(tmp_path):
    arm = "<script>alert(1)</script>"
    estimates = [srm(counts={"control": 500, arm: 505})]
    estimates += comparison("<b>converted</b>", 0.02, 0.01, 0.03, treatment=arm, values=(0.1, 0.12))
    payload = {"analysis": "05_experiment_table", "estimates": estimates,
               "parameters": {"column_map": {"metrics": ["<b>converted</b>"]}},
               # a finding whose writer forgot to escape: the page still shows no live markup or link
               "findings": [{"text": f"**{arm}** [x](javascript:alert(1)) <img src=x onerror=alert(1)>", "headline": True}]}
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "05_experiment_table.json").write_text(json.dumps(payload))
    runs = [index.AnalysisRun("05_experiment_table", "An experiment table", "ok", html="05_experiment_table.html")]
    page = index.write_index(tmp_path / "index.html", runs, {"data file": "x.csv"}).read_text()
    assert 'id="findings"' in page and "Ship</span>" in page
    assert "<script>alert" not in page and "<b>converted" not in page and "javascript:" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;converted&lt;/b&gt;" in page
    assert "<strong>" in page  # the finding's emphasis is rendered
    assert 'href="05_experiment_table.html#Findings"' in page


def test_no_results_no_summary_section(tmp_path):
    runs = [index.AnalysisRun("04_ab_test", "The SLA experiment", "skipped", reason="data has no variant")]
    page = index.write_index(tmp_path / "index.html", runs, {}).read_text()
    assert 'id="findings"' not in page


# --- a real run ----------------------------------------------------------------------------------

def test_a_real_run_has_the_summary_with_a_verdict_on_the_index_and_in_run_json(small_study_path, tmp_path):
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "study.cli", "run", "--data", str(small_study_path), "--out", str(out),
                             "--only", "04"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    run = json.loads((out / "run.json").read_text())
    [verdict] = run["summary"]["verdicts"]
    assert verdict["decision"] in {SHIP, DONT_SHIP, INCONCLUSIVE} and verdict["reason"]
    assert verdict["primary"] == "csat_effect_treatment_vs_control"
    estimates = {e["name"]: e for e in json.loads((out / "results" / "04_ab_test.json").read_text())["estimates"]}
    csat = estimates["csat_effect_treatment_vs_control"]
    # judged by its Lee bounds when the SLA moved who answers the survey, by the plain difference otherwise
    shown = estimates["csat_lee_bounds_treatment_vs_control"] if "Lee bounds" in verdict["reason"] else csat
    assert f"{abs(shown['value']):.2f} points" in verdict["reason"]
    sentences = run["summary"]["sentences"]
    assert any(s["kind"] == "check" for s in sentences)
    # each headline links to the section that shows its evidence, and that section exists on the page
    assert {s["href"] for s in sentences} == {"04_ab_test.html#Design-checks", "04_ab_test.html#Effects"}
    page = (out / "index.html").read_text()
    assert 'id="findings"' in page
    assert page.index('id="findings"') < page.index('id="reports"')
    assert f"{verdict['decision'].capitalize()}</span>" in page
    assert 'href="04_ab_test.html#Effects"' in page
    report = Path(out / "04_ab_test.html").read_text()
    assert report.count('id="Effects"') == 1 and report.count('id="Design-checks"') == 1  # the links' anchors exist
