"""Design checks of a unit-level experiment table: one row per randomized unit, in one arm.

:func:`check_units` counts what breaks that promise and gives examples, by DuckDB over a frame, a
file or a table; :func:`drop_flagged_units` applies the rule to a frame and accounts for every row.
(Ticket-shaped data, several rows per customer by design, is handled by
:func:`study.data.experiment.experiment_rows`.)

The rule: rows without an arm or a unit are left out; exact duplicate rows (every column equal)
collapse to one; a unit that still has several rows is left out, whether its rows sit in several
arms (its assignment is unknowable) or in one arm with conflicting values (its outcome is). It is
written once, as SQL (:func:`study.ab.relations.unit_rule_sql`): the checks, the cleaning of a
frame here and the cleaning of a file by ``aggregate_duckdb(..., clean_unit=)`` all use it.
Comparing whole rows is costly, so :func:`check_units` first runs an exact, cheap test of "each
unit once" (:func:`study.ab.scan.first_scan`) and applies the full rule only when it fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from study.ab import scan
from study.ab.relations import (
    FIRST_ROW,
    FLAG,
    UNIT_FLAGS,
    DuckDBSource,
    as_source,
    clean_units_sql,
    quote,
    unit_rule_sql,
)
from study.core.accounting import RowLedger

EXAMPLES = 5
# Most units with several rows for which the whole-row rule runs on their rows only.
REPEATED_LIMIT = 10_000


def _count(n: int, singular: str, plural: str) -> str:
    return f"{n:,} {singular if n == 1 else plural}"


@dataclass(frozen=True)
class UnitChecks:
    """What a unit-level table holds against the one-row-per-unit promise.

    Attributes
    ----------
    unit, arm : str
        Column names.
    rows : int
        Rows in the table.
    rows_without_arm, rows_without_unit : int
    exact_duplicate_rows : int
        Rows identical in every column to another row (the copies, not the originals).
    units : int
        Distinct units with an arm.
    units_in_several_arms : int
    units_with_conflicting_rows : int
        Units with several different rows, all in one arm.
    rows_left_out : int
        Rows the rule leaves out in total (each reason above).
    examples_several_arms, examples_conflicting_rows : list of str
        Up to five unit identifiers each, in sorted order.
    """

    unit: str
    arm: str
    rows: int
    rows_without_arm: int
    rows_without_unit: int
    exact_duplicate_rows: int
    units: int
    units_in_several_arms: int
    units_with_conflicting_rows: int
    rows_of_flagged_units: int
    examples_several_arms: list[str]
    examples_conflicting_rows: list[str]

    @property
    def rows_left_out(self) -> int:
        return self.rows_without_arm + self.rows_without_unit + self.exact_duplicate_rows + self.rows_of_flagged_units

    @property
    def clean(self) -> bool:
        return self.rows_left_out == 0

    def summary(self) -> str:
        """What was found and what is done about it, in sentences for a report."""
        if self.clean:
            return f"All {self.rows:,} rows have an arm and a {self.unit}, and each {self.unit} appears once, in one arm."
        parts = []
        if self.rows_without_arm:
            parts.append(f"{_count(self.rows_without_arm, 'row has', 'rows have')} no {self.arm}: left out.")
        if self.rows_without_unit:
            parts.append(f"{_count(self.rows_without_unit, 'row has', 'rows have')} no {self.unit}: left out.")
        if self.exact_duplicate_rows:
            copies = _count(self.exact_duplicate_rows, "row is an exact copy", "rows are exact copies")
            parts.append(f"{copies} of another row: counted once.")
        if self.units_in_several_arms:
            parts.append(f"{_count(self.units_in_several_arms, 'unit appears', 'units appear')} in several arms (e.g. "
                         f"{', '.join(self.examples_several_arms)}): their assignment is unknowable, so they are left out.")
        if self.units_with_conflicting_rows:
            conflicting = _count(self.units_with_conflicting_rows, "unit has", "units have")
            parts.append(f"{conflicting} several different rows in one arm (e.g. "
                         f"{', '.join(self.examples_conflicting_rows)}): their outcome is ambiguous, so they are left out.")
        parts.append(f"In all {self.rows_left_out:,} of {self.rows:,} rows are left out.")
        return " ".join(parts)


def check_units(source: pd.DataFrame | str | Path | DuckDBSource, unit: str, arm: str = "variant",
                table: str | None = None) -> UnitChecks:
    """Count duplicate units and units in several arms of a unit-level table.

    Parameters
    ----------
    source : pandas.DataFrame, str, Path or DuckDBSource
        The table (a frame, a Parquet/CSV file, or a DuckDB file with ``table``).
    unit : str
        Column of the randomized unit.
    arm : str
        Arm column.
    table : str, optional

    Returns
    -------
    UnitChecks
    """
    src = as_source(source, table)
    columns = src.columns()
    missing = [c for c in (unit, arm) if c not in columns]
    if missing:
        raise ValueError(f"column(s) {', '.join(repr(c) for c in missing)} not in the data")
    # The cheap exact test first (see study.ab.scan); the whole-row rule only when a unit repeats.
    first = scan.lean(src, scan.first_scan, src.relation, arm, (), unit)
    if first.one_row_per_unit:
        return UnitChecks(unit, arm, first.rows, first.rows_without_arm, first.rows_without_unit, 0, first.units,
                          0, 0, 0, [], [])
    repeated = repeated_checks(src, columns, unit, arm, first)
    return repeated[0] if repeated else detailed_checks(src, columns, unit, arm)


def detailed_checks(src, columns: list[str], unit: str, arm: str, relation: str | None = None) -> UnitChecks:
    """The rule of :func:`study.ab.relations.unit_rule_sql` counted in full, with examples (one statement).

    Parameters
    ----------
    src : source
    columns : list of str
        Every column of the source.
    unit, arm : str
    relation : str, optional
        A subquery of the source to count instead of the whole source.

    Returns
    -------
    UnitChecks
    """
    example = "CAST(unit_value AS VARCHAR)"
    # One statement: the counts on a row of their own (kind 0), then up to five examples of each flag,
    # smallest first, so that the costly rule is computed once.
    rows = src.execute(
        f"{unit_rule_sql('{relation}', columns, unit, arm)}"
        f"SELECT 0 AS kind, rows_in, no_arm, no_unit, copies, units, several_arms, conflicting, flagged_rows, "
        f"CAST(NULL AS VARCHAR) AS example FROM (SELECT COUNT(*) AS rows_in, COUNT(*) FILTER (WHERE {FLAG} = 1) AS no_arm, "
        f"COUNT(*) FILTER (WHERE {FLAG} = 2) AS no_unit FROM unit_rule_rows) AS row_counts, "
        f"(SELECT COALESCE(SUM(copies - unit_rows), 0) AS copies, COUNT(*) AS units, "
        f"COUNT(*) FILTER (WHERE flag = 4) AS several_arms, COUNT(*) FILTER (WHERE flag = 5) AS conflicting, "
        f"COALESCE(SUM(unit_rows) FILTER (WHERE flag IS NOT NULL), 0) AS flagged_rows FROM unit_rule_units) AS unit_counts "
        f"UNION ALL SELECT flag, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, example FROM ("
        f"SELECT flag, {example} AS example, ROW_NUMBER() OVER (PARTITION BY flag ORDER BY {example}) AS position "
        f"FROM unit_rule_units WHERE flag IS NOT NULL) AS ranked WHERE position <= {EXAMPLES}", from_=relation)
    (counts,) = [r for r in rows if r[0] == 0]
    examples = {flag: sorted(r[9] for r in rows if r[0] == flag) for flag in (4, 5)}
    return UnitChecks(unit, arm, *(int(v) for v in counts[1:9]), examples[4], examples[5])


def _literal(value) -> str | None:
    """A unit value as a SQL literal, or ``None`` for a type not written that way here."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    return str(value) if isinstance(value, int) else "'" + value.replace("'", "''") + "'"


