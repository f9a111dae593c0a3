"""Column maps: another team's export read as the contract gives the same numbers."""

import subprocess
import sys

import pandas as pd
import pytest

from study import config
from study.ab import sla
from study.data import column_map, examples, simulate
from study.data.dataset import from_frame, load_tickets
from study.data.schema import DataError
from study.regression import models

EXPORT = config.DATA / "examples" / "tickets_export.csv"
MAP = config.DATA / "examples" / "tickets_columns.yml"


def test_committed_export_is_the_simulated_sample_seen_by_another_team():
    committed = pd.read_csv(EXPORT)
    expected = examples.export_like(simulate.simulate(rows=3_000, seed=7).tickets)
    pd.testing.assert_frame_equal(committed, expected.astype(committed.dtypes.to_dict()), check_dtype=False)


def test_renamed_recoded_and_trimmed_export_gives_the_same_estimates():
    original = from_frame(simulate.simulate(rows=3_000, seed=7).tickets)
    mapped = load_tickets(EXPORT, columns=MAP)
    for fit in (models.satisfaction_drivers, models.repeat_purchase):
        for ours, theirs in zip(fit(original).estimates, fit(mapped).estimates):
            assert (ours.name, ours.n) == (theirs.name, theirs.n)
            assert theirs.value == pytest.approx(ours.value, abs=1e-12) and theirs.se == pytest.approx(ours.se, abs=1e-12)
    arms = [next(e for e in sla.sla_experiment(d).effects if e.metric == "csat") for d in (original, mapped)]
    assert arms[0].estimate == pytest.approx(arms[1].estimate, abs=1e-12) and arms[0].se == pytest.approx(arms[1].se, abs=1e-12)


