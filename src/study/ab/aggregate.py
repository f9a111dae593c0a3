"""Reduce a unit-level experiment table to sufficient statistics per segment, arm and metric.

Two backends give the same numbers: pandas for a frame in memory, SQL for a Parquet or CSV file, a
table in a DuckDB database, a frame too, or any other source (two scans, in parallel; see
:mod:`study.ab.scan`).
SQL is built from quoted identifiers only; file names are bound as parameters, never pasted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from study.ab.sufficient import (
    CovariateMoments,
    Metric,
    Moments,
    RatioMoments,
    rounded_origin,
)

Statistics = Moments | RatioMoments | CovariateMoments


@dataclass(frozen=True)
class Aggregates:
    """Sufficient statistics keyed by (segment values, arm, metric name).

    Attributes
    ----------
    arm : str
        Arm column.
    segments : tuple of str
        Segment columns; ``()`` for the whole experiment, whose key is then ``()``.
    metrics : tuple of Metric
    stats : dict
        ``(segment values, arm, metric name) -> Moments | RatioMoments | CovariateMoments``.
    units : dict
        ``(segment values, arm) -> rows`` (units) in that arm, whatever their metric values.
    """

    arm: str
    segments: tuple[str, ...]
    metrics: tuple[Metric, ...]
    stats: dict
    units: dict

    def segment_keys(self) -> list[tuple]:
        """Segment values present, sorted (missing values last)."""
        return sorted({key[0] for key in self.units}, key=_sort_key)

    def arm_names(self, segment: tuple = ()) -> list[str]:
        return sorted(arm for seg, arm in self.units if seg == segment)

    def by_arm(self, metric: str, segment: tuple = ()) -> dict[str, Statistics]:
        """One metric's statistics in each arm of one segment."""
        return {arm: s for (seg, arm, name), s in self.stats.items() if seg == segment and name == metric}

    def unit_counts(self, segment: tuple = ()) -> dict[str, int]:
        """Units per arm in one segment (for the sample-ratio check)."""
        return {arm: n for (seg, arm), n in sorted(self.units.items()) if seg == segment}


def _sort_key(values: tuple) -> tuple:
    return tuple((v is None, str(v)) for v in values)


