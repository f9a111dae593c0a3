"""Values to their contract types, and the one-line problem when they cannot be: flags, numbers, times
(time zones, Unix times, day-first dates), with the column, examples and row numbers of what is wrong.

Day-first dates. ``03/04/2026`` is 3 April in most of the world and March 4 in the US. Times written
``a/b/yyyy`` (also with dots or dashes) are read by the order their values prove: when some first
field is above 12 and no second field is, every such date is read day first (and a note says so);
when both occur the column mixes the two orders and is refused, pointing to the column map's
``date_formats``; when no field is above 12 they are read month first, with a note that nothing in
the data tells the order. A format declared in a column map is used instead of all of this.

Units of response times. :func:`unit_note` says when first response times look as if they were
given in hours or seconds rather than minutes (see its docstring for the rule); it never refuses.
"""

from __future__ import annotations

import difflib
import warnings

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

_TRUE = {"true", "t", "yes", "y", "1", "1.0"}


_FALSE = {"false", "f", "no", "n", "0", "0.0"}


def rows_where(bad: pd.Series, limit: int = 5) -> str:
    """``rows 2, 5, ...``: 1-based data rows, as a spreadsheet user counts them.

    A table whose index is increasing integers is the file's rows, some left out (a column map's
    filter keeps the index of the rows it keeps): the index says which row of the file each is.
    """
    positions = np.flatnonzero(bad.to_numpy(dtype=bool, na_value=False))
    index = bad.index
    if pd.api.types.is_integer_dtype(index) and index.is_monotonic_increasing and index.is_unique:
        rows = index.to_numpy()[positions] + 1
    else:
        rows = positions + 1
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
    told by their magnitude; ``dd/mm/yyyy`` and ``mm/dd/yyyy`` dates are read in the order their
    values prove (module docstring), and a column holding both orders is a problem.
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
    slashed, day_first, problem, order_note = _date_order(values, column)
    if problem:
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]"), problem, None
    if slashed is None:
        times, note = _parse_times(values, dayfirst=False)
    else:
        # The a/b/yyyy values are read in the order found; the others as before (pandas would read
        # ISO 2026-01-02 as 1 February too, were it told days come first).
        times, note = _parse_times(values.where(~slashed), dayfirst=False) if not slashed.all() else (None, None)
        read, slash_note = _parse_slashed(values[slashed], day_first)
        times = read.reindex(values.index) if times is None else times.where(~slashed, read.reindex(values.index))
        note = note or slash_note
    note = "; ".join(n for n in (order_note, note) if n) or None
    bad = times.isna() & given
    problem = describe_problem(column, bad, values, "that {be} not a date/time") + na_hint(values[bad]) if bad.any() else None
    return times, problem, note


def _parse_times(values: pd.Series, dayfirst: bool) -> tuple[pd.Series, str | None]:
    """Text times as naive UTC timestamps (missing where unreadable), and a note on zones."""
    note = None
    try:
        times = pd.to_datetime(values, errors="coerce", format="mixed", dayfirst=dayfirst)
    except ValueError:  # several zones, or times with and without one: only UTC can hold them all
        times = pd.to_datetime(values, errors="coerce", format="mixed", utc=True, dayfirst=dayfirst)
        text = values.astype("string").str.strip()
        zoneless = int((~text.str.contains(_ZONE_SUFFIX, regex=True).fillna(True) & times.notna()).sum())
        note = "time zones converted to UTC" + (
            f"; {zoneless} time{'s' if zoneless > 1 else ''} without a zone read as UTC" if zoneless else "")
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
        note = note or "time zones converted to UTC"
    return times, note


# A date written a/b/yyyy (or with dots or dashes; a two-digit year too), at the start of the value.
# No look-ahead: Arrow's regular expressions (RE2) run it on a million values in a tenth of a second.
_SLASH_DATE = r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](?:\d{4}|\d{2})(?:\D|$)"


def _date_order(values: pd.Series, column: str) -> tuple[pd.Series | None, bool, str | None, str | None]:
    """Which values are a/b/yyyy dates (``None``: none are), whether days come first in them, the
    problem when the column holds both orders, and a note on the order chosen."""
    text = values.astype("string").str.strip()
    slashed = text.str.match(_SLASH_DATE).fillna(False).astype(bool)
    if not slashed.any():
        return None, False, None, None
    dated = text[slashed]
    fields = [pd.to_numeric(dated.str.replace(_SLASH_DATE + ".*", rf"\{group}", regex=True)) for group in (1, 2)]

    def where(flags) -> pd.Series:
        mask = pd.Series(False, index=values.index)
        mask[slashed] = np.asarray(flags)
        return mask

    first, second = where(fields[0] > 12), where(fields[1] > 12)
    # The format a reader can paste: with the time of day when the values have one.
    clock = dated.str.count(":").max()
    hours = " %H:%M:%S" if clock >= 2 else " %H:%M" if clock == 1 else ""
    fix = (f'declare its format in the column map: date_formats: {{{column}: "%d/%m/%Y{hours}"}} '
           f'(or "%m/%d/%Y{hours}")')
    if first.any() and second.any():
        problem = (f"column '{column}' mixes day-first and month-first dates: {int(first.sum())} with a first field "
                   f"above 12 (e.g. {examples(values[first], 2)}) in {rows_where(first, 3)} and {int(second.sum())} "
                   f"with a second field above 12 (e.g. {examples(values[second], 2)}) in {rows_where(second, 3)}; {fix}")
        return None, False, problem, None
    if first.any():
        many = first.sum() > 1
        return slashed, True, None, (f"dates read day first (dd/mm): {int(first.sum())} value{'s' if many else ''} such as "
                                     f"{examples(values[first], 1)} {'have' if many else 'has'} a day above 12")
    ambiguous = where(fields[0] != fields[1])
    note = (f"dates such as {examples(values[ambiguous], 1)} read month first (mm/dd): no value has a field above 12 "
            f"to tell the order; if days come first, {fix}") if ambiguous.any() else None
    return slashed, False, None, note