def _map(tmp_path, text):
    path = tmp_path / "map.yml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, message", [
    ("tickets: {columns: {satisfaction: csat_score}}", "not contract columns: 'satisfaction'"),
    ("tickets: {columns: {ticket_id: id}, derive: {ticket_id: \"'x'\"}}", "'ticket_id' is made by both derive and columns"),
    ("tickets: {csat_scale: 7-1}", "csat_scale '7-1' is not a scale low-high"),
    ("tickets: {durations: {first_response_minutes: {from: a}}}", "needs 'from' and 'to'"),
    ("tickets: [1, 2]", "must be a mapping"),
])
def test_a_broken_ticket_map_is_refused_with_its_reason(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        column_map.read_ticket_map(_map(tmp_path, text))


def test_csat_off_its_declared_scale_is_named_with_rows():
    frame = pd.DataFrame({"score": [10, 11, 0, 7]})
    mapping = column_map.TicketMap(columns={"csat": "score"}, csat_scale="1-10")
    with pytest.raises(DataError, match=r"'csat' has 2 values outside the declared 1-10 scale \(e.g. 11, 0\) in rows 2, 3"):
        column_map.apply(frame, mapping)


def test_csat_scales_are_binned_as_documented():
    for scale, answers, expected in [("1-10", [1, 2, 3, 9, 10], [1, 1, 2, 5, 5]), ("0-100", [0, 19, 20, 79, 80, 100], [1, 1, 2, 4, 5, 5])]:
        out = column_map.apply(pd.DataFrame({"csat": answers}), column_map.TicketMap(csat_scale=scale))
        assert out["csat"].tolist() == expected


def test_a_reply_before_the_ticket_was_opened_is_refused():
    frame = pd.DataFrame({"opened": ["2026-01-01 10:00", "2026-01-01 10:00"], "reply": ["2026-01-01 10:30", "2026-01-01 09:00"]})
    mapping = column_map.TicketMap(durations={"first_response_minutes": ("opened", "reply")})
    with pytest.raises(DataError, match=r"'reply' has 1 value that is before 'opened'.* in row 2"):
        column_map.apply(frame, mapping)
    good = column_map.apply(frame.iloc[:1], mapping)
    assert good["first_response_minutes"].tolist() == [30.0]


def test_validate_and_run_read_the_export_through_its_map(tmp_path):
    command = [sys.executable, "-m", "study.cli"]
    validated = subprocess.run([*command, "validate", "--data", str(EXPORT), "--columns", str(MAP)], capture_output=True, text=True)
    assert validated.returncode == 0 and "meets the data contract" in validated.stdout
    unmapped = subprocess.run([*command, "validate", "--data", str(EXPORT)], capture_output=True, text=True)
    assert unmapped.returncode == 2 and "missing required column 'ticket_id'" in unmapped.stderr
    run = subprocess.run([*command, "run", "--data", str(EXPORT), "--columns", str(MAP), "--only", "01",
                          "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "tickets_columns.yml" in (tmp_path / "out" / "index.html").read_text()


@pytest.mark.parametrize("text, message", [
    ("tickets: {colums: {csat: score}}", r"unknown key 'colums' in the tickets section \(did you mean 'columns'\?\)"),
    ("Tickets: {}", r"unknown key 'Tickets' in the column map \(its sections\) \(did you mean 'tickets'\?\)"),
    ("tickets: {columns: {csat: [a, b]}}", "must be a single name"),
    ("tickets: {missing_values: [null]}", "is empty; quote it"),
    ("tickets: {columns: {satisfacton: score}}", r"did you mean 'satisfaction'|not contract columns: 'satisfacton'"),
])
def test_unknown_keys_and_odd_values_are_refused(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        column_map.read_ticket_map(_map(tmp_path, text))


def test_an_alias_bomb_is_refused_quickly_with_a_short_message(tmp_path):
    lines = ["a0: &a0 [" + ", ".join(["x"] * 10) + "]"] + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    with pytest.raises(DataError) as error:
        column_map.read_ticket_map(_map(tmp_path, "tickets:\n  values:\n" + "\n".join("    " + line for line in lines)))
    assert "expands to more than 100,000 values" in str(error.value) and len(str(error.value)) < 200


def test_a_permutation_of_names_is_a_rename():
    frame = pd.DataFrame({"ticket_id": ["C1", "C2"], "customer_id": ["T1", "T2"], "agent_id": ["x", "y"]})
    mapping = column_map.TicketMap(columns={"ticket_id": "customer_id", "customer_id": "agent_id", "agent_id": "ticket_id"})
    out = column_map.apply(frame, mapping)
    assert out[["ticket_id", "customer_id", "agent_id"]].values.tolist() == [["T1", "x", "C1"], ["T2", "y", "C2"]]


def test_declared_missing_codes_are_blanked_and_the_frame_is_left_as_it_was():
    frame = pd.DataFrame({"csat": ["NA", "4", " n/a"], "pre_spend": [-99, 10, 20]})
    out = column_map.apply(frame, column_map.TicketMap(missing_values=("NA", "n/a", "-99")))
    assert out["csat"].isna().tolist() == [True, False, True] and out["pre_spend"].isna().tolist() == [True, False, False]
    assert frame["csat"].tolist() == ["NA", "4", " n/a"]


def test_an_unreadable_duration_timestamp_is_named():
    frame = pd.DataFrame({"opened": ["2026-01-01 10:00", "yesterday"], "reply": ["2026-01-01 10:30", "2026-01-01 11:00"]})
    with pytest.raises(DataError, match=r"'opened' has 1 value that is not a date/time \(e.g. 'yesterday'\) in row 2 \(timestamps of first_response_minutes\)"):
        column_map.apply(frame, column_map.TicketMap(durations={"first_response_minutes": ("opened", "reply")}))


def test_unquoted_yes_and_no_still_recode_flags(tmp_path):
    mapping = column_map.read_ticket_map(_map(tmp_path, "tickets: {values: {resolved: {Solved: yes, Open: no}}}"))
    assert mapping.values == {"resolved": {"Solved": "true", "Open": "false"}}
    with pytest.raises(DataError, match="list it under missing_values"):
        column_map.read_ticket_map(_map(tmp_path, "tickets: {values: {csat: {'-': null}}}"))
