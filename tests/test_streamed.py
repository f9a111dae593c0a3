"""The streamed preparation of a typed Parquet file against the pandas path it replaces, on messy data."""

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from study import config
from study.data import dataset, schema, streamed
from study.report import prepare

CHECKED = ["csat", "response_hours"]


def _both(path: Path, tmp_path: Path, monkeypatch) -> tuple:
    """What prepare_tickets gives with the streamed path, and with the pandas path alone (or their errors)."""
    results, copies = [], []
    write = streamed.write_streamed
    for name, kinds in (("streamed", streamed.column_kinds), ("pandas", lambda p: None)):
        monkeypatch.setattr(streamed, "column_kinds", kinds)
        monkeypatch.setattr(streamed, "STREAM_MIN_ROWS", 0)  # small files go the pandas way in a run
        monkeypatch.setattr(streamed, "write_streamed", lambda *a: copies.append(name) or write(*a))
        staging = tmp_path / name
        staging.mkdir()
        try:
            results.append(prepare.prepare_tickets(path, None, staging, CHECKED))
        except schema.DataError as error:
            results.append(str(error))
    monkeypatch.undo()
    # The streamed path ran whenever the file's types are covered (and the pandas path never did).
    assert copies == (["streamed"] if streamed.column_kinds(path) is not None else [])
    return tuple(results)


def _assert_same(new, old) -> None:
    if isinstance(old, str):
        assert new == old
        return
    for fact in ("source", "present", "arms", "constant", "unreadable", "period"):
        assert getattr(new, fact) == getattr(old, fact), fact
    new_table, old_table = pq.read_table(new.path), pq.read_table(old.path)
    assert new_table.schema.equals(old_table.schema, check_metadata=True)
    assert new_table.equals(old_table)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """A 3,000-ticket slice of the embedded sample, as its file stores it."""
    return pq.read_table(config.SAMPLE_DATA).slice(0, 3_000).to_pandas()


def _write(frame: pd.DataFrame, tmp_path: Path, name: str = "tickets.parquet") -> Path:
    path = tmp_path / name
    frame.to_parquet(path, index=False)
    return path


def test_the_embedded_sample_gives_the_same_copy_and_facts(tmp_path, monkeypatch):
    assert streamed.clean_counts(config.SAMPLE_DATA)["clean"]
    _assert_same(*_both(config.SAMPLE_DATA, tmp_path, monkeypatch))


def test_a_copy_written_a_slice_at_a_time_while_the_next_is_made_keeps_the_rows_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(streamed.io, "ROWS_PER_GROUP", 7_000)  # six slices of the sample, each written by a thread
    new, old = _both(config.SAMPLE_DATA, tmp_path, monkeypatch)
    assert pq.ParquetFile(new.path).metadata.num_row_groups == 6
    _assert_same(new, old)


def _compressions(path: Path) -> set[str]:
    metadata = pq.ParquetFile(path).metadata
    return {metadata.row_group(g).column(c).compression for g in range(metadata.num_row_groups)
            for c in range(metadata.num_columns)}


def test_the_copies_are_written_uncompressed_as_they_are_read_back_within_the_run(tmp_path, monkeypatch):
    new, old = _both(config.SAMPLE_DATA, tmp_path, monkeypatch)  # streamed, and through pandas
    assert _compressions(new.path) == _compressions(old.path) == {"UNCOMPRESSED"}


def test_stray_spaces_gaps_and_odd_extra_columns_are_read_as_the_pandas_path_reads_them(frame, tmp_path, monkeypatch):
    messy = frame.copy()
    messy["customer_id"] = messy["customer_id"].where(messy.index % 7 > 0, " " + messy["customer_id"] + "\u3000")
    messy["channel"] = messy["channel"].where(messy.index % 5 > 0, messy["channel"] + "\t")
    messy["category"] = messy["category"].where(messy.index % 11 > 0, None)
    messy["first_response_minutes"] = messy["first_response_minutes"].where(messy.index % 13 > 0, None)
    messy["csat"] = messy["csat"].astype("Float64").where(messy.index % 3 > 0, None)  # whole numbers stored as floats
    messy["resolved"] = messy["resolved"].astype("boolean").where(messy.index % 17 > 0, None)
    messy["created_at"] = messy["created_at"].astype("datetime64[ms]")
    messy["note"] = np.where(messy.index % 2, " kept as it is ", None)  # not a contract column: not stripped
    messy["weight"] = np.arange(len(messy), dtype=np.int32)
    path = _write(messy, tmp_path)
    assert streamed.clean_counts(path)["clean"]
    new, old = _both(path, tmp_path, monkeypatch)
    _assert_same(new, old)
    copy = pq.read_table(new.path)
    assert copy.column("customer_id")[0].as_py() == frame["customer_id"][0]
    assert copy.column("note")[1].as_py() == " kept as it is "


