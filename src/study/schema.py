"""The data contract: columns, types, ranges, and which analysis needs which columns.

One row per service case (ticket). ``data/README.md`` is the human-readable version of this module;
a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


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
        Whether every data set must have it.
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
    Column("customer_id", "id", True, "Customer who opened the case; customers may have several cases."),
    Column("created_at", "time", True, "When the case was opened (ISO timestamp)."),
    Column("first_response_minutes", "number", True, "Minutes from opening to the first agent reply (at most a year).", 0, MINUTES_PER_YEAR),
    Column("resolved", "flag", True, "Whether the case was resolved."),
    Column("csat", "integer", True, "Satisfaction survey answer, 1-5; empty when the customer did not answer.", 1, 5),
    Column("repeat_purchase", "flag", True, "Whether the customer bought again within the follow-up window."),
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
)
BY_NAME = {c.name: c for c in COLUMNS}
REQUIRED = [c.name for c in COLUMNS if c.required]

# Controls used when present: known confounders of speed and satisfaction.
CONFOUNDERS = ["category", "channel", "loyalty_tier"]


@dataclass(frozen=True)
class Analysis:
    """An analysis of the study and the columns it cannot do without.

    ``kind`` is ``tickets`` (the data contract above) or ``experiment`` (any experiment table,
    described by a column map instead).
    """

    name: str
    title: str
    needs: tuple[str, ...]
    kind: str = "tickets"


ANALYSES: tuple[Analysis, ...] = (
    Analysis("01_data_overview", "Data overview", ("first_response_minutes", "resolved", "csat", "repeat_purchase")),
    Analysis(
        "02_satisfaction_drivers", "What drives satisfaction",
        ("csat", "first_response_minutes", "resolved", "customer_id"),
    ),
    Analysis(
        "03_repeat_purchase", "Repeat purchase",
        ("repeat_purchase", "first_response_minutes", "resolved", "csat", "customer_id"),
    ),
    Analysis("04_ab_test", "The faster-response SLA experiment", ("variant", "customer_id", "csat", "repeat_purchase")),
    Analysis("05_experiment_table", "An experiment table", (), kind="experiment"),
)


def missing_for(analysis: Analysis, columns) -> list[str]:
    """Columns an analysis needs that are absent from ``columns``."""
    present = set(columns)
    return [c for c in analysis.needs if c not in present]


_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}


def _where(bad: pd.Series, limit: int = 5) -> str:
    rows = np.flatnonzero(bad.to_numpy()) + 1  # 1-based data rows, as a spreadsheet user counts them
    shown = ", ".join(str(r) for r in rows[:limit])
    return f"row{'s' if rows.size > 1 else ''} {shown}{', ...' if rows.size > limit else ''}"


def _examples(values: pd.Series, limit: int = 3) -> str:
    plain = (v.item() if hasattr(v, "item") else v for v in pd.unique(values)[:limit])
    return ", ".join(repr(v) if isinstance(v, str) else str(v) for v in plain)


def _problem(column: str, bad: pd.Series, values: pd.Series, what: str) -> str:
    """``column 'x' has 3 values outside 1-5 (e.g. 0, 7) in rows 1, 2, 4``; ``{be}`` in ``what`` agrees with the count."""
    n = int(bad.sum())
    what = what.format(be="is" if n == 1 else "are")
    return f"column '{column}' has {n} value{'s' if n > 1 else ''} {what} (e.g. {_examples(values[bad])}) in {_where(bad)}"


def _to_flag(values: pd.Series, column: str) -> tuple[pd.Series, str | None]:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean"), None
    text = values.astype("string").str.strip().str.lower()
    flag = pd.Series(pd.NA, index=values.index, dtype="boolean")
    flag[text.isin(_TRUE).fillna(False)] = True
    flag[text.isin(_FALSE).fillna(False)] = False
    bad = flag.isna() & values.notna()
    problem = _problem(column, bad, values, "that {be} not yes/no (true/false, 1/0)") if bad.any() else None
    return flag, problem


def _to_number(values: pd.Series, column: str) -> tuple[pd.Series, str | None]:
    if pd.api.types.is_bool_dtype(values):
        return values.astype(float), None
    if pd.api.types.is_numeric_dtype(values):  # typed input (Parquet, DuckDB): nothing can be unreadable
        return values.astype(float), None
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna() & (values.astype("string").str.strip() != "")
    problem = _problem(column, bad, values, "that {be} not a number") if bad.any() else None
    return numbers.astype(float), problem


def _to_time(values: pd.Series, column: str) -> tuple[pd.Series, str | None]:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values, None
    times = pd.to_datetime(values, errors="coerce", format="mixed")
    bad = times.isna() & values.notna()
    problem = _problem(column, bad, values, "that {be} not a date/time") if bad.any() else None
    return times, problem


def validate(frame: pd.DataFrame, source: str = "data", copy: bool = True) -> pd.DataFrame:
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

    Returns
    -------
    pandas.DataFrame
        A copy with identifiers as strings, flags as booleans, numbers as floats, times as
        timestamps and ``csat`` as a nullable integer.

    Raises
    ------
    DataError
        When a required column is missing, a value cannot be read as its type or lies outside
        its range, or ticket ids repeat. The message names the column, the values, how many rows
        and the first row numbers.
    """
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(
            f"{source}: missing required column{'s' if len(missing) > 1 else ''} "
            + ", ".join(f"'{c}'" for c in missing)
            + f" (found: {', '.join(map(str, frame.columns[:12]))}{', ...' if frame.shape[1] > 12 else ''})"
        )
    if len(frame) < MINIMUM_ROWS:
        raise DataError(f"{source}: only {len(frame)} rows; at least {MINIMUM_ROWS} are needed" if len(frame) else f"{source}: no rows to analyse")

    out, problems = _convert(frame, copy=copy)
    if problems:
        raise DataError(f"{source}: " + "; ".join(problems.values()))
    return out


