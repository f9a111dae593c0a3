"""Expressions of a column map: a small language over a table's columns, evaluated with pandas.

A column map derives columns and filters rows with expressions such as
``days(delivered_at - estimated_delivery_at)`` or ``status = 'delivered' and contacts > 1``. The
text is read by a tokenizer and a recursive-descent parser into a tree, and the tree is evaluated
column-wise with pandas: nothing is handed to Python's ``eval`` or built into SQL, so a map can only
compute, never run code.

The language
------------
- Literals: numbers (``3``, ``2.5``, ``1e3``), text in single quotes (``'Solved'``; ``''`` is a quote
  inside text), ``true``, ``false``, ``null``.
- Columns: bare names (``delivered_at``) or any name in backticks (```order status```).
- Arithmetic ``+ - * /`` on numbers; the difference of two times is a time difference, which
  ``seconds()``, ``minutes()``, ``hours()`` or ``days()`` turn into a (signed) number.
- Comparisons ``= == != <> < <= > >=``, ``x is null``, ``x is not null``, ``x in ('a', 'b')``,
  ``x not in (...)``; ``and``, ``or``, ``not``; ``case when ... then ... [when ...] [else ...] end``.
- Functions ``seconds() minutes() hours() days()`` (of a time difference), ``abs()``, ``log()``
  (natural), ``log2()``, ``coalesce(a, b, ...)`` (the first value that is not null) and ``time(x)``
  (read ``x`` as a time: text as :func:`study.data.convert.to_time` reads it, numbers as Unix times).
- Keywords and function names are case-insensitive; column names are not.

Types follow the values: a number column is a number, a timestamp column a time, a yes/no column a
flag. A text column takes the type its use asks for: compared with a number it is read as numbers,
subtracted from or compared with a time it is read as times (zones to UTC, day-first dates
detected, as :func:`study.data.convert.to_time` reads them); two text columns compared with ``<``
or ``>`` are read as numbers when most of their values are numbers, else as times. A value that
cannot be read as the type asked for stops the evaluation with the column, values and rows.

Missing values follow SQL: an operation on null gives null, a comparison with null is null (neither
true nor false), ``and``/``or`` use three-valued logic, a ``case`` branch whose condition is null is
not taken. Division by zero and the logarithm of a value that is not positive give null, which the
analyses count among their missing values; ``x = null`` is refused (it is never true: write
``x is null``).
"""


from __future__ import annotations

import pandas as pd

from study.data.convert import nearest, short, to_flag
from study.data.expression_eval import DTYPES, Evaluator
from study.data.expression_syntax import ExpressionError, parse
from study.data.expression_tree import Column, Expression

__all__ = ["Expression", "ExpressionError", "evaluate", "evaluate_filter", "parse"]


def evaluate(expression: Expression | str, frame: pd.DataFrame, notes: dict[str, str] | None = None) -> pd.Series:
    """The value of ``expression`` on every row of ``frame``.

    Parameters
    ----------
    expression : Expression or str
        Parsed (:func:`parse`) or text.
    frame : pandas.DataFrame
        The columns the expression may name.
    notes : dict, optional
        Filled with column -> how its values were read as times, when that is worth saying
        (``{"opened_at": "read day first (dd/mm)..."}``).

    Returns
    -------
    pandas.Series
        On ``frame``'s index. A bare column is returned as it is; numbers are floats, yes/no values
        nullable booleans, text nullable strings, times naive UTC timestamps.

    Raises
    ------
    ExpressionError
        For a column the frame lacks (naming the nearest one), values that cannot be read as the
        type their use asks for (column, values, rows), a time difference without a unit, or
        values of different kinds where one kind is needed.
    """
    if isinstance(expression, str):
        expression = parse(expression)
    missing = [c for c in expression.columns if c not in frame.columns]
    if missing:
        close = nearest(missing[0], [str(c) for c in frame.columns])
        hint = f"did you mean {close!r}?" if close else "text is written in single quotes: 'web'"
        raise ExpressionError(f"no column {short(missing[0])} ({hint})")
    if isinstance(expression.root, Column):
        return frame[expression.root.name].copy()
    value = Evaluator(expression, frame, {} if notes is None else notes).value(expression.root)
    if value.kind == "delta":
        raise ExpressionError(f"{expression.text.strip()}: a time difference needs a unit: seconds(), minutes(), "
                              "hours() or days() of it")
    if value.kind == "raw":
        return value.series.astype("string").str.strip()
    # Times keep their resolution (a year 3000 fits in microseconds, not nanoseconds).
    return value.series.astype(DTYPES[value.kind]) if value.kind in ("number", "text", "flag") else value.series


def evaluate_filter(expression: Expression | str, frame: pd.DataFrame, notes: dict[str, str] | None = None) -> pd.Series:
    """Which rows of ``frame`` an expression keeps: true only (false and null are not kept).

    Returns
    -------
    pandas.Series
        Plain booleans on ``frame``'s index.

    Raises
    ------
    ExpressionError
        As :func:`evaluate`, and when the expression does not give yes/no values.
    """
    if isinstance(expression, str):
        expression = parse(expression)
    values = evaluate(expression, frame, notes)
    if not pd.api.types.is_bool_dtype(values):
        flags, problem = to_flag(values, expression.text.strip()) if not pd.api.types.is_numeric_dtype(values) else (None, "numbers")
        if problem:
            raise ExpressionError(f"{expression.text.strip()}: a filter must be a yes/no expression "
                                  "(e.g. status = 'delivered', late is not null)")
        values = flags
    return values.fillna(False).astype(bool)