def test_a_response_time_in_hours_keeps_its_note(frame, tmp_path, monkeypatch):
    hours = frame.assign(first_response_minutes=frame["first_response_minutes"] / 60.0)
    new, old = _both(_write(hours, tmp_path), tmp_path, monkeypatch)
    _assert_same(new, old)
    assert "look like hours" in pq.read_schema(new.path).metadata[b"study.prepared"].decode()


@pytest.mark.parametrize("spoil", [
    lambda f: f.assign(csat=f["csat"].astype(float).where(f.index != 5, 3.5)),
    lambda f: f.assign(csat=f["csat"].where(f.index != 9, 7)),
    lambda f: f.assign(first_response_minutes=f["first_response_minutes"].where(f.index != 2, -4.0)),
    lambda f: f.assign(order_value=f["order_value"].where(f.index != 2, np.inf)),
    lambda f: f.assign(pre_spend=f["pre_spend"].where(f.index != 2, 5e13)),
    lambda f: f.assign(ticket_id=f["ticket_id"].where(f.index != 4, f["ticket_id"][3] + " ")),
    lambda f: f.assign(ticket_id=f["ticket_id"].where(f.index != 4, "\u3000" + f["ticket_id"][3])),
    lambda f: f.assign(ticket_id=f["ticket_id"].where(f.index != 4, None)),
    lambda f: f.assign(created_at=f["created_at"].where(f.index != 1, pd.Timestamp("2100-01-01"))),
    lambda f: f.head(6),
], ids=["fractional csat", "csat out of range", "negative minutes", "infinite value", "implausibly large",
        "ids repeated once stripped", "ids repeated once wide spaces are stripped", "empty id", "future time", "too few rows"])
def test_a_problem_gives_the_pandas_paths_message(frame, tmp_path, monkeypatch, spoil):
    path = _write(spoil(frame), tmp_path)
    assert not streamed.clean_counts(path)["clean"]
    new, old = _both(path, tmp_path, monkeypatch)
    assert isinstance(old, str) and new == old


@pytest.mark.parametrize("change", [
    lambda f: f.assign(created_at=f["created_at"].dt.tz_localize("Europe/Berlin")),  # zones: the pandas path converts
    lambda f: f.assign(csat=f["csat"].astype(str)),  # numbers as text
    lambda f: f.assign(resolved=f["resolved"].map({True: "yes", False: "no"})),  # flags as words
    "NaN",  # a float NaN stored as a value, not as a gap
    lambda f: f.assign(extra=pd.array(np.where(f.index % 2, 1, None), dtype="Int64")),  # integers with gaps
], ids=["zone-aware time", "numbers as text", "flags as words", "NaN", "integers with gaps"])
def test_what_the_checks_do_not_cover_goes_the_pandas_way_with_the_same_result(frame, tmp_path, monkeypatch, change):
    path = tmp_path / "tickets.parquet"
    if change == "NaN":
        values = frame["order_value"].to_numpy(dtype=float, copy=True)
        values[3] = np.nan
        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.set_column(table.schema.get_field_index("order_value"), "order_value",
                                 pa.array(values, from_pandas=False))
    else:
        table = pa.Table.from_pandas(change(frame), preserve_index=False)
    pq.write_table(table, path)
    counts = streamed.clean_counts(path)
    assert counts is None or not counts["clean"]
    _assert_same(*_both(path, tmp_path, monkeypatch))


