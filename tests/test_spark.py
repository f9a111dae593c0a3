"""The same aggregations on DuckDB and on Spark (local[2]) agree to 1e-9, and so does a whole `study run`.

Skipped, with the reason, where Spark cannot run (no pyspark, no Java 17+): `make test` installs both
where it may. One Spark session serves the module; each run of the study starts its own in its kernel.
"""

import json
import subprocess

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import results_numbers
from aggregates_match import assert_same_aggregates
from conftest import study_command

from study import config, parameters
from study.ab import aggregate, unit_checks
from study.ab.sufficient import Metric
from study.data import dataset, overview
from study.engine import spark_missing

pytestmark = pytest.mark.skipif(spark_missing() is not None, reason=f"Spark cannot run here: {spark_missing()}")

ODD = 'spend "net"; DROP TABLE units; --'
TIER = "tier é/ü"


@pytest.fixture(scope="session")
def spark():
    from study.engine.spark import spark_session

    return spark_session("local[2]")


def _engine_notebooks(experiment: bool) -> list[str]:
    """The analyses whose notebooks declare the ``engine`` parameter (those ``--engine spark`` must reach): of ticket
    tables, or of experiment tables (``experiment=True``)."""
    from study.analyses import ANALYSES

    return [a.notebook.stem for a in ANALYSES
            if "engine" in parameters.declared_parameters(a.notebook) and (a.kind == "experiment") == experiment]


EXPERIMENT_RUN = ("--data", str(config.DATA / "examples" / "experiment.csv.gz"),
                  "--columns", str(config.DATA / "examples" / "experiment_columns.yml"))
# The model sample is drawn by the runner on the run's engine: a notebook that reads it, with a sample smaller than the
# data, makes the ticket runs draw it on DuckDB and on Spark, and the comparison covers what the models read.
MODEL_SAMPLE_RUN = ("--param", "model_tickets=1000")
MODEL_SAMPLE_READERS = {"tickets": ["06_driver_analysis"], "experiment": []}


@pytest.fixture(scope="module", autouse=True)
def study_runs(tmp_path_factory):
    """`study run` of every notebook that declares the engine, with each engine, on the sample tickets and on the
    example experiment table, started with the module so that they overlap its other tests (a run mostly waits on
    its kernel and Spark's start); the last tests read them."""
    folder = tmp_path_factory.mktemp("engine_runs")
    runs = {}
    for table, data in (("tickets", MODEL_SAMPLE_RUN), ("experiment", EXPERIMENT_RUN)):
        names = _engine_notebooks(table == "experiment")
        for engine in ("duckdb", "spark"):
            out = folder / f"{table}_{engine}"
            with open(folder / f"{table}_{engine}.txt", "w") as printed:
                command = study_command("run", *data, "--only", ",".join(names + MODEL_SAMPLE_READERS[table]) or "none",
                                        "--out", str(out), "--pdf", "no", "--engine", engine)
                runs[table, engine] = (names, subprocess.Popen(command, stdout=printed, stderr=subprocess.STDOUT), out)
    yield runs
    for _, process, _ in runs.values():
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def units_file(tmp_path_factory):
    """Unit-level rows with what real tables have: missing values, odd names, duplicates, a unit in two arms."""
    rng = np.random.default_rng(5)
    n = 3000
    frame = pd.DataFrame({
        "customer_id": [f"c{i:05d}" for i in range(n)],
        "variant": rng.choice(["control", "fast", "faster"], n),
        TIER: rng.choice(["bronze", "silber", "gold ★", None], n),
        ODD: rng.lognormal(3, 1, n),
        "orders": rng.poisson(2, n) + 1.0,
        "bought": rng.random(n) < 0.3,
        "signup_year": rng.integers(2015, 2026, n).astype(float),
        "opened": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 10**9, n), unit="ns"),
    })
    frame.loc[rng.random(n) < 0.05, ODD] = np.nan
    frame.loc[rng.random(n) < 0.03, "variant"] = None
    frame.loc[rng.random(n) < 0.02, "customer_id"] = None
    frame = pd.concat([frame, frame.iloc[:40], frame.iloc[40:60].assign(variant="control")], ignore_index=True)
    path = tmp_path_factory.mktemp("units") / "units.parquet"
    frame.to_parquet(path)
    return path


