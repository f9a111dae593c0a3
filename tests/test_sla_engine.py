"""The SLA experiment aggregated by the engine (study.ab.sla_engine) against the pandas path it replaces."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import study
from study.ab.customers import PRE_PERIOD_COVARIATES, customer_table
from study.ab.sla import sla_experiment
from study.ab.sla_engine import experiment_scan, fetch_frame, file_dtypes, positioned
from study.data.dataset import write_prepared
from study.data.experiment import experiment_rows
from study.engine.sources import DuckDBSource


def pandas_reference(frame: pd.DataFrame, set_aside: dict | None = None):
    """The pandas path of notebook 04: the experiment's rows, units and customer table."""
    covariates = [c for c in PRE_PERIOD_COVARIATES if c in frame.columns and frame[c].notna().any()]
    experiment = experiment_rows(frame, unit_columns=covariates, set_aside=set_aside)
    return experiment, customer_table(experiment.rows), covariates


def assert_same(path, set_aside: dict | None = None):
    """The engine's ledger, units and customer table equal the pandas ones, bytes and dtypes."""
    frame = pd.read_parquet(path)
    experiment, customers, covariates = pandas_reference(frame, set_aside)
    scanned = experiment_scan(DuckDBSource(path), set_aside=set_aside, dtypes=file_dtypes(path))
    pd.testing.assert_frame_equal(scanned.customers, customers, check_exact=True)
    pd.testing.assert_frame_equal(scanned.experiment.units, experiment.units, check_exact=True)
    assert scanned.experiment.ledger.as_dict() == experiment.ledger.as_dict()
    pd.testing.assert_frame_equal(scanned.experiment.ledger.table(), experiment.ledger.table())
    assert scanned.experiment.units_in_several_arms == experiment.units_in_several_arms
    assert scanned.covariates == covariates
    assert scanned.untimed == int(experiment.rows["response_log2_hours"].isna().sum())
    return scanned, experiment, customers


