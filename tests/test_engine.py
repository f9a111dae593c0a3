"""The engine choice without Spark: the SQL translation, the checks a run makes before anything runs."""

import subprocess

import pytest
import results_numbers
from conftest import study_command

from study import parameters
from study.engine import check_engine, dialect, spark_missing
from study.engine.dialect import NotPortable, to_spark


def test_duckdb_sql_becomes_spark_sql_with_the_same_meaning():
    sql = to_spark('SELECT quantile_cont(x, 0.25), percentile_cont(0.5) WITHIN GROUP (ORDER BY "a b"), log10(x), '
                   'log(x), ln(x), "x"::DOUBLE, count(*) FILTER (WHERE "é""q" IS NOT NULL) FROM t')
    # Spark's percentile is the exact interpolated quantile (DuckDB's quantile_cont); LOG10 is base 10, as
    # DuckDB's log10 and one-argument log are; quoted names keep their characters.
    assert sql == ("SELECT PERCENTILE(x, 0.25), PERCENTILE(`a b`, 0.5), LOG10(x), LOG10(x), LN(x), CAST(`x` AS DOUBLE), "
                   "COUNT(*) FILTER(WHERE NOT `é\"q` IS NULL) FROM t")
    assert "APPROX" not in sql
    nested = "SELECT * FROM (WITH a AS (SELECT 1 AS x) SELECT x FROM a) AS l, (WITH a AS (SELECT 2 AS x) SELECT x FROM a) AS r"
    assert to_spark(nested) == nested  # each subquery keeps its own WITH: hoisted, the two `a` would collide
    # DuckDB rounds a fractional number it casts to an integer (ties to even), Spark truncates: RINT rounds as DuckDB.
    # Integer sums: the high and low 31 bits summed apart (no BIGINT overflow), joined as a 38-digit decimal.
    term = "CAST(RINT(x * 1048576.0) AS BIGINT)"
    assert to_spark("SELECT SUM(CAST(x * 1048576.0 AS BIGINT)) FILTER (WHERE y) FROM t") == (
        f"SELECT (CAST(SUM(SHIFTRIGHT({term}, 31)) FILTER(WHERE y) AS DECIMAL(38, 0)) * 2147483648 "
        f"+ SUM({term} & 2147483647) FILTER(WHERE y)) FROM t")
    assert to_spark("SELECT CAST(x AS BIGINT), CAST(a * b AS INTEGER), CAST(a / b AS INTEGER) FROM t") == (
        "SELECT CAST(x AS BIGINT), CAST(a * b AS INT), CAST(RINT(a / b) AS INT) FROM t")


@pytest.mark.parametrize("sql, named", [
    ("SELECT fsum(x) FROM t", "fsum"), ("SELECT CAST(x AS HUGEINT) FROM t", "HUGEINT"),
    ("SELECT min(x, 3) FROM t", "min(x, n)"), ("SELECT 1; SELECT 2", "one SQL statement"),
    ("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x DESC) FROM t", "ascending"),
])
def test_what_spark_lacks_is_refused_by_name(sql, named):
    with pytest.raises(NotPortable, match=named.replace("(", r"\(").replace(")", r"\)")):
        dialect.to_spark(sql)


@pytest.mark.parametrize("engine, master, words", [
    ("duck", "local[2]", "--engine must be one of duckdb, spark"),
    ("spark", "localhost:7077", "--spark-master must be"),
    ("spark", "local[two]", "--spark-master must be"),
])
def test_a_wrong_engine_or_master_is_one_line(engine, master, words):
    with pytest.raises(ValueError, match=words) as error:
        check_engine(engine, master)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("master", ["local", "local[2]", "local[*]", "local[4,2]", "spark://host:7077", "yarn",
                                    "k8s://https://host:6443", "sc://host:15002"])
def test_every_kind_of_master_is_accepted(master):
    check_engine("duckdb", master)


def test_spark_without_java_is_refused_with_the_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no java on the path
    monkeypatch.delenv("JAVA_HOME", raising=False)
    reason = spark_missing()
    assert reason is not None and ("Java" in reason or "pyspark" in reason)
    with pytest.raises(ValueError, match="--engine spark: "):
        check_engine("spark")
    assert spark_missing("sc://host:15002") in (None, "pyspark is not installed (pip install -e '.[spark]')")


