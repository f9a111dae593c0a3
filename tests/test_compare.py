"""``study compare``: two runs that differ in one known way, the refusals, and hostile text.

The runs are made in-process by the very calls the notebooks make (``study.overview``,
``study.sla_experiment``, ``study.save``) with a ``run.json`` as ``study run`` writes it, so that the
module needs a few seconds rather than two minute-long notebook runs.
"""

from __future__ import annotations

import html
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

import study
from study import cli
from study.data import simulate
from study.report import safe_output
from study.report.compare import COMPARE_MARK, compare_runs
from study.report.results_csv import unescape

TITLES = {"01_data_overview": "Data overview", "04_ab_test": "The faster-response SLA experiment"}
CSAT_ESTIMATES = {"csat_mean", "csat_effect_treatment_vs_control", "csat_relative_lift_treatment_vs_control"}
UNMOVED_KEY = {"survey_response_rate", "repeat_purchase_rate", "survey_response_effect_treatment_vs_control",
               "repeat_purchase_effect_treatment_vs_control", "repeat_purchase_relative_lift_treatment_vs_control"}


def make_run(folder: Path, data_path: Path, started: str, alpha: float = 0.05) -> Path:
    """A report folder as ``study run --only 01,04`` leaves it, without the notebooks' HTML."""
    results = folder / "results"
    overview = study.overview(study.load(data_path, needed=[]), alpha=alpha)
    study.save(overview, results)
    sla = study.sla_experiment(study.load(data_path, needed=study.SLA_COLUMNS), alpha=alpha)
    study.save(sla, results)
    source = sla.source
    files = sorted([*safe_output.files_of(folder), "run.json"])
    facts = {"data file": source.name, "data fingerprint (SHA-256)": source.fingerprint, "rows read": f"{source.rows:,}",
             "parameters": "defaults of each notebook" if alpha == 0.05 else json.dumps({"alpha": alpha}),
             "started (UTC)": started}
    run = {"facts": facts, "analyses": [{"name": n, "title": t, "status": "ok", "reason": ""} for n, t in TITLES.items()],
           "summary": {}, safe_output.REPORT_MARK: {"files": files}}
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run A on 3,000 simulated tickets; run B on the same tickets with every treated CSAT answer one point
    higher (capped at 5); run A2 a copy of A's data in another file."""
    root = tmp_path_factory.mktemp("compare")
    data_a, _ = simulate.write(simulate.simulate(rows=3_000, seed=11), root / "a" / "tickets.parquet")
    frame = pd.read_parquet(data_a)
    treated = frame["variant"].eq("treatment") & frame["csat"].notna()
    frame.loc[treated, "csat"] = (frame.loc[treated, "csat"] + 1).clip(upper=5)
    (root / "b").mkdir()
    frame.to_parquet(root / "b" / "tickets.parquet")
    return {"a": make_run(root / "run_a", data_a, "2026-03-31 09:00:00"),
            "b": make_run(root / "run_b", root / "b" / "tickets.parquet", "2026-04-30 09:00:00"),
            "root": root}


@pytest.fixture(scope="module")
def compared(runs):
    out = runs["root"] / "cmp"
    status = cli.main(["compare", str(runs["a"]), str(runs["b"]), "--out", str(out)])
    assert status == 0
    table = pd.read_csv(out / "compare.csv", keep_default_na=False, na_values=[""])
    return out, table.set_index("name"), (out / "compare.html").read_text(encoding="utf-8")


def words(page: str) -> str:
    """The page's text as a reader sees it (entities decoded, tags kept)."""
    return html.unescape(page)


def test_exactly_the_csat_estimates_move_up_and_the_rest_stay_put(compared):
    _, table, _ = compared
    key = table[table["key"]]
    assert set(key.index) == CSAT_ESTIMATES | UNMOVED_KEY | {"sample_ratio_chi2"}
    moved = key[key["intervals_overlap"].eq(False)]
    assert set(moved.index) == CSAT_ESTIMATES
    assert (moved["change"] > 0).all() and (moved["b_value"] > moved["a_value"]).all()
    unmoved = key.loc[sorted(UNMOVED_KEY)]
    assert (unmoved["change"] == 0).all() and unmoved["intervals_overlap"].all()
    # The chi-square of the split has no interval: its change is judged by nothing, and said so.
    assert pd.isna(key.loc["sample_ratio_chi2", "intervals_overlap"]) and key.loc["sample_ratio_chi2", "change"] == 0
    # Beyond the key estimates: nothing that does not read CSAT changed at all.
    untouched = table[~table.index.str.contains("csat")]
    assert len(untouched) > 10 and (untouched["change"].fillna(0) == 0).all()


