"""Values to their contract types, and the one-line problem when they cannot be: flags, numbers, times
(time zones, Unix times), with the column, examples and row numbers of what is wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd

_TRUE = {"true", "t", "yes", "y", "1", "1.0"}


_FALSE = {"false", "f", "no", "n", "0", "0.0"}


def rows_where(bad: pd.Series, limit: int = 5) -> str:
    rows = np.flatnonzero(bad.to_numpy()) + 1  # 1-based data rows, as a spreadsheet user counts them
    shown = ", ".join(str(r) for r in rows[:limit])
    return f"row{'s' if rows.size > 1 else ''} {shown}{', ...' if rows.size > limit else ''}"


def examples(values: pd.Series, limit: int = 3) -> str:
    plain = (v.item() if hasattr(v, "item") else v for v in pd.unique(values)[:limit])
    return ", ".join(short(v) for v in plain)


def describe_problem(column: str, bad: pd.Series, values: pd.Series, what: str) -> str:
    """``column 'x' has 3 values outside 1-5 (e.g. 0, 7) in rows 1, 2, 4``; ``{be}`` in ``what`` agrees with the count."""
    n = int(bad.sum())
    what = what.format(be="is" if n == 1 else "are")
    return f"column '{column}' has {n} value{'s' if n > 1 else ''} {what} (e.g. {examples(values[bad])}) in {rows_where(bad)}"


# pandas' default missing-value codes. CSV cells holding them are values (the category ``None``, the
# channel ``NA``); where they fail as a number, flag or time the message says how to declare them.
NA_CODES = frozenset({
    "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A",
    "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
})


# No count, amount or duration of a ticket comes near this: a larger number is a unit or export error
# (and 1e308 would overflow the first sum of squares).
IMPLAUSIBLY_LARGE = 1e12  # messages say "above 1e12"


# Unix times before this are not times of service tickets: small numbers are row numbers or codes.
EARLIEST_EPOCH_TIME = pd.Timestamp("1990-01-01")


# Epoch unit by magnitude of the median value: seconds reach 1e11 only in the year 5138, milliseconds
# 1e14 in 5138 too, and so on, so the ranges cannot overlap for dates after 1973.
_EPOCH_UNITS = ((1e11, "s", "seconds"), (1e14, "ms", "milliseconds"), (1e17, "us", "microseconds"),
                (np.inf, "ns", "nanoseconds"))


# A time zone written after a time: Z, UTC, GMT, +02, +0200 or +02:00.
_ZONE_SUFFIX = r"\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$"


def na_hint(bad_values: pd.Series) -> str:
    """A hint when a value that failed is one of pandas' default missing codes (an R export's ``NA``)."""
    codes = sorted({str(v).strip() for v in bad_values.dropna().unique()[:1000]} & NA_CODES)
    if not codes:
        return ""
    return f" (declare missing codes in a column map: missing_values: [{', '.join(codes[:3])}])"


def to_flag(values: pd.Series, column: str) -> tuple[pd.Series, str | None]:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean"), None
    text = values.astype("string").str.strip().str.lower()
    flag = pd.Series(pd.NA, index=values.index, dtype="boolean")
    flag[text.isin(_TRUE).fillna(False)] = True
    flag[text.isin(_FALSE).fillna(False)] = False
    bad = flag.isna() & values.notna()
    problem = describe_problem(column, bad, values, "that {be} not yes/no (true/false, 1/0)") + na_hint(values[bad]) if bad.any() else None
    return flag, problem


def to_number(values: pd.Series, column: str) -> tuple[pd.Series, str | None]:
    if pd.api.types.is_bool_dtype(values):
        return values.astype(float), None
    if pd.api.types.is_numeric_dtype(values):  # typed input (Parquet, DuckDB): nothing can be unreadable
        return values.astype(float), None
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna() & (values.astype("string").str.strip() != "")
    problem = describe_problem(column, bad, values, "that {be} not a number") + na_hint(values[bad]) if bad.any() else None
    return numbers.astype(float), problem


def to_time(values: pd.Series, column: str) -> tuple[pd.Series, str | None, str | None]:
    """Times as naive UTC timestamps, the problem that prevents it, and a note on how they were read.

    Times with a zone (``Z``, ``+02:00``, a zone-aware column) are converted to UTC and the zone
    dropped, so that every time compares with every other; numbers are Unix times, their unit
    told by their magnitude.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is None:
            return values, None, None
        return values.dt.tz_convert("UTC").dt.tz_localize(None), None, "time zones converted to UTC"
    if pd.api.types.is_bool_dtype(values):
        return values, describe_problem(column, values.notna(), values, "that {be} not a date/time"), None
    if pd.api.types.is_numeric_dtype(values):
        return epoch_times(values.astype(float), values, column)
    given = values.notna()
    present = np.flatnonzero(given.to_numpy())
    if present.size and is_number(values.iloc[present[0]]):
        # Unix times as text (a CSV column with a stray word, or from a column map): all numbers or none.
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers[given].notna().all():
            return epoch_times(numbers.astype(float), values, column)
    note = None
    try:
        times = pd.to_datetime(values, errors="coerce", format="mixed")
    except ValueError:  # several zones, or times with and without one: only UTC can hold them all
        times = pd.to_datetime(values, errors="coerce", format="mixed", utc=True)
        text = values.astype("string").str.strip()
        zoneless = int((~text.str.contains(_ZONE_SUFFIX, regex=True).fillna(True) & times.notna()).sum())
        note = "time zones converted to UTC" + (
            f"; {zoneless} time{'s' if zoneless > 1 else ''} without a zone read as UTC" if zoneless else "")
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
        note = note or "time zones converted to UTC"
    bad = times.isna() & given
    problem = describe_problem(column, bad, values, "that {be} not a date/time") + na_hint(values[bad]) if bad.any() else None
    return times, problem, note


def is_number(value) -> bool:
    try:
        float(str(value).strip())
    except ValueError:
        return False
    return True


def epoch_times(numbers: pd.Series, values: pd.Series, column: str) -> tuple[pd.Series, str | None, str | None]:
    """Unix times (seconds, milliseconds, microseconds or nanoseconds since 1970, UTC) as naive UTC timestamps."""
    present = numbers.dropna()
    magnitude = float(np.median(np.abs(present))) if len(present) else 0.0
    unit, unit_name = next((u, name) for limit, u, name in _EPOCH_UNITS if magnitude < limit)
    finite = numbers.where(np.isfinite(numbers))
    times = pd.to_datetime(finite, unit=unit, errors="coerce", utc=True).dt.tz_localize(None)
    bad = numbers.notna() & (times.isna() | (times < EARLIEST_EPOCH_TIME))
    problem = describe_problem(column, bad, values, "that {be} numbers but not Unix times (seconds/ms since 1970)") if bad.any() else None
    return times, problem, f"read as Unix epoch {unit_name} (UTC)"


def short(value, limit: int = 60) -> str:
    """A value from a user's file for a message: text quoted (``repr``), anything else as printed, cut to
    ``limit`` characters so that a 10 MB cell still gives one short line."""
    text = repr(value) if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    return text[:limit - 4] + "...'" if text[0] == "'" else text[:limit - 3] + "..."
