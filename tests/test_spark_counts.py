"""The validation's counts of `study run`'s preparation on Spark (local[2]) equal DuckDB's, on messy typed files.

Skipped, with the reason, where Spark cannot run (no pyspark, no Java 17+).
"""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from study import config
from study.data import schema, streamed
from study.engine import spark_missing
from study.report import prepare

pytestmark = pytest.mark.skipif(spark_missing() is not None, reason=f"Spark cannot run here: {spark_missing()}")


@pytest.fixture(scope="module")
def spark():
    from study.engine.spark import spark_session

    return spark_session("local[2]")


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """A 3,000-ticket slice of the embedded sample, as its file stores it."""
    return pq.read_table(config.SAMPLE_DATA).slice(0, 3_000).to_pandas()


def _messy(frame: pd.DataFrame) -> pd.DataFrame:
    """Every problem the checks count, at once: gaps, repeated and empty ids (also once stripped of wide spaces),
    fractional, out-of-range, negative, infinite and implausibly large numbers, NaN stored as a value, a future time."""
    f = frame.copy()
    f["ticket_id"] = f["ticket_id"].where(f.index % 97 != 4, f["ticket_id"].shift(1) + " ")
    f["ticket_id"] = f["ticket_id"].where(f.index % 89 != 5, "\u3000" + f["ticket_id"].shift(2).fillna("x"))
    f["ticket_id"] = f["ticket_id"].where(f.index % 83 != 6, None)
    f["ticket_id"] = f["ticket_id"].where(f.index % 79 != 7, f["ticket_id"].shift(3))  # exact repeats
    f["csat"] = f["csat"].astype(float).where(f.index % 31 != 1, 3.5).where(f.index % 37 != 2, 7.0)
    f["csat"] = f["csat"].where(f.index % 41 != 3, None)
    f["first_response_minutes"] = f["first_response_minutes"].where(f.index % 43 != 1, -4.0).where(f.index % 47 != 2, None)
    f["order_value"] = f["order_value"].where(f.index % 53 != 1, np.inf).where(f.index % 59 != 2, -np.inf)
    f["pre_spend"] = f["pre_spend"].where(f.index % 61 != 1, 5e13)
    f["resolved"] = f["resolved"].astype("boolean").where(f.index % 17 > 0, None)
    f["created_at"] = f["created_at"].where(f.index != 1, pd.Timestamp("2100-01-01"))
    return f


def _write_with_nan(frame: pd.DataFrame, path) -> None:
    """``frame`` as Parquet with some order values a stored NaN (not a gap), which pandas would write as gaps."""
    values = frame["order_value"].to_numpy(dtype=float, copy=True)
    values[3::101] = np.nan
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.set_column(table.schema.get_field_index("order_value"), "order_value", pa.array(values, from_pandas=False))
    pq.write_table(table, path)


def _on_both(path, spark):
    from study.engine.spark import SparkSource

    return streamed.counting_source(path), SparkSource(path, spark)


@pytest.mark.parametrize("which", ["messy", "clean"])
def test_the_checks_count_the_same_on_spark(frame, spark, tmp_path, which):
    path = tmp_path / "tickets.parquet"
    if which == "messy":
        _write_with_nan(_messy(frame), path)
    else:
        frame.to_parquet(path, index=False)
    kinds = streamed.column_kinds(path)
    duck, on_spark = _on_both(path, spark)
    expected = streamed.clean_counts(path, kinds, duck)
    found = streamed.clean_counts(path, kinds, on_spark)
    assert found == expected
    assert expected["clean"] == (which == "clean")
    if which == "messy":  # the file has what is counted
        for check in ("csat|bad", "first_response_minutes|bad", "order_value|bad", "order_value|nan", "pre_spend|bad"):
            assert expected[check] > 0, check
        assert expected["ticket_id|distinct"] < expected["ticket_id|values"] < expected["rows"]
    assert streamed.present_columns(on_spark) == streamed.present_columns(duck)
    assert streamed.unit_notes(path, kinds, on_spark) == streamed.unit_notes(path, kinds, duck)


def test_the_hours_note_and_what_the_checks_do_not_cover(frame, spark, tmp_path):
    hours = tmp_path / "hours.parquet"
    frame.assign(first_response_minutes=frame["first_response_minutes"] / 60.0).to_parquet(hours, index=False)
    kinds = streamed.column_kinds(hours)
    notes = [streamed.unit_notes(hours, kinds, source) for source in _on_both(hours, spark)]
    assert notes[0] == notes[1] and "look like hours" in notes[0]["first_response_minutes"]
    # The pandas path's own note, from all the values.
    from study.data.convert import unit_note

    assert notes[0]["first_response_minutes"] == unit_note(frame["first_response_minutes"] / 60.0)
    text = tmp_path / "text.parquet"
    frame.assign(csat=frame["csat"].astype(str)).to_parquet(text, index=False)  # text in a number column
    assert streamed.clean_counts(text, source=_on_both(text, spark)[1]) is None  # not covered: the pandas path reads it


def test_the_preparation_on_spark_writes_duckdbs_copy_and_facts(frame, spark, tmp_path):
    """`study run --engine spark` prepares a typed file of any size by counting on Spark: the same copy and facts."""
    path = tmp_path / "tickets.parquet"
    frame.to_parquet(path, index=False)
    made = {}
    for engine in ("duckdb", "spark"):
        (tmp_path / engine).mkdir()
        made[engine] = prepare.prepare_tickets(path, None, tmp_path / engine, ["csat"], engine=engine)
    for fact in ("source", "present", "arms", "constant", "unreadable", "period"):
        assert getattr(made["spark"], fact) == getattr(made["duckdb"], fact), fact
    left, right = pq.read_table(made["duckdb"].path), pq.read_table(made["spark"].path)
    assert left.schema.equals(right.schema, check_metadata=True) and left.equals(right)
    messy = tmp_path / "messy.parquet"
    _messy(frame).to_parquet(messy, index=False)
    (tmp_path / "refused").mkdir()
    with pytest.raises(schema.DataError):  # refused on Spark's counts: the pandas path names the problem
        prepare.prepare_tickets(messy, None, tmp_path / "refused", [], engine="spark")
