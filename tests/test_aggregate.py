"""Sufficient statistics: pandas and DuckDB give the same sums, from frames, Parquet, CSV and DuckDB tables."""

import dataclasses

import duckdb
import numpy as np
import pandas as pd
import pytest
from aggregates_match import assert_same_aggregates

from study.ab import aggregate
from study.ab.sufficient import CovariateMoments, Metric, Moments, RatioMoments
from study.ab.unit_checks import drop_flagged_units

ODD = 'spend"; DROP TABLE units; --'


@pytest.fixture(scope="module")
def units():
    rng = np.random.default_rng(21)
    n = 4000
    frame = pd.DataFrame({
        "customer_id": [f"c{i:05d}" for i in range(n)],
        "variant": rng.choice(["control", "fast", "faster"], n),
        "tier": rng.choice(["bronze", "silver", None], n),
        "channel": rng.choice([1, 2], n),
        ODD: rng.lognormal(3, 1, n),
        "orders": rng.poisson(2, n) + 1.0,
        "bought": rng.random(n) < 0.3,
        "signup_year": rng.integers(2015, 2026, n).astype(float),
    })
    frame.loc[rng.random(n) < 0.05, ODD] = np.nan
    frame.loc[rng.random(n) < 0.03, "variant"] = None
    return frame


METRICS = [
    Metric("spend", ODD), Metric("bought", "bought", "proportion"),
    Metric("spend_per_order", ODD, "ratio", denominator="orders"),
    Metric("spend_adjusted", ODD, covariate="signup_year"),
]


def test_moments_give_numpys_mean_and_variance():
    values = np.array([3.0, np.nan, 5.0, 10.0, 1.5])
    m = Moments.from_arrays(values)
    assert (m.n, m.mean, m.var) == (4, pytest.approx(np.nanmean(values)), pytest.approx(np.nanvar(values, ddof=1)))
    r = RatioMoments.from_arrays([1.0, 2, 4], [1.0, 1, 3])
    assert (r.ratio, r.cov) == (pytest.approx(7 / 5), pytest.approx(np.cov([1, 2, 4], [1, 1, 3])[0, 1]))


def test_sums_of_parts_are_the_sums_of_the_whole():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=100), rng.normal(size=100)
    whole = CovariateMoments.from_arrays(x, y, origin=(0.5, -1.0))
    parts = CovariateMoments.from_arrays(x[:30], y[:30], origin=(0.5, -1.0)) + CovariateMoments.from_arrays(x[30:], y[30:], origin=(0.5, -1.0))
    for f in dataclasses.fields(whole):
        assert getattr(parts, f.name) == pytest.approx(getattr(whole, f.name), rel=1e-12)
    with pytest.raises(ValueError, match="different origins"):
        _ = whole + CovariateMoments.from_arrays(x, y, origin=(0.0, 0.0))


def test_covariate_moments_about_an_origin_give_the_same_means_and_variances():
    rng = np.random.default_rng(2)
    x, y = rng.normal(2020, 2, 500), rng.normal(50, 5, 500)
    shifted = CovariateMoments.from_arrays(x, y, origin=(2020.0, 50.0))
    assert shifted.metric.mean == pytest.approx(y.mean(), rel=1e-12)
    assert shifted.covariate.var == pytest.approx(x.var(ddof=1), rel=1e-9)


@pytest.mark.parametrize("segments", [(), ("tier",), ("tier", "channel")])
def test_duckdb_on_a_frame_equals_pandas(units, segments):
    assert_same_aggregates(aggregate.aggregate_frame(units, METRICS, segments=segments),
                 aggregate.aggregate_duckdb(units, METRICS, segments=segments))


def test_pandas_sums_are_the_direct_sums(units):
    result = aggregate.aggregate_frame(units, METRICS)
    rows = units[(units["variant"] == "fast") & units[ODD].notna()]
    spend = result.by_arm("spend")["fast"]
    assert (spend.n, spend.sum, spend.sum_sq) == (len(rows), pytest.approx(rows[ODD].sum()), pytest.approx((rows[ODD] ** 2).sum()))
    assert result.unit_counts() == units["variant"].value_counts().sort_index().to_dict()
    assert result.segment_keys() == [()]


