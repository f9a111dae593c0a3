import re

import pandas as pd
import pytest

from study import analyses, config
from study.data import readiness, schema
from study.data.schema import DataError


def _tickets(**overrides):
    """Four hand-made rows (what the tests look at) and eight plain ones, to clear the minimum."""
    columns = {
        "ticket_id": ["T1", "T2", "T3", "T4"] + [f"T{i}" for i in range(5, 13)],
        "customer_id": ["C1", "C1", "C2", "C3"] + ["C9"] * 8,
        "created_at": ["2026-01-01 10:00", "2026-01-02", "2026-01-03", "2026-01-04"] + ["2026-01-05"] * 8,
        "first_response_minutes": [5, 60.5, 300, 0] + [10] * 8,
        "resolved": ["yes", "no", "Y", "0"] + ["yes"] * 8,
        "csat": [5, None, 1, 3] + [4] * 8,
        "repeat_purchase": [True, False, True, False] + [True] * 8,
    }
    for column, values in overrides.items():
        columns[column] = list(values) + list(columns.get(column, [values[-1]] * 12)[len(values):])
    return pd.DataFrame(columns)


def test_valid_data_gets_contract_types():
    out = schema.validate(_tickets())
    assert out["resolved"].tolist()[:4] == [True, False, True, False]
    assert str(out["csat"].dtype) == "Int64" and out["csat"].isna().sum() == 1
    assert pd.api.types.is_datetime64_any_dtype(out["created_at"])


def test_missing_required_column_is_named():
    with pytest.raises(DataError, match=r"tickets.csv: missing required column 'ticket_id'"):
        schema.validate(_tickets().drop(columns="ticket_id"), source="tickets.csv")


def test_only_the_ticket_id_is_required_of_every_file():
    """Each analysis needs its own columns (and is skipped without them); the file needs only an id."""
    assert schema.REQUIRED == ["ticket_id"]
    out = schema.validate(_tickets().drop(columns=["csat", "repeat_purchase", "customer_id", "created_at"]))
    assert "csat" not in out.columns and len(out) == len(_tickets())
    for analysis in analyses.ANALYSES:
        for column in analysis.needs:
            assert column in schema.BY_NAME, (analysis.name, column)


def test_out_of_range_values_are_counted_with_rows():
    with pytest.raises(DataError) as error:
        schema.validate(_tickets(csat=[0, 7, 3, 7]))
    message = str(error.value)
    assert "column 'csat' has 3 values outside 1-5" in message
    assert "0, 7" in message and "rows 1, 2, 4" in message


def test_fractional_csat_is_refused():
    with pytest.raises(DataError, match=r"'csat' has 1 value that is not a whole number .*3\.5"):
        schema.validate(_tickets(csat=[5, 3.5, 1, 3]))


def test_negative_response_time_is_refused():
    with pytest.raises(DataError, match=r"'first_response_minutes' has 1 value outside 0-525600 \(e.g. -3\) in row 2"):
        schema.validate(_tickets(first_response_minutes=[1, -3, 2, 2]))


def test_unreadable_flag_names_the_value():
    with pytest.raises(DataError, match=r"'resolved' has 1 value that is not yes/no .*'maybe'"):
        schema.validate(_tickets(resolved=["yes", "maybe", "no", "no"]))


def test_duplicate_ticket_ids_are_refused():
    with pytest.raises(DataError, match=r"'ticket_id' has 2 values that are repeated"):
        schema.validate(_tickets(ticket_id=["T1", "T1", "T3", "T4"]))


def test_text_in_a_number_column_is_refused():
    with pytest.raises(DataError, match=r"'first_response_minutes' has 1 value that is not a number .*'fast'"):
        schema.validate(_tickets(first_response_minutes=["1", "fast", "2", "3"]))


def test_empty_table_is_refused():
    with pytest.raises(DataError, match="no rows"):
        schema.validate(_tickets().iloc[0:0])


def test_too_few_rows_are_refused():
    with pytest.raises(DataError, match="only 3 rows; at least 10"):
        schema.validate(_tickets().iloc[0:3])


def test_unknown_columns_are_kept():
    assert "note" in schema.validate(_tickets(note=["a", "b", "c", "d"])).columns


def test_analyses_only_need_contract_columns():
    for analysis in analyses.ANALYSES:
        assert set(analysis.needs) <= set(schema.BY_NAME), analysis.name


def test_missing_for_lists_absent_columns():
    ab = next(a for a in analyses.ANALYSES if a.name == "04_ab_test")
    assert analyses.missing_for(ab, ["ticket_id", "customer_id", "csat", "repeat_purchase"]) == ["variant"]
    assert analyses.missing_for(ab, ["ticket_id"]) == ["variant", "customer_id", "csat", "repeat_purchase"]
    assert analyses.needed_by("variant") == ["04_ab_test"]