def hostile_tickets(rows: int = 3000, seed: int = 7) -> pd.DataFrame:
    """Tickets with every case the experiment's rules decide: missing units and arms, units in both arms,
    an arm that is neither, missing covariates first, missing and tied times, unknown spend, and customers
    with many tickets of fractional values (where the order of adding changes the last bit)."""
    rng = np.random.default_rng(seed)
    customers = np.array([f"C{i:04d}" for i in range(rows // 4)], dtype=object)
    unit = customers[rng.integers(0, len(customers), rows)]
    unit[rng.random(rows) < 0.03] = None
    arm_of = dict(zip(customers, rng.choice(["control", "treatment"], len(customers))))
    variant = np.array([arm_of.get(u, rng.choice(["control", "treatment"])) for u in unit], dtype=object)
    variant[rng.random(rows) < 0.02] = "treatment"  # some customers end up in both arms
    variant[rng.random(rows) < 0.03] = None
    variant[rng.random(rows) < 0.01] = "holdout"
    created = pd.Series(pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 40, rows), unit="D"))  # many ties
    created[rng.random(rows) < 0.1] = pd.NaT

    def gaps(values, share):
        values = pd.Series(values)
        return values.mask(rng.random(rows) < share)

    frame = pd.DataFrame({
        "customer_id": pd.array(unit, dtype="string"),
        "variant": pd.array(variant, dtype="string"),
        "created_at": created,
        "channel": pd.array(gaps(rng.choice(["chat", "email", "phone"], rows), 0.1), dtype="string"),
        "tenure_days": gaps(rng.integers(0, 900, rows).astype(float), 0.2),
        "prior_orders": pd.array(gaps(rng.integers(0, 30, rows), 0.2), dtype="Int64"),
        "pre_spend": gaps(rng.lognormal(4, 1.5, rows), 0.2),
        "loyalty_tier": pd.array(gaps(rng.choice(["bronze", "silver", "gold"], rows), 0.2), dtype="string"),
        "response_log2_hours": gaps(rng.normal(0, 2.5, rows), 0.1),
        "csat": pd.array(gaps(rng.integers(1, 6, rows), 0.6), dtype="Int64"),
        "repeat_purchase": pd.array(gaps(rng.random(rows) < 0.3, 0.05), dtype="boolean"),
        "next_spend": gaps(np.round(rng.lognormal(3, 2, rows), 2), 0.02),
    })
    frame["csat_answered"] = frame["csat"].notna()
    # A customer whose tickets have no arm at all, and one whose first ticket has no covariates.
    frame.loc[frame.index[:4], ["customer_id", "variant"]] = ["ONLY-UNASSIGNED", None]
    frame.loc[frame.index[4:8], "customer_id"] = "LATE-COVARIATES"
    frame.loc[frame.index[4:8], "variant"] = "control"
    frame.loc[frame.index[4], ["tenure_days", "prior_orders", "pre_spend", "loyalty_tier"]] = None
    return frame


def test_sample_engine_tables_equal_pandas(tmp_path):
    data = study.load("data/tickets.parquet", needed=study.SLA_COLUMNS)
    path = write_prepared(data, tmp_path / "copy.parquet")
    _, _, customers = assert_same(path, data.set_aside)
    assert len(customers) > 20_000 and (customers["tickets"] >= 3).sum() > 1000


def test_hostile_tickets_engine_tables_equal_pandas(tmp_path):
    frame = hostile_tickets()
    path = tmp_path / "hostile.parquet"
    frame.to_parquet(path, row_group_size=700)  # several row groups: positions cross them
    _, experiment, customers = assert_same(path, {"outside the filter": 5})
    ledger = experiment.ledger.as_dict()["dropped"]
    # Every rule was exercised, so the comparison above tested each of them.
    assert set(ledger) == {"outside the filter", "no variant", "variant not one of control, treatment",
                           "customer_id seen in several arms"}
    assert experiment.units["customer_id"].isna().sum() == 1  # rows without a unit: one unit of their own
    assert "ONLY-UNASSIGNED" not in set(customers["customer_id"])
    late = customers.set_index("customer_id").loc["LATE-COVARIATES"]
    assert late.notna()["tenure_days"] and pd.isna(
        experiment.units.set_index("customer_id").loc["LATE-COVARIATES", "tenure_days"])
    assert customers["next_spend"].isna().any() and customers["first_channel"].isna().any()
    # The order of adding matters for some customers: the engine adds in row order as pandas does.
    grouped = experiment.rows.groupby("customer_id")["response_log2_hours"]
    exact = grouped.apply(lambda s: math.fsum(s.dropna()) if s.notna().any() else np.nan)
    sums = customers.set_index("customer_id")["log2_hours_sum"]
    assert (exact.reindex(sums.index) != sums).any()


def test_hostile_without_optional_columns(tmp_path):
    frame = hostile_tickets(400, seed=3).drop(columns=["created_at", "next_spend", "tenure_days"])
    path = tmp_path / "lean.parquet"
    frame.to_parquet(path)
    _, _, customers = assert_same(path)
    assert "next_spend" not in customers.columns and "first_channel" in customers.columns


def test_whole_number_covariate_with_gaps_is_float_as_in_pandas(tmp_path):
    frame = hostile_tickets(400, seed=5)
    frame["prior_orders"] = frame["prior_orders"].astype(float).astype("Int64").to_numpy(dtype="float64", na_value=np.nan)
    frame["tenure_days"] = np.arange(len(frame))  # int64, no gaps
    path = tmp_path / "types.parquet"
    frame.to_parquet(path)
    _, _, customers = assert_same(path)
    assert customers["tenure_days"].dtype == np.int64


def test_notebook_api_engine_and_pandas_paths_agree(tmp_path):
    data = study.load("data/tickets.parquet", needed=study.SLA_COLUMNS)
    path = write_prepared(data, tmp_path / "copy.parquet")
    engine = sla_experiment(study.load(str(path), needed=[]))
    memory = sla_experiment(study.load(str(path), needed=study.SLA_COLUMNS))
    assert engine.experiment.rows is None and memory.experiment.rows is not None
    assert engine.estimates == memory.estimates
    assert engine.rows == memory.rows and engine.notes == memory.notes
    pd.testing.assert_frame_equal(engine.balance(), memory.balance(), check_exact=True)
    pd.testing.assert_frame_equal(engine.srm_table(), memory.srm_table(), check_exact=True)


def test_duckdb_scans_a_large_copy_and_reads_a_small_one_or_any_other_file(tmp_path, monkeypatch):
    data = study.load("data/tickets.parquet", needed=study.SLA_COLUMNS)
    path = write_prepared(data, tmp_path / "copy.parquet")
    assert study.sla_columns("duckdb", path) == list(study.SLA_COLUMNS)  # 40,000 tickets: read into memory
    assert study.sla_columns("duckdb", "data/tickets.parquet") == study.sla_columns() == list(study.SLA_COLUMNS)
    assert study.sla_columns("spark") == study.sla_columns("spark", "data/tickets.parquet") == []
    monkeypatch.setattr("study.ab.sla.SCAN_MIN_TICKETS", len(data.tickets))
    assert study.sla_columns("duckdb", str(path)) == []
    assert sla_experiment(study.load(str(path), needed=study.sla_columns("duckdb", path))).experiment.rows is None


def test_the_scans_own_connection_gives_freed_memory_back(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"x": [1, 2]}).to_parquet(path)
    source = DuckDBSource(path)
    assert fetch_frame(source, "SELECT sum(x) AS total FROM {relation}", source.relation)["total"].tolist() == [3]
    (threshold, background), = source.connection.execute(
        "SELECT current_setting('allocator_flush_threshold'), current_setting('allocator_background_threads')").fetchall()
    assert threshold.replace(" ", "").startswith(("32MB", "32.0MB", "30.5MiB")) and background is True


