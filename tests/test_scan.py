"""The two-scan A/B engine: the folded unit check, exact sums, determinism, portable SQL."""

import math
from fractions import Fraction

import duckdb
import numpy as np
import pandas as pd
import pytest
import sqlglot
from aggregates_match import assert_same_aggregates
from sqlglot.errors import ErrorLevel

from study.ab import aggregate, scan, unit_checks
from study.ab.aggregate import DuckDBSource, clean_units_sql, exact_sum_sql
from study.ab.sufficient import Metric
from study.ab.unit_checks import check_units, detailed_checks, drop_flagged_units

METRICS = [
    Metric("spend", "spend", covariate="pre_spend"),
    Metric("bought", "bought", "proportion"),
    Metric("spend_per_order", "spend", "ratio", denominator="orders"),
    Metric("orders", "orders"),
]


def _units(n, seed, ids=None):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer_id": np.arange(n) if ids is None else ids,
        "variant": rng.choice(["control", "treatment"], n),
        "tier": rng.choice(["bronze", "silver", "gold"], n),
        "pre_spend": 2020 + rng.lognormal(0, 1, n),  # far from zero: the origin matters
        "spend": rng.lognormal(3, 1.2, n),
        "orders": rng.poisson(2, n) + 1.0,
        "bought": rng.random(n) < 0.3,
    })


def _messy(seed, unit_type):
    """Exact copies, units in two arms, conflicting rows, rows without arm or unit, missing values."""
    frame = _units(300, seed, ids=np.random.default_rng(seed).integers(-40, 200, 300) * 37)
    frame.loc[frame.sample(frac=0.05, random_state=seed).index, "variant"] = None
    frame.loc[frame.sample(frac=0.05, random_state=seed + 1).index, "spend"] = np.nan
    frame["customer_id"] = frame["customer_id"].astype("Int64")
    frame.loc[frame.sample(frac=0.03, random_state=seed + 2).index, "customer_id"] = pd.NA
    frame = pd.concat([frame, frame.iloc[::9], frame.iloc[::13].assign(variant="control")], ignore_index=True)
    if unit_type == "string":
        frame["customer_id"] = frame["customer_id"].astype("string")
    return frame


@pytest.mark.parametrize("unit_type", ["integer", "string"])
@pytest.mark.parametrize("seed", [1, 2])
def test_the_folded_check_counts_what_the_whole_row_rule_counts(seed, unit_type):
    messy = _messy(seed, unit_type)
    src = DuckDBSource(messy)
    full = detailed_checks(src, src.columns(), "customer_id", "variant")
    assert full.units_in_several_arms and full.units_with_conflicting_rows and full.exact_duplicate_rows
    assert check_units(messy, "customer_id") == full  # the quick test sends messy data to the full rule
    kept, _ = drop_flagged_units(messy, "customer_id")
    assert full.rows_left_out == len(messy) - len(kept)
    checks, (whole, by_tier) = aggregate.analyse(messy, METRICS, "customer_id", segmentations=[(), ("tier",)])
    assert checks == full
    assert_same_aggregates(whole, aggregate.aggregate_frame(kept, METRICS))
    assert_same_aggregates(by_tier, aggregate.aggregate_frame(kept, METRICS, segments=["tier"]))


@pytest.mark.parametrize("unit_type", ["integer", "string"])
def test_a_clean_table_passes_the_quick_check_with_the_full_rules_counts(unit_type):
    # Sparse and negative identifiers too: buckets of 32 must not mix units up.
    ids = np.array([-(2**40), -33, -32, -1, 0, 31, 32, 2**40, 2**62, 7], dtype=np.int64)
    frame = _units(10, 3, ids=ids)
    frame.loc[2, "variant"] = None
    frame = pd.concat([frame, frame.iloc[[4]].assign(customer_id=None)], ignore_index=True)
    frame["customer_id"] = frame["customer_id"].astype("Int64" if unit_type == "integer" else "string")
    src = DuckDBSource(frame)
    quick = check_units(frame, "customer_id")
    assert quick == detailed_checks(src, src.columns(), "customer_id", "variant")
    assert (quick.rows, quick.rows_without_arm, quick.rows_without_unit, quick.units) == (11, 1, 1, 9)
    # One more row for unit 2**40 + 1 (same bucket as 2**40, another bit), then a real duplicate of it.
    twin = frame.iloc[[7]].assign(customer_id=2**40 + 1 if unit_type == "integer" else "x")
    assert check_units(pd.concat([frame, twin]).astype({"customer_id": frame["customer_id"].dtype}), "customer_id").clean is False
    doubled = pd.concat([frame, twin, twin.assign(spend=1.0)]).astype({"customer_id": frame["customer_id"].dtype})
    assert check_units(doubled, "customer_id").units_with_conflicting_rows == 1


