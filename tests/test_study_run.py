"""End to end: the `study` command on small simulated data, as a user runs it."""

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from study import analyses, config
from study.ab import sla
from study.data.dataset import load_tickets

# All that run on the sample: not the experiment table (no map) nor the rollout (the sample is the pilot, with no go-live)
ANALYSES = [a.name for a in analyses.ANALYSES if a.kind != "experiment" and a.name != analyses.ROLLOUT]


def study(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "study.cli", *args], capture_output=True, text=True, cwd=cwd)


def html_problems(page: str) -> list[str]:
    problems = []
    head, _, body = page.partition("<body")
    if "jp-InputArea-editor" in body or "hl-ipython3" in body:
        problems.append("code input cell")
    if 'data-mime-type="application/vnd.jupyter.stderr"' in body:
        problems.append("error or stderr output")
    if "&lt;table" in body or "&lt;h2" in body or "&lt;p&gt;" in body:
        problems.append("markup shown as text")
    if re.search(r'<(script|link)[^>]+(src|href)="https?://', page):
        problems.append("external script/style URL")
    return problems


@pytest.fixture(scope="module")
def default_run(small_default_run):
    return small_default_run


def test_run_writes_four_clean_reports_and_an_index(default_run):
    result, out = default_run
    assert result.returncode == 0, result.stderr
    index = (out / "index.html").read_text()
    for name in ANALYSES:
        assert f'href="{name}.html"' in index
        page = (out / f"{name}.html").read_text()
        assert html_problems(page) == [], name
        assert "data:image/png;base64" in page, f"{name} has no figure"
    assert html_problems(index) == []
    assert "tickets.parquet" in index and "fingerprint" in index


def test_run_prints_progress(default_run):
    result, _ = default_run
    assert result.stdout.count(" ok (") == len(ANALYSES)
    assert "Traceback" not in result.stdout + result.stderr


def test_kernel_logs_hold_no_start_up_warning(default_run):
    _, out = default_run
    logs = {log.stem: log.read_text() for log in (out / "logs").glob("*.log")}
    assert sorted(logs) == sorted(ANALYSES)
    assert not [name for name, text in logs.items() if "without encryption" in text]


def test_results_json_holds_every_key_estimate(default_run):
    _, out = default_run
    for name in ANALYSES:
        payload = json.loads((out / "results" / f"{name}.json").read_text())
        assert payload["analysis"] == name and payload["data"]["rows"] == 3_000
        assert payload["estimates"], name
        for estimate in payload["estimates"]:
            assert {"name", "value", "se", "ci_low", "ci_high", "p_value", "n", "method"} <= set(estimate)
        rows = payload["rows"] if "in" in payload["rows"] else next(iter(payload["rows"].values()))
        assert rows["in"] == rows["used"] + sum(rows["dropped"].values())


def test_a_finding_is_written_once_and_read_by_the_notebook_the_results_the_index_and_the_summary(default_run):
    import nbformat

    _, out = default_run
    run = json.loads((out / "run.json").read_text())
    index = (out / "index.html").read_text()
    headlines = []
    for name in ANALYSES:
        payload = json.loads((out / "results" / f"{name}.json").read_text())
        findings, names = payload["findings"], {e["name"] for e in payload["estimates"]}
        assert findings and any(f["headline"] for f in findings), name
        for finding in findings:
            assert set(finding["estimates"]) <= names, (name, finding)
        # the notebook showed exactly these bullets under its Findings heading
        shown = [output["data"]["text/markdown"] for cell in nbformat.read(out / "notebooks" / f"{name}.ipynb", 4).cells
                 for output in cell.get("outputs", []) if output.get("data", {}).get("text/markdown", "").startswith("## Findings")]
        assert shown == ["## Findings\n\n" + "\n".join(f"- {f['text']}" for f in findings)], name
        headlines += [(name, f["text"]) for f in findings if f["headline"]]
        # the index shows every finding (rendered), its bold lead included
        for finding in findings:
            lead = re.match(r"\*\*(.+?)\*\*", finding["text"])
            if lead:  # as rendered: Markdown escapes (customer\_spend) shown as the characters they protect
                shown = re.sub(r"\\(.)", r"\1", lead.group(1))
                assert f"<strong>{shown}</strong>" in index, (name, shown)
    assert [(s["analysis"], s["text"]) for s in run["summary"]["sentences"]] == headlines