METRICS = [
    Metric("spend", ODD), Metric("bought", "bought", "proportion"),
    Metric("spend_per_order", ODD, "ratio", denominator="orders"),
    Metric("spend_adjusted", ODD, covariate="signup_year"),
]


def _sources(path, spark):
    from study.engine.spark import SparkSource

    return aggregate.DuckDBSource(path), SparkSource(path, spark)


@pytest.mark.parametrize("segments, clean", [((), None), ((TIER,), "customer_id")],
                         ids=["whole", "by segment, units cleaned"])
def test_sufficient_statistics_agree(units_file, spark, segments, clean):
    duck, on_spark = _sources(units_file, spark)
    left = aggregate.aggregate_duckdb(duck, METRICS, segments=segments, clean_unit=clean)
    right = aggregate.aggregate_duckdb(on_spark, METRICS, segments=segments, clean_unit=clean)
    assert_same_aggregates(left, right, abs_=1e-12)
    assert len(left.units) >= 3 * (4 if segments else 1)  # every arm, and missing tiers as their own segment


def test_the_two_scan_analysis_agrees(units_file, spark):
    """The A/B engine's checks and statistics of several segmentations at once, as the study runs them."""

    duck, on_spark = _sources(units_file, spark)
    (left_checks, left), (right_checks, right) = (
        aggregate.analyse(s, METRICS, "customer_id", segmentations=[(), (TIER,)]) for s in (duck, on_spark))
    assert left_checks == right_checks and left_checks.rows_left_out > 0
    for a, b in zip(left, right, strict=True):
        assert_same_aggregates(a, b, abs_=1e-12)


@pytest.mark.parametrize("unit", ["customer_id", "number"], ids=["text units", "integer units"])
def test_unit_checks_agree(units_file, spark, tmp_path, unit):
    path = units_file
    if unit == "number":  # integer units take the A/B check's bitmap path, which needs the column's type
        frame = pd.read_parquet(units_file)
        frame["number"] = frame["customer_id"].str[1:].astype("Int64")
        path = tmp_path / "numbered.parquet"
        frame.to_parquet(path)
    duck, on_spark = _sources(path, spark)
    assert on_spark.column_types()["customer_id"] == "STRING"
    left, right = (unit_checks.check_units(s, unit=unit) for s in (duck, on_spark))
    assert left == right
    assert left.exact_duplicate_rows > 0 and left.units_in_several_arms > 0  # the data has what is checked