def test_analyse_equals_pandas_on_a_clean_table_whole_and_by_tier(tmp_path):
    units = _units(5000, 4)
    units.to_parquet(tmp_path / "units.parquet", row_group_size=700)
    checks, (whole, by_tier, by_both) = aggregate.analyse(tmp_path / "units.parquet", METRICS, "customer_id",
                                                    segmentations=[(), ("tier",), ("tier", "bought")])
    assert checks.clean and checks.units == 5000
    assert_same_aggregates(whole, aggregate.aggregate_frame(units, METRICS), rel=1e-10)
    assert_same_aggregates(by_tier, aggregate.aggregate_frame(units, METRICS, segments=["tier"]), rel=1e-10)
    assert_same_aggregates(by_both, aggregate.aggregate_frame(units, METRICS, segments=["tier", "bought"]), rel=1e-10)
    # Ranges from the file's statistics or from a scan: the same statistics.
    assert_same_aggregates(whole, aggregate.aggregate_duckdb(units, METRICS), rel=1e-12)
    # Against exact rational arithmetic on the same doubles: off only by each row's rounding in doubles.
    spend = whole.stats[((), "control", "spend")]
    rows = units[units["variant"] == "control"]
    x0, y0 = (Fraction(o) for o in spend.origin)
    xs, ys = [Fraction(v) - x0 for v in rows["pre_spend"]], [Fraction(v) - y0 for v in rows["spend"]]
    for name, (px, py) in type(spend).TERMS.items():
        exact = sum(x**px * y**py for x, y in zip(xs, ys))
        assert getattr(spend, name) == pytest.approx(float(exact), rel=1e-14, abs=1e-12), name


@pytest.mark.parametrize("kind", ["parquet", "table"])
def test_sums_are_the_same_bytes_on_any_thread_count(kind, tmp_path):
    # A Parquet file is summed per row group, anything else (here a DuckDB table) with integer sums.
    units = _units(400_000, 5)
    units.to_parquet(tmp_path / "units.parquet", row_group_size=20_000)

    def source(threads):
        if kind == "parquet":
            return DuckDBSource(tmp_path / "units.parquet", threads=threads)
        connection = duckdb.connect()
        connection.execute(f"CREATE TABLE units AS SELECT * FROM read_parquet('{tmp_path / 'units.parquet'}')")
        return DuckDBSource(connection=connection, table="units", threads=threads)

    assert (source(2).row_groups() is None) == (kind == "table")
    results = set()
    for threads in (1, 2, 8, 3):
        checks, aggregates = aggregate.analyse(source(threads), METRICS, "customer_id", segmentations=[(), ("tier",)])
        results.add(repr((checks, [(a.stats, a.units) for a in aggregates])))
    assert len(results) == 1
    # The control: a plain SUM of doubles over the same rows does depend on the threads (seen
    # every time on the file's 20 row groups; a table's 4 groups sometimes happen to agree).
    plain = {source(t).execute("SELECT SUM(spend * pre_spend * pre_spend) FROM {relation}")[0][0]
             for t in (1, 2, 8, 3, 2, 8)}
    assert len(plain) > 1 or kind == "table"


