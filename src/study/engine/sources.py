"""Sources the engines aggregate, and the SQL for sums that are the same on any engine and thread count.

A *source* is any object with ``relation``, ``execute(select, *, from_=None)`` and ``columns()``:
:class:`DuckDBSource` for a frame, a Parquet/CSV file or a DuckDB table, or
:class:`study.engine.spark.SparkSource`. SQL is built from quoted identifiers only; file names are
bound as parameters, never pasted. The A/B engine (:mod:`study.ab`) and the overview
(:mod:`study.data.overview`) build on this module.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import duckdb
import pandas as pd

# DuckDB's memory for one aggregation over millions of groups before it writes to disk (study.ab.sla_engine).
SPILL_ABOVE_BYTES = 2 * 1024**3
# Rows of each Arrow batch DuckDB hands over (DuckDBSource.arrow): few chunks, and a bounded batch in two copies.
ARROW_BATCH_ROWS = 2**20
T = TypeVar("T")


def spill_folder(database: str | None = None) -> dict[str, str]:
    """DuckDB's ``temp_directory`` for a new connection, as its ``config``: a new name in the system's temporary
    folder, which DuckDB makes only if a query outgrows its memory and removes when the database closes.

    DuckDB's default is ``.tmp`` in the working folder, or beside a database file: the user's folders, where
    the study writes nothing. Every connection the study opens takes this (:func:`connect`). Connections of
    one process to the same ``database`` file get the same name: DuckDB shares one database between
    connections only when their settings are the same.
    """
    if database is None:
        name = uuid.uuid4().hex
    else:
        name = f"{os.getpid()}-{hashlib.sha256(str(Path(database).resolve()).encode()).hexdigest()[:20]}"
    return {"temp_directory": os.path.join(tempfile.gettempdir(), f"study-spill-{name}")}


def connect(database: str = ":memory:", read_only: bool = False, config: dict | None = None) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect`` with the database's own :func:`spill_folder` (``config`` may add settings)."""
    folder = spill_folder(None if database == ":memory:" else database)
    return duckdb.connect(database, read_only=read_only, config={**folder, **(config or {})})


def integer_sum_sql(expression: str, step: float, where: str | None = None) -> str:
    """SQL for the sum of ``expression`` in whole ``step``s: an integer, exact and order-independent.

    The parts of :func:`exact_sum_sql` before it is scaled back: ``SUM(CAST((expression) * <1/step>
    AS BIGINT))``, optionally ``FILTER (WHERE where)``. Keep each ``|value| / step`` and their sum
    under ``2**63``.
    """
    mantissa, _ = math.frexp(step)
    if not (step > 0 and mantissa == 0.5):
        raise ValueError(f"step must be a positive power of two, not {step!r}")
    condition = f" FILTER (WHERE {where})" if where else ""
    return f"SUM(CAST(({expression}) * {1 / step:.17e} AS BIGINT)){condition}"


def exact_sum_sql(expression: str, step: float = 2.0**-20, where: str | None = None) -> str:
    """SQL for the exact sum of ``expression``, each value rounded to a multiple of ``step``.

    Each value becomes an integer count of steps (``CAST(value / step AS BIGINT)``) and the integers
    are summed: integer addition does not depend on the order of the rows, so the sum is the same
    bytes on any number of threads or partitions, on DuckDB and on Spark. It is about as fast as a
    plain ``SUM`` of doubles (DECIMAL casts are 4 to 13 times slower; see :mod:`study.ab.scan`).
    The result is a DOUBLE. A value beyond ``2**63 * step`` is an error, not a wrong sum; keep the
    sum of ``|value| / step`` under ``2**63`` too (Spark's integer sum has no wider accumulator).

    Parameters
    ----------
    expression : str
        A numeric SQL expression (quote column names with :func:`quote`).
    step : float
        A power of two (exact as a double; default about 1e-6): the values' rounding.
    where : str, optional
        A condition: only rows meeting it are summed (``FILTER (WHERE ...)``).

    Returns
    -------
    str
        ``(SUM(CAST((expression) * <1/step> AS BIGINT)) [FILTER (WHERE ...)] * <step>)``; NULL over no rows.
    """
    return f"({integer_sum_sql(expression, step, where)} * {step:.17e})"


def as_source(source, table: str | None = None):
    """``source`` itself when it is a source (``relation``, ``execute``, ``columns``), else a :class:`DuckDBSource`."""
    return source if hasattr(source, "execute") and hasattr(source, "relation") else DuckDBSource(source, table=table)


