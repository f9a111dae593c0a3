"""Each engine aggregation at scale, DuckDB against Spark (local[2]), to 1e-9: the validation counts, the overview
(notebook 01), the SLA experiment's customer table (04's scan), and the A/B engine's checks and sums.

The tickets are simulated once for the session: :data:`ROWS` of them, 200,000 in `make test` (about a minute
there, once the other Spark tests have started the session), a million with ``STUDY_SPARK_SCALE_ROWS=1000000``. The copy is
written in row groups of :data:`GROUP_ROWS`, smaller than a run's, so that at either size each engine reads it in
several parts (DuckDB's sums per row group, Spark's partitions, whose order 04's file-order sums must restore):
the code paths a billion tickets take, which a million tickets in one row group would not reach.
Skipped, with the reason, where Spark cannot run (no pyspark, no Java 17+).
"""

import os

import pandas as pd
import pytest
from aggregates_match import assert_same_aggregates

from study.data import dataset, io, simulate, streamed
from study.engine import spark_missing

pytestmark = pytest.mark.skipif(spark_missing() is not None, reason=f"Spark cannot run here: {spark_missing()}")

ROWS = int(os.environ.get("STUDY_SPARK_SCALE_ROWS", "200000"))
GROUP_ROWS = max(1 << 12, ROWS // 6)  # six or seven row groups of the copy


@pytest.fixture(scope="module")
def spark():
    from study.engine.spark import spark_session

    return spark_session("local[2]")


@pytest.fixture(scope="session")
def scale_files(tmp_path_factory):
    """:data:`ROWS` simulated tickets (seed 1) and their validated copy, in row groups of :data:`GROUP_ROWS`."""
    folder = tmp_path_factory.mktemp("spark_scale")
    tickets, _ = simulate.write(simulate.simulate(rows=ROWS, seed=1), folder / "tickets.parquet")
    patch = pytest.MonkeyPatch()
    patch.setattr(io, "ROWS_PER_GROUP", GROUP_ROWS)
    try:
        copy = dataset.write_prepared(dataset.load_tickets(tickets), folder / "copy.parquet")
    finally:
        patch.undo()
    return tickets, copy


@pytest.fixture(scope="module")
def sources(scale_files, spark):
    """Each file as a DuckDB source and as a Spark source."""
    from study.engine.sources import DuckDBSource
    from study.engine.spark import SparkSource

    return {name: (DuckDBSource(path), SparkSource(path, spark)) for name, path in zip(("tickets", "copy"), scale_files)}


def test_the_copy_is_read_in_parts_by_both_engines(scale_files, sources):
    """What makes the scale test more than a large sample: several row groups, several Spark partitions."""
    import pyarrow.parquet as pq

    _, copy = scale_files
    assert pq.ParquetFile(copy).metadata.num_row_groups == -(-ROWS // GROUP_ROWS)
    assert sources["copy"][1].frame.rdd.getNumPartitions() >= 2


def test_the_validation_counts_agree(scale_files, sources):
    tickets, _ = scale_files
    kinds = streamed.column_kinds(tickets)
    duck, on_spark = sources["tickets"]
    expected = streamed.clean_counts(tickets, kinds, duck)
    assert streamed.clean_counts(tickets, kinds, on_spark) == expected and expected["clean"]
    assert expected["rows"] == expected["ticket_id|distinct"] == ROWS
    assert streamed.unit_notes(tickets, kinds, on_spark) == streamed.unit_notes(tickets, kinds, duck)


def test_the_overview_agrees(scale_files, sources):
    from study.data import overview

    _, copy = scale_files
    data = dataset.load_tickets(copy, needed=[])
    left, right = (overview.summarize(data, source=s) for s in sources["copy"])
    for name in ("tickets", "customers", "answered", "first_opened", "last_opened", "measured", "constant"):
        assert getattr(left, name) == getattr(right, name), name
    assert left.tickets == ROWS and left.over_a_day == pytest.approx(right.over_a_day, rel=1e-9)
    for a, b in zip(left.headline, right.headline, strict=True):
        assert (a.name, a.n) == (b.name, b.n)
        for x, y in ((a.value, b.value), (a.se, b.se), (a.ci_low, b.ci_low), (a.ci_high, b.ci_high)):
            assert (x is None and y is None) or x == pytest.approx(y, rel=1e-9, nan_ok=True), a.name
    for part in ("by_band", "by_resolution", "histogram", "distribution"):
        mine, theirs = getattr(left, part), getattr(right, part)
        if isinstance(mine, pd.DataFrame):
            pd.testing.assert_frame_equal(mine, theirs, rtol=1e-9, check_index_type=False)
        elif isinstance(mine, pd.Series):
            pd.testing.assert_series_equal(mine, theirs, rtol=1e-9, check_index_type=False)
        else:
            assert mine == theirs, part


def test_the_sla_customer_table_agrees(scale_files, sources):
    """04's scan: ledger, units in file order, and each customer's sums in row order, on both engines."""
    from study.ab.sla_engine import experiment_scan, file_dtypes

    _, copy = scale_files
    left, right = (experiment_scan(s, dtypes=file_dtypes(copy)) for s in sources["copy"])
    assert len(left.customers) > ROWS // 4
    pd.testing.assert_frame_equal(right.customers, left.customers, rtol=1e-9)
    pd.testing.assert_frame_equal(right.experiment.units, left.experiment.units, check_exact=True)
    assert right.experiment.ledger.as_dict() == left.experiment.ledger.as_dict()
    assert right.covariates == left.covariates and right.untimed == left.untimed


def test_the_ab_checks_and_sums_agree(sources):
    """The A/B engine's two scans over the tickets, each ticket a unit: the checks, then every sum, whole and by
    channel and tier (the exact integer sums on Spark, DuckDB's sums per row group)."""
    from study.ab import aggregate
    from study.ab.sufficient import Metric

    metrics = [Metric("csat", "csat", covariate="pre_spend"), Metric("repeat_purchase", "repeat_purchase", "proportion"),
               Metric("spend_per_order", "next_spend", "ratio", denominator="prior_orders")]
    segmentations = [(), ("channel",), ("loyalty_tier",)]
    (left_checks, left), (right_checks, right) = (
        aggregate.analyse(s, metrics, "ticket_id", segmentations=segmentations) for s in sources["copy"])
    assert left_checks == right_checks and left_checks.rows == ROWS
    for a, b in zip(left, right, strict=True):
        assert_same_aggregates(a, b, abs_=1e-9)