def test_the_page_says_what_moved_with_units_and_the_runs_facts(compared, runs):
    _, table, page = compared
    page = words(page)
    assert "3 of 8 key estimates moved beyond their intervals' overlap; the largest: " in page
    for run in ("a", "b"):
        facts = json.loads((runs[run] / "run.json").read_text())["facts"]
        assert facts["data fingerprint (SHA-256)"] in page and facts["started (UTC)"] in page
    assert page.split('<details id="all-estimates">')[0].count('class="moved"') == 3  # key estimates come first
    # A share in percent with its change in percentage points; a CSAT difference in points.
    share = table.loc["survey_response_rate"]
    assert f"{share['a_value']:.1%} (" not in page and f"{share['a_value']:.1%}" in page
    effect = table.loc["csat_effect_treatment_vs_control"]
    assert f"{effect['change']:+.2f} points" in page  # a CSAT difference changes in points
    lift = table.loc["csat_relative_lift_treatment_vs_control"]
    assert f"{lift['a_value']:+.1%}" in page and f"{lift['change'] * 100:+.1f} pp" in page  # a lift in %, its change in pp
    assert page.count("0 (same)") >= len(UNMOVED_KEY) and '<details id="all-estimates">' in page
    assert "http://" not in page and "https://" not in page  # self-contained: nothing to fetch


def test_the_same_data_twice_changes_nothing(runs, tmp_path):
    copy = shutil.copytree(runs["a"], tmp_path / "again")
    folder, headline = compare_runs(runs["a"], copy, tmp_path / "cmp")
    assert headline.startswith("None of the 8 key estimates moved")
    table = pd.read_csv(folder / "compare.csv", keep_default_na=False, na_values=[""])
    assert (table["change"].fillna(0) == 0).all()


def test_an_estimate_in_one_run_only_gets_a_plain_note(runs, tmp_path):
    b = shutil.copytree(runs["b"], tmp_path / "b")
    results = b / "results" / "04_ab_test.json"
    payload = json.loads(results.read_text())
    payload["estimates"] = [e for e in payload["estimates"] if e["name"] != "repeat_purchase_rate"
                            and e["name"] != "repeat_purchase_effect_treatment_vs_control"]
    results.write_text(json.dumps(payload))
    folder, _ = compare_runs(runs["a"], b, tmp_path / "cmp")
    table = pd.read_csv(folder / "compare.csv", keep_default_na=False, na_values=[""]).set_index("name")
    note = table.loc["repeat_purchase_effect_treatment_vs_control", "note"]
    assert note == "Only in run A: run B's results of 04_ab_test do not hold it."
    assert note in words((folder / "compare.html").read_text())


