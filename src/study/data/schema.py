"""The data contract: columns, types, ranges, and which analysis needs which columns.

One row per service case (ticket). ``data/README.md`` is the human-readable version of this module;
a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from study.core.tables import numbers_as_text
from study.data.convert import (
    IMPLAUSIBLY_LARGE,
    describe_problem,
    rows_where,
    short,
    to_flag,
    to_number,
    to_time,
    unit_note,
)


class DataError(ValueError):
    """The data cannot be analysed; the message says which column, which values and how many rows."""


@dataclass(frozen=True)
class Column:
    """One column of the contract.

    Attributes
    ----------
    name : str
        Column name after any column map has been applied.
    kind : {"id", "text", "time", "number", "integer", "flag"}
        What the values are.
    required : bool
        Whether every data set must have it. Only the ticket id is: every other column is needed by
        some analyses and not others (:data:`study.analyses.ANALYSES`), which are skipped with that reason
        when it is absent.
    low, high : float, optional
        Allowed range, inclusive.
    description : str
        Meaning and unit, for the data dictionary.
    """

    name: str
    kind: str
    required: bool
    description: str
    low: float | None = None
    high: float | None = None


# A first reply or a resolution more than a year after the ticket is a data error, not a slow agent.
MINUTES_PER_YEAR = 525_600


MINIMUM_ROWS = 10  # fewer rows cannot support any of the analyses


COLUMNS: tuple[Column, ...] = (
    Column("ticket_id", "id", True, "Unique identifier of the service case."),
    Column("customer_id", "id", False, "Customer who opened the case; customers may have several cases."),
    Column("created_at", "time", False, "When the case was opened (ISO timestamp)."),
    Column("first_response_minutes", "number", False, "Minutes from opening to the first agent reply (at most a year).", 0, MINUTES_PER_YEAR),
    Column("resolved", "flag", False, "Whether the case was resolved."),
    Column("csat", "integer", False, "Satisfaction survey answer, 1-5; empty when the customer did not answer.", 1, 5),
    Column("repeat_purchase", "flag", False, "Whether the customer bought again within the follow-up window."),
    Column("agent_id", "id", False, "Agent who handled the case."),
    Column("channel", "text", False, "Contact channel (e.g. chat, email, phone)."),
    Column("category", "text", False, "Issue category (e.g. shipping, returns, billing)."),
    Column("loyalty_tier", "text", False, "Customer loyalty tier (e.g. bronze, silver, gold)."),
    Column("tenure_days", "number", False, "Days since the customer's first order.", 0, None),
    Column("prior_orders", "integer", False, "Orders before the period.", 0, None),
    Column("pre_spend", "number", False, "Customer spend in the pre-period (currency units); CUPED covariate.", 0, None),
    Column("order_value", "number", False, "Value of the order the case is about (currency units).", 0, None),
    Column("experiment_id", "text", False, "Experiment the customer was randomized in."),
    Column("variant", "text", False, "Experiment arm: control or treatment."),
    Column("resolution_minutes", "number", False, "Minutes from opening to resolution; empty if unresolved (at most a year).", 0, MINUTES_PER_YEAR),
    Column("reopened", "flag", False, "Whether the case was reopened after being resolved."),
    Column("contacts", "integer", False, "Number of customer contacts on the case.", 1, None),
    Column("quality_score", "number", False, "Quality-assurance rubric score, 0-100.", 0, 100),
    Column("days_to_next_purchase", "number", False, "Days to the next purchase, censored at the window's end.", 0, None),
    Column("next_spend", "number", False, "Spend in the follow-up window (currency units).", 0, None),
    Column("team", "text", False, "Team (or region, store, queue) that handled the case: the unit that adopts a service change."),
    Column("adopted_at", "time", False, "When the case's team adopted the service change; empty if it had not by the end of the data."),
    Column("comment", "text", False, "What the customer wrote about the case (survey comment or review), in any language; empty if nothing."),
)


BY_NAME = {c.name: c for c in COLUMNS}


REQUIRED = [c.name for c in COLUMNS if c.required]


# Controls used when present: known confounders of speed and satisfaction.
CONFOUNDERS = ["category", "channel", "loyalty_tier"]


def validate(frame: pd.DataFrame, source: str = "data", copy: bool = True,
             mapped_from: dict[str, str] | None = None) -> pd.DataFrame:
    """Check a ticket table against the contract and return it with contract types.

    Parameters
    ----------
    frame : pandas.DataFrame
        Tickets with contract column names (after any column map). Unknown columns are kept.
    source : str
        Name of the data (file name) used in messages.
    copy : bool
        ``False`` converts the columns of ``frame`` in place: for a table the caller owns and
        discards, which saves a copy of a large table.
    mapped_from : dict, optional
        Contract name -> the export's column, for columns a column map renamed: messages about
        such a column say where it came from.

    Returns
    -------
    pandas.DataFrame
        A copy with identifiers as strings, flags as booleans, numbers as floats, times as
        naive UTC timestamps and ``csat`` as a nullable integer.

    Raises
    ------
    DataError
        When a required column is missing, a value cannot be read as its type or lies outside
        its range, or ticket ids repeat. The message names the column, the values, how many rows
        and the first row numbers.

    See Also
    --------
    conform : the same, with notes on how values were read (time zones, Unix times).
    """
    return conform(frame, source, copy, mapped_from)[0]


def conform(frame: pd.DataFrame, source: str = "data", copy: bool = True,
            mapped_from: dict[str, str] | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """:func:`validate`, also returning a note per column whose values were read with a rule worth saying.

    Parameters
    ----------
    frame, source, copy, mapped_from
        As for :func:`validate`.

    Returns
    -------
    tickets : pandas.DataFrame
        As returned by :func:`validate`.
    notes : dict
        Contract column -> how its values were read, e.g. ``{"created_at": "time zones converted
        to UTC"}`` (empty for data read as it is). Not problems: the data can be analysed.

    Raises
    ------
    DataError
        As :func:`validate`.
    """
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(
            f"{source}: missing required column{'s' if len(missing) > 1 else ''} "
            + ", ".join(f"'{c}'" for c in missing)
            + f" (found: {', '.join(short(str(c), 40).strip(chr(39)) for c in frame.columns[:12])}{', ...' if frame.shape[1] > 12 else ''})"
        )
    if len(frame) < MINIMUM_ROWS:
        raise DataError(f"{source}: only {len(frame)} rows; at least {MINIMUM_ROWS} are needed" if len(frame) else f"{source}: no rows to analyse")

    out, problems, notes = _convert(frame, copy=copy, mapped_from=mapped_from)
    if problems:
        raise DataError(f"{source}: " + "; ".join(problems.values()))
    return out, notes


def _convert_column(column: Column, values: pd.Series) -> tuple[pd.Series, str | None, str | None]:
    """One column in its contract type, the problem that prevents it, and a note on how it was read."""
    if column.kind in ("id", "text"):
        converted = values.astype("string").str.strip()
        if column.kind == "id" and converted.isna().any():
            empty = converted.isna()
            return converted, f"column '{column.name}' is empty in {int(empty.sum())} rows ({rows_where(empty)})", None
        return converted, None, None
    if column.kind == "flag":
        return (*to_flag(values, column.name), None)
    if column.kind == "time":
        return to_time(values, column.name)
    converted, problem = to_number(values, column.name)
    if problem is None:
        infinite = pd.Series(np.isinf(converted.to_numpy()), index=converted.index)
        if infinite.any():
            problem = describe_problem(column.name, infinite, values, "that {be} not a finite number")
    if problem is None:
        problem = _range_problem(column, converted, values)
        if problem and column.name == "csat":  # answers on another scale: say which declaration reads them
            from study.data.column_facts import scale_hint

            hint = scale_hint(values)
            problem += f"; {hint}" if hint else ""
    if problem is None and column.high is None:
        # Columns without an upper bound still have a plausible one; 1e308 overflows the first sum of squares.
        huge = converted.abs() > IMPLAUSIBLY_LARGE
        if huge.any():
            problem = describe_problem(column.name, huge, values, "that {be} implausibly large (above 1e12)")
    if problem is None and column.kind == "integer":
        fractional = converted.notna() & (converted != np.round(converted))
        if fractional.any():
            problem = describe_problem(column.name, fractional, values, "that {be} not a whole number")
        else:
            converted = converted.astype("Int64")
    return converted, problem, None


def _convert(frame: pd.DataFrame, copy: bool = True,
             mapped_from: dict[str, str] | None = None) -> tuple[pd.DataFrame, dict[str, str], dict[str, str]]:
    """Every contract column present in its type, each column's problem (if any) and note (if any)."""
    raw_created = frame["created_at"] if "created_at" in frame.columns else None  # messages quote the raw values
    out = frame.copy() if copy else frame
    problems: dict[str, str] = {}
    notes: dict[str, str] = {}
    for column in (c for c in COLUMNS if c.name in out.columns):
        converted, problem, note = _convert_column(column, out[column.name])
        origin = (mapped_from or {}).get(column.name)
        if column.kind == "time" and origin and " -> " not in origin:  # a date_formats line names the export's column
            problem, note = (text.replace(f"date_formats: {{{column.name}:", f"date_formats: {{{origin}:")
                             if text else text for text in (problem, note))
        if problem:
            problems[column.name] = problem
        else:
            out[column.name] = converted
            if note:
                notes[column.name] = note
    if "first_response_minutes" in out.columns and "first_response_minutes" not in problems:
        hint = unit_note(out["first_response_minutes"])  # hours or seconds given as minutes: said, never refused
        if hint:
            notes["first_response_minutes"] = hint
    for name in REQUIRED:
        if len(out) and name in out.columns and name not in problems and out[name].isna().all():
            problems[name] = f"column '{name}' is empty in every row"
    if "created_at" in out.columns and "created_at" not in problems:
        # Times are naive UTC by now (zones converted), so they compare with the UTC clock.
        future = out["created_at"] > pd.Timestamp.now(tz="UTC").tz_localize(None) + pd.Timedelta(days=1)
        if future.any():
            problems["created_at"] = describe_problem("created_at", future, raw_created, "in the future")
    if "ticket_id" in out.columns and "ticket_id" not in problems:
        duplicated = out["ticket_id"].duplicated(keep=False)
        if duplicated.any():
            problems["ticket_id"] = describe_problem("ticket_id", duplicated, out["ticket_id"], "that {be} repeated") \
                + _renamed_hint("ticket_id", mapped_from or {})
    return out, problems, notes


def _renamed_hint(column: str, mapped_from: dict[str, str]) -> str:
    """Where a column map took ``column`` from, when that may be why its values are wrong."""
    origin = mapped_from.get(column)
    if origin is None or origin == column:
        return ""
    hint = f"; the column map takes {column} from {short(origin)}"
    return hint + (f" — is it swapped with {origin}?" if origin in BY_NAME else " — is that the right column?")


def validation_report(frame: pd.DataFrame, mapped_from: dict[str, str] | None = None,
                      missing: dict[str, float] | None = None, check: bool = True,
                      notes: dict[str, str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Per contract column: found, mapped or missing; type; share missing; what is wrong with it.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table with contract names (after any column map).
    mapped_from : dict, optional
        Contract name -> the export's column, for columns a column map renamed.
    missing : dict, optional
        Share of missing values of columns left unread (:attr:`study.data.dataset.TicketData.missing`);
        they count as present.
    check : bool
        ``False`` for a table already validated: its values are not checked again.
    notes : dict, optional
        Contract column -> how its values were read (:attr:`study.data.dataset.TicketData.notes`), for a
        table already validated; with ``check`` they are found again.

    Returns
    -------
    report : pandas.DataFrame
        One row per contract column. When some column was read with a rule worth saying (time
        zones converted to UTC, Unix times), a ``note`` column says so; it does not block.
    blocking : list of str
        Problems that stop an analysis (empty: the data can be analysed).
    """
    mapped_from, missing = mapped_from or {}, missing or {}
    problems, found_notes = _convert(frame, mapped_from=mapped_from)[1:] if check else ({}, {})
    notes = {**found_notes, **(notes or {})}
    lines = []
    for column in COLUMNS:
        loaded = column.name in frame.columns
        present = loaded or column.name in missing
        share = (frame[column.name].isna().mean() if loaded else missing[column.name]) if present and len(frame) else None
        status = ("mapped from " + repr(mapped_from[column.name]) if column.name in mapped_from else "found") if present \
            else ("MISSING (required)" if column.required else _absent_status(column.name))
        lines.append({
            "column": column.name, "status": status, "type": column.kind,
            "missing": f"{share:.1%}" if share is not None else "–",
            "problem": problems.get(column.name, "").split(f"column '{column.name}' ", 1)[-1],
            # Only when there is one: the report of data read as it is keeps its columns.
            **({"note": notes.get(column.name, "")} if notes else {}),
        })
    absent = [c for c in REQUIRED if c not in frame.columns and c not in missing]
    blocking = [f"missing required column{'s' if len(absent) > 1 else ''} " + ", ".join(f"'{c}'" for c in absent)] if absent else []
    blocking += list(problems.values())
    if len(frame) < MINIMUM_ROWS:
        blocking.append(f"only {len(frame)} rows; at least {MINIMUM_ROWS} are needed" if len(frame) else "no rows to analyse")
    return numbers_as_text(pd.DataFrame(lines).set_index("column"), "missing"), blocking


def _absent_status(column: str) -> str:
    """``absent (needed by 02, 03)`` or ``absent (optional)``: which analyses an absent column skips."""
    from study.analyses import needed_by

    numbers = [name.split("_", 1)[0] for name in needed_by(column)]
    return f"absent (needed by {', '.join(numbers)})" if numbers else "absent (optional)"


def _range_problem(column: Column, numbers: pd.Series, values: pd.Series) -> str | None:
    bad = pd.Series(False, index=numbers.index)
    if column.low is not None:
        bad |= numbers < column.low
    if column.high is not None:
        bad |= numbers > column.high
    if not bad.any():
        return None
    if column.high is None:
        return describe_problem(column.name, bad, values, f"below {column.low:g}")
    return describe_problem(column.name, bad, values, f"outside {column.low:g}-{column.high:g}")