def quote(identifier: str) -> str:
    """A SQL identifier in double quotes, inner quotes doubled: safe for any column name."""
    return '"' + str(identifier).replace('"', '""') + '"'


class DuckDBSource:
    """A relation to aggregate: a frame, a Parquet/CSV file, or a table of a DuckDB database.

    Parameters
    ----------
    source : pandas.DataFrame, str or Path
        The data; a ``.duckdb``/``.db`` file needs ``table``.
    table : str, optional
        Table name inside a DuckDB database file (or in ``connection``).
    connection : duckdb.DuckDBPyConnection, optional
        An open connection holding ``table``.
    threads : int, optional
        DuckDB threads; ``None`` leaves DuckDB's default (all cores).
    """

    def __init__(self, source: pd.DataFrame | str | Path | None = None, table: str | None = None,
                 connection: duckdb.DuckDBPyConnection | None = None, threads: int | None = None):
        self.parameters: list = []
        self.own_connection = connection is None  # settings of a connection it opened are its own to change
        if connection is not None:
            if table is None:
                raise ValueError("a connection needs the name of its table")
            self.connection, self.relation = connection, quote(table)
        elif isinstance(source, pd.DataFrame):
            self.connection = connect()
            self.connection.register("experiment_frame", source)
            self.relation = "experiment_frame"
        else:
            path = Path(source)
            if not path.exists():
                raise FileNotFoundError(f"{path.name}: no such file")
            name = path.name.lower()
            if name.endswith((".duckdb", ".ddb", ".db")):
                if table is None:
                    raise ValueError(f"{path.name}: name the table to read")
                self.connection, self.relation = connect(str(path), read_only=True), quote(table)
            elif name.endswith((".parquet", ".pq")):
                self.connection, self.relation, self.parameters = connect(), "read_parquet(?)", [str(path)]
            elif ".csv" in name or name.endswith((".tsv", ".txt")):
                self.connection, self.relation, self.parameters = connect(), "read_csv(?)", [str(path)]
            else:
                raise ValueError(f"{path.name}: unknown file type; use Parquet, CSV or DuckDB")
        if threads is not None:
            self.connection.execute(f"SET threads = {int(threads)}")

    def execute(self, select: str, *, from_: str | None = None) -> list[tuple]:
        """Run ``select`` with ``{relation}`` replaced by the source.

        Only ``{relation}`` outside quoted identifiers and string literals is replaced: a column name
        or a value from the data that happens to contain the placeholder stays what it is.
        """
        return self.connection.execute(*self._bound(select, from_)).fetchall()

    def arrow(self, select: str, *, from_: str | None = None):
        """:meth:`execute`'s rows as a ``pyarrow.Table``: millions of rows without a Python tuple each.

        Each column owns its memory. DuckDB's Arrow batches release their memory only once every column of
        the batch is released, so one column kept by a table (a pandas column reads Arrow's numbers in place)
        would keep all the others: at 10 million tickets 0.8 GB for the customer table of
        :mod:`study.ab.sla_engine`. Each batch is copied as it arrives and released.
        """
        import pyarrow as pa

        sql, parameters = self._bound(select, from_)
        reader = self.connection.sql(sql, params=parameters).to_arrow_reader(ARROW_BATCH_ROWS)
        return pa.Table.from_batches([_owned(batch) for batch in reader], schema=reader.schema)

    def _bound(self, select: str, from_: str | None) -> tuple[str, list]:
        """``select`` with ``{relation}`` replaced, and its parameters."""
        quoted = r"""("(?:[^"]|"")*"|'(?:[^']|'')*')"""
        sql = "".join(p if p.startswith(('"', "'")) else p.replace("{relation}", from_ or self.relation)
                      for p in re.split(quoted, select))
        # The file name is bound, never pasted: once for each time the relation is read.
        uses = sum(p.count("?") for p in re.split(quoted, sql) if not p.startswith(('"', "'")))
        return sql, self.parameters * uses

    def columns(self) -> list[str]:
        return list(self.column_types())

    def row_groups(self) -> tuple[str, int] | None:
        """For a Parquet file whose row groups (the last aside) have one size: a relation with each
        row's number in the file (``file_row_number``), and that size; otherwise ``None``."""
        if self.relation != "read_parquet(?)" or "file_row_number" in self.columns():
            return None
        sizes = [n for _, n in self.connection.execute(
            "SELECT DISTINCT row_group_id, row_group_num_rows FROM parquet_metadata(?) ORDER BY row_group_id",
            self.parameters).fetchall()]
        if not sizes or len(set(sizes[:-1])) > 1 or sizes[-1] > sizes[0]:
            return None
        return "read_parquet(?, file_row_number = true)", sizes[0]

    def column_statistics(self, columns: Sequence[str]) -> tuple[int, dict[str, tuple[float, float]]] | None:
        """Rows and bounds of numeric or yes/no columns from a Parquet file's statistics, without reading the data.

        ``None`` when the source is not a Parquet file or a column lacks statistics in some row group.
        """
        if self.relation != "read_parquet(?)" or not columns:
            return None
        value = ("COALESCE(TRY_CAST(stats_{0}_value AS DOUBLE), "
                 "CAST(TRY_CAST(stats_{0}_value AS BOOLEAN) AS DOUBLE))")
        rows = self.connection.execute(
            f"SELECT path_in_schema, COUNT(*), COUNT({value.format('min')}), COUNT({value.format('max')}), "
            f"MIN({value.format('min')}), MAX({value.format('max')}), SUM(row_group_num_rows) "
            f"FROM parquet_metadata(?) GROUP BY path_in_schema", self.parameters).fetchall()
        found = {name: (low, high) for name, groups, lows, highs, low, high, _ in rows if groups == lows == highs}
        if not all(c in found for c in columns):
            return None
        return int(rows[0][6]), {c: found[c] for c in columns}

    def column_types(self) -> dict[str, str]:
        """Column name -> DuckDB type name (e.g. ``BIGINT``, ``VARCHAR``)."""
        return {row[0]: row[1] for row in self.execute("DESCRIBE SELECT * FROM {relation}")}


