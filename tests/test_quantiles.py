"""Exact quantiles from histograms (study.engine.quantiles): DuckDB's quantile_cont to the bit, on DuckDB and on
Spark, each scan returning a bounded number of rows. The Spark tests skip, with the reason, where Spark cannot run."""

import math

import numpy as np
import pandas as pd
import pytest

from study.engine import quantiles, spark_missing
from study.engine.sources import DuckDBSource

QUANTILES = (0.0, 0.1, 0.25, 0.333, 0.5, 0.75, 0.9, 0.99, 1.0)


class Recording:
    """A source that notes each query and the number of rows it returned."""

    def __init__(self, source):
        self.source, self.asked = source, []

    def execute(self, select, *, from_=None):
        rows = self.source.execute(select, from_=from_)
        self.asked.append((select, len(rows)))
        return rows


def _column(kind: str, n: int, rng) -> np.ndarray:
    return {"lognormal": lambda: rng.lognormal(1, 2, n),
            "rounded": lambda: np.round(rng.lognormal(2, 1, n), 1),  # many ties
            "few values": lambda: rng.integers(0, 5, n).astype(float),
            "tiny": lambda: rng.normal(0, 1e-300, n),
            "piled up": lambda: np.where(rng.random(n) < 0.9, 1.0, 1.0 + rng.random(n) * 1e-12),
            }[kind]()


def _engine_quantiles(source, column="x"):
    (found,) = source.execute("SELECT " + ", ".join(f"quantile_cont({column}, {q})" for q in QUANTILES) + " FROM {relation}")
    return list(found)


@pytest.mark.parametrize("kind", ["lognormal", "rounded", "few values", "tiny", "piled up"])
@pytest.mark.parametrize("few_rows", [10, 1_000, quantiles.FEW_ROWS])
def test_the_quantiles_are_duckdbs_to_the_bit(kind, few_rows, monkeypatch):
    monkeypatch.setattr(quantiles, "FEW_ROWS", few_rows)  # small: several narrowing scans
    rng = np.random.default_rng(len(kind) * few_rows)
    for n in (1, 2, 7, int(rng.integers(1_000, 60_000))):
        x = _column(kind, n, rng)
        x[rng.random(n) < 0.1] = np.nan  # missing values are left out, as the engine leaves them out
        source = DuckDBSource(pd.DataFrame({"x": pd.array(np.where(np.isnan(x), None, x), dtype="Float64")}))
        expected = _engine_quantiles(source)
        found = quantiles.exact_quantiles(source, "x", QUANTILES)
        assert found == expected or all(e is None and math.isnan(f) for f, e in zip(found, expected)), (kind, n)


def test_each_scan_returns_a_bounded_number_of_rows(monkeypatch):
    monkeypatch.setattr(quantiles, "FEW_ROWS", 500)
    rng = np.random.default_rng(2)
    x = rng.lognormal(1, 2, 200_000)
    source = Recording(DuckDBSource(pd.DataFrame({"x": x})))
    assert quantiles.exact_quantiles(source, "x", QUANTILES) == _engine_quantiles(source.source)
    ranks = 2 * len(QUANTILES)
    assert len(source.asked) <= 2 + quantiles.MOST_SCANS
    assert max(rows for _, rows in source.asked) <= ranks * max(quantiles.BUCKETS, 500)
    assert not any("quantile" in sql or "percentile" in sql for sql, _ in source.asked)


def test_a_column_with_nan_or_an_infinity_is_left_to_the_engine_and_an_empty_one_has_no_quantile(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    for odd in (np.nan, np.inf):
        path = tmp_path / "odd.parquet"
        pq.write_table(pa.table({"x": pa.array([1.0, 2.0, odd], from_pandas=False)}), path)  # a NaN stored as a value
        assert quantiles.exact_quantiles(DuckDBSource(path), "x", (0.5,)) is None
    empty = DuckDBSource(pd.DataFrame({"x": pd.array([None, None], dtype="Float64")}))
    assert all(math.isnan(q) for q in quantiles.exact_quantiles(empty, "x", (0.1, 0.5)))


@pytest.mark.skipif(spark_missing() is not None, reason=f"Spark cannot run here: {spark_missing()}")
def test_on_spark_the_quantiles_are_duckdbs_to_the_bit_without_sparks_percentile(tmp_path, monkeypatch):
    from study.engine.spark import SparkSource, spark_session

    monkeypatch.setattr(quantiles, "FEW_ROWS", 200)
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"x": np.round(rng.lognormal(2, 1.5, 30_000), 3)})
    frame.loc[::17, "x"] = np.nan
    path = tmp_path / "x.parquet"
    frame.to_parquet(path)
    spark = Recording(SparkSource(path, spark_session("local[2]")))
    assert quantiles.exact_quantiles(spark, "x", QUANTILES) == _engine_quantiles(DuckDBSource(path))
    assert not any("quantile" in sql or "percentile" in sql for sql, _ in spark.asked)


def test_a_column_the_histograms_leave_to_the_engine_gets_the_engines_quantiles(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "odd.parquet"
    pq.write_table(pa.table({"x": pa.array([1.0, 2.0, 3.5, np.inf], from_pandas=False)}), path)
    source = DuckDBSource(path)
    assert quantiles.quantiles_of(source, "x", QUANTILES[1:-1]) == _engine_quantiles(source)[1:-1]
    plain = DuckDBSource(pd.DataFrame({"x": [3.0, 1.0, 2.0]}))
    assert quantiles.quantiles_of(plain, "x", QUANTILES) == _engine_quantiles(plain)