def repeated_units_sql(src, unit: str, arm: str) -> str:
    """SQL listing the units with several rows (among rows with an arm).

    For integer units only the rows of buckets that fail the bitmap check (:mod:`study.ab.scan`) are
    grouped by unit, so the listing costs about one more cheap scan.

    Parameters
    ----------
    src : source
    unit, arm : str

    Returns
    -------
    str
        A ``SELECT`` of one column, with ``{relation}`` for the source.
    """
    u, a = quote(unit), quote(arm)
    kept = f"{a} IS NOT NULL AND {u} IS NOT NULL"
    bucket, bit = scan.buckets(src, unit)
    narrowed = "" if bucket == u else (
        f" AND {bucket} IN (SELECT bucket FROM (SELECT {bucket} AS bucket FROM {{relation}} WHERE {kept} "
        f"GROUP BY {bucket} HAVING COUNT(*) <> BIT_COUNT(BIT_OR({bit}))) AS crowded)")
    return f"SELECT {u} FROM {{relation}} WHERE {kept}{narrowed} GROUP BY {u} HAVING COUNT(*) > 1"


def repeated_checks(src, columns: list[str], unit: str, arm: str, first) -> tuple[UnitChecks, str] | None:
    """The whole-row rule applied to the rows of units that appear more than once, and only to those.

    Comparing whole rows is what makes the rule costly; a unit with one row needs none of it. The
    units with several rows are listed (:func:`repeated_units_sql`), the rule runs on
    their rows, and the counts are completed from the first scan's.

    Parameters
    ----------
    src : source
    columns : list of str
    unit, arm : str
    first : study.ab.scan.FirstScan
        The first scan of the whole source, with ``unit``.

    Returns
    -------
    (UnitChecks, str) or None
        The checks, as :func:`detailed_checks` gives them for the whole source, and the rows the rule
        keeps as a subquery; ``None`` when more than ``REPEATED_LIMIT`` units repeat or their values
        are neither integers nor text (then the rule is run on everything).
    """
    u, a = quote(unit), quote(arm)
    found = src.execute(f"{repeated_units_sql(src, unit, arm)} LIMIT {REPEATED_LIMIT + 1}")
    literals = sorted(_literal(value) for value, in found if _literal(value) is not None)
    if not found or len(found) > REPEATED_LIMIT or len(literals) < len(found):
        return None
    # A table of values, not a list: engines hash-join a subquery, but may test a long list row by row.
    every = ", ".join(quote(c) for c in columns)
    listed = f"SELECT repeated_unit FROM (VALUES {', '.join(f'({v})' for v in literals)}) AS repeated(repeated_unit)"
    subset = f"(SELECT * FROM {src.relation} WHERE {u} IN ({listed}))"
    part = detailed_checks(src, columns, unit, arm, relation=subset)
    subset_kept = part.rows - part.rows_without_arm - part.rows_without_unit
    checks = UnitChecks(unit, arm, first.rows, first.rows_without_arm, first.rows_without_unit,
                        part.exact_duplicate_rows, first.rows_kept - subset_kept + part.units,
                        part.units_in_several_arms, part.units_with_conflicting_rows, part.rows_of_flagged_units,
                        part.examples_several_arms, part.examples_conflicting_rows)
    kept = (f"(SELECT {every} FROM {src.relation} WHERE {a} IS NOT NULL AND {u} IS NOT NULL AND {u} NOT IN ({listed}) "
            f"UNION ALL SELECT {every} FROM {clean_units_sql(subset, columns, unit, arm)} AS repeated_kept)")
    return checks, kept