def test_data_dictionary_documents_every_contract_column():
    dictionary = (config.DATA / "README.md").read_text()
    for column in schema.COLUMNS:
        assert f"`{column.name}`" in dictionary, column.name


def test_times_with_a_zone_become_naive_utc_with_a_note():
    out, notes = schema.conform(_tickets(created_at=["2026-01-01T10:00:00+02:00", "2026-01-02T00:30:00-01:00"] + ["2026-01-05T00:00:00Z"] * 10))
    assert out["created_at"].tolist()[:2] == [pd.Timestamp("2026-01-01 08:00"), pd.Timestamp("2026-01-02 01:30")]
    assert notes == {"created_at": "time zones converted to UTC"}
    report = schema.validation_report(_tickets(created_at=["2026-01-01T10:00:00Z"] * 12))[0]
    assert report.loc["created_at", "note"] == "time zones converted to UTC" and report.loc["created_at", "problem"] == ""


def test_unix_seconds_are_read_and_small_numbers_refused():
    out, notes = schema.conform(_tickets(created_at=[1767261600] * 12))
    assert out["created_at"][0] == pd.Timestamp("2026-01-01 10:00") and notes["created_at"] == "read as Unix epoch seconds (UTC)"
    with pytest.raises(DataError, match=r"'created_at' has 3 values that are numbers but not Unix times .* \(e.g. 1, 2, 3\)"):
        schema.validate(_tickets(created_at=[1, 2, 3] + [1767261600] * 9))


@pytest.mark.parametrize("column, value, words", [
    ("pre_spend", float("inf"), "not a finite number"),
    ("pre_spend", "-inf", "not a finite number"),
    ("tenure_days", 1e308, "implausibly large (above 1e12)"),
    ("prior_orders", 1e300, "implausibly large (above 1e12)"),
    ("first_response_minutes", 1e308, "outside 0-525600"),
])
def test_numbers_must_be_finite_and_plausible(column, value, words):
    with pytest.raises(DataError, match=re.escape(f"'{column}' has 1 value ") + "(that is )?" + re.escape(words)):
        schema.validate(_tickets(**{column: [value] + [1] * 11}))


def test_a_missing_code_gets_a_hint():
    with pytest.raises(DataError, match=r"not a number \(e.g. 'NA'\) in row 2 \(declare missing codes in a column map: missing_values: \[NA\]\)"):
        schema.validate(_tickets(csat=[5, "NA", 1, 3]))


def test_repeated_ticket_ids_name_the_map_when_it_renamed_them():
    with pytest.raises(DataError, match="the column map takes ticket_id from 'customer_id' — is it swapped with customer_id"):
        schema.validate(_tickets(ticket_id=["T1", "T1", "T3", "T4"]), mapped_from={"ticket_id": "customer_id"})


def test_a_notebook_run_by_hand_stops_with_the_runners_reason():
    from study.data.dataset import from_frame

    frame = _tickets().drop(columns=["resolved"]).assign(repeat_purchase=False)
    data = from_frame(frame, name="partial.csv")
    readiness.require(data, "01")  # the overview needs only the ids
    with pytest.raises(DataError, match=r"^Repeat purchase cannot run on partial.csv: data has no resolved$"):
        readiness.require(data, "03")
    assert readiness.only_value(pd.Series([None, 2.0, 2.0])) == "2.0"
    assert readiness.only_value(pd.Series([None, None])) is None and readiness.only_value(pd.Series([1, 2])) is None


def test_a_column_left_unread_and_entirely_empty_is_missing_to_require(tmp_path):
    # Notebooks that leave the copy to the engine read none of its columns; an empty arm column must still stop 04.
    import study

    from study.data.dataset import from_frame, write_prepared

    tickets = study.load(config.SAMPLE_DATA).tickets.head(400).assign(variant=None)
    path = write_prepared(from_frame(tickets, name="tickets.parquet"), tmp_path / "tickets.parquet")
    data = study.load(str(path), needed=[])
    assert "variant" not in data.tickets.columns and data.missing["variant"] == 1
    with pytest.raises(DataError, match=r"^The faster-response SLA experiment cannot run on tickets.parquet: data has no variant$"):
        readiness.require(data, "04")
    readiness.require(data, "01")


def test_csat_on_another_scale_is_refused_with_the_declaration_that_reads_it():
    with pytest.raises(DataError, match=r"outside 1-5 .*; csat has values 0-10 .*declare csat_scale: 0-10 in the column map$"):
        schema.validate(_tickets(csat=[0, 10, 7, 9, 6, 8, 10, 3]))