def test_the_index_opens_with_a_headline_and_tables_each_key_estimate_as_its_finding_writes_it(default_run):
    from bs4 import BeautifulSoup

    _, out = default_run
    page = BeautifulSoup((out / "index.html").read_text(), "html.parser")
    assert re.fullmatch(r"Service speed, satisfaction and repeat purchase: \S+\.parquet, \d+ \w{3} \d{4} to \d+ \w{3} \d{4}",
                        page.title.string)
    assert page.select_one("p.headline").get_text(strip=True)
    headlines = {}
    for name in ANALYSES:
        payload = json.loads((out / "results" / f"{name}.json").read_text())
        headlines[name] = " ".join(f["text"] for f in payload["findings"])
    rows = page.select("table.results tr")[1:]
    quoted = {e for name in ANALYSES for f in json.loads((out / "results" / f"{name}.json").read_text())["findings"]
              if f["headline"] for e in f["estimates"]}
    assert len(rows) >= len(ANALYSES) and len(rows) <= len(quoted)
    written = 0
    for row in rows:
        value = row.select_one("td.value").get_text(strip=True)
        number = re.search(r"(\d+(?:\.\d+)?)", value).group(1)
        href = row.select_one("td.label a")["href"]
        analysis = href.split(".html")[0]
        if "." in number:  # a count (weeks out of control) may be written in words
            assert number in headlines[analysis], (value, analysis)
            written += 1
        assert row.select("span.chip")  # its kind of evidence, at least
    assert written >= len(rows) // 2


def test_the_confidence_level_reaches_every_interval_and_sentence(small_study_path, tmp_path):
    """alpha is one parameter per analysis: no interval and no sentence may keep the default 95%."""
    out = tmp_path / "ninety"
    result = study("run", "--data", str(small_study_path), "--out", str(out), "--param", "alpha=0.1",
                   "--param", "model_tickets=0")
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ANALYSES:
        payload = json.loads((out / "results" / f"{name}.json").read_text())
        assert payload["parameters"]["alpha"] == 0.1
        for estimate in payload["estimates"]:
            if estimate["name"] == "sample_ratio_chi2":  # its own alarm level, srm_alpha
                continue
            if estimate["ci_low"] is not None:
                assert estimate["ci_level"] == pytest.approx(0.9), (name, estimate["name"])
        for finding in payload["findings"]:
            assert not re.search(r"(?<![\d.])95%", finding["text"]), (name, finding["text"])  # 0.95% is a share
        assert any("90% CI" in f["text"] for f in payload["findings"]), name
        page = (out / f"{name}.html").read_text()
        assert "95% CI" not in page and "95%-CI" not in page, name


def test_ab_results_cover_the_truth_of_the_small_simulation(default_run, small_study_path):
    _, out = default_run
    truth = json.loads((small_study_path.parent / "truth.json").read_text())
    estimates = {e["name"]: e for e in json.loads((out / "results" / "04_ab_test.json").read_text())["estimates"]}
    csat = estimates["csat_effect_treatment_vs_control"]
    assert csat["ci_low"] <= truth["sla_effect_on_csat"] <= csat["ci_high"]


def test_results_json_is_byte_identical_across_runs(default_run, small_study_path, tmp_path):
    _, out = default_run
    again = tmp_path / "again"
    assert study("run", "--data", str(small_study_path), "--out", str(again), "--only", "02").returncode == 0
    name = "02_satisfaction_drivers.json"
    assert (again / "results" / name).read_bytes() == (out / "results" / name).read_bytes()


def test_a_failing_notebook_is_reported_and_the_others_still_run(failed_run):
    result, out = failed_run
    assert result.returncode == 1
    assert "04_ab_test: failed" in result.stdout and "01_data_overview: ok" in result.stdout
    index = (out / "index.html").read_text()
    reasons = {run["name"]: run["reason"] for run in json.loads((out / "run.json").read_text())["analyses"]}
    assert reasons["04_ab_test"].startswith("TypeError"), reasons  # the notebook's own error, not a kernel hiccup
    assert 'class="failed"' in index and "TypeError" in index
    assert html_problems((out / "04_ab_test.html").read_text()) == ["error or stderr output"]  # shows where it failed
    assert (out / "results" / "01_data_overview.json").is_file()


