"""``study map`` drafts a column map; ``study validate`` says what runs, what is unused and what was meant."""

import re
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from study import analyses, cli, config
from study.data import schema

EXPORT = config.DATA / "examples" / "tickets_export.csv"


@pytest.fixture
def export(tmp_path, monkeypatch):
    """A copy of the example export in an empty working folder."""
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(EXPORT, tmp_path / EXPORT.name)
    return EXPORT.name


def run(capsys, *arguments: str) -> tuple[int, str, str]:
    status = cli.main(list(arguments))
    out, err = capsys.readouterr()
    return status, out, err


def test_map_prints_a_map_that_parses_and_writes_nothing(export, tmp_path, capsys):
    status, out, err = run(capsys, "map", "--data", export)
    assert status == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [export]
    # The column list and the analyses are printed as comments: `study map ... > map.yml` is a map.
    parsed = yaml.safe_load(out)
    assert parsed["tickets"]["columns"]["ticket_id"] == "case_number"
    assert "# case_number            id       T0002089, T0001205, T0000231          ticket_id (by name)" in out
    assert "#   02_satisfaction_drivers: runs" in out


def test_map_writes_with_out_and_the_map_validates_the_export(export, tmp_path, capsys):
    status, out, err = run(capsys, "map", "--data", export, "--out", "map.yml")
    assert status == 0, err
    assert out.strip().splitlines()[-1] == f"study: wrote map.yml; edit it, then: study validate --data {export} --columns map.yml"
    assert "tickets:" not in out  # the map went to the file, not to the screen
    written = yaml.safe_load((tmp_path / "map.yml").read_text())
    assert written["tickets"]["durations"] == {"first_response_minutes": {"from": "opened_at", "to": "first_reply_at"}}
    status, out, err = run(capsys, "validate", "--data", export, "--columns", "map.yml")
    assert status == 0, err
    assert "meets the data contract" in out and "unused columns: none" in out


def test_map_never_overwrites_a_file(export, tmp_path, capsys):
    (tmp_path / "map.yml").write_text("mine\n")
    status, out, err = run(capsys, "map", "--data", export, "--out", "map.yml")
    assert status == 2 and out == ""
    assert err == "study: error: map.yml exists; choose another name or delete it\n"
    assert (tmp_path / "map.yml").read_text() == "mine\n"


def test_map_reads_a_duckdb_table(tmp_path, monkeypatch, capsys):
    duckdb = pytest.importorskip("duckdb")
    monkeypatch.chdir(tmp_path)
    with duckdb.connect("cases.duckdb") as con:
        con.execute("create table cases as select 'K' || i as case_id, 1 + i % 5 as rating from range(20) t(i)")
    status, out, err = run(capsys, "map", "--data", "cases.duckdb", "--table", "cases")
    assert status == 0, err
    assert yaml.safe_load(out)["tickets"]["columns"] == {"ticket_id": "case_id", "csat": "rating"}


def test_validate_without_a_map_lists_the_file_and_what_it_meant(export, capsys):
    status, out, err = run(capsys, "validate", "--data", export)
    assert status == 2 and err.startswith("study: error: ") and len(err.strip().splitlines()) == 1
    assert "ticket_id (required): did you mean 'case_number'?" in out
    assert "first_response_minutes" in out and "did you mean 'first_reply_at'? (a timestamp: a duration from 'opened_at')" in out
    assert "csat" in out and "did you mean 'satisfaction_1_10'? (answers on 1-10)" in out
    assert "the file's columns: case_number (id), account_id (id), agent (id), opened_at (time)," in out
    assert f"draft a column map: study map --data {export} --out map.yml" in out
    unused = next(line for line in out.splitlines() if line.startswith("unused columns: "))
    assert unused == ("unused columns: case_number, account_id, agent, opened_at, sla_group, status, "
                      "satisfaction_1_10, bought_again, first_reply_at")


