"""``results.csv``: every estimate of a run's results files, read back with pandas exactly as the JSON holds it."""

from __future__ import annotations

import json
import math
import shutil

import pandas as pd
import pytest

import study
from study.data import simulate
from study.report.results_csv import COLUMNS, unescape, write_results_csv

HOSTILE = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "  =1", "'quoted",
           "<script>alert(1)</script>", "arm, with \"quotes\"\nand a line break", "b\r=cmd|' /C calc'!A0"]


def read(path):
    """The CSV as a reader loads it: empty cells are missing, text like 'NA' stays text."""
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """The results files of 01 and 04 on 3,000 simulated tickets, plus one whose labels come from hostile data."""
    root = tmp_path_factory.mktemp("results_csv")
    data, _ = simulate.write(simulate.simulate(rows=3_000, seed=5), root / "tickets.parquet")
    folder = root / "results"
    study.save(study.overview(study.load(data, needed=[])), folder)
    study.save(study.sla_experiment(study.load(data, needed=study.SLA_COLUMNS)), folder)
    hostile = {"analysis": "99_hostile", "data": {"file": "=evil.csv", "fingerprint": "0123456789abcdef", "rows": 3},
               "estimates": [{"name": f"e{i}", "label": label, "value": -0.15 * (i + 1), "se": None, "ci_low": -1.5e-9,
                              "ci_high": 2.0, "p_value": 1e-300, "n": 3, "method": "-m", "ci_level": 0.95,
                              "extra": {"arm": label, "counts": [1, 2]}} for i, label in enumerate(HOSTILE)]}
    (folder / "99_hostile.json").write_text(json.dumps(hostile), encoding="utf-8")
    return folder


def test_every_field_of_every_estimate_reads_back_as_the_json_holds_it(results, tmp_path):
    table = read(write_results_csv(results, tmp_path / "results.csv"))
    assert list(table.columns) == list(COLUMNS)
    expected = []
    for path in sorted(results.glob("*.json")):
        payload = json.loads(path.read_text())
        expected += [(payload, e) for e in payload["estimates"]]
    assert len(table) == len(expected) > 30
    for (payload, estimate), (_, row) in zip(expected, table.iterrows()):
        assert unescape(row["data_file"]) == payload["data"]["file"]
        assert row["data_fingerprint"] == payload["data"]["fingerprint"] and row["analysis"] == payload["analysis"]
        for field in ("name", "label", "method", "model"):
            cell = row[field]
            assert (unescape(cell) if isinstance(cell, str) else "") == estimate.get(field, ""), field
        for field in ("value", "se", "ci_low", "ci_high", "ci_level", "p_value", "n"):
            held = estimate.get(field)
            assert (math.isnan(row[field]) if held is None else row[field] == held), (estimate["name"], field)
        extra = row["extra"]
        assert (json.loads(extra) if isinstance(extra, str) else {}) == estimate.get("extra", {})
    for field in ("value", "se", "ci_low", "ci_high", "ci_level", "p_value", "n"):
        assert pd.api.types.is_numeric_dtype(table[field]), field  # negative numbers stay numbers


def test_text_from_the_data_cannot_become_a_formula(results, tmp_path):
    path = write_results_csv(results, tmp_path / "results.csv")
    table = read(path)
    hostile = table[table["analysis"] == "99_hostile"]
    for label, cell in zip(HOSTILE, hostile["label"]):
        starts_formula = label.lstrip(" ")[:1] in ("=", "+", "-", "@", "\t", "'")
        assert cell == ("'" + label if starts_formula else label)
        assert unescape(cell) == label
    assert set(hostile["method"]) == {"'-m"} and set(hostile["data_file"]) == {"'=evil.csv"}
    assert (hostile["value"] < 0).all() and hostile["value"].iloc[0] == -0.15  # numbers are never prefixed
    raw = path.read_text(encoding="utf-8-sig")
    # a carriage return inside a cell is quoted: it never ends a row early, so no cell starts with a formula
    assert len(hostile) == len(HOSTILE)
    assert not any(str(cell).startswith("=") for cell in table.select_dtypes(["object", "str"]).to_numpy().ravel())
    assert '\n\'=evil.csv,0123456789abcdef,99_hostile,e0,"\'=HYPERLINK(""http://evil.example"",""x"")",-0.15,,-1.5e-09,' in raw


def test_the_same_results_give_the_same_bytes(results, tmp_path):
    first = write_results_csv(results, tmp_path / "one.csv").read_bytes()
    copy = tmp_path / "copy"
    for path in sorted(results.glob("*.json"), reverse=True):  # written in another order, at another time
        copy.mkdir(exist_ok=True)
        shutil.copy(path, copy / path.name)
    assert write_results_csv(copy, tmp_path / "two.csv").read_bytes() == first
    assert first.startswith("\ufeff".encode()) and first.endswith(b"\r\n")  # RFC 4180 line ends


def test_an_unreadable_results_file_is_named(results, tmp_path):
    broken = shutil.copytree(results, tmp_path / "broken")
    (broken / "04_ab_test.json").write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match=r"^04_ab_test\.json: not readable JSON"):
        write_results_csv(broken, tmp_path / "results.csv")
    assert not (tmp_path / "results.csv").exists()