def test_study_run_refuses_a_bad_engine_before_anything_runs(tmp_path):
    out = tmp_path / "report"
    result = subprocess.run(study_command("run", "--out", str(out), "--engine", "sprak"), capture_output=True, text=True, check=False)
    assert result.returncode == 2 and not out.exists()
    assert result.stderr.strip().splitlines() == ["study: error: --engine must be one of duckdb, spark, got 'sprak'"]


def test_study_run_refuses_spark_without_java_before_anything_runs(tmp_path):
    import os

    environment = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"} | {"PATH": str(tmp_path)}
    out = tmp_path / "report"
    result = subprocess.run(study_command("run", "--out", str(out), "--engine", "spark"), capture_output=True, text=True,
                            check=False, env=environment)
    assert result.returncode == 2 and not out.exists()
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("study: error: --engine spark: ") and ("Java" in line or "pyspark" in line)


def test_the_engine_goes_only_to_notebooks_that_declare_it():
    notebooks = [a.notebook for a in __import__("study.analyses", fromlist=["ANALYSES"]).ANALYSES]
    split = parameters.split_parameters({}, notebooks, {"engine": "spark", "spark_master": "local[2]"})
    assert split["01_data_overview"] == {"engine": "spark", "spark_master": "local[2]"}
    assert "engine" not in split["02_satisfaction_drivers"]
    assert parameters.split_parameters({}, notebooks)["01_data_overview"] == {}
    with pytest.raises(ValueError, match="--engine, not --param"):
        parameters.split_parameters({"engine": "spark"}, notebooks)


def test_results_trees_are_compared_number_by_number():
    left = {"a": [1.0, {"b": 2, "c": "x"}], "d": float("nan"), "e": True}
    assert results_numbers.differences(left, {"a": [1.0 + 1e-12, {"b": 2, "c": "x"}], "d": float("nan"), "e": True}) == []
    assert results_numbers.differences(left, {"a": [1.001, {"b": 2, "c": "y"}], "d": 0.0, "e": 1}) == [
        "$.a[0]: 1.0 != 1.001", "$.a[1].c: 'x' != 'y'", "$.d: nan != 0.0", "$.e: True != 1"]
    assert results_numbers.differences({"a": 1}, {"b": 1}) == ["$.a: only in one tree", "$.b: only in one tree"]


class _Builder:
    """Stands in for pyspark's SparkSession (builder, conf and active session): records the settings a session gets."""

    def __init__(self):
        self.settings = {}
        self.builder, self.conf = self, self

    def master(self, url):
        return self

    remote = appName = master

    def config(self, key, value):
        self.settings[key] = value
        return self

    def set(self, key, value):
        self.settings[key] = value

    def getOrCreate(self):
        return self

    @staticmethod
    def getActiveSession():
        return None


@pytest.mark.parametrize("master, local", [
    ("local", True), ("local[2]", True), ("local[*]", True), ("local[4,2]", True), ("spark://host:7077", False),
    ("yarn", False), ("k8s://https://host:6443", False), ("sc://host:15002", False)])
def test_only_a_local_session_is_sized_for_a_small_run(monkeypatch, master, local):
    """A cluster's or a Connect server's shuffle partitions and driver memory are its own; what decides the
    numbers (UTC, ANSI, nanosecond timestamps) is set everywhere. No cluster is started: the session is recorded."""
    pytest.importorskip("pyspark")
    from study.engine import spark

    fake = _Builder()
    monkeypatch.setattr("pyspark.sql.SparkSession", fake)
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")  # restored after the test, whatever a local session sets
    spark.spark_session(master)
    assert fake.settings.items() >= spark.RESULT_SETTINGS.items()
    for key in ("spark.sql.shuffle.partitions", "spark.driver.memory", "spark.sql.files.maxPartitionBytes",
                "spark.driver.host", "spark.ui.enabled"):
        assert (key in fake.settings) == local, key
    assert ("spark.log.level" in fake.settings) == (not master.startswith("sc://"))  # a Connect server logs as it likes