def _convert_column(column: Column, values: pd.Series) -> tuple[pd.Series, str | None]:
    """One column in its contract type, or the problem that prevents it."""
    if column.kind in ("id", "text"):
        converted = values.astype("string").str.strip()
        if column.kind == "id" and converted.isna().any():
            empty = converted.isna()
            return converted, f"column '{column.name}' is empty in {int(empty.sum())} rows ({_where(empty)})"
        return converted, None
    if column.kind == "flag":
        return _to_flag(values, column.name)
    if column.kind == "time":
        return _to_time(values, column.name)
    converted, problem = _to_number(values, column.name)
    if problem is None:
        problem = _range_problem(column, converted, values)
    if problem is None and column.kind == "integer":
        fractional = converted.notna() & (converted != np.round(converted))
        if fractional.any():
            problem = _problem(column.name, fractional, values, "that {be} not a whole number")
        else:
            converted = converted.astype("Int64")
    return converted, problem


def _convert(frame: pd.DataFrame, copy: bool = True) -> tuple[pd.DataFrame, dict[str, str]]:
    """Every contract column present in its type, and each column's problem (if any)."""
    raw_created = frame["created_at"] if "created_at" in frame.columns else None  # messages quote the raw values
    out = frame.copy() if copy else frame
    problems: dict[str, str] = {}
    for column in (c for c in COLUMNS if c.name in out.columns):
        converted, problem = _convert_column(column, out[column.name])
        if problem:
            problems[column.name] = problem
        else:
            out[column.name] = converted
    for name in REQUIRED:
        if len(out) and name in out.columns and name not in problems and out[name].isna().all():
            problems[name] = f"column '{name}' is empty in every row"
    if "created_at" in out.columns and "created_at" not in problems:
        future = out["created_at"] > pd.Timestamp.now() + pd.Timedelta(days=1)
        if future.any():
            problems["created_at"] = _problem("created_at", future, raw_created, "in the future")
    if "ticket_id" in out.columns and "ticket_id" not in problems:
        duplicated = out["ticket_id"].duplicated(keep=False)
        if duplicated.any():
            problems["ticket_id"] = _problem("ticket_id", duplicated, out["ticket_id"], "that {be} repeated")
    return out, problems


def validation_report(frame: pd.DataFrame, mapped_from: dict[str, str] | None = None,
                      missing: dict[str, float] | None = None, check: bool = True) -> tuple[pd.DataFrame, list[str]]:
    """Per contract column: found, mapped or missing; type; share missing; what is wrong with it.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table with contract names (after any column map).
    mapped_from : dict, optional
        Contract name -> the export's column, for columns a column map renamed.
    missing : dict, optional
        Share of missing values of columns left unread (:attr:`study.dataset.TicketData.missing`);
        they count as present.
    check : bool
        ``False`` for a table already validated: its values are not checked again.

    Returns
    -------
    report : pandas.DataFrame
        One row per contract column.
    blocking : list of str
        Problems that stop an analysis (empty: the data can be analysed).
    """
    mapped_from, missing = mapped_from or {}, missing or {}
    problems = _convert(frame)[1] if check else {}
    lines = []
    for column in COLUMNS:
        loaded = column.name in frame.columns
        present = loaded or column.name in missing
        share = (frame[column.name].isna().mean() if loaded else missing[column.name]) if present and len(frame) else None
        status = ("mapped from " + repr(mapped_from[column.name]) if column.name in mapped_from else "found") if present \
            else ("MISSING (required)" if column.required else "absent (optional)")
        lines.append({
            "column": column.name, "status": status, "type": column.kind,
            "missing": f"{share:.1%}" if share is not None else "–",
            "problem": problems.get(column.name, "").split(f"column '{column.name}' ", 1)[-1],
        })
    absent = [c for c in REQUIRED if c not in frame.columns and c not in missing]
    blocking = [f"missing required column{'s' if len(absent) > 1 else ''} " + ", ".join(f"'{c}'" for c in absent)] if absent else []
    blocking += list(problems.values())
    if len(frame) < MINIMUM_ROWS:
        blocking.append(f"only {len(frame)} rows; at least {MINIMUM_ROWS} are needed" if len(frame) else "no rows to analyse")
    return pd.DataFrame(lines).set_index("column"), blocking


def _range_problem(column: Column, numbers: pd.Series, values: pd.Series) -> str | None:
    bad = pd.Series(False, index=numbers.index)
    if column.low is not None:
        bad |= numbers < column.low
    if column.high is not None:
        bad |= numbers > column.high
    if not bad.any():
        return None
    if column.high is None:
        return _problem(column.name, bad, values, f"below {column.low:g}")
    return _problem(column.name, bad, values, f"outside {column.low:g}-{column.high:g}")