@pytest.fixture(scope="module")
def prepared(small_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("spark_overview")
    whole = dataset.write_prepared(small_data, folder / "copy.parquet")
    # Without csat and resolved: the overview reads them as empty columns, on Spark as on DuckDB.
    partial = small_data.tickets.drop(columns=["csat", "csat_answered", "resolved"])
    some = dataset.write_prepared(dataset.from_frame(partial), folder / "partial.parquet")
    return whole, some


@pytest.mark.parametrize("which", [0, 1], ids=["every column", "without csat and resolved"])
def test_overview_agrees(prepared, spark, which):
    from study.engine.spark import SparkSource

    data = dataset.load_tickets(prepared[which], needed=[])
    left = overview.summarize(data)
    right = overview.summarize(data, source=SparkSource(prepared[which], spark))
    for name in ("tickets", "customers", "answered", "first_opened", "last_opened", "measured", "constant"):
        assert getattr(left, name) == getattr(right, name), name
    assert left.over_a_day == pytest.approx(right.over_a_day, rel=1e-9)
    assert [(e.name, e.n) for e in left.headline] == [(e.name, e.n) for e in right.headline]
    for a, b in zip(left.headline, right.headline):
        for x, y in ((a.value, b.value), (a.se, b.se), (a.ci_low, b.ci_low), (a.ci_high, b.ci_high)):
            assert (x is None and y is None) or x == pytest.approx(y, rel=1e-9, nan_ok=True), a.name
    quantiles = [name for name in left.distribution.index if "quantile" in name]  # from histograms on Spark
    assert quantiles and left.distribution[quantiles].tolist() == right.distribution[quantiles].tolist()
    for part in ("by_band", "by_resolution", "histogram", "distribution"):
        mine, theirs = getattr(left, part), getattr(right, part)
        if isinstance(mine, (pd.DataFrame, pd.Series)):
            assert (pd.testing.assert_frame_equal if isinstance(mine, pd.DataFrame) else pd.testing.assert_series_equal)(
                mine, theirs, rtol=1e-9, check_index_type=False) is None
        else:
            assert mine == theirs
    assert left.has("by_resolution") == (which == 0)


def test_spark_refusals_are_one_line(units_file, spark):
    from study.engine.dialect import NotPortable
    from study.engine.spark import SparkSource

    source = SparkSource(units_file, spark)
    assert source.columns()[:3] == ["customer_id", "variant", TIER]
    assert source.execute('SELECT count(*) AS "{relation}" FROM {relation}') == [(3060,)]
    with pytest.raises(NotPortable, match="fsum"):
        source.execute("SELECT fsum(orders) FROM {relation}")
    with pytest.raises(ValueError, match="Spark refused the query") as error:
        source.execute('SELECT "no such column" FROM {relation}')
    assert "\n" not in str(error.value)


def test_integer_casts_and_exact_sums_give_duckdbs_bytes(spark, tmp_path):
    from study.engine.spark import SparkSource

    path = tmp_path / "ties.parquet"
    big = 2**62
    pd.DataFrame({"x": [2.5, 3.5, -2.5, -3.5, 2.7, -2.7, 0.1, None],
                  "big": pd.array([big, big, big, -5, 3 - big, big - 1, 7, None], dtype="Int64")}).to_parquet(path)
    sql = ("SELECT " + ", ".join(f"CAST(x * {k} AS BIGINT)" for k in ("1.0", "0.5e1")) + ", "
           + aggregate.exact_sum_sql("x") + " FROM {relation} GROUP BY x ORDER BY x")
    duck, on_spark = aggregate.DuckDBSource(path).execute(sql), SparkSource(path, spark).execute(sql)
    assert [tuple(float(v) if v is not None else None for v in row) for row in on_spark] == [
        tuple(float(v) if v is not None else None for v in row) for row in duck]
    assert [row[0] for row in duck][:4] == [-4, -3, -2, 0]  # ties to even: the rounding being compared
    # An integer sum past 2**63 (a BIGINT sum would overflow) is the same integer on both engines.
    total = "SELECT SUM(CAST(big AS BIGINT)), SUM(CAST(big AS BIGINT)) FILTER (WHERE x > 0) FROM {relation}"
    (duck_total,), (spark_total,) = aggregate.DuckDBSource(path).execute(total), SparkSource(path, spark).execute(total)
    assert tuple(int(v) for v in duck_total) == tuple(int(v) for v in spark_total) == (3 * big + 4, big + 10)


def test_a_csv_file_is_read_as_duckdb_reads_it(spark, tmp_path):
    """RFC 4180 as pandas writes it: a quoted comma, a doubled quote, line breaks inside quotes, a quote in a header."""
    from study.engine.spark import SparkSource

    path = tmp_path / "quoted.csv"
    values = ['x, "quoted"', "line\nbreak", "two\r\nlines", "back\\slash", "plain"]
    n = 30
    pd.DataFrame({"variant": ["control", "fast"] * (n // 2), 'seg "x"': [values[i % len(values)] for i in range(n)],
                  "y": np.arange(n) * 1.5}).to_csv(path, index=False)
    duck, on_spark = _sources(path, spark)
    assert on_spark.columns() == duck.columns() == ["variant", 'seg "x"', "y"]
    sql = 'SELECT "seg ""x""", variant, count(*), sum(y) FROM {relation} GROUP BY 1, 2 ORDER BY 1, 2'
    assert on_spark.execute(sql) == duck.execute(sql)
    assert {row[0] for row in duck.execute(sql)} == set(values)  # DuckDB, the reference, read every value whole
    assert_same_aggregates(aggregate.aggregate_duckdb(duck, [Metric("y", "y")], segments=['seg "x"']),
                           aggregate.aggregate_duckdb(on_spark, [Metric("y", "y")], segments=['seg "x"']), abs_=1e-12)
    # With CRLF line endings Spark would read the CRLF inside a value as LF: refused, in one line.
    frame = pd.read_csv(path)
    frame.to_csv(windows := tmp_path / "windows.csv", index=False, lineterminator="\r\n")
    with pytest.raises(ValueError, match="windows.csv: a quoted value holds a line break .* CRLF") as error:
        SparkSource(windows, spark)
    assert "\n" not in str(error.value)
    frame[~frame['seg "x"'].str.contains("\n")].to_csv(windows, index=False, lineterminator="\r\n")  # no line breaks
    duck, on_spark = _sources(windows, spark)
    assert on_spark.execute(sql) == duck.execute(sql) and len(duck.execute(sql)) == 6


def test_a_local_session_is_sized_for_this_machine(spark):
    assert spark.conf.get("spark.sql.shuffle.partitions") == "4"
    assert spark.conf.get("spark.sql.ansi.enabled") == "true" and spark.conf.get("spark.sql.session.timeZone") == "UTC"


@pytest.mark.parametrize("table", ["tickets", "experiment"])
def test_a_study_run_on_spark_gives_the_numbers_of_duckdb(study_runs, table):
    """`study run --engine spark` on the embedded sample and on the example experiment table (exposure mismatches,
    exact copies, units in several arms, a heavy-tailed metric): every notebook that declares the engine gets it
    (and the run says so), and the results JSON is DuckDB's, number by number."""
    (names, duck_process, duck_out), (_, spark_process, spark_out) = study_runs[table, "duckdb"], study_runs[table, "spark"]
    assert names, "no notebook declares the engine parameter: nothing would run on Spark"
    duck_status, spark_status = duck_process.wait(timeout=600), spark_process.wait(timeout=600)
    spark_printed = (spark_out.parent / f"{table}_spark.txt").read_text()
    assert duck_status == 0 and spark_status == 0, spark_printed
    assert f"engine spark aggregates for {', '.join(names)};" in spark_printed
    if MODEL_SAMPLE_READERS[table]:
        assert "drawn once on spark" in spark_printed, spark_printed
        assert "drawn once on duckdb" in (duck_out.parent / f"{table}_duckdb.txt").read_text()
    for name in names:  # what papermill gave each executed notebook
        given = [json.loads((out / "notebooks" / f"{name}.ipynb").read_text())["metadata"]["papermill"]["parameters"]
                 for out in (duck_out, spark_out)]
        assert "engine" not in given[0] and given[1]["engine"] == "spark", name
        assert given[1]["spark_master"] == "local[2]", name
    compared = 0
    for left in sorted((duck_out / "results").glob("*.json")):
        right = spark_out / "results" / left.name
        assert results_numbers.differences(json.loads(left.read_text()), json.loads(right.read_text())) == []
        compared += 1
    assert compared == len(names + MODEL_SAMPLE_READERS[table]) and config.SAMPLE_DATA.is_file()


def test_sla_experiment_tables_agree(spark, tmp_path):
    """Notebook 04's ledger, units (first row in file order) and customer table (sums in row order, first known
    covariates, first channel by time) on Spark equal the pandas path's on hostile tickets: the rows' order is the
    Parquet row index. (The sample is compared whole by test_a_study_run_on_spark_gives_the_numbers_of_duckdb.)"""
    from test_sla_engine import hostile_tickets, pandas_reference

    from study.ab.sla_engine import experiment_scan, file_dtypes
    from study.engine.spark import SparkSource

    path = tmp_path / "hostile.parquet"
    hostile_tickets(1500).to_parquet(path, row_group_size=400)
    experiment, customers, covariates = pandas_reference(pd.read_parquet(path))
    found = experiment_scan(SparkSource(path, spark), dtypes=file_dtypes(path))
    pd.testing.assert_frame_equal(found.customers, customers, rtol=1e-9)
    pd.testing.assert_frame_equal(found.experiment.units, experiment.units, check_exact=True)
    assert found.experiment.ledger.as_dict() == experiment.ledger.as_dict()
    assert found.covariates == covariates and found.experiment.units_in_several_arms == experiment.units_in_several_arms
    assert (customers["tickets"] >= 3).any()


def _hostile_experiment(n: int = 2400):
    """An experiment table with what cleaning must get right: exposures that disagree or are missing, rows without an
    arm or a unit, exact copies, units in several arms and units with conflicting rows, missing metric values, a
    metric that is 0/1 only once those units are left out, and a heavy-tailed metric."""
    rng = np.random.default_rng(11)
    arms = rng.choice(["control", "fast", "faster"], n, p=[0.5, 0.25, 0.25])
    frame = pd.DataFrame({
        "user": [f"u{i:05d}" for i in range(n)], "arm": arms,
        "page": pd.Series(arms).map({"control": "old", "fast": "new", "faster": "newer"}),
        "device": rng.choice(["mobile", "desktop", None], n), "before": rng.gamma(2, 10, n),
        "bought": (rng.random(n) < 0.2).astype(float), "spend": rng.lognormal(2, 1.5, n),
        "clicked": (rng.random(n) < 0.5).astype(float),
    })
    frame.loc[rng.random(n) < 0.03, "page"] = "old"
    frame.loc[rng.random(n) < 0.02, "page"] = None
    frame.loc[rng.random(n) < 0.02, "arm"] = None
    frame.loc[rng.random(n) < 0.02, "user"] = None
    frame.loc[rng.random(n) < 0.05, "spend"] = np.nan
    several = frame.iloc[100:110].assign(arm="control", page="old")  # units in two arms
    conflicting = frame.iloc[200:215].assign(spend=1.0)  # same unit, same arm, another value
    conflicting.loc[conflicting.index[:5], "clicked"] = 7.0  # the only values of clicked besides 0 and 1
    frame = pd.concat([frame, frame.iloc[:30], several, conflicting], ignore_index=True)
    return frame, ("experiment:\n  unit: user\n  arm: arm\n  control: control\n"
                   "  metrics: {bought: {role: primary}, spend: {role: guardrail, margin: 1.0}, clicked: {robust: true}}\n"
                   "  covariate: before\n  segments: [device]\n"
                   "  exposure: {column: page, expected: {control: old, fast: new, faster: newer}}\n")


def test_an_experiment_table_on_the_engines_gives_the_pandas_results(spark, tmp_path):
    """Notebook 05's analysis through a source (DuckDB, Spark) against the pandas path, on a hostile table: the same
    ledger, checks and results JSON, number by number (the example table is compared by the `study run` test)."""
    from study.ab import experiment_engine, experiment_table
    from study.core.results import Source, save

    frame, written = _hostile_experiment()
    (tmp_path / "map.yml").write_text(written)
    mapping = experiment_table.read_map(tmp_path / "map.yml")
    path = tmp_path / "hostile.parquet"
    # Some spend gaps are NaN stored as values (pandas would write them as gaps): missing to pandas, a value to SQL.
    table = pa.Table.from_pandas(frame, preserve_index=False)
    spend = frame["spend"].to_numpy(dtype=float, copy=True)
    table = table.set_column(table.schema.get_field_index("spend"), "spend", pa.array(spend, from_pandas=False))
    pq.write_table(table, path)
    assert pq.read_table(path).column("spend").null_count == 0  # every gap is a stored NaN
    facts = {"source": Source("hostile.parquet", "0" * 16, len(frame), list(frame.columns)),
             "parameters": {"alpha": 0.05, "srm_alpha": 0.001, "relative_mde": 0.05}}
    import dataclasses

    expected = dataclasses.replace(experiment_table.analyse(pd.read_parquet(path), mapping), **facts)
    assert expected.checks.units_in_several_arms and expected.checks.units_with_conflicting_rows
    assert expected.itt_effects and expected.robust_effects and expected.exposure_mismatches
    assert {m.name: m.kind for m in expected.aggregates.metrics}["clicked"] == "proportion"  # its 7s were left out
    reference = save(expected, tmp_path / "pandas")
    for name in ("duckdb", "spark"):
        source, _ = experiment_engine.open_table(path, name)
        found = dataclasses.replace(experiment_engine.analyse_source(source, mapping), **facts)
        assert found.ledger.as_dict() == expected.ledger.as_dict() and found.checks == expected.checks, name
        assert results_numbers.differences(reference, save(found, tmp_path / name)) == [], name


def test_yes_no_arms_on_spark_are_named_as_pandas_names_them(spark, tmp_path):
    """Spark casts a yes/no arm to 'true', pandas to 'True': the engine names it as pandas does."""
    from test_experiment_table import same_results_as_pandas, yes_no_experiment

    from study.ab import experiment_engine

    _, mapping = yes_no_experiment(tmp_path / "t.parquet")
    source, _ = experiment_engine.open_table(tmp_path / "t.parquet", "spark")
    same_results_as_pandas(pd.read_parquet(tmp_path / "t.parquet"), mapping,
                           experiment_engine.analyse_source(source, mapping), tmp_path)