def _parse_slashed(values: pd.Series, dayfirst: bool) -> tuple[pd.Series, str | None]:
    """a/b/yyyy times in the order given, as naive UTC timestamps (missing where unreadable).

    Parsed with the format of their first values (pandas guesses it), so that a million of them
    take a second instead of minutes of parsing value by value; what no such format reads is
    parsed value by value.
    """
    text = values.astype("string").str.strip()
    times = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    left, note = text, None
    for _ in range(5):  # a few shapes at most: with and without seconds, with a zone
        if not len(left):
            break
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fmt = guess_datetime_format(left.iloc[0], dayfirst=dayfirst)
        if fmt is None:
            break
        zoned = "%z" in fmt or "%Z" in fmt
        read = pd.to_datetime(left, format=fmt, errors="coerce", utc=zoned)
        if zoned:
            read = read.dt.tz_convert("UTC").dt.tz_localize(None)
            note = "time zones converted to UTC"
        if read.isna().all():
            break
        times[read.index[read.notna()]] = read[read.notna()]
        left = left[read.isna()]
    if len(left):
        rest, rest_note = _parse_times(left, dayfirst=dayfirst)
        times[rest.index] = rest
        note = note or rest_note
    return times, note


# First response times, in minutes, that look like another unit (see unit_note).
HOURS_LONGEST = 168  # a week, if hours; under 3 hours, if minutes
HOURS_MEDIAN = 10
SECONDS_MEDIAN = 1_440  # a day, if minutes; 24 minutes, if seconds
SECONDS_LONGEST = 10_080  # a week, if minutes
UNIT_NOTE_MIN_VALUES = 30


def unit_note(minutes: pd.Series, column: str = "first_response_minutes") -> str | None:
    """A note when response times given as minutes look like hours or seconds, else ``None``.

    The rule (at least :data:`UNIT_NOTE_MIN_VALUES` values): **hours** when the longest is at most
    168 (a week in hours, under 3 hours in minutes) and the median at most 10; **seconds** when the
    median is at least 1,440 (24 minutes in seconds, a whole day in minutes) and the longest above
    10,080 (a week in minutes). A team whose every ticket is answered within 3 hours, or whose
    typical ticket waits more than a day, gets the note too: it says "if so" and blocks nothing.

    Parameters
    ----------
    minutes : pandas.Series
        Numbers, after any declared ``units`` conversion.
    column : str
        The column's name, for the declaration the note suggests.
    """
    present = pd.to_numeric(minutes, errors="coerce").dropna()
    if len(present) < UNIT_NOTE_MIN_VALUES:
        return None
    return summary_note(len(present), float(present.median()), float(present.max()), column)


def summary_note(count: int, median: float, longest: float, column: str = "first_response_minutes") -> str | None:
    """:func:`unit_note` from the values' count, median and maximum (an engine computes them without the values)."""
    unit = summary_unit(count, median, longest)
    if unit is None:
        return None
    return (f"values look like {unit}, not minutes (median {_plain(median)}, longest {_plain(longest)}); if so "
            f"declare units: {{{column}: {unit}}} in the column map")


def summary_unit(count: int, median: float, longest: float) -> str | None:
    """:func:`unit_guess`'s rule on the values' count, median and maximum."""
    if count < UNIT_NOTE_MIN_VALUES:
        return None
    return ("hours" if longest <= HOURS_LONGEST and median <= HOURS_MEDIAN
            else "seconds" if median >= SECONDS_MEDIAN and longest > SECONDS_LONGEST else None)


def unit_guess(minutes: pd.Series) -> str | None:
    """``"hours"`` or ``"seconds"`` when durations given as minutes look like that unit, by :func:`unit_note`'s rule;
    else ``None`` (also below :data:`UNIT_NOTE_MIN_VALUES` values). ``study map`` drafts with the same rule."""
    present = pd.to_numeric(minutes, errors="coerce").dropna()
    return summary_unit(len(present), float(present.median()), float(present.max())) if len(present) else None


def _plain(number: float) -> str:
    """A number as a reader would write it: ``0.51``, ``61.6``, ``259,200``."""
    return f"{number:,.0f}" if abs(number) >= 100 else f"{number:.1f}" if abs(number) >= 1 else f"{number:.2g}"


def nearest(word: str, options: list[str]) -> str | None:
    """The option closest to ``word`` (ignoring case), if any is close: for "did you mean" hints."""
    folded = {}
    for option in options:
        folded.setdefault(str(option).lower(), option)
    close = difflib.get_close_matches(str(word).lower(), list(folded), n=1)
    return folded[close[0]] if close else None


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