class Subset:
    """The rows of a source that meet a condition, as a source of its own.

    Its relation is a subquery of the source's, so every query runs on the source's engine; the
    source's file shortcuts (Parquet statistics, row groups) are not offered, as they describe all
    the rows.

    Parameters
    ----------
    source : source
        A :class:`DuckDBSource`, a :class:`study.engine.spark.SparkSource` or another subset.
    condition : str
        A SQL condition in DuckDB's dialect, on quoted column names (:func:`quote`).
    select : str
        What each row becomes (DuckDB's ``* REPLACE (...)`` is how a subset rewrites a column).
    """

    def __init__(self, source, condition: str = "TRUE", select: str = "*"):
        self.source = source
        self.relation = f"(SELECT {select} FROM {source.relation} WHERE {condition})"

    def execute(self, select: str, *, from_: str | None = None) -> list[tuple]:
        """The source's :meth:`DuckDBSource.execute`, ``{relation}`` standing for the subset."""
        return self.source.execute(select, from_=from_ or self.relation)

    def arrow(self, select: str, *, from_: str | None = None):
        """The source's ``arrow``, ``{relation}`` standing for the subset."""
        return self.source.arrow(select, from_=from_ or self.relation)

    def columns(self) -> list[str]:
        return self.source.columns()

    def column_types(self) -> dict[str, str]:
        return self.source.column_types()


def _owned(batch):
    """A copy of the Arrow ``batch`` in Arrow's own memory, each column in buffers of its own."""
    import pyarrow as pa

    return pa.RecordBatch.from_arrays([pa.concat_arrays([column]) for column in batch.columns], schema=batch.schema)


def within_memory(source, run: Callable[[], T], limit: str | None = None, spill: bool = True) -> T:
    """``run()`` with DuckDB on ``source``'s own connection under a memory limit, or without one if it does not fit.

    ``limit`` is a DuckDB size (``"256MB"``); by default :data:`SPILL_ABOVE_BYTES`, or DuckDB's default of 80%
    of the machine's memory when less. What does not fit goes to the connection's :func:`spill_folder`, or,
    without ``spill``, nowhere: nothing is written. A limit too tight for the data is lifted and ``run()``
    called again, as without it; the connection's settings are restored after. Any other source runs as it is.
    """
    connection = getattr(source, "connection", None)
    if not (isinstance(connection, duckdb.DuckDBPyConnection) and getattr(source, "own_connection", False)):
        return run()
    if limit is None:
        import psutil

        limit = f"{min(SPILL_ABOVE_BYTES, int(0.8 * psutil.virtual_memory().total)) // 2**20}MiB"
    (folder,), = connection.execute("SELECT current_setting('temp_directory')").fetchall()
    try:
        connection.execute(f"SET memory_limit = '{limit}'")
        if not spill:
            connection.execute("SET temp_directory = ''")
        try:
            return run()
        except duckdb.OutOfMemoryException:
            connection.execute("RESET memory_limit")
            return run()
    finally:
        with contextlib.suppress(duckdb.Error):
            connection.execute("RESET memory_limit")
            if not spill:
                connection.execute("SET temp_directory = '" + folder.replace("'", "''") + "'")
