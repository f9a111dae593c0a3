"""Reduce a unit-level experiment table to sufficient statistics per segment, arm and metric.

Two backends give the same numbers: pandas for a frame in memory, DuckDB for a Parquet or CSV
file, a table in a DuckDB database, or a frame too (one SQL scan, in parallel, out of core).
SQL is built from quoted identifiers only; file names are bound as parameters, never pasted.
"""

from __future__ import annotations

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


def exact_sum_sql(expression: str, digits: int = 9) -> str:
    """SQL for the exact sum of ``expression`` rounded to ``digits`` decimal places.

    Each value is cast to ``DECIMAL(38, digits)`` and the decimals are summed, which both DuckDB and
    Spark do in integer arithmetic: the result does not depend on the order of the rows, so it is the
    same bytes on any number of threads or partitions. The sum is a DECIMAL: convert it with
    ``float()`` (or ``CAST(... AS DOUBLE)`` in SQL). A value too large for the decimal is an error,
    not a wrong sum.

    Parameters
    ----------
    expression : str
        A numeric SQL expression (quote column names with :func:`quote`).
    digits : int
        Decimal places kept of each value.

    Returns
    -------
    str
        ``SUM(CAST(<expression> AS DECIMAL(38, digits)))``.
    """
    return f"SUM(CAST({expression} AS DECIMAL(38, {int(digits)})))"


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

        Only ``{relation}`` outside double-quoted identifiers is replaced: a column name from the data
        that happens to contain the placeholder stays a name.
        """
        parts = re.split(r'("(?:[^"]|"")*")', select)
        sql = "".join(p if p.startswith('"') else p.replace("{relation}", from_ or self.relation) for p in parts)
        return self.connection.execute(sql, self.parameters).fetchall()

    def columns(self) -> list[str]:
        return [row[0] for row in self.execute("DESCRIBE SELECT * FROM {relation}")]


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
    """Sufficient statistics by one DuckDB scan of a frame, a Parquet/CSV file or a DuckDB table.

    Sums use DuckDB's ``fsum`` (compensated summation), which matches an exact sum to the last
    digit or two, whatever the thread scheduling.

    Parameters
    ----------
    source : pandas.DataFrame, str, Path or DuckDBSource
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
    metrics, segments = tuple(metrics), tuple(segments)
    src = as_source(source, table)
    columns = src.columns()
    _check_columns(columns, arm, metrics, segments)
    relation = clean_units_sql(src.relation, columns, clean_unit, arm) if clean_unit else src.relation
    origins = _sql_origins(src, relation, arm, metrics)

    selects = [f"{quote(arm)} AS arm_value", *(f"{quote(s)} AS segment_{i}" for i, s in enumerate(segments)), "COUNT(*)"]
    layout = []
    for m, metric in enumerate(metrics):
        columns = [f"CAST({quote(c)} AS DOUBLE)" for c in metric.columns]
        origin = origins.get(metric.name)
        if origin is not None:
            columns = [f"({c} - {float(o)!r})" for c, o in zip(columns, origin)]
        present = " AND ".join(f"{quote(c)} IS NOT NULL" for c in metric.columns)
        selects.append(f"COUNT(*) FILTER (WHERE {present})")
        for powers in metric.statistics.TERMS.values():
            product = " * ".join(c for c, p in zip(columns, powers) for _ in range(p))
            selects.append(f"COALESCE(fsum({product}) FILTER (WHERE {present}), 0)")
        layout.append((metric, len(metric.statistics.TERMS)))
    group = ", ".join(str(i + 1) for i in range(1 + len(segments)))
    sql = f"SELECT {', '.join(selects)} FROM {{relation}} WHERE {quote(arm)} IS NOT NULL GROUP BY {group}"

    stats, units = {}, {}
    for row in src.execute(sql, from_=relation):
        arm_value, segment = str(row[0]), tuple(_plain(v) for v in row[1:1 + len(segments)])
        units[(segment, arm_value)] = int(row[1 + len(segments)])
        position = 2 + len(segments)
        for metric, width in layout:
            n, sums = int(row[position]), [float(v) for v in row[position + 1:position + 1 + width]]
            extra = {"origin": origins[metric.name]} if metric.name in origins else {}
            sums_by_name = dict(zip(metric.statistics.TERMS, sums))
            stats[(segment, arm_value, metric.name)] = metric.statistics(n, **sums_by_name, **extra)
            position += 1 + width
    return Aggregates(arm, segments, metrics, stats, units)


def _sql_origins(src, relation: str, arm: str, metrics: Sequence[Metric]) -> dict[str, tuple[float, float]]:
    wanted = [m for m in metrics if m.statistics is CovariateMoments]
    if not wanted:
        return {}
    selects = []
    for metric in wanted:
        present = " AND ".join(f"{quote(c)} IS NOT NULL" for c in metric.columns)
        selects += [f"AVG(CAST({quote(c)} AS DOUBLE)) FILTER (WHERE {present})" for c in metric.columns]
    (row,) = src.execute(f"SELECT {', '.join(selects)} FROM {{relation}} WHERE {quote(arm)} IS NOT NULL", from_=relation)
    return {m.name: (rounded_origin(row[2 * i] or 0.0), rounded_origin(row[2 * i + 1] or 0.0)) for i, m in enumerate(wanted)}