def drop_flagged_units(frame: pd.DataFrame, unit: str, arm: str = "variant") -> tuple[pd.DataFrame, RowLedger]:
    """Apply the module's rule to a frame: one row per unit, each in one arm.

    Parameters
    ----------
    frame : pandas.DataFrame
    unit, arm : str

    Returns
    -------
    (pandas.DataFrame, RowLedger)
        The rows kept, in their order, and the ledger of rows in, dropped by reason, and used.
    """
    position = "__row"
    while position in frame.columns:  # a name of the frame's own would be taken for the row number
        position += "_"
    src = DuckDBSource(frame.assign(**{position: np.arange(len(frame))}))
    columns = [c for c in src.columns() if c != position]
    flagged = src.connection.execute(
        f"{unit_rule_sql(src.relation, columns, unit, arm, position=position)}"
        f"SELECT {quote(position)} AS row, {FLAG} AS flag FROM unit_rule_rows WHERE {FLAG} IS NOT NULL UNION ALL "
        f"SELECT {FIRST_ROW}, COALESCE(flag, 0) FROM unit_rule_distinct JOIN unit_rule_units ON {quote(unit)} = unit_value"
    ).fetchnumpy()
    # Rows with an arm and a unit that are not the first of their exact duplicates are copies.
    flags = np.full(len(frame), 3, dtype=np.int8)  # 3: exact duplicate row
    flags[flagged["row"]] = flagged["flag"]
    ledger = RowLedger(frame)
    # One step per reason, in the rule's order, each row under the first that applies.
    for number, reason in UNIT_FLAGS.items():
        ledger.keep(pd.Series(flags != number, index=ledger.frame.index), reason.format(unit=unit, arm=arm))
        flags = flags[flags != number]
    return ledger.frame, ledger


def inconsistent_assignment(frame: pd.DataFrame, arm: str, column: str, expected: dict) -> pd.Series:
    """Rows whose ``column`` disagrees with what their arm should show (e.g. a control user on the new page).

    Parameters
    ----------
    frame : pandas.DataFrame
    arm : str
        Arm column.
    column : str
        Column that records what the unit was exposed to.
    expected : dict
        Arm value -> the exposure that arm should show (``{"control": "old_page", ...}``).

    Returns
    -------
    pandas.Series of bool
        True where the row's exposure is not its arm's (arms missing from ``expected`` count as
        inconsistent: their exposure is unknown). Values are compared as text, as the arms are
        (:func:`study.ab.experiment_table.check_table`) and as an engine compares them: an arm or
        exposure column of whole numbers agrees with a map that names ``"0"`` and ``"1"``.
    """
    shown = frame[column].map(str, na_action="ignore")
    should = frame[arm].map(str, na_action="ignore").map(expected)
    return shown.ne(should).fillna(True).astype(bool)