def _plain(value):
    """numpy/pandas scalars to Python, missing to None, so both backends give identical keys."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA or value is pd.NaT:
        return None
    return value.item() if hasattr(value, "item") else value


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    series = frame[column]
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        raise ValueError(f"column '{column}' is {series.dtype}, not numeric or yes/no")
    return series.to_numpy(dtype=float, na_value=np.nan)


def _check_columns(available: Iterable[str], arm: str, metrics: Sequence[Metric], segments: Sequence[str]) -> None:
    available = set(available)
    wanted = [arm, *segments, *(c for m in metrics for c in m.columns)]
    missing = [c for c in dict.fromkeys(wanted) if c not in available]
    if missing:
        raise ValueError(f"column(s) {', '.join(repr(c) for c in missing)} not in the data "
                         f"(it has {', '.join(sorted(available)[:20])}{'…' if len(available) > 20 else ''})")
    names = [m.name for m in metrics]
    if len(set(names)) != len(names):
        raise ValueError(f"metric names must be unique, got {names}")


def aggregate_frame(frame: pd.DataFrame, metrics: Sequence[Metric], arm: str = "variant",
                    segments: Sequence[str] = ()) -> Aggregates:
    """Sufficient statistics of a unit-level frame with pandas.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per randomized unit (check with :func:`study.ab.unit_checks.check_units` first).
    metrics : sequence of Metric
    arm : str
        Arm column; rows without an arm are left out.
    segments : sequence of str
        Columns to break the results down by (``GROUP BY``); missing values form their own segment.

    Returns
    -------
    Aggregates
    """
    metrics, segments = tuple(metrics), tuple(segments)
    _check_columns(frame.columns, arm, metrics, segments)
    frame = frame[frame[arm].notna()]
    origins = _frame_origins(frame, metrics)
    stats, units = {}, {}
    keys = [arm, *segments]
    for key, rows in frame.groupby(keys, dropna=False, sort=False, observed=True):
        arm_value, *segment_values = (_plain(k) for k in (key if isinstance(key, tuple) else (key,)))
        segment = tuple(segment_values)
        units[(segment, str(arm_value))] = len(rows)
        for metric in metrics:
            columns = [_numeric(rows, c) for c in metric.columns]
            origin = origins.get(metric.name)
            stats[(segment, str(arm_value), metric.name)] = metric.statistics.from_arrays(*columns, origin=origin)
    return Aggregates(arm, segments, metrics, stats, units)


def _frame_origins(frame: pd.DataFrame, metrics: Sequence[Metric]) -> dict[str, tuple[float, float]]:
    origins = {}
    for metric in metrics:
        if metric.statistics is CovariateMoments:
            x, y = (_numeric(frame, c) for c in metric.columns)
            both = ~np.isnan(x) & ~np.isnan(y)
            origins[metric.name] = (rounded_origin(float(x[both].mean())) if both.any() else 0.0,
                                    rounded_origin(float(y[both].mean())) if both.any() else 0.0)
    return origins


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
            self.connection = duckdb.connect()
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
                self.connection, self.relation = duckdb.connect(str(path), read_only=True), quote(table)
            elif name.endswith((".parquet", ".pq")):
                self.connection, self.relation, self.parameters = duckdb.connect(), "read_parquet(?)", [str(path)]
            elif ".csv" in name or name.endswith((".tsv", ".txt")):
                self.connection, self.relation, self.parameters = duckdb.connect(), "read_csv(?)", [str(path)]
            else:
                raise ValueError(f"{path.name}: unknown file type; use Parquet, CSV or DuckDB")
        if threads is not None:
            self.connection.execute(f"SET threads = {int(threads)}")

    def execute(self, select: str, *, from_: str | None = None) -> list[tuple]:
        """Run ``select`` with ``{relation}`` replaced by the source.

        Only ``{relation}`` outside quoted identifiers and string literals is replaced: a column name
        or a value from the data that happens to contain the placeholder stays what it is.
        """
        quoted = r"""("(?:[^"]|"")*"|'(?:[^']|'')*')"""
        sql = "".join(p if p.startswith(('"', "'")) else p.replace("{relation}", from_ or self.relation)
                      for p in re.split(quoted, select))
        # The file name is bound, never pasted: once for each time the relation is read.
        uses = sum(p.count("?") for p in re.split(quoted, sql) if not p.startswith(('"', "'")))
        return self.connection.execute(sql, self.parameters * uses).fetchall()

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


# Why the one-row-per-unit rule leaves a row out, numbered as :func:`unit_rule_sql` flags it, in
# the words of row ledgers (``.format(unit=..., arm=...)``).
UNIT_FLAGS = {1: "no {arm}", 2: "no {unit}", 3: "exact duplicate row", 4: "{unit} in several arms",
              5: "{unit} with conflicting rows"}
# Columns the rule adds to the data's rows; unusual names, so that they never meet the data's own.
FLAG, COPIES, FIRST_ROW = "__unit_rule_flag", "__unit_rule_copies", "__unit_rule_first_row"


