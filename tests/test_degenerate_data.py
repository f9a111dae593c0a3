"""Degenerate data never crashes a notebook: each section that cannot run says so, with its reason.

Each case is a small simulation with one thing broken, run through the notebooks it concerns
(``study.report.runner.run_study`` with ``only``). Each asserts that the notebook did not fail, that the
section says "skipped" with its reason, that no meaningless "0.0 (0.0 to 0.0)" finding appears, and
that rows left out are counted.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from study.core import degenerate
from study.data import simulate
from study.report.runner import run_study

ROWS = 400
FAST = {"02": {"bootstrap": 20}, "03": {"replicates": 20}}  # fewer bootstrap replicates: each notebook's own
ZERO_FINDING = re.compile(r"[+-]?0\.0+( pp)? \(95% CI [+-]?0\.0+ to [+-]?0\.0+")


def _tickets(rows: int = ROWS) -> pd.DataFrame:
    return simulate.simulate(rows=rows, seed=11).tickets


def _missing_response(t):
    t.loc[t.index[::7], "first_response_minutes"] = np.nan
    return t


def _one_customer(t):
    t["customer_id"] = t["customer_id"].iloc[0]
    return t


def _csat_constant(t):
    t["csat"] = t["csat"].where(t["csat"].isna(), 4)
    return t


def _no_repeat(t):
    t["repeat_purchase"] = False
    t["days_to_next_purchase"] = t["days_to_next_purchase"].max()
    t["next_spend"] = 0.0
    return t


def _few_answers(t):
    answered = t.index[t["csat"].notna()]
    t.loc[answered[3:], "csat"] = pd.NA
    return t


def _few_rows(_):
    return _tickets(12)


def _variant_mostly_empty(t):
    arms = t.drop_duplicates("customer_id").set_index("customer_id")["variant"]
    kept = [*arms[arms == "control"].index[:1], *arms[arms == "treatment"].index[:2]]  # one control, two treated
    t["variant"] = t["variant"].where(t["customer_id"].isin(kept), None)
    return t


# case, broken data, analyses, phrases each executed notebook (by prefix) must show
CASES = {
    "missing response time": (_missing_response, ["02", "03", "04"], {}),
    "one customer": (_one_customer, ["02", "03", "04"], {
        "02": ["Naive and adjusted models skipped: one customer: standard errors clustered by customer need at least two",
               "Key drivers skipped: one customer: the customer bootstrap needs at least two"],
        "03": ["one customer: the customer bootstrap and clustered standard errors need at least two"],
        "04": ["Sample-ratio check: skipped", "a comparison needs at least two in each arm"],
    }),
    "CSAT constant": (_csat_constant, ["02", "03", "04"], {
        "02": ["Ordered logit skipped: CSAT has one value (4) in the rows analysed: nothing to explain",
               "Naive and adjusted models skipped: CSAT has one value (4) in the rows analysed: nothing to explain"],
        "03": ["The logit with satisfaction skipped: CSAT has one value (4)"],
        "04": ["Comparison of CSAT: skipped.** CSAT has one value (4) in both arms: nothing to compare"],
    }),
    "repeat purchase all false": (_no_repeat, ["03", "04"], {
        "03": ["no customer bought again"],
        "04": ["Comparison of repeat purchase: skipped.** No customer bought again", "Power skipped:"],
    }),
    "three CSAT answers": (_few_answers, ["02", "03", "04"], {
        "02": ["only 3 answered surveys for a model with"],
        "03": ["only 3 answered surveys for a model with"],
        "04": ["Comparison of CSAT: skipped"],
    }),
    "twelve tickets": (_few_rows, ["02", "03", "04"], {
        "03": ["too few for a logit with"],
    }),
    "variant mostly empty": (_variant_mostly_empty, ["04"], {
        "04": ["a comparison needs at least two in each arm"],
    }),
}


def _outputs(notebook) -> str:
    text = []
    for cell in json.loads(notebook.read_text())["cells"]:
        for output in cell.get("outputs", []):
            assert output.get("output_type") != "error", f"{notebook.name}: {output.get('ename')}: {output.get('evalue')}"
            data = output.get("data", {})
            for kind in ("text/markdown", "text/plain"):
                value = data.get(kind)
                if value:
                    value = "".join(value) if isinstance(value, list) else value
                    # Markdown as a reader sees it: data text is backslash-escaped (study.core.words.text).
                    text.append(re.sub(r"\\(.)", r"\1", value) if kind == "text/markdown" else value)
            if output.get("output_type") == "stream":
                text.append("".join(output["text"]))
    return "\n".join(text)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every case run once (the notebooks are the slow part)."""
    out = {}

    def run(case):
        if case not in out:
            broken, only, _ = CASES[case]
            folder = tmp_path_factory.mktemp(re.sub(r"\W", "_", case))
            data = folder / "tickets.parquet"
            broken(_tickets()).to_parquet(data)
            params = {name: value for prefix in only for name, value in FAST.get(prefix, {}).items()}
            run_study(data, folder / "out", only=only, params=params, progress=lambda line: None)
            out[case] = folder / "out"
        return out[case]

    return run


