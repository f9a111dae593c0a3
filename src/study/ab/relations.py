"""What the A/B engine returns (:class:`Aggregates`) and the SQL of its one-row-per-unit rule.

The sources it reads are :mod:`study.engine.sources`'s. The scans (:mod:`study.ab.scan`), the unit
checks (:mod:`study.ab.unit_checks`) and the aggregation (:mod:`study.ab.aggregate`) build on this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from study.ab.sufficient import CovariateMoments, Metric, Moments, RatioMoments
from study.engine.sources import (  # the sources and their SQL are part of this module's API
    DuckDBSource,
    as_source,
    exact_sum_sql,
    integer_sum_sql,
    quote,
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