def unit_rule_sql(relation: str, columns: Sequence[str], unit: str, arm: str, position: str | None = None) -> str:
    """The one-row-per-unit rule, as a ``WITH`` clause to put before a query.

    The rule: rows without an arm (flag 1) or a unit (flag 2) are left out; exact duplicate rows
    (every column equal) collapse to one, the copies left out (flag 3); a unit that still has
    several rows is left out, whether they sit in several arms (flag 4: its assignment is
    unknowable) or in one arm with conflicting values (flag 5: its outcome is). This is its only
    definition: the counts, the cleaning of a frame and the cleaning of a file all read it from here.

    It names three relations:

    ``unit_rule_rows``
        Every row, with ``__unit_rule_flag`` 1, 2 or NULL.
    ``unit_rule_distinct``
        The distinct rows among those with NULL, each with ``__unit_rule_copies`` (rows equal to it)
        and, given ``position``, ``__unit_rule_first_row`` (the smallest position among them).
    ``unit_rule_units``
        One row per unit: ``unit_value``, ``unit_rows`` (distinct rows), ``copies`` (rows) and
        ``flag``: 4, 5, or NULL for a unit kept.

    Parameters
    ----------
    relation : str
        A table, a table function or a parenthesized query.
    columns : sequence of str
        Every column of the data (``position`` aside): rows equal in all of them are exact duplicates.
    unit, arm : str
        Unit and arm columns.
    position : str, optional
        Column numbering the rows, to tell which of several exact duplicates comes first.
    """
    u, a = quote(unit), quote(arm)
    every = ", ".join(quote(c) for c in columns)
    first = f", MIN({quote(position)}) AS {FIRST_ROW}" if position else ""
    # MIN <> MAX instead of COUNT(DISTINCT): "one arm or several" is all that is needed, and it is cheaper.
    return (f"WITH unit_rule_rows AS (SELECT *, CASE WHEN {a} IS NULL THEN 1 WHEN {u} IS NULL THEN 2 END AS {FLAG} "
            f"FROM {relation}), "
            f"unit_rule_distinct AS (SELECT {every}, COUNT(*) AS {COPIES}{first} FROM unit_rule_rows "
            f"WHERE {FLAG} IS NULL GROUP BY {every}), "
            f"unit_rule_units AS (SELECT {u} AS unit_value, COUNT(*) AS unit_rows, SUM({COPIES}) AS copies, "
            f"CASE WHEN MIN({a}) <> MAX({a}) THEN 4 WHEN COUNT(*) > 1 THEN 5 END AS flag "
            f"FROM unit_rule_distinct GROUP BY {u}) ")


def clean_units_sql(relation: str, columns: Sequence[str], unit: str, arm: str) -> str:
    """The relation's rows that the one-row-per-unit rule keeps (:func:`unit_rule_sql`), as a subquery."""
    kept = "SELECT unit_value FROM unit_rule_units WHERE flag IS NULL"
    return (f"({unit_rule_sql(relation, columns, unit, arm)}SELECT {', '.join(quote(c) for c in columns)} "
            f"FROM unit_rule_distinct WHERE {quote(unit)} IN ({kept}))")


def aggregate_duckdb(source: pd.DataFrame | str | Path | DuckDBSource, metrics: Sequence[Metric], arm: str = "variant",
                     segments: Sequence[str] = (), table: str | None = None, clean_unit: str | None = None) -> Aggregates:
    """Sufficient statistics by DuckDB (or any source) of a frame, a Parquet/CSV file or a DuckDB table.

    Two scans (:mod:`study.ab.scan`): the columns' ranges, then the sums, taken so that the result
    is the same bytes on any number of threads. For the unit checks and several segmentations in
    the same two scans see :func:`study.ab.scan.analyse`.

    Parameters
    ----------
    source : pandas.DataFrame, str, Path, DuckDBSource or another source
        A source is any object with ``relation``, ``execute(select, *, from_=None)`` and ``columns()``.
    metrics : sequence of Metric
    arm : str
    segments : sequence of str
    table : str, optional
        Table inside a DuckDB database file.
    clean_unit : str, optional
        Unit column: when given, exact duplicate rows are collapsed and units with several rows left
        out before aggregating (see :func:`clean_units_sql`).

    Returns
    -------
    Aggregates
        Equal to :func:`aggregate_frame` on the same rows.
    """
    from study.ab import scan

    src = as_source(source, table)
    if clean_unit is not None:
        return scan.analyse(src, metrics, clean_unit, arm, [tuple(segments)])[1][0]
    metrics, segments = tuple(metrics), tuple(segments)
    _check_columns(src.columns(), arm, metrics, segments)
    first = scan.lean(src, scan.first_scan, src.relation, arm, metrics)
    return scan.lean(src, scan.second_scan, src.relation, metrics, arm, [segments], first)[0]
