"""The Spark engine: a session set up for reproducible runs (and, on ``local[...]``, sized for a small one),
and a source that runs the study's DuckDB-dialect SQL on Spark.

A source is what :mod:`study.ab` and :mod:`study.data.overview` aggregate: an object with
``relation``, ``execute(select, *, from_=None)`` and ``columns()``. :class:`SparkSource` is the Spark
one: the data is a temporary view, and each query is translated by :func:`study.engine.dialect.to_spark`
and run with ``session.sql``. Rows come back as tuples of Python values, as DuckDB gives them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import warnings
from pathlib import Path

from study.engine.dialect import to_spark

# Settings that decide the numbers, on every master (Spark Connect included: they are this session's own
# SQL settings, not the server's defaults): times that do not depend on the machine's time zone, errors
# instead of silent overflow (ANSI), and Parquet nanosecond timestamps, which Spark refuses, read as
# integers that :class:`SparkSource` turns into microsecond timestamps.
RESULT_SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.legacy.parquet.nanosAsLong": "true",
}
# For a driver this process starts (local or a cluster's master): no progress bars or log chatter in a
# notebook's output.
DRIVER_SETTINGS = {"spark.ui.showConsoleProgress": "false", "spark.log.level": "ERROR"}
# Only for local[...]: sized for a small run on this machine (two cores, not two hundred tasks' worth of
# data), a driver bound to the loopback address (it neither asks the network which name the machine has
# nor listens beyond it), no web UI. A cluster or a Connect server keeps its own values: its shuffle
# partitions and driver memory are sized for its data, and a run must not shrink them.
LOCAL_SETTINGS = {
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.files.maxPartitionBytes": str(128 << 20),
    "spark.driver.memory": "2g",
    "spark.ui.enabled": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}
_VIEWS = itertools.count(1)


def spark_session(master: str = "local[2]"):
    """A Spark session for the study: the active one when it has this master, else a new one.

    Parameters
    ----------
    master : str
        ``local[N]`` (N cores of this machine), a cluster master (``spark://host:port``, ``yarn``,
        ``k8s://...``) or a Spark Connect address (``sc://host:port``). Its settings are
        :func:`session_settings`: only a ``local[...]`` session is sized here (shuffle partitions,
        driver memory); a cluster or a Connect server keeps its own.

    Returns
    -------
    pyspark.sql.SparkSession

    Raises
    ------
    ValueError
        When another session with a different master is active in this process.
    """
    with _no_pandas_warning():
        return _session(master)


def session_settings(master: str) -> dict[str, str]:
    """The settings a session for ``master`` is given: what decides the numbers everywhere, the rest by master.

    Parameters
    ----------
    master : str
        As for :func:`spark_session`.

    Returns
    -------
    dict
        Spark setting -> value. For Spark Connect (``sc://``) only :data:`RESULT_SETTINGS`; for a cluster's
        master also :data:`DRIVER_SETTINGS`; for ``local[...]`` also :data:`LOCAL_SETTINGS`.
    """
    if master.startswith("sc://"):
        return dict(RESULT_SETTINGS)
    if master == "local" or master.startswith("local["):
        return {**RESULT_SETTINGS, **DRIVER_SETTINGS, **LOCAL_SETTINGS}
    return {**RESULT_SETTINGS, **DRIVER_SETTINGS}


@contextlib.contextmanager
def _no_pandas_warning():
    """PySpark warns about pandas 3 as its session starts; the study hands Spark no pandas objects (files in,
    Python rows out), so the warning concerns nothing it does."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        yield


def _session(master: str):
    from pyspark.sql import SparkSession

    if master.startswith("sc://"):
        builder = SparkSession.builder.remote(master)
        session = builder.getOrCreate()
        for key, value in session_settings(master).items():
            session.conf.set(key, value)
        return session
    active = SparkSession.getActiveSession()
    if active is not None:
        if active.sparkContext.master != master:
            raise ValueError(f"a Spark session with master {active.sparkContext.master} is already running here; "
                             f"cannot start one with {master}")
        return active
    builder = SparkSession.builder.master(master).appName("study")
    for key, value in session_settings(master).items():
        builder = builder.config(key, value)
    if master == "local" or master.startswith("local["):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return builder.getOrCreate()


def _nanosecond_columns(path: Path) -> dict[str, bool]:
    """Columns of a local Parquet file holding nanosecond timestamps -> whether they carry a time zone."""
    if not path.is_file():
        return {}
    import pyarrow as pa
    import pyarrow.parquet as pq

    return {field.name: field.type.tz is not None for field in pq.read_schema(path)
            if pa.types.is_timestamp(field.type) and field.type.unit == "ns"}


def _microseconds(frame, columns: dict[str, bool]):
    """``frame`` with nanosecond integers (see ``nanosAsLong`` above) as timestamps, floored to the microsecond."""
    from pyspark.sql import functions as F

    for name, zoned in columns.items():
        if dict(frame.dtypes).get(name) != "bigint":
            continue
        quoted = "`" + name.replace("`", "``") + "`"
        micros = F.expr(f"timestamp_micros(({quoted} - pmod({quoted}, 1000)) div 1000)")
        # timestamp_micros counts from the epoch in UTC; a zone-less time is that wall-clock time.
        frame = frame.withColumn(name, micros if zoned else micros.cast("timestamp_ntz"))
    return frame


def _read_csv(session, path: Path, where: str):
    """A CSV file as RFC 4180 says, and as pandas and DuckDB write and read it.

    A quote inside a quoted field is doubled (Spark's default escape is a backslash) and a quoted field
    may hold line breaks (Spark's default line-by-line reading splits them into rows); such a file is
    read as one task. In a file whose lines end with CRLF, Spark turns a CRLF inside a quoted field into
    LF and cannot be told otherwise (its line separator is one character): a local file where that
    happens is refused rather than read with changed values.
    """
    frame = session.read.csv(where, header=True, inferSchema=True, escape='"', multiLine=True)
    if path.is_file():
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
        if head.split(b"\n", 1)[0].endswith(b"\r"):  # the header line ends with CRLF
            from pyspark.sql import functions as F

            texts = [F.col("`" + f.name.replace("`", "``") + "`").contains("\n") for f in frame.schema.fields
                     if f.dataType.simpleString() == "string"]
            if texts and frame.where(_any(texts)).limit(1).count():
                raise ValueError(f"{path.name}: a quoted value holds a line break in a file with CRLF line endings, "
                                 "which Spark reads as LF; write the data as Parquet (or with LF line endings)")
    return frame


def _any(conditions):
    """The disjunction of Spark column conditions."""
    found = conditions[0]
    for condition in conditions[1:]:
        found = found | condition
    return found


class SparkSource:
    """Data on Spark, queried with the study's DuckDB-dialect SQL.

    Parameters
    ----------
    path_or_dataframe : str, Path or pyspark.sql.DataFrame
        A Parquet file or folder (or an RFC 4180 CSV file, read with a header and inferred types: see
        :func:`_read_csv`), which the Spark cluster must be able to read at that path, or a Spark DataFrame.
    session : pyspark.sql.SparkSession
        From :func:`spark_session`.

    Attributes
    ----------
    relation : str
        The temporary view holding the data, as DuckDB-dialect SQL names it.
    """

    # Spark's exact percentile gathers every distinct value of a column into one task: a caller finds exact
    # quantiles from histograms instead (study.engine.quantiles).
    quantiles_by_histogram = True

    def __init__(self, path_or_dataframe, session):
        self.session = session
        if isinstance(path_or_dataframe, (str, Path)):
            path = Path(path_or_dataframe)
            name = path.name.lower()
            if not path.exists() and "://" not in str(path_or_dataframe):
                raise FileNotFoundError(f"{path.name}: no such file")
            if name.endswith((".parquet", ".pq")) or path.is_dir():
                frame = _microseconds(session.read.parquet(str(path_or_dataframe)), _nanosecond_columns(path))
            elif ".csv" in name:
                frame = _read_csv(session, path, str(path_or_dataframe))
            else:
                raise ValueError(f"{path.name}: Spark reads Parquet or CSV here; convert other files first")
        elif hasattr(path_or_dataframe, "createOrReplaceTempView"):
            frame = path_or_dataframe
        else:
            raise TypeError(f"SparkSource reads a file path or a Spark DataFrame, not {type(path_or_dataframe).__name__}")
        self.frame = frame
        self.view = f"study_source_{os.getpid()}_{next(_VIEWS)}"
        frame.createOrReplaceTempView(self.view)
        self.relation = self.view

    def execute(self, select: str, *, from_: str | None = None) -> list[tuple]:
        """Run ``select`` (DuckDB dialect) on Spark, ``{relation}`` replaced by the view (or ``from_``).

        Only ``{relation}`` outside double-quoted identifiers is replaced, as in
        :meth:`study.engine.sources.DuckDBSource.execute`.

        Raises
        ------
        study.engine.dialect.NotPortable
            For SQL that uses a DuckDB feature Spark does not have.
        ValueError
            When Spark refuses the query: its first line, with the Spark SQL it was given.
        """
        return [tuple(row) for row in self._run(select, from_, lambda frame: frame.collect())]

    def arrow(self, select: str, *, from_: str | None = None):
        """:meth:`execute`'s rows as a ``pyarrow.Table``: millions of rows without a Python object each."""
        return self._run(select, from_, lambda frame: frame.toArrow())

    def _run(self, select: str, from_: str | None, fetch):
        """``fetch`` of the Spark DataFrame of ``select`` translated, Spark's refusal as a one-line ValueError."""
        parts = re.split(r'("(?:[^"]|"")*")', select)
        sql = to_spark("".join(p if p.startswith('"') else p.replace("{relation}", from_ or self.relation) for p in parts))
        from pyspark.errors import PySparkException

        try:
            return fetch(self.session.sql(sql))
        except PySparkException as error:
            reason = next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
            raise ValueError(f"Spark refused the query: {reason[:300]} (Spark SQL: {sql[:300]})") from None

    def columns(self) -> list[str]:
        """The data's column names, in order."""
        return list(self.frame.columns)

    def column_types(self) -> dict[str, str]:
        """Column name -> Spark SQL type name, upper case (``BIGINT``, ``INT``, ``STRING``, ``DOUBLE``, ...)."""
        return {field.name: field.dataType.simpleString().upper() for field in self.frame.schema.fields}

    def close(self) -> None:
        """Drop the temporary view (the session stays)."""
        self.session.catalog.dropTempView(self.view)