def test_duckdb_on_parquet_csv_and_a_database_table_equals_pandas(units, tmp_path):
    expected = aggregate.aggregate_frame(units, METRICS, segments=["tier"])
    units.to_parquet(tmp_path / "units.parquet")
    units.to_csv(tmp_path / "units.csv", index=False)
    with duckdb.connect(str(tmp_path / "units.duckdb")) as connection:
        connection.register("frame", units)
        connection.execute("CREATE TABLE units AS SELECT * FROM frame")
    assert_same_aggregates(expected, aggregate.aggregate_duckdb(tmp_path / "units.parquet", METRICS, segments=["tier"]))
    assert_same_aggregates(expected, aggregate.aggregate_duckdb(tmp_path / "units.duckdb", METRICS, segments=["tier"], table="units"))
    from_csv = aggregate.aggregate_duckdb(tmp_path / "units.csv", METRICS[:3], segments=["tier"])
    assert_same_aggregates(aggregate.aggregate_frame(units, METRICS[:3], segments=["tier"]), from_csv)


def test_hostile_names_are_quoted_not_executed(units, tmp_path):
    path = tmp_path / "units.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.register("frame", units)
        connection.execute("CREATE TABLE units AS SELECT * FROM frame")
    result = aggregate.aggregate_duckdb(path, [Metric("spend", ODD)], table="units")
    assert sum(s.n for s in result.stats.values()) == units.loc[units["variant"].notna(), ODD].notna().sum()
    with duckdb.connect(str(path), read_only=True) as connection:
        assert connection.execute("SELECT COUNT(*) FROM units").fetchone()[0] == len(units)
    assert aggregate.quote('a"b') == '"a""b"'


def test_missing_columns_are_named(units):
    with pytest.raises(ValueError, match="'no_such_column'"):
        aggregate.aggregate_duckdb(units, [Metric("x", "no_such_column")])
    with pytest.raises(ValueError, match="'no_such_column'"):
        aggregate.aggregate_frame(units, [Metric("x", "no_such_column")])
    with pytest.raises(ValueError, match="not numeric"):
        aggregate.aggregate_frame(units, [Metric("x", "customer_id")])


def test_cleaning_in_sql_matches_cleaning_in_pandas(units):
    messy = pd.concat([units, units.iloc[:50], units.iloc[50:80].assign(variant="control"), units.iloc[80:90].assign(orders=99.0)])
    cleaned, ledger = drop_flagged_units(messy, "customer_id")
    expected = aggregate.aggregate_frame(cleaned, METRICS[:3], segments=["tier"])
    assert_same_aggregates(expected, aggregate.aggregate_duckdb(messy, METRICS[:3], segments=["tier"], clean_unit="customer_id"))
    assert ledger.rows_used == sum(expected.units.values())


def test_a_metric_spec_refuses_impossible_combinations():
    with pytest.raises(ValueError):
        Metric("r", "spend", "ratio")
    with pytest.raises(ValueError):
        Metric("r", "spend", "ratio", denominator="orders", covariate="pre")
    with pytest.raises(ValueError):
        Metric("m", "spend", "median")


def test_a_column_name_holding_the_placeholder_stays_a_name():
    import pandas as pd

    from study.ab.aggregate import DuckDBSource, quote

    frame = pd.DataFrame({"x{relation}": [1.0, 2.0, 3.0]})
    source = DuckDBSource(frame)
    assert source.execute(f"SELECT sum({quote('x{relation}')}) FROM {{relation}}")[0][0] == 6.0


def test_sums_are_the_bytes_of_the_stacked_product():
    # The sums multiply each term's factors left to right in column order, each column as many times as its power
    # (x * x * y, as the SQL engines write a term), without stacking them (study.ab.sufficient._product): the same
    # bytes as np.prod over the stacked factors, for every term of every statistics class.
    import numpy as np

    from study.ab import sufficient

    rng = np.random.default_rng(3)
    x, y = rng.lognormal(2, 1.5, 50_001) - 4, rng.normal(10, 30, 50_001)
    u, w = rng.gamma(2, 10, 50_001), rng.poisson(3, 50_001) + 1.0
    x[::11], y[::13] = np.nan, np.nan
    cases = [(sufficient.Moments, (y,), None), (sufficient.CovariateMoments, (x, y), (-1.5, 9.75)),
             (sufficient.RatioMoments, (x, w), None), (sufficient.RatioCovariateMoments, (x, w, y, u), None),
             # no value missing: the columns are read where they are, not copied
             (sufficient.Moments, (u,), None), (sufficient.RatioCovariateMoments, (u, w, u[::-1], w[::-1]), None),
             (sufficient.CovariateMoments, (u, w), (20.0, 3.0))]
    for cls, columns, origin in cases:
        given = [c.copy() for c in columns]
        found = cls.from_arrays(*columns, origin=origin)
        keep = np.logical_and.reduce([~np.isnan(c) for c in columns])
        values = [(c - o)[keep] for c, o in zip(columns, origin)] if origin else [c[keep] for c in columns]
        for name, powers in cls.TERMS.items():
            factors = [v for v, p in zip(values, powers) for _ in range(p)] or [np.ones(len(values[0]))]
            expected = float(np.sum(np.prod(factors, axis=0)))
            assert getattr(found, name) == expected, (cls.__name__, name)
        assert all(np.array_equal(c, g, equal_nan=True) for c, g in zip(columns, given))  # the inputs untouched