def test_validate_says_which_analysis_runs_and_which_is_skipped(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    tickets = pd.read_parquet(config.SAMPLE_DATA).head(300).drop(columns=["repeat_purchase", "variant"])
    tickets["note_text"] = "x"
    tickets.to_csv("t.csv", index=False)
    status, out, err = run(capsys, "validate", "--data", "t.csv")
    assert "unused columns: note_text" in out
    lines = dict(line.strip().split(": ", 1) for line in out.split("analyses:\n")[1].splitlines() if re.match(r"  \d\d_", line))
    for analysis in analyses.ANALYSES:
        if analysis.kind != "tickets":
            continue
        missing = [c for c in analysis.needs if c in ("repeat_purchase", "variant", "adopted_at")]
        assert lines[analysis.name] == (f"skipped: needs {', '.join(missing)}" if missing else "runs")
    # Missing a column only some analyses need is not a reason to refuse the file, unless the contract requires it.
    assert status == (2 if "repeat_purchase" in schema.REQUIRED else 0), err


def test_a_0_to_10_csat_points_to_the_scale_declaration(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    tickets = pd.read_parquet(config.SAMPLE_DATA).head(200)
    answers = np.arange(200) % 11
    tickets["csat"] = answers
    tickets.to_csv("t.csv", index=False)
    off = int(((answers < 1) | (answers > 5)).sum())
    status, out, err = run(capsys, "validate", "--data", "t.csv")
    hint = (f"csat has values 0-10 ({off} of 200 answers outside 1-5); "
            "if that is its scale, declare csat_scale: 0-10 in the column map")
    assert hint in out
    assert status == 0 or hint in err  # a refusal names the fix on its one line too


def test_hours_and_day_first_dates_are_pointed_out(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    tickets = pd.read_parquet(config.SAMPLE_DATA).head(200)
    tickets["first_response_minutes"] = (tickets["first_response_minutes"] / 60).round(2)  # hours under the minutes name
    tickets["created_at"] = tickets["created_at"].dt.strftime("%d/%m/%Y %H:%M")
    tickets.to_csv("t.csv", index=False)
    _, out, _ = run(capsys, "validate", "--data", "t.csv")
    assert "first_response_minutes looks like hours" in out and "declare units: {first_response_minutes: hours}" in out
    assert 'declare date_formats: {created_at: "%d/%m/%Y %H:%M"}' in out


def test_unused_columns_are_those_no_contract_name_or_map_entry_mentions():
    from study.report.validate_advice import unused_columns

    sections = {"tickets": {"columns": {"ticket_id": "case"}, "derive": {"delay_days": "days(arrived - `promised at`)"},
                            "durations": {"first_response_minutes": {"from": "opened", "to": "replied"}}},
                "drivers": {"outcome": "csat", "driver": "delay_days", "controls": ["region"]}}
    columns = ["case", "arrived", "promised at", "opened", "replied", "region", "csat", "agent_notes", "promised"]
    assert unused_columns(columns, sections) == ["agent_notes", "promised"]


def test_an_experiment_table_with_its_map_is_validated_as_study_run_reads_it(capsys):
    examples = config.DATA / "examples"
    status, out, err = run(capsys, "validate", "--data", str(examples / "experiment.csv.gz"),
                           "--columns", str(examples / "experiment_columns.yml"))
    assert status == 0, err
    for analysis in analyses.ANALYSES:
        expected = "runs" if analysis.kind == "experiment" else "skipped: not a ticket table"
        assert f"  {analysis.name}: {expected}" in out


def test_arms_under_other_names_skip_the_ab_test_with_the_fix(export, tmp_path, capsys):
    known = (config.DATA / "examples" / "tickets_columns.yml").read_text()
    (tmp_path / "map.yml").write_text(known.replace("    variant: {A: control, B: treatment}\n", ""))
    status, out, err = run(capsys, "validate", "--data", export, "--columns", "map.yml")
    assert status == 0, err
    assert "  04_ab_test: skipped: variant has no control or treatment rows; map the arm names under values" in out


def test_a_placeholder_column_is_named_for_the_analyses_that_need_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    tickets = pd.read_parquet(config.SAMPLE_DATA).head(300)
    tickets["repeat_purchase"] = False  # a column filled in to get past the contract
    tickets.to_csv("t.csv", index=False)
    status, out, err = run(capsys, "validate", "--data", "t.csv")
    assert status == 0, err
    lines = [line for line in out.splitlines() if re.match(r"  \d\d_", line)]
    for analysis in analyses.ANALYSES:
        line = next(line for line in lines if line.startswith(f"  {analysis.name}: "))
        if "repeat_purchase" in analysis.needs:
            assert line.endswith(": runs (repeat_purchase has one value (False) in every row: the sections that "
                                 "need it are skipped)"), line
        elif analysis.name == analyses.ROLLOUT:  # the sample has no go-live times
            assert line.endswith(": skipped: needs adopted_at"), line
        elif analysis.kind == "tickets":
            assert line.endswith(": runs")