def test_a_hostile_label_stays_text_on_the_page_and_in_the_table(runs, tmp_path):
    b = shutil.copytree(runs["b"], tmp_path / "b")
    results = b / "results" / "01_data_overview.json"
    payload = json.loads(results.read_text())
    hostile = "<script>alert(1)</script>=HYPERLINK(\"http://evil.example\")"
    payload["estimates"][0]["label"] = hostile
    results.write_text(json.dumps(payload))
    folder, _ = compare_runs(b, runs["a"], tmp_path / "cmp")
    page = (folder / "compare.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    table = pd.read_csv(folder / "compare.csv", keep_default_na=False, na_values=[""])
    cell = table.loc[table["name"] == payload["estimates"][0]["name"], "label"].item()
    assert cell == hostile  # starts with '<': text already, no apostrophe needed
    payload["estimates"][0]["label"] = "=cmd|' /C calc'!A0"
    results.write_text(json.dumps(payload))
    folder, _ = compare_runs(b, runs["a"], tmp_path / "cmp")  # an earlier comparison of ours is replaced
    table = pd.read_csv(folder / "compare.csv", keep_default_na=False, na_values=[""])
    cell = table.loc[table["name"] == payload["estimates"][0]["name"], "label"].item()
    assert cell.startswith("'=") and unescape(cell) == "=cmd|' /C calc'!A0"


def refusal(*args: str, capsys) -> str:
    assert cli.main(["compare", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("study: error: "), err
    return err


def test_folders_that_are_not_two_study_runs_are_refused_in_one_line(runs, tmp_path, capsys):
    a, b = str(runs["a"]), str(runs["b"])
    out = str(tmp_path / "cmp")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    assert "not a study report (no run.json)" in refusal(str(notes), b, "--out", out, capsys=capsys)
    assert "no such folder" in refusal(a, str(tmp_path / "nowhere"), "--out", out, capsys=capsys)
    assert "are the same folder" in refusal(a, str(runs["a"] / ".." / "run_a"), "--out", out, capsys=capsys)
    broken = shutil.copytree(runs["b"], tmp_path / "broken")
    (broken / "results" / "04_ab_test.json").write_text("{not json")
    assert "results/04_ab_test.json is not readable JSON" in refusal(a, str(broken), "--out", out, capsys=capsys)
    unmarked = shutil.copytree(runs["b"], tmp_path / "unmarked")
    (unmarked / "run.json").write_text("[1, 2")
    assert "run.json is not readable JSON" in refusal(a, str(unmarked), "--out", out, capsys=capsys)
    assert not (tmp_path / "cmp").exists()
    # A comparison is not a run.
    compare_runs(a, b, out)
    assert COMPARE_MARK in json.loads((tmp_path / "cmp" / "run.json").read_text())
    assert "is a comparison written by study compare" in refusal(a, out, "--out", str(tmp_path / "c2"), capsys=capsys)


def test_the_comparison_never_writes_over_a_run_or_a_users_folder(runs, tmp_path, capsys):
    a, b = str(runs["a"]), str(runs["b"])
    before = sorted(os.listdir(runs["a"]))
    assert "holds a study report of a run" in refusal(a, b, "--out", str(shutil.copytree(runs["b"], tmp_path / "r")), capsys=capsys)
    assert "--out" in refusal(a, b, "--out", a, capsys=capsys)
    assert "is inside the report run_a" in refusal(a, b, "--out", str(runs["a"] / "compare"), capsys=capsys)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert "not a study report" in refusal(a, b, "--out", str(mine), capsys=capsys)
    assert sorted(os.listdir(runs["a"])) == before and (mine / "notes.txt").read_text() == "mine"


# What the page shows a reader: how wide it is, and where each table's last column ends.
LAYOUT = """() => ({
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  lastColumns: [...document.querySelectorAll('table')].filter((t) => t.offsetParent !== null).map(
    (t) => Math.max(...[...t.querySelectorAll('tr')].map((r) => r.lastElementChild ? r.lastElementChild.getBoundingClientRect().right : 0))),
  scripts: [...document.scripts].filter((s) => s.src).length,
})"""


def test_the_page_fits_a_phone_and_an_a4_page(compared):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
    chromium = Path(os.environ.get("STUDY_CHROMIUM", "/usr/bin/chromium"))
    if not (chromium.is_file() and os.access(chromium, os.X_OK)):
        pytest.skip(f"no Chromium at {chromium}")
    out, _, _ = compared
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto((out / "compare.html").as_uri())
            phone = page.evaluate(LAYOUT)
            # A4 at 96 px per inch less Chromium's default print margins of about 1 cm each side.
            page.set_viewport_size({"width": 718, "height": 1000})
            page.emulate_media(media="print")
            page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
            printed = page.evaluate(LAYOUT)
        finally:
            browser.close()
    assert phone["scrollWidth"] <= phone["innerWidth"] == 390, phone
    assert max(phone["lastColumns"]) <= 390, phone
    assert printed["scrollWidth"] <= printed["innerWidth"] and max(printed["lastColumns"]) <= printed["innerWidth"], printed
    assert len(printed["lastColumns"]) == 3 and phone["scripts"] == 0  # runs, key and all estimates; nothing loaded