def test_a_capped_scan_spills_into_a_folder_of_its_own_and_gives_the_same_tables(tmp_path, monkeypatch):
    import tempfile

    import duckdb

    from study.ab import sla_engine
    from study.engine import sources

    path = tmp_path / "tickets.parquet"
    hostile_tickets(rows=200_000).to_parquet(path, row_group_size=5_000)
    system_temp, work = tmp_path / "temp", tmp_path / "work"
    system_temp.mkdir(), work.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    monkeypatch.setattr(sources, "SPILL_ABOVE_BYTES", 32 * 2**20)
    monkeypatch.chdir(work)
    experiment, customers, _ = pandas_reference(pd.read_parquet(path))
    source = DuckDBSource(path)
    scanned = experiment_scan(source, dtypes=file_dtypes(path))
    pd.testing.assert_frame_equal(scanned.customers, customers, check_exact=True)  # capped: the same bytes
    pd.testing.assert_frame_equal(scanned.experiment.units, experiment.units, check_exact=True)
    assert [p.name[:12] for p in system_temp.iterdir()] == ["study-spill-"]  # DuckDB wrote to the connection's folder
    source.connection.close()
    assert not any(system_temp.iterdir()) and not any(work.iterdir())  # removed with it; nothing in the working folder
    # The cap needed that folder: without one the same scan runs out of memory.
    source = DuckDBSource(path)
    source.connection.execute("SET memory_limit = '32MiB'")
    source.connection.execute("SET temp_directory = ''")
    with pytest.raises(duckdb.OutOfMemoryException):
        sla_engine._scan(source, "customer_id", "variant", ("control", "treatment"), None, None)


