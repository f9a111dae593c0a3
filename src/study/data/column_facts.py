"""What a column of an export holds, guessed from its values: a type, examples, a scale, a date format.

:mod:`study.data.draft_map` reads these facts to propose contract roles; the hints here
(:func:`scale_hint`, :func:`unit_hint`, :func:`date_hint`) are one-line pointers to the column map
declaration that fixes a refused or misread column, for any message that wants one.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from study.data.convert import _FALSE, _TRUE, NA_CODES, short, unit_guess

KINDS = ("id", "text", "time", "number", "integer", "flag")
# Cells that mean "no value" in exports besides pandas' defaults: a dash, a question mark.
MISSING_CODES = frozenset(NA_CODES | {"-", "--", "?", ".", "n.a.", "N.A."})
# How many distinct values of a text column are parsed as times or checked for a pattern: enough
# to see a day above 12, few enough that a million-row export is drafted in a second.
DISTINCT_SAMPLE = 2_000
# Scales a CSAT answer is commonly given on; the draft names the smallest that holds the answers.
SCALE_TOPS = (5, 7, 10, 100)
UNIT_WORDS = {
    "seconds": "seconds", "second": "seconds", "secs": "seconds", "sec": "seconds", "s": "seconds",
    "minutes": "minutes", "minute": "minutes", "mins": "minutes", "min": "minutes", "m": "minutes",
    "hours": "hours", "hour": "hours", "hrs": "hours", "hr": "hours", "h": "hours",
    "days": "days", "day": "days", "d": "days",
}
_TIME_WORDS = {"at", "time", "timestamp", "ts", "date", "datetime", "dt", "on"}
EPOCH_1990 = 631_152_000  # 1990-01-01 in Unix seconds: smaller numbers are counts, not times
_ID_WORDS = {"id", "key", "number", "no", "nr", "num", "uuid", "guid", "code", "ref"}
_ISO_TIME = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?\s*(?:[zZ]|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$")
_NUMERIC_DATE = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})(?:[ T](\d{1,2}):(\d{2})(:\d{2})?)?$")
_CODE = re.compile(r"^[A-Za-z0-9_-]*\d[A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class ColumnFacts:
    """One export column as the draft sees it.

    Attributes
    ----------
    name : str
        The export's name.
    kind : {"id", "text", "time", "number", "integer", "flag"}
        The guessed type (:data:`KINDS`).
    examples : tuple of str
        Up to three distinct values, as text.
    filled : int
        Cells holding a value (not empty, not a missing code).
    distinct : int
        Distinct values among them.
    codes : tuple of str
        The distinct values as text when there are at most 12, sorted; else empty.
    low, high : float or None
        Smallest and largest value of a number column.
    missing_codes : tuple of str
        Codes meaning "no value" found in a column whose other values are numbers, times or flags.
    date_format : str or None
        ``strptime`` format of numeric dates with the day or month first (``%d/%m/%Y %H:%M``);
        ``None`` also when such dates mix orders, separators or clock forms (no one format reads them).
    date_sure : bool
        Whether a value proves the order of day and month (a day above 12) and one format reads all.
    """

    name: str
    kind: str
    examples: tuple[str, ...]
    filled: int
    distinct: int
    codes: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    missing_codes: tuple[str, ...] = ()
    date_format: str | None = None
    date_sure: bool = True

    @property
    def unit(self) -> str | None:
        """The time unit its name ends with (``first_response_hours`` -> ``hours``), if any."""
        return name_unit(self.name)


def shown(name: str) -> str:
    """A column name for a message or a YAML comment: bare when plain, else quoted (a newline cannot end a comment)."""
    name = str(name)
    return name if re.fullmatch(r"[\w.-]+", name) else short(name, 60)


def quoted(value: str) -> str:
    """Text as a YAML double-quoted scalar: JSON escapes, and any character YAML refuses raw written as ``\\u``."""
    body = json.dumps(str(value), ensure_ascii=False)
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}" for c in body)


def _key(name: str) -> str:
    """A name as a key of a YAML flow mapping in a hint: bare when plain, else double-quoted."""
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else quoted(name)


def normalize(name: str) -> str:
    """A column name in lower snake case without accents: ``FirstReplyAt`` -> ``first_reply_at``."""
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def name_unit(name: str) -> str | None:
    """The unit a name ends with, after any time word: ``response_time_hours``, ``wait_in_secs``."""
    tokens = normalize(name).split("_")
    if len(tokens) < 2:
        return None
    return UNIT_WORDS.get(tokens[-1]) if tokens[-1] not in ("m", "d", "s") or len(tokens) > 2 else None


def facts_of(values: pd.Series, name: str) -> ColumnFacts:
    """Guess what a column holds.

    Parameters
    ----------
    values : pandas.Series
        The column as read (:func:`study.data.io.load`): typed from Parquet or DuckDB, often text from CSV.
    name : str
        Its name: an identifier is told from a count by its name (``order_id``) or its pattern.

    Returns
    -------
    ColumnFacts
    """
    if pd.api.types.is_bool_dtype(values):
        return _facts(name, "flag", values.dropna())
    if pd.api.types.is_datetime64_any_dtype(values):
        return _facts(name, "time", values.dropna())
    if pd.api.types.is_numeric_dtype(values):
        return _number_facts(name, values.dropna().astype(float), values.dropna())
    text = values.dropna().astype("string").str.strip()
    text = text[text != ""]
    coded = text.isin(MISSING_CODES)
    facts = _text_facts(name, text[~coded])
    if coded.any() and facts.kind != "text" and facts.filled:
        return replace(facts, missing_codes=tuple(sorted(set(text[coded]))))
    if coded.any() and not facts.filled:  # nothing but codes: the codes are what there is
        return _text_facts(name, text)
    return facts


def _facts(name: str, kind: str, present: pd.Series, **extra) -> ColumnFacts:
    distinct = pd.unique(present)
    shown = tuple(_show(v) for v in distinct[:3])
    codes = tuple(sorted(_show(v) for v in distinct)) if len(distinct) <= 12 else ()
    return ColumnFacts(name, kind, shown, len(present), len(distinct), codes, **extra)


def _show(value) -> str:
    if isinstance(value, np.datetime64):
        return str(pd.Timestamp(value))
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, pd.Timestamp):
        return str(value)
    return short(value, 30).strip("'") if isinstance(value, str) else short(value, 30)


def _id_name(name: str) -> bool:
    tokens = normalize(name).split("_")
    return tokens[-1] in _ID_WORDS or normalize(name) in ("id", "uuid")


def _number_facts(name: str, numbers: pd.Series, present: pd.Series) -> ColumnFacts:
    """Facts of numbers (``numbers`` may hold each distinct value once; ``present`` holds every row)."""
    finite = numbers[np.isfinite(numbers.to_numpy())]
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (None, None)
    whole = bool(len(finite)) and bool((finite == np.round(finite)).all())
    distinct = set(finite.unique().tolist())
    if distinct and distinct <= {0.0, 1.0} and len(distinct) == 2:
        return _facts(name, "flag", present, low=low, high=high)
    if whole and _id_name(name) and finite.nunique() > 0.5 * len(present):
        return _facts(name, "id", present)
    if whole and low is not None and low >= EPOCH_1990 and normalize(name).split("_")[-1] in _TIME_WORDS:
        return _facts(name, "time", present)  # Unix times, as study.data.convert.to_time reads them
    return _facts(name, "integer" if whole else "number", present, low=low, high=high)


def _text_facts(name: str, text: pd.Series) -> ColumnFacts:
    if text.empty:
        return _facts(name, "text", text)
    distinct = pd.Series(pd.unique(text), dtype="string")
    sample = distinct[:DISTINCT_SAMPLE]
    # Numbers are read from the distinct values, and from all of them only when a sample reads as
    # numbers: converting a million identifiers to learn they are not numbers would take seconds.
    numbers = pd.to_numeric(sample, errors="coerce")
    if len(distinct) <= 12 and set(distinct.str.lower()) <= (_TRUE | _FALSE) and (numbers.isna().any() or len(distinct) == 2):
        return _facts(name, "flag", text)
    if numbers.notna().all():
        numbers = pd.to_numeric(distinct, errors="coerce")
    if numbers.notna().all() and len(numbers) == len(distinct):
        if sample.str.match(r"^0\d").any():  # a leading zero is part of a code, not of a number
            return _facts(name, "id", text)
        return _number_facts(name, numbers.astype(float), text)
    if sample.str.match(_ISO_TIME).all():
        return _facts(name, "time", text)
    if sample.str.match(_NUMERIC_DATE).all():  # numeric dates: never left to a parser that guesses the order value by value
        dated = distinct.str.extract(_NUMERIC_DATE)
        date_format, sure = _date_format(dated) if dated[0].notna().all() else (None, False)
        return _facts(name, "time", text, date_format=date_format, date_sure=sure and date_format is not None)
    if sample.str.contains(r"\d").all() and not sample.str.match(_CODE).any():
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
        if parsed.notna().all():
            return _facts(name, "time", text)
    if _id_name(name) or (len(distinct) > 20 and sample.str.match(_CODE).all()):
        return _facts(name, "id", text)
    return _facts(name, "text", text)


def _date_format(parts: pd.DataFrame) -> tuple[str | None, bool]:
    """The ``strptime`` format of dates like 13/01/2026 10:00, and whether a value proves its order.

    A first number above 12 proves the day comes first; a second one above 12, the month. Neither
    leaves it open: day first is proposed (the order most of the world writes), to be checked.
    """
    first, second = parts[0].astype(int), parts[2].astype(int)
    day_first, month_first = bool((first > 12).any()), bool((second > 12).any())
    if day_first and month_first:
        return None, False
    separator = parts[1].iloc[0]
    if parts[1].nunique() > 1:
        return None, False
    year = "%Y" if parts[3].str.len().eq(4).all() else "%y" if parts[3].str.len().eq(2).all() else None
    if year is None:
        return None, False
    clock = parts[4].notna()
    if clock.any() and not clock.all():
        return None, False
    if clock.all():
        seconds = parts[6].notna()
        if seconds.any() and not seconds.all():
            return None, False
        year += " %H:%M:%S" if seconds.all() else " %H:%M"
    order = ("%m", "%d") if month_first else ("%d", "%m")
    return f"{order[0]}{separator}{order[1]}{separator}{year}", day_first or month_first


def frame_facts(frame: pd.DataFrame) -> list[ColumnFacts]:
    """:func:`facts_of` for every column of ``frame``, in its order."""
    return [facts_of(frame[c], str(c)) for c in frame.columns]


def csat_scale(facts: ColumnFacts) -> str | None:
    """The CSAT scale a column of whole answers is on (``"0-10"``), or ``None`` when it is not one.

    The scale starts at 0 when some answer is 0, else at 1 (an export of 2-10 is on 1-10), and ends at the smallest of
    :data:`SCALE_TOPS` that holds the largest answer; a name ending in the scale (``score_0_10``)
    says it outright. Fewer than three distinct answers is not a scale.
    """
    if facts.kind not in ("integer", "flag") or facts.low is None or facts.low < 0 or facts.distinct < 3:
        return None
    tokens = normalize(facts.name).split("_")
    if len(tokens) >= 3 and tokens[-1].isdigit() and tokens[-2].isdigit():
        low, high = int(tokens[-2]), int(tokens[-1])
        if low <= facts.low and facts.high <= high:
            return f"{low}-{high}"
    top = next((t for t in SCALE_TOPS if facts.high <= t), None)
    return None if top is None else f"{min(int(facts.low), 1)}-{top}"


def scale_hint(values: pd.Series, column: str = "csat") -> str | None:
    """A pointer to ``csat_scale`` when CSAT answers lie outside 1-5 on another whole-number scale.

    Parameters
    ----------
    values : pandas.Series
        The CSAT column as read.
    column : str
        How the message names it.

    Returns
    -------
    str or None
        ``csat has values 0-10 (812 of 3,000 answers outside 1-5); if that is its scale, declare
        csat_scale: 0-10 in the column map``, or ``None`` when every answer is on 1-5 or the
        answers are not on any whole-number scale (then the range message stands alone).
    """
    facts = facts_of(values, column)
    scale = csat_scale(facts)
    if scale is None or scale == "1-5":
        return None
    numbers = pd.to_numeric(values.astype("string").str.strip() if not pd.api.types.is_numeric_dtype(values)
                            else values, errors="coerce")
    off = int(((numbers < 1) | (numbers > 5)).sum())
    return (f"{column} has values {int(facts.low)}-{int(facts.high)} ({off:,} of {facts.filled:,} answers outside 1-5); "
            f"if that is its scale, declare csat_scale: {scale} in the column map")


def unit_hint(values: pd.Series, column: str, name: str | None = None) -> str | None:
    """A pointer to ``units`` when a duration seems to be in another unit than the contract's minutes.

    Parameters
    ----------
    values : pandas.Series
        The duration column (numbers).
    column : str
        The contract column it is read as (``first_response_minutes``).
    name : str, optional
        The export's name for it: a name ending in a unit (``_hours``, ``_secs``) says the unit.

    Returns
    -------
    str or None
        A name's unit gives ``first_response_hours is in hours by its name; declare units:
        {first_response_minutes: hours}``. Without one, values that look like hours or seconds by the
        rule validation notes them with (:func:`study.data.convert.unit_guess`) get the hint, which asks
        to check. ``None`` when neither applies.
    """
    unit = name_unit(name) if name else None
    if unit and unit != "minutes":
        return f"{shown(name)} is in {unit} by its name; declare units: {{{column}: {unit}}} in the column map"
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    guess = unit_guess(numbers) if unit is None else None
    if guess:
        return (f"{shown(name or column)} looks like {guess} (median {numbers.median():.2g}, longest {numbers.max():g}); "
                f"if it is, declare units: {{{column}: {guess}}} in the column map")
    return None


def date_hint(values: pd.Series, name: str) -> str | None:
    """A pointer to ``date_formats`` when dates are written day first (or month first) as numbers.

    Returns
    -------
    str or None
        ``opened 13/01/2026 ...: dates with the day first; declare date_formats: {opened: "%d/%m/%Y
        %H:%M"} in the column map`` (asking to check when no day above 12 proves the order), or
        ``None`` for ISO times, typed times and anything that is not a numeric date.
    """
    facts = facts_of(values, name)
    if facts.kind != "time" or facts.date_format is None:
        return None
    order = "month first" if facts.date_format.startswith("%m") else "day first"
    proof = f"dates with the {order}" if facts.date_sure else "dates with day and month both 12 or less: check which comes first"
    return (f"{shown(name)} ({', '.join(facts.examples[:2])}) has {proof}; declare date_formats: "
            f"{{{_key(name)}: \"{facts.date_format}\"}} in the column map")