def _messy_experiment(rows: int = 4_000, seed: int = 11) -> pd.DataFrame:
    """Tickets of an SLA experiment with every irregularity the customer table must handle."""
    rng = np.random.default_rng(seed)
    customers = np.array([f"C{i:03d}" for i in range(400)] + ["Zoë", "日本", "007", "7"], dtype=object)
    pick = lambda values, share=0.0: pd.Series(rng.choice(values, rows)).where(rng.random(rows) >= share, None)
    customer = pick(customers, 0.02).astype("string")
    arm_of = {c: ("control", "treatment")[i % 2] for i, c in enumerate(customers)}
    variant = customer.map(arm_of).astype("string").where(customer.notna(), "control")  # tickets without a customer too
    variant = variant.where(rng.random(rows) > 0.03, pick(["treatment", "holdout", None]))  # mixed, unknown, missing arms
    created = pd.Series(pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 90 * 24, rows), unit="h"))
    created = created.where(rng.random(rows) > 0.05)  # tickets without a time come last
    created[rng.random(rows) < 0.1] = pd.Timestamp("2026-02-01")  # ties, broken by file order
    silent = customer.isin(["Zoë", "7"]).fillna(False).to_numpy(dtype=bool)  # customers who never gave a channel
    return pd.DataFrame({
        "ticket_id": pd.Series([f"T{i}" for i in range(rows)], dtype="string"),
        "customer_id": customer, "variant": variant, "created_at": created,
        "channel": pick(["chat", "email", "phone"], 0.1).astype("string").where(~silent, None),
        "tenure_days": pd.Series(rng.integers(0, 900, rows), dtype=float).where(rng.random(rows) > 0.2),
        "prior_orders": pd.array(rng.integers(0, 9, rows), dtype="Int64"),
        "pre_spend": pd.Series(rng.gamma(2, 40, rows)).where(rng.random(rows) > 0.1),
        "loyalty_tier": pick(["bronze", "silver", "gold"], 0.15).astype("string"),
        "response_log2_hours": pd.Series(np.log2(rng.gamma(1.5, 2, rows))).where(rng.random(rows) > 0.1),
        "csat": pd.array(np.where(rng.random(rows) < 0.6, rng.integers(1, 6, rows), None), dtype="Int64"),
        "repeat_purchase": pd.array(np.where(rng.random(rows) < 0.95, rng.random(rows) < 0.3, None), dtype="boolean"),
        "next_spend": pd.Series(np.round(rng.gamma(2, 30, rows), 2)).where(rng.random(rows) > 0.01),
    })


@pytest.mark.parametrize("analysis", ["monitoring", "feedback"])
def test_08_and_10_give_the_same_results_from_only_their_columns(analysis, tmp_path):
    import dataclasses
    import json

    import study
    from study.core.results import save

    sample = dataset.load_tickets(config.SAMPLE_DATA)
    sample = dataclasses.replace(sample, tickets=sample.tickets.iloc[:8_000])  # weeks and comments enough, and quick
    copy = dataset.write_prepared(sample, tmp_path / "tickets.prepared.parquet")
    module = getattr(study, analysis)
    saved = []
    for needed in (None, module.COLUMNS):
        data = dataset.load_tickets(copy, needed=needed)
        result = module.analyse(data, seed=1) if analysis == "feedback" else module.analyse(data)
        saved.append(json.dumps(save(result, None), sort_keys=True, default=str))
    assert len(dataset.load_tickets(copy, needed=module.COLUMNS).tickets.columns) < len(pq.read_schema(copy).names)
    assert saved[0] == saved[1]


def test_an_engine_that_refuses_the_checks_leaves_the_file_to_the_pandas_path():
    # Spark reports a file it cannot read as a ValueError (study.engine.spark): the checks then cover nothing,
    # and the pandas path reads the file and names the problem in its own words.
    class Refusing:
        def execute(self, sql):
            raise ValueError("Spark refused the query: a damaged page")

    assert streamed.clean_counts(config.SAMPLE_DATA, source=Refusing()) is None


def test_the_distinct_ids_are_counted_by_a_scan_of_their_own(frame, tmp_path):
    # Beside other aggregates Spark expands every row for a COUNT(DISTINCT): the ids get their own scan, and the
    # counts are the same as one scan's.
    path = _write(frame, tmp_path)
    duck = streamed.counting_source(path)
    asked = []

    class Recording:
        def execute(self, sql):
            asked.append(sql)
            return duck.execute(sql)

    counts = streamed.clean_counts(path, source=Recording())
    distinct = [sql for sql in asked if "DISTINCT" in sql]
    assert len(asked) == 2 and len(distinct) == 1 and distinct[0].count("COUNT(") == 1
    scans = streamed._check_sql(counts["kinds"], "{relation}")
    terms = [label for _, labels in scans for label in labels]
    together = "SELECT " + ", ".join(sql[len("SELECT "):sql.index(" FROM ")] for sql, _ in scans) + " FROM {relation}"
    (values,) = duck.execute(together)
    assert {label: counts[label] for label in terms} == dict(zip(terms, values))
    assert counts["ticket_id|distinct"] == len(frame)


def test_duplicate_ids_counted_apart_still_stop_the_quick_path(frame, tmp_path):
    doubled = frame.copy()
    doubled.loc[1, "ticket_id"] = doubled.loc[0, "ticket_id"]
    counts = streamed.clean_counts(_write(doubled, tmp_path))
    assert counts["ticket_id|distinct"] == len(frame) - 1 and not counts["clean"]