def test_a_cap_too_tight_is_lifted_and_the_connection_left_as_it_was(tmp_path, monkeypatch):
    import duckdb
    import psutil

    from study.engine import sources

    query = "SELECT count(*) FROM (SELECT i % 200000 AS k, list(i) AS v FROM range(3000000) t(i) GROUP BY k)"
    source = DuckDBSource(pd.DataFrame({"x": [1]}))
    (default,), = source.connection.execute("SELECT current_setting('memory_limit')").fetchall()
    seen = []

    def run():
        seen.append(source.connection.execute("SELECT current_setting('memory_limit'), "
                                              "current_setting('temp_directory')").fetchall()[0])
        return source.connection.execute(query).fetchall()

    assert sources.within_memory(source, run) == [(200_000,)]
    capped = "2.0 GiB" if psutil.virtual_memory().total * 0.8 >= 2**31 else seen[0][0]  # else 80% of a small machine
    assert len(seen) == 1 and seen[0][0] == capped != default and Path(seen[0][1]).name.startswith("study-spill-")
    monkeypatch.setattr(sources, "SPILL_ABOVE_BYTES", 2**20)  # too tight even when writing to disk: run again
    seen.clear()
    assert sources.within_memory(source, run) == [(200_000,)]
    assert [limit for limit, _ in seen] == ["1.0 MiB", default]
    assert source.connection.execute("SELECT current_setting('memory_limit')").fetchall() == [(default,)]
    # A source whose connection is not its own is never touched.
    borrowed = DuckDBSource(connection=duckdb.connect(), table="t")
    assert sources.within_memory(borrowed, lambda: borrowed.connection.execute(
        "SELECT current_setting('memory_limit')").fetchall()) == [(default,)]


def test_every_duckdb_connection_of_the_study_spills_into_a_temporary_folder_of_its_own(tmp_path, monkeypatch):
    """DuckDB's default spill folder is ``.tmp`` in the working folder or beside a database file: the user's.
    Two connections of one process to a database file still share it (DuckDB refuses other settings)."""
    import duckdb

    from study.data import io, streamed

    database = tmp_path / "shop.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
    (tmp_path / "t.csv").write_text("x\n1\n")
    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "t.parquet")
    monkeypatch.chdir(tmp_path)
    opened = [lambda: DuckDBSource(pd.DataFrame({"x": [1]})).connection, lambda: DuckDBSource(tmp_path / "t.parquet").connection,
              lambda: DuckDBSource(tmp_path / "t.csv").connection, lambda: DuckDBSource(database, table="t").connection,
              streamed.connect, lambda: io._duckdb_connect(database)]
    folders = []
    for connection in opened:  # one at a time: DuckDB opens a file once per process with one set of settings
        with connection() as con:
            folders.append(con.execute("SELECT current_setting('temp_directory')").fetchone()[0])
    assert len(set(folders[:3] + folders[4:5])) == 4 and folders[3] == folders[5]  # a file's: the same in a process
    for folder in folders:
        assert Path(folder).parent == Path(tempfile.gettempdir()) and Path(folder).name.startswith("study-spill-")
        assert not Path(folder).exists()  # made only when a query outgrows its memory
    first, second = DuckDBSource(database, table="t"), DuckDBSource(database, table="t")
    assert first.execute("SELECT sum(x) FROM {relation}") == second.execute("SELECT sum(x) FROM {relation}") == [(1,)]


def test_a_column_kept_from_the_engines_rows_holds_only_itself():
    """DuckDB's Arrow batches free their memory only when every column of the batch is released: a table kept
    one column and held all of them (0.8 GB at 10 million tickets). The rows come back in Arrow's own memory."""
    import gc

    import pyarrow as pa

    source = DuckDBSource(pd.DataFrame({"x": [1]}))
    select = "SELECT i::DOUBLE AS a, (i * 2)::DOUBLE AS b, 'customer ' || i AS c FROM range(3000000) t(i)"
    table = source.arrow(select)
    assert table.equals(source.connection.sql(select).to_arrow_table())
    assert table.num_rows == 3_000_000 and table.column("a").num_chunks == 3  # a few large chunks
    before = pa.total_allocated_bytes()
    kept = table.column("a")
    del table
    gc.collect()
    assert before - pa.total_allocated_bytes() >= 24_000_000 + 3_000_000 * 8  # b and c were freed, kept a holds
    assert kept.to_numpy()[-1] == 2_999_999.0
    frame = fetch_frame(source, select, source.relation)
    before = pa.total_allocated_bytes()
    del frame["b"]
    gc.collect()
    assert before - pa.total_allocated_bytes() >= 24_000_000  # a column of its own: dropping it frees it