@pytest.mark.parametrize("case", list(CASES))
def test_degenerate_data_skips_sections_with_their_reason(runs, case):
    report = runs(case)
    _, only, expected = CASES[case]
    facts = json.loads((report / "run.json").read_text())
    statuses = {a["name"][:2]: a["status"] for a in facts["analyses"]}
    assert statuses == {prefix: "ok" for prefix in only}, statuses
    for prefix in only:
        notebook = next((report / "notebooks").glob(f"{prefix}_*.ipynb"))
        text = _outputs(notebook)
        assert not ZERO_FINDING.search(text), ZERO_FINDING.search(text).group(0)
        for phrase in expected.get(prefix, []):
            assert phrase.lower() in text.lower(), (prefix, phrase)
    for sentence in facts["summary"]["sentences"]:
        assert not ZERO_FINDING.search(sentence["text"].replace("percentage points", "pp")), sentence["text"]


def test_rows_without_a_response_time_are_counted_in_every_ledger(runs):
    report = runs("missing response time")
    results = {p.stem[:2]: json.loads(p.read_text()) for p in (report / "results").glob("*.json")}
    assert results["02"]["rows"]["dropped"]["no first response time"] > 0
    for model, rows in results["03"]["rows"].items():
        assert rows["dropped"]["no first response time"] > 0, model
        assert rows["in"] == rows["used"] + sum(rows["dropped"].values())
    assert any("no first response time" in note for note in results["04"]["notes"])


def test_skipped_sections_are_in_the_results_notes_and_the_summary(runs):
    report = runs("repeat purchase all false")
    notes = json.loads((report / "results" / "03_repeat_purchase.json").read_text())["notes"]
    assert any(n.startswith("logit without CSAT: skipped, no customer bought again") for n in notes)
    sentences = json.loads((report / "run.json").read_text())["summary"]["sentences"]
    skipped = [s for s in sentences if s["kind"] == "skipped"]
    assert any("repeat purchase" in s["text"] and "no customer bought again" in s["text"].lower() for s in skipped)
    assert all(not s["estimates"] for s in skipped)


# --- the checks themselves ----------------------------------------------------------------------

def test_constant_outcome_reason_names_the_value():
    rows = pd.DataFrame({"csat": pd.array([4, 4, pd.NA], dtype="Int64")})
    assert degenerate.constant(rows, "csat") == "CSAT has one value (4) in the rows analysed: nothing to explain"
    assert degenerate.constant(pd.DataFrame({"csat": [3, 4]}), "csat") is None


@pytest.mark.parametrize("values, expected", [
    ([False, False], "no customer bought again"), ([True, True], "every customer bought again"), ([True, False], None),
])
def test_repeat_purchase_without_variation(values, expected):
    reason = degenerate.bought_again(pd.DataFrame({"repeat_purchase": values}))
    assert reason is None if expected is None else reason.startswith(expected)


def test_one_customer_cannot_cluster():
    rows = pd.DataFrame({"customer_id": ["C1", "C1"]})
    assert degenerate.too_few_clusters(rows) == "one customer: standard errors clustered by customer need at least two"
    assert degenerate.too_few_clusters(pd.DataFrame({"customer_id": ["C1", "C2"]})) is None


def test_too_few_rows_and_arms():
    rows = pd.DataFrame({"x": range(3), "c": list("abc")})
    assert degenerate.parameters(rows, ["x"], ["c"]) == 4
    assert degenerate.too_few_rows(rows, 4, "answered surveys") == "only 3 answered surveys for a model with 4 coefficients"
    assert degenerate.arms({"control": 3, "treatment": 0}).endswith("a comparison needs at least two in each arm")
    assert degenerate.arms({"control": 2, "treatment": 2}) is None
