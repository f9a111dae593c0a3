"""A column of any frame as model numbers: what kind of values it holds, said in words, or why it cannot be used.

The driver analysis takes columns it has never seen (a derived delay, a recoded flag, a survey score),
so each is read here once: numbers stay numbers, yes/no values become 1/0, text with two values
becomes 1/0 when the caller says which value is 1, and anything else is refused with one line naming
the column, the values and the rows (:func:`study.data.convert.describe_problem`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from study.data.convert import describe_problem, examples, short, to_flag, to_number
from study.data.schema import DataError

# Whole numbers from 1 to 5 with at least this many distinct values read as an ordered 1-5 scale.
ORDINAL_LOW, ORDINAL_HIGH, ORDINAL_MIN_LEVELS = 1, 5, 3
KINDS = ("numeric", "binary", "ordinal")


@dataclass(frozen=True)
class Kind:
    """What a model column holds.

    Attributes
    ----------
    kind : {"numeric", "binary", "ordinal"}
        ``binary`` is 0/1; ``ordinal`` is an ordered scale of whole numbers 1-5 (outcomes only).
    reason : str
        Why, in words: "takes only the values 0 and 1", "whole numbers 1-5 (5 values)".
    levels : tuple of float
        The values of an ordinal scale, in order.
    read_as : str
        How the stored values became numbers, where they were not numbers already ("yes/no text read as 1/0").
    """

    kind: str
    reason: str
    levels: tuple = ()
    read_as: str = ""

    @property
    def words(self) -> str:
        """'0/1 (takes only the values 0 and 1)'."""
        name = {"numeric": "numeric", "binary": "0/1", "ordinal": "ordinal 1-5"}[self.kind]
        return f"{name} ({self.reason}{'; ' + self.read_as if self.read_as else ''})"


def as_numbers(values: pd.Series, column: str, mapping: dict | None = None) -> tuple[pd.Series, str]:
    """``values`` as floats (missing stays NaN), and how they were read when that is worth saying.

    Parameters
    ----------
    values : pandas.Series
    column : str
        Its name, for messages.
    mapping : dict, optional
        ``{stored value: number}`` for a text column (e.g. ``{"late": 1, "on time": 0}``); every value
        present must be in it.

    Returns
    -------
    numbers : pandas.Series of float
    read_as : str
        ``""`` for numbers; else how they were read ("yes/no text read as 1/0", "text recoded: ...").

    Raises
    ------
    DataError
        Dates and times, infinite numbers, text that is neither numbers nor yes/no (with the hint to
        give a mapping when it has two values), or a value the mapping does not cover.
    """
    if mapping:
        text = values.astype("string")
        keys = {str(k): float(v) for k, v in mapping.items()}
        bad = text.notna() & ~text.isin(list(keys)).fillna(False)
        if bad.any():
            raise DataError(describe_problem(column, bad, values, f"that {{be}} not in its value mapping ({_listed(keys)})"))
        return text.map(keys).astype(float), f"text recoded: {_listed(keys)}"
    if pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_timedelta64_dtype(values):
        raise DataError(f"column {short(column)} holds dates or times, not numbers: derive a number from them first "
                        "(e.g. days(delivered_at - estimated_delivery_at) in a column map's derive section)")
    if pd.api.types.is_bool_dtype(values):
        return values.astype(float), "yes/no read as 1/0"
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.astype(float)
        infinite = pd.Series(np.isinf(numbers.to_numpy()), index=values.index)
        if infinite.any():
            raise DataError(describe_problem(column, infinite, values, "that {be} infinite"))
        return numbers, ""
    present = values.dropna()
    if len(present) and all(isinstance(v, (bool, np.bool_)) for v in present.unique()):
        return values.map({True: 1.0, False: 0.0}).astype(float), "yes/no read as 1/0"
    numbers, problem = to_number(values, column)
    if problem is None:
        return numbers, "numbers stored as text read as numbers"
    flags, flag_problem = to_flag(values, column)
    if flag_problem is None:
        return flags.astype(float), "yes/no text read as 1/0"
    distinct = pd.unique(present.astype(str))
    if len(distinct) == 2:
        first, second = sorted(distinct)
        raise DataError(f"column {short(column)} is text with two values ({short(first)}, {short(second)}) in "
                        f"{len(present):,} rows: say which one counts as 1, in a column map with a derived column "
                        f"(derive: {{{column}_01: \"case when `{column}` = '{second}' then 1 else 0 end\"}}) or in "
                        f"Python with values={{{column!r}: {{{second!r}: 1, {first!r}: 0}}}}")
    raise DataError(f"column {short(column)} is text with {len(distinct):,} values (e.g. {examples(present)}) in "
                    f"{len(present):,} rows: a driver or outcome must be numbers or take two values; "
                    "enter a text column as a control instead")


def _listed(mapping: dict) -> str:
    return ", ".join(f"{short(k)} -> {v:g}" for k, v in list(mapping.items())[:6])


def outcome_kind(numbers: pd.Series, declared: str = "auto", read_as: str = "") -> Kind:
    """Numeric, 0/1 or ordinal 1-5, from the values present (or as declared), with the reason.

    The rule: only 0 and 1 -> ``binary``; whole numbers from 1 to 5 with at least three distinct
    values -> ``ordinal``; anything else -> ``numeric``. A declared kind the values contradict (0/1
    for a column with a 3, ordinal for a column with 2.5) is refused.

    Raises
    ------
    ValueError
        For a declared kind that is not one of :data:`KINDS` or ``"auto"``, or that the values contradict.
    """
    present = numbers.dropna()
    distinct = np.sort(present.unique())
    binary = len(distinct) <= 2 and set(distinct) <= {0.0, 1.0}
    whole = bool(len(distinct)) and bool(np.all(distinct % 1 == 0))
    ordinal = whole and distinct.min() >= ORDINAL_LOW and distinct.max() <= ORDINAL_HIGH
    if declared not in ("auto", *KINDS):
        raise ValueError(f"outcome_kind must be 'auto' or one of {', '.join(KINDS)}, not {declared!r}")
    if declared == "binary" and not binary:
        raise ValueError(f"outcome_kind 'binary' needs values 0 and 1 only; the outcome has {_values(distinct)}")
    if declared == "ordinal" and not ordinal:
        raise ValueError(f"outcome_kind 'ordinal' needs whole numbers 1-5; the outcome has {_values(distinct)}")
    if declared == "numeric":
        return Kind("numeric", "declared numeric", read_as=read_as)
    if binary:
        return Kind("binary", "takes only the values 0 and 1" if len(distinct) == 2 else "takes one of 0 and 1",
                    read_as=read_as)
    if ordinal and (len(distinct) >= ORDINAL_MIN_LEVELS or declared == "ordinal"):
        return Kind("ordinal", f"whole numbers between 1 and 5, {len(distinct)} distinct values: read as an ordered scale",
                    tuple(float(v) for v in distinct), read_as)
    reason = ("whole numbers 1-5 with only two values, read as numbers" if ordinal else
              f"{len(distinct):,} distinct values" + ("" if whole else ", not all whole numbers"))
    return Kind("numeric", reason, read_as=read_as)


def driver_kind(numbers: pd.Series, read_as: str = "") -> Kind:
    """``binary`` when the driver takes only 0 and 1, else ``numeric``, with the reason."""
    distinct = np.sort(numbers.dropna().unique())
    if len(distinct) <= 2 and set(distinct) <= {0.0, 1.0}:
        return Kind("binary", "takes only the values 0 and 1", read_as=read_as)
    return Kind("numeric", f"{len(distinct):,} distinct values", read_as=read_as)


def _values(distinct: np.ndarray) -> str:
    shown = ", ".join(f"{v:g}" for v in distinct[:6])
    return f"values {shown}{', ...' if len(distinct) > 6 else ''}"


def is_categorical(values: pd.Series) -> bool:
    """Whether a control enters as dummies: text, categories or objects (numbers and yes/no enter as they are)."""
    return not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values))