def test_a_scan_that_needs_more_memory_runs_again_without_the_cap(monkeypatch):
    units = _units(20_000, 8).astype({"customer_id": str})
    expected = aggregate.analyse(units, METRICS, "customer_id")
    monkeypatch.setattr(scan, "MEMORY_CAP", "1MB")
    calls, first_scan = [], scan.first_scan
    monkeypatch.setattr(scan, "first_scan", lambda *args: calls.append(1) or first_scan(*args))
    src = DuckDBSource(units)
    before = src.connection.execute("SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchall()
    assert repr(aggregate.analyse(src, METRICS, "customer_id")) == repr(expected)
    assert src.connection.execute("SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchall() == before
    assert len(calls) == 2  # capped, out of memory, then uncapped


def test_exact_sum_sql_is_exact_and_order_independent():
    values = np.concatenate([np.full(1000, 0.1), [1e9, -1e9, 3.25, 2.0**-30]])
    totals = set()
    for seed in range(4):
        frame = pd.DataFrame({"x": np.random.default_rng(seed).permutation(values)})
        connection = duckdb.connect()
        connection.register("frame", frame)
        totals.add(connection.execute(f"SELECT {exact_sum_sql('x', step=2.0**-24)} FROM frame").fetchall()[0][0])
    rounded = [round(v * 2**24) / 2**24 for v in values]
    assert totals == {math.fsum(rounded)}
    assert connection.execute(f"SELECT {exact_sum_sql('x', where='x > 0')} FROM frame").fetchall()[0][0] == pytest.approx(1e9 + 103.25)
    with pytest.raises(ValueError, match="power of two"):
        exact_sum_sql("x", step=0.1)


def test_infinite_values_are_named():
    units = _units(50, 6)
    units.loc[3, "spend"] = np.inf
    with pytest.raises(ValueError, match="'spend'"):
        aggregate.aggregate_duckdb(units, METRICS)


@pytest.mark.parametrize("scale, word", [(1e160, "large"), (1e-160, "small"), (1e-300, "small")])
def test_values_beyond_a_doubles_sums_of_squares_are_named(scale, word):
    units = _units(200, 8).assign(spend=lambda f: f["spend"] * scale)
    with pytest.raises(ValueError, match=f"'spend'.*too {word}"):
        aggregate.analyse(units, METRICS, "customer_id")


def test_a_segment_of_thousands_of_values_is_added_up_like_pandas(tmp_path):
    units = _units(6000, 9)
    units["store"] = np.random.default_rng(9).integers(0, 2500, len(units)).astype(str)
    units.to_parquet(tmp_path / "units.parquet", row_group_size=1000)
    _, (by_store,) = aggregate.analyse(tmp_path / "units.parquet", METRICS, "customer_id", segmentations=[("store",)])
    assert_same_aggregates(by_store, aggregate.aggregate_frame(units, METRICS, segments=["store"]), rel=1e-10)


class _Recording:
    """A source of its own (duck typing): relation, execute, columns; records every statement it runs."""

    def __init__(self, frame):
        self.inner = DuckDBSource(frame)
        self.relation = self.inner.relation
        self.statements = []

    def execute(self, select, *, from_=None):
        self.statements.append(select.replace("{relation}", from_ or self.relation))
        return self.inner.execute(select, from_=from_)

    def columns(self):
        return self.inner.columns()


class _Typed(_Recording):
    """The same, telling its column types: integer units get the bitmap check."""

    def column_types(self):
        return self.inner.column_types()


@pytest.mark.parametrize("kind", [_Recording, _Typed])
def test_any_source_works_and_every_statement_transpiles_to_spark(kind):
    clean, messy = _units(300, 7), _messy(3, "integer")
    statements = []
    for frame in (clean, messy):
        src = kind(frame)
        checks = check_units(src, "customer_id")
        _, (whole,) = aggregate.analyse(src, METRICS, "customer_id")
        assert checks == check_units(frame, "customer_id")
        assert_same_aggregates(whole, aggregate.aggregate_duckdb(frame, METRICS, clean_unit="customer_id"))
        aggregate.aggregate_duckdb(src, METRICS, segments=["tier"])
        src.execute(f"SELECT COUNT(*) FROM {clean_units_sql('{relation}', src.columns(), 'customer_id', 'variant')}")
        statements += src.statements
    assert len(statements) > 8 and any(">> 5" in sql for sql in statements) == (kind is _Typed)
    for sql in statements:
        assert "fsum" not in sql.lower()
        (spark,) = sqlglot.transpile(sql, read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE)
        assert spark


def test_a_file_sorted_by_the_covariate_is_summed_again_about_the_origin(tmp_path, monkeypatch):
    # Its first rows (which centre the sums) are all far below the mean: the sums are taken again.
    units = _units(300_000, 9)
    units["pre_spend"] = np.random.default_rng(9).normal(100, 1, len(units))
    units = units.sort_values("pre_spend", ignore_index=True)
    units.to_parquet(tmp_path / "sorted.parquet", row_group_size=20_000)
    calls, second_scan = [], scan.second_scan
    monkeypatch.setattr(scan, "second_scan", lambda *args, **kwargs: calls.append(1) or second_scan(*args, **kwargs))
    _, (whole,) = aggregate.analyse(tmp_path / "sorted.parquet", METRICS, "customer_id")
    assert len(calls) == 2
    assert_same_aggregates(whole, aggregate.aggregate_frame(units, METRICS), rel=1e-10)


def test_repeated_units_are_checked_on_their_rows_only_with_the_same_answer(monkeypatch, tmp_path):
    messy = _messy(4, "string")
    odd = messy.iloc[[0, 0, 1]].assign(customer_id="o'b?{relation}")  # quotes, a placeholder, a '?' in a value
    messy = pd.concat([messy, odd, odd.iloc[[2]].assign(variant="treatment")], ignore_index=True)
    messy.to_parquet(tmp_path / "messy.parquet")
    fast = aggregate.analyse(tmp_path / "messy.parquet", METRICS, "customer_id", segmentations=[(), ("tier",)])
    kept, _ = drop_flagged_units(messy, "customer_id")
    assert "o'b?{relation}" not in set(kept["customer_id"])
    assert_same_aggregates(fast[1][0], aggregate.aggregate_frame(kept, METRICS))
    monkeypatch.setattr(unit_checks, "REPEATED_LIMIT", 1)  # too many repeated units: the rule runs on every row
    full = aggregate.analyse(tmp_path / "messy.parquet", METRICS, "customer_id", segmentations=[(), ("tier",)])
    assert fast[0] == full[0]
    for a, b in zip(fast[1], full[1]):
        assert_same_aggregates(a, b, rel=1e-12)