def test_an_analysis_without_its_columns_is_skipped_with_the_reason(small_study_path, tmp_path):
    data = tmp_path / "no_experiment.csv"
    pd.read_parquet(small_study_path).drop(columns=["variant", "experiment_id"]).to_csv(data, index=False)
    out = tmp_path / "skipped"
    result = study("run", "--data", str(data), "--out", str(out), "--only", "04")
    assert result.returncode == 0, result.stderr
    index = (out / "index.html").read_text()
    assert 'class="skipped"' in index and "data has no variant" in index


def test_missing_file_is_one_line_naming_it(tmp_path):
    result = study("run", "--data", "missing.csv", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "missing.csv" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_required_column_is_one_line_naming_it(small_study_path, tmp_path):
    data = tmp_path / "no_ids.csv"
    pd.read_parquet(small_study_path).drop(columns=["ticket_id"]).to_csv(data, index=False)
    result = study("run", "--data", str(data), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "'ticket_id'" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_column_only_some_analyses_need_skips_those_with_the_reason(small_study_path, tmp_path):
    data = tmp_path / "no_csat.csv"
    pd.read_parquet(small_study_path).drop(columns=["csat"]).to_csv(data, index=False)
    result = study("run", "--data", str(data), "--out", str(tmp_path / "out"), "--only", "01,02,03")
    assert result.returncode == 0, result.stderr
    assert "skipped 02_satisfaction_drivers: data has no csat" in result.stdout
    assert "skipped 03_repeat_purchase: data has no csat" in result.stdout
    assert "01_data_overview: ok" in result.stdout


def test_unknown_parameter_and_analysis_are_refused(small_study_path):
    assert "unknown parameter 'alhpa'" in study("run", "--data", str(small_study_path), "--param", "alhpa=0.1").stderr
    assert "unknown analysis '99'" in study("run", "--data", str(small_study_path), "--only", "99").stderr


def test_simulate_and_validate_commands(tmp_path):
    result = study("simulate", "--rows", "200", "--seed", "3", "--out", str(tmp_path / "s.csv"))
    assert result.returncode == 0 and (tmp_path / "truth.json").is_file()
    validated = study("validate", "--data", str(tmp_path / "s.csv"))
    assert validated.returncode == 0 and "meets the data contract" in validated.stdout


def test_embedded_sample_experiment_covers_the_truth():
    data = load_tickets(config.SAMPLE_DATA)
    truth = json.loads((config.DATA / "truth.json").read_text())
    effects = {e.metric: e for e in sla.sla_experiment(data).effects if not e.segment}
    assert effects["csat"].difference_estimate().covers(truth["sla_effect_on_csat"])
    assert effects["repeat_purchase"].difference_estimate().covers(truth["sla_effect_on_repeat_purchase"])


def test_models_run_without_optional_columns_and_say_what_they_skipped(small_study_path, tmp_path):
    data = tmp_path / "lean.csv"
    optional = ["agent_id", "days_to_next_purchase", "reopened", "variant", "experiment_id", "channel", "quality_score"]
    pd.read_parquet(small_study_path).drop(columns=optional).to_csv(data, index=False)
    out = tmp_path / "lean"
    result = study("run", "--data", str(data), "--out", str(out), "--only", "02,03")
    assert result.returncode == 0, result.stdout + result.stderr
    satisfaction = (out / "02_satisfaction_drivers.html").read_text()
    assert "Without agents held fixed skipped" in satisfaction and html_problems(satisfaction) == []
    repeat = (out / "03_repeat_purchase.html").read_text()
    assert "Skipped:" in repeat and "days_to_next_purchase" in repeat and html_problems(repeat) == []
    notes = json.loads((out / "results" / "02_satisfaction_drivers.json").read_text())["notes"]
    assert any("agent" in note for note in notes) and any("randomized" in note for note in notes)


def test_an_experiment_table_runs_through_its_column_map(tmp_path):
    out = tmp_path / "experiment"
    result = study("run", "--data", str(config.DATA / "examples" / "experiment.csv.gz"),
                   "--columns", str(config.DATA / "examples" / "experiment_columns.yml"), "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "05_experiment_table: ok" in result.stdout and "not a ticket table" in result.stdout
    page = (out / "05_experiment_table.html").read_text()
    assert html_problems(page) == [] and "<table" in page
    payload = json.loads((out / "results" / "05_experiment_table.json").read_text())
    assert payload["rows"]["dropped"] == {"group and page disagree": 60, "exact duplicate row": 25, "user_id in several arms": 80}
    names = {e["name"] for e in payload["estimates"]}
    assert {"converted_effect_treatment_a_vs_control", "spend_effect_treatment_b_vs_control"} <= names


def test_a_retention_test_whose_lower_is_better_churn_rose_says_dont_ship(tmp_path):
    """A game's retention test: the change raised 7-day churn (and so lowered retention). Read as
    higher-is-better, churn's rise would have shipped the change."""
    rng = np.random.default_rng(11)
    n = 20_000
    arm = np.where(rng.random(n) < 0.5, "gate_40", "gate_30")
    churn = (rng.random(n) < np.where(arm == "gate_40", 0.83, 0.80)).astype(int)
    pd.DataFrame({"userid": np.arange(n), "version": arm, "churn_7": churn, "retention_7": 1 - churn,
                  "sum_gamerounds": rng.poisson(50, n)}).to_csv(tmp_path / "cookie.csv", index=False)
    (tmp_path / "map.yml").write_text(
        "experiment:\n  unit: userid\n  arm: version\n  control: gate_30\n  metrics:\n"
        "    churn_7: {role: primary, better: lower}\n"
        "    sum_gamerounds: {role: guardrail, better: higher, margin: 2}\n")
    out = tmp_path / "run"
    result = study("run", "--data", str(tmp_path / "cookie.csv"), "--columns", str(tmp_path / "map.yml"), "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    [verdict] = json.loads((out / "run.json").read_text())["summary"]["verdicts"]
    assert verdict["decision"] == "don't ship", verdict
    assert "lower is better" in verdict["reason"] and "churn_7" in verdict["reason"]
    estimates = {e["name"]: e for e in json.loads((out / "results" / "05_experiment_table.json").read_text())["estimates"]}
    churn = estimates["churn_7_effect_gate_40_vs_gate_30"]
    assert churn["value"] > 0 and churn["ci_low"] > 0
    assert (churn["extra"]["role"], churn["extra"]["better"]) == ("primary", "lower")
    assert estimates["sum_gamerounds_effect_gate_40_vs_gate_30"]["extra"]["margin"] == 2
    assert "churn_7_mde_gate_40_vs_gate_30" in estimates


REAL = config.ROOT.parent / "shared" / "data" / "real" / "ab_data.csv.xz"


@pytest.mark.skipif(not REAL.is_file(), reason="the shared real data set is not beside this clone")
def test_the_real_landing_page_test_runs_with_the_committed_column_map(tmp_path):
    out = tmp_path / "real"
    result = study("run", "--data", str(REAL), "--columns", str(config.DATA / "examples" / "ab_landing_page.yml"),
                   "--only", "05", "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    payload = json.loads((out / "results" / "05_experiment_table.json").read_text())
    assert payload["rows"]["dropped"]["group and landing_page disagree"] == 3_893
    effect = next(e for e in payload["estimates"] if e["name"] == "converted_effect_treatment_vs_control")
    assert effect["p_value"] == pytest.approx(0.19, abs=0.005)
    assert "3,893 group and landing_page disagree" in (out / "05_experiment_table.html").read_text()


def test_a_broken_column_map_is_one_line_naming_it(tmp_path):
    bad = tmp_path / "map.yml"
    bad.write_text("experiment:\n  unit: user_id\n")
    result = study("run", "--data", str(config.DATA / "examples" / "experiment.csv.gz"), "--columns", str(bad))
    assert result.returncode == 2 and "lacks 'arm', 'control', 'metrics'" in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_text_from_the_data_shows_as_text_in_the_reports(tmp_path):
    """Arm names and unit ids are untrusted: a <script> in them must not reach the HTML as markup."""
    rng = np.random.default_rng(1)
    evil_arm, evil_unit = "<script>alert(1)</script>", "<img src=x onerror=alert(2)>"
    table = pd.DataFrame({
        "user_id": [f"u{i}" for i in range(400)] + [evil_unit, evil_unit],
        "group": ["control"] * 200 + [evil_arm] * 200 + ["control", "control"],
        "converted": np.concatenate([rng.integers(0, 2, 400), [0, 1]]),
    })
    table.to_csv(tmp_path / "evil.csv", index=False)
    (tmp_path / "map.yml").write_text("experiment:\n  unit: user_id\n  arm: group\n  control: control\n  metrics: [converted]\n")
    result = study("run", "--data", str(tmp_path / "evil.csv"), "--columns", str(tmp_path / "map.yml"),
                   "--only", "05", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stdout + result.stderr
    for page in ("05_experiment_table.html", "index.html"):
        body = (tmp_path / "out" / page).read_text().split("<body", 1)[1]
        assert evil_arm not in body and "<img src=x" not in body, page
        assert "&lt;script&gt;alert(1)" in body, page


def test_a_duckdb_table_or_query_is_analysed_like_a_file(small_study_path, tmp_path):
    import duckdb

    database = tmp_path / "service.duckdb"
    with duckdb.connect(str(database)) as con:
        con.register("frame", pd.read_parquet(small_study_path))
        con.execute("create table cases as select * from frame")
    query = "select * from cases where channel <> 'phone'"
    # Side by side: a one-notebook run spends most of its time starting processes, which the other overlaps.
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [pool.submit(study, "run", "--data", str(database), "--table", "cases", "--only", "01", "--out",
                            str(tmp_path / "table")),
                pool.submit(study, "run", "--data", str(database), "--query", query, "--only", "01", "--out",
                            str(tmp_path / "query"))]
    for result in (run.result() for run in runs):
        assert result.returncode == 0, result.stdout + result.stderr
    rows = json.loads((tmp_path / "query" / "results" / "01_data_overview.json").read_text())["data"]["rows"]
    assert rows == int((pd.read_parquet(small_study_path)["channel"] != "phone").sum())
    bad = study("run", "--data", str(database), "--query", "select * from nowhere", "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "--query failed" in bad.stderr and bad.stderr.count("\n") == 1


def test_an_interrupted_run_leaves_the_previous_report_whole(small_study_path, tmp_path, monkeypatch):
    from study.report import run_outputs, runner

    out = tmp_path / "latest"
    out.mkdir()
    (out / "index.html").write_text("the previous report")
    (out / "run.json").write_text(json.dumps({"study report": {"files": ["index.html", "run.json"]}}))

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_outputs, "write_index", interrupted)  # the last step before the swap
    with pytest.raises(KeyboardInterrupt):
        runner.run_study(small_study_path, out, only=["01"], progress=lambda line: None)
    assert (out / "index.html").read_text() == "the previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["latest"]  # no half-written folder left beside it


def test_the_driver_analysis_names_a_column_it_was_asked_for_that_the_data_lacks(small_study_path, tmp_path):
    from study.data.schema import DataError
    from study.report.runner import run_study

    with pytest.raises(DataError, match=r"the driver analysis's driver 'resposne_hours' \(--param\) is not a column "
                                        r"of the data \(did you mean 'response_hours'\?\)"):
        run_study(small_study_path, tmp_path / "out", params={"driver": "resposne_hours"}, only=["06"],
                  progress=lambda line: None)
    assert not (tmp_path / "out").exists()


def test_the_driver_analysis_skips_its_default_question_on_data_that_cannot_answer_it(small_study_path, tmp_path):
    from study.report.runner import run_study

    data = tmp_path / "no_times.csv"
    pd.read_parquet(small_study_path).drop(columns=["first_response_minutes"]).to_csv(data, index=False)
    summary = run_study(data, tmp_path / "out", only=["06"], progress=lambda line: None)
    assert summary.runs[0].status == "skipped"
    assert summary.runs[0].reason.startswith("data has no first_response_minutes (name the outcome and driver")


def test_a_text_outcome_of_the_driver_analysis_is_refused_before_any_notebook_with_the_map_line(small_study_path,
                                                                                                tmp_path):
    from study.data.schema import DataError
    from study.report.runner import run_study

    tickets = pd.read_parquet(small_study_path)
    tickets["recommends"] = np.where(tickets["csat"].fillna(3) >= 4, "sim", "não")
    data = tmp_path / "t.csv"
    tickets.to_csv(data, index=False)
    columns = tmp_path / "map.yml"
    columns.write_text("drivers: {outcome: recommends, driver: response_hours}\n")
    validated = study("validate", "--data", str(data), "--columns", str(columns))
    assert "06_driver_analysis: skipped: column 'recommends' is text with two values" in validated.stdout
    with pytest.raises(DataError, match=r"outcome: column 'recommends' is text with two values \('não', 'sim'\) .* "
                                        r"\(derive: \{recommends_01: \"case when `recommends` = 'sim' then 1 else 0 end\"\}"):
        run_study(data, tmp_path / "out", columns=columns, only=["06"], progress=lambda line: None)
    assert not (tmp_path / "out").exists()