def _groupby_reference(frame, metrics, arm, segments):
    """aggregate_frame as a plain iteration over a pandas groupby, each group's rows in row order."""
    from study.ab.relations import _numeric, _plain

    frame = frame[frame[arm].notna()]
    origins = aggregate._frame_origins(frame, metrics)
    stats, units = {}, {}
    for key, rows in frame.groupby([arm, *segments], dropna=False, sort=False, observed=True):
        arm_value, *segment_values = (_plain(k) for k in key)
        units[(tuple(segment_values), str(arm_value))] = len(rows)
        for metric in metrics:
            stats[(tuple(segment_values), str(arm_value), metric.name)] = metric.statistics.from_arrays(
                *(_numeric(rows, c) for c in metric.columns), origin=origins.get(metric.name))
    return units, stats


def test_frame_aggregates_are_a_groupby_s_to_the_last_bit_on_every_kind_of_segment():
    """Groups come from group numbers, not from iterating a groupby: same groups, same order, same sums, whatever
    the columns' types (categories unused or out of order, yes/no, numbers and text with missing values)."""
    rng = np.random.default_rng(1)
    n = 600
    frame = pd.DataFrame({
        "variant": pd.Categorical(rng.choice(["b", "a", "zz", None], n), categories=["zz", "a", "b", "unused"]),
        "category": pd.Categorical(rng.choice(["x", "y", None], n), categories=["y", "x", "never"]),
        "flag": rng.random(n) < 0.4,
        "number": np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 3, n).astype(float)),
        "text": pd.array(rng.choice(["p", "q", None], n), dtype="str"),
        "y": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        "bought": rng.random(n) < 0.3, "orders": rng.poisson(2, n) + 1.0, "x": rng.normal(size=n),
    })
    metrics = (Metric("mean", "y"), Metric("share", "bought", "proportion"),
               Metric("per order", "y", "ratio", denominator="orders"), Metric("adjusted", "y", covariate="x"))
    for segments in [(), ("category",), ("flag",), ("number",), ("text",), ("category", "flag", "text")]:
        result = aggregate.aggregate_frame(frame, metrics, segments=segments)
        units, stats = _groupby_reference(frame, metrics, "variant", segments)
        assert list(result.units.items()) == list(units.items()), segments
        assert repr(result.stats) == repr(stats), segments
    assert aggregate.aggregate_frame(frame.iloc[:0], metrics).units == {}


@pytest.mark.parametrize("groups", [1, 3, 256, 257, 65_536, 65_537, 200_000])
def test_group_numbers_in_a_narrower_type_sort_in_the_same_stable_order(groups):
    rng = np.random.default_rng(groups)
    group = rng.integers(0, groups, 300_000)
    group[:groups] = np.arange(min(groups, 300_000))  # every group number present, the highest too
    narrow = aggregate._narrowest(group, groups)
    assert narrow.dtype.itemsize == (1 if groups <= 256 else 2 if groups <= 65_536 else 8)
    assert np.array_equal(np.argsort(narrow, kind="stable"), np.argsort(group, kind="stable"))


def test_frame_aggregates_over_hundreds_of_segments_are_a_groupby_s():
    rng = np.random.default_rng(8)
    n = 5000
    frame = pd.DataFrame({"variant": rng.choice(["control", "treatment"], n), "shop": rng.integers(0, 400, n),
                          "y": rng.normal(size=n), "x": rng.normal(size=n)})
    metrics = (Metric("mean", "y"), Metric("adjusted", "y", covariate="x"))
    result = aggregate.aggregate_frame(frame, metrics, segments=("shop",))
    units, stats = _groupby_reference(frame, metrics, "variant", ("shop",))
    assert len(units) > 256
    assert list(result.units.items()) == list(units.items())
    assert repr(result.stats) == repr(stats)