def test_engine_refusals(tmp_path):
    data = study.load("data/tickets.parquet", needed=study.SLA_COLUMNS)
    with pytest.raises(ValueError, match="in memory"):
        sla_experiment(data, engine="spark")
    with pytest.raises(ValueError, match="Parquet file"):
        positioned(DuckDBSource(data.tickets))
    path = tmp_path / "no_arm.parquet"
    data.tickets.drop(columns=["variant"]).to_parquet(path)
    with pytest.raises(ValueError, match="variant"):
        experiment_scan(DuckDBSource(path))


def test_times_with_fractions_of_a_second_order_the_first_channel(tmp_path):
    frame = hostile_tickets(1500, seed=11)
    milliseconds = pd.to_timedelta(np.random.default_rng(2).integers(0, 3, len(frame)), unit="ms")  # ties remain
    frame["created_at"] = frame["created_at"] + milliseconds
    path = tmp_path / "fractions.parquet"
    frame.to_parquet(path)
    assert_same(path)  # the struct order (not whole seconds) against pandas' stable sort


def test_whole_number_units_with_gaps_in_a_file_pandas_did_not_write(tmp_path):
    # No pandas dtypes in the file: the unit column is int64 to Arrow, yet has missing units.
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = hostile_tickets(rows=400)
    codes = {u: i for i, u in enumerate(frame["customer_id"].dropna().unique())}
    units = pa.array([codes.get(u) if isinstance(u, str) else None for u in frame["customer_id"]], type=pa.int64())
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    table = table.set_column(table.schema.get_field_index("customer_id"), "customer_id", units)
    pq.write_table(table, tmp_path / "lake.parquet")
    scanned, _, customers = assert_same(tmp_path / "lake.parquet")
    assert customers["customer_id"].dtype == float and scanned.experiment.units["customer_id"].isna().any()


def test_categorical_columns_keep_their_values(tmp_path):
    # The engine's text has no categories: it is kept as text, never cast to categories it lacks (all missing).
    frame = hostile_tickets(rows=400).astype({"loyalty_tier": "category", "channel": "category"})
    frame.to_parquet(tmp_path / "categories.parquet")
    scanned = experiment_scan(DuckDBSource(tmp_path / "categories.parquet"),
                              dtypes=file_dtypes(tmp_path / "categories.parquet"))
    _, customers, _ = pandas_reference(pd.read_parquet(tmp_path / "categories.parquet"))
    for column in ("loyalty_tier", "first_channel"):
        assert scanned.customers[column].notna().any()
        assert scanned.customers[column].astype(object).equals(customers[column].astype(object))


def test_nan_stored_as_a_value_is_missing_as_in_pandas(tmp_path):
    # Another tool's Parquet may store NaN as a number rather than as a null: pandas reads both as missing,
    # and so must the engine (a NaN counted as a value would be carried into every sum).
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = hostile_tickets(rows=600)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    floats = ["tenure_days", "pre_spend", "response_log2_hours", "next_spend"]
    for column in floats:
        values = frame[column].to_numpy(dtype=float)  # NaN where the value is missing
        table = table.set_column(table.schema.get_field_index(column), column, pa.array(values, from_pandas=False))
    assert all(table.column(c).null_count == 0 for c in floats)  # the gaps really are NaN values in the file
    pq.write_table(table, tmp_path / "nan_values.parquet")
    scanned, _, _ = assert_same(tmp_path / "nan_values.parquet")
    assert scanned.untimed > 0
