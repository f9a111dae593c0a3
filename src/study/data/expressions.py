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

from dataclasses import dataclass

import numpy as np
import pandas as pd

from study.data.convert import nearest, short, to_flag, to_number, to_time
from study.data.expression_syntax import (
    _COMPARE,
    _PRECEDENCE,
    UNIT_SECONDS,
    ExpressionError,
    parse,
)
from study.data.expression_tree import (
    Binary,
    Call,
    Case,
    Column,
    Expression,
    InList,
    IsNull,
    Literal,
    Node,
    Unary,
)

# --- Evaluation ---------------------------------------------------------------------------------

@dataclass
class _Value:
    """A column-wise value and what it is: number, text, flag, time, delta (time difference), null,
    or raw (a text column whose type its use decides)."""

    kind: str
    series: pd.Series
    origin: str  # the column's name, or the literal's text, for messages
    literal: object = None
    is_literal: bool = False


_NULLS = {"number": np.nan, "text": pd.NA, "flag": pd.NA, "time": pd.NaT, "delta": pd.NaT, "raw": pd.NA}
_DTYPES = {"number": "float64", "text": "string", "flag": "boolean", "time": "datetime64[ns]",
           "delta": "timedelta64[ns]", "raw": "string", "null": "object"}


class _Evaluator:
    def __init__(self, expression: Expression, frame: pd.DataFrame, notes: dict[str, str]):
        self.expression = expression
        self.frame = frame
        self.index = frame.index
        self.notes = notes
        self.cache: dict[tuple[str, str], pd.Series] = {}

    def fail(self, node: Node, message: str) -> ExpressionError:
        return ExpressionError(f"{self.expression.part(node)}: {message}")

    # values

    def value(self, node: Node) -> _Value:
        if isinstance(node, Literal):
            return self.literal(node)
        if isinstance(node, Column):
            return self.column(node.name)
        if isinstance(node, Unary):
            return self.unary(node)
        if isinstance(node, Binary):
            if node.op in ("and", "or"):
                left, right = self.flag(node.left), self.flag(node.right)
                return _Value("flag", (left & right) if node.op == "and" else (left | right), "")
            if node.op in ("+", "-", "*", "/"):
                return self.arithmetic(node)
            return _Value("flag", self.compare(node, node.op, self.value(node.left), self.value(node.right)), "")
        if isinstance(node, IsNull):
            missing = self.value(node.operand).series.isna()
            return _Value("flag", (~missing if node.negated else missing).astype("boolean"), "")
        if isinstance(node, InList):
            return self.in_list(node)
        if isinstance(node, Case):
            return self.case(node)
        return self.call(node)

    def literal(self, node: Literal) -> _Value:
        value = node.value
        kind = ("null" if value is None else "flag" if isinstance(value, bool)
                else "number" if isinstance(value, float) else "text")
        dtype = _DTYPES[kind]
        series = pd.Series(pd.NA if value is None else value, index=self.index, dtype=dtype)
        return _Value(kind, series, self.expression.part(node), value, True)

    def column(self, name: str) -> _Value:
        values = self.frame[name]
        if pd.api.types.is_bool_dtype(values):
            return _Value("flag", values.astype("boolean"), name)
        if pd.api.types.is_numeric_dtype(values):
            return _Value("number", values.astype("float64"), name)
        if pd.api.types.is_datetime64_any_dtype(values):
            return _Value("time", self.read(name, values, "time"), name)
        if pd.api.types.is_timedelta64_dtype(values):
            return _Value("delta", values, name)
        return _Value("raw", values, name)

    def unary(self, node: Unary) -> _Value:
        if node.op == "not":
            return _Value("flag", ~self.flag(node.operand), "")
        operand = self.value(node.operand)
        if operand.kind == "delta":
            return _Value("delta", -operand.series, "")
        return _Value("number", -self.as_kind(operand, "number", node.operand), "")

    def arithmetic(self, node: Binary) -> _Value:
        left, right = self.value(node.left), self.value(node.right)
        kinds = self.numeric_kinds(left, right)
        if kinds <= {"number"}:
            a, b = self.as_kind(left, "number", node.left), self.as_kind(right, "number", node.right)
            if node.op == "+":
                return _Value("number", a + b, "")
            if node.op == "-":
                return _Value("number", a - b, "")
            if node.op == "*":
                return _Value("number", a * b, "")
            # Division by zero is null (as SQL engines read it), not an infinity that a mean would carry.
            return _Value("number", (a / b).where(b != 0), "")
        if node.op == "-" and kinds == {"time"}:
            return _Value("delta", self.as_kind(left, "time", node.left) - self.as_kind(right, "time", node.right), "")
        if node.op in ("+", "-") and kinds == {"delta"}:
            a, b = left.series, right.series
            return _Value("delta", a + b if node.op == "+" else a - b, "")
        if "delta" in kinds:
            raise self.fail(node, "a time difference needs a unit before it is combined with other values: "
                                  "seconds(), minutes(), hours() or days() of it")
        if "time" in kinds:
            raise self.fail(node, f"{node.op} of a time: times can only be subtracted from each other "
                                  "(days(b - a) is the number of days from a to b)")
        raise self.fail(node, f"cannot compute {node.op} of these values")

    def numeric_kinds(self, *values: _Value) -> set[str]:
        """What the operands of arithmetic are: numbers, times or time differences. A text column
        takes the kind of the other operand; two text columns are guessed from their values."""
        typed = {"number" if v.kind == "flag" else v.kind for v in values if v.kind in ("number", "flag", "time", "delta")}
        untyped = [v for v in values if v.kind in ("raw", "text")]
        if untyped and not typed:
            return {"number" if kind == "text" else kind for kind in map(self.guess, untyped)}
        if untyped and typed == {"number"}:
            # A column of times plus a number is the mistake to name, not its values that are not numbers.
            return typed | ({"time"} if any(self.guess(v) == "time" for v in untyped) else set())
        return typed or {"number"}

    def guess(self, value: _Value) -> str:
        """Numbers, times or text, for text used where numbers or times would do: what most of its
        first values are (only to choose the reading and name a mistake: every value is then read)."""
        present = value.series.dropna()[:200]
        if not len(present):
            return "number"
        numbers = pd.to_numeric(present.astype("string").str.strip(), errors="coerce")
        if numbers.notna().mean() >= 0.5:
            return "number"
        times = to_time(present.reset_index(drop=True), "")[0]
        return "time" if times.notna().mean() >= 0.5 else "text"

    def compare(self, node: Node, op: str, left: _Value, right: _Value) -> pd.Series:
        if "null" in (left.kind, right.kind):
            raise self.fail(node, "a comparison with null is never true; write 'x is null' or 'x is not null'")
        kinds = {left.kind, right.kind}
        if "delta" in kinds and kinds != {"delta"}:
            raise self.fail(node, "a time difference needs a unit before it is compared: seconds(), minutes(), "
                                  "hours() or days() of it")
        kind = next((k for k in _PRECEDENCE if k in kinds), None)
        if kind is None:  # text and raw columns only
            if op in ("=", "!="):
                kind = "text"
            else:
                guesses = {self.guess(v) for v in (left, right)}
                kind = "time" if "time" in guesses else "number"
        if kind == "flag" and op not in ("=", "!="):
            raise self.fail(node, f"yes/no values are not ordered; compare them with = or !=, not {op}")
        a = self.as_kind(left, kind, node.left if isinstance(node, Binary) else node)
        b = self.as_kind(right, kind, node.right if isinstance(node, Binary) else node)
        result = _COMPARE[op](a, b)
        # numpy comparisons read NaN as False; SQL reads a comparison with a missing value as null.
        return result.astype("boolean").mask(a.isna() | b.isna())

    def in_list(self, node: InList) -> _Value:
        operand = self.value(node.operand)
        found = pd.Series(False, index=self.index, dtype="boolean")
        for option in node.options:
            value = self.value(option)
            if value.kind == "null":
                raise self.fail(option, "null in a list never matches; write 'x is null or x in (...)'")
            found = found | self.compare(option, "=", operand, value)
        return _Value("flag", ~found if node.negated else found, "")

    def common(self, values: list[tuple[_Value, Node]], node: Node) -> str:
        """The kind every branch of a case (or argument of coalesce) is read as."""
        kinds = {v.kind for v, _ in values} - {"null"}
        if not kinds:
            return "null"
        kind = next((k for k in _PRECEDENCE if k in kinds), None)
        if kind is None:
            return "text"
        others = kinds - {kind, "raw", "text"}
        if others or (kind in ("delta",) and kinds - {"delta"}):
            raise self.fail(node, f"mixes {' and '.join(sorted(kinds))} values; every branch must give the same kind")
        return kind

    def case(self, node: Case) -> _Value:
        branches = [(self.value(then), then) for _, then in node.whens]
        otherwise = (self.value(node.otherwise), node.otherwise) if node.otherwise is not None else None
        kind = self.common(branches + ([otherwise] if otherwise else []), node)
        if kind == "null":
            return _Value("null", pd.Series(pd.NA, index=self.index, dtype="object"), "")
        result = self.as_kind(otherwise[0], kind, otherwise[1]) if otherwise else self.null(kind)
        for (condition, _), (value, then) in zip(reversed(node.whens), reversed(branches)):
            taken = self.flag(condition).fillna(False).astype(bool)
            result = self.as_kind(value, kind, then).where(taken, result)
        return _Value(kind, result, "")

    def call(self, node: Call) -> _Value:
        if node.name in UNIT_SECONDS:
            value = self.value(node.args[0])
            if value.kind != "delta":
                raise self.fail(node, f"{node.name}() takes a difference of two times, e.g. {node.name}(closed_at - opened_at)"
                                + ("; numbers that are Unix times are read as times with time(x)" if value.kind == "number" else ""))
            return _Value("number", value.series.dt.total_seconds() / UNIT_SECONDS[node.name], "")
        if node.name == "time":
            value = self.value(node.args[0])
            return _Value("time", self.as_kind(value, "time", node.args[0], epoch=True), "")
        if node.name == "coalesce":
            values = [(self.value(arg), arg) for arg in node.args]
            kind = self.common(values, node)
            if kind == "null":
                return values[0][0]
            result = self.as_kind(values[0][0], kind, values[0][1])
            for value, arg in values[1:]:
                result = result.where(result.notna(), self.as_kind(value, kind, arg))
            return _Value(kind, result, "")
        number = self.as_kind(self.value(node.args[0]), "number", node.args[0])
        if node.name == "abs":
            return _Value("number", number.abs(), "")
        positive = number.where(number > 0)  # the logarithm of 0 or less is null, not -inf or a warning
        return _Value("number", np.log(positive) if node.name == "log" else np.log2(positive), "")

    # conversions

    def null(self, kind: str) -> pd.Series:
        return pd.Series(_NULLS[kind], index=self.index, dtype=_DTYPES[kind])

    def flag(self, node: Node) -> pd.Series:
        return self.as_kind(self.value(node), "flag", node)

    def read(self, name: str, values: pd.Series, kind: str) -> pd.Series:
        """A column read as numbers, times or flags, once per column and kind; unreadable values stop."""
        key = (name, kind)
        if key not in self.cache:
            note = None
            if kind == "number":
                converted, problem = to_number(values.astype("string").str.strip()
                                               if not pd.api.types.is_numeric_dtype(values) else values, name)
            elif kind == "time":
                converted, problem, note = to_time(values, name)
            else:
                converted, problem = to_flag(values, name)
            if problem:
                raise ExpressionError(problem)
            if note:
                self.notes[name] = note
            self.cache[key] = converted
        return self.cache[key]

    def as_kind(self, value: _Value, kind: str, node: Node, epoch: bool = False) -> pd.Series:
        """``value`` read as ``kind``; a value that cannot be is an error naming it."""
        if value.kind == kind or kind == "null":
            return value.series
        if value.kind == "null":
            return self.null(kind)
        if value.is_literal:
            return self.literal_as(value, kind, node)
        if value.kind == "raw" and kind == "text":
            return value.series.astype("string").str.strip()
        if value.kind == "raw" and kind in ("number", "time", "flag"):
            return self.read(value.origin, self.frame[value.origin], kind)
        if value.kind == "number" and kind == "time" and epoch:
            times, problem, _ = to_time(value.series, value.origin or self.expression.part(node))
            if problem:
                raise ExpressionError(problem)
            return times
        if value.kind == "flag" and kind == "number":
            return value.series.astype("float64")
        if value.kind == "number" and kind == "flag" and value.origin:
            return self.read(value.origin, self.frame[value.origin], "flag")
        if value.kind == "text" and kind in ("number", "time", "flag"):
            converted, problem, *_ = ({"number": to_number, "flag": to_flag}.get(kind, to_time))(value.series, self.expression.part(node))
            if problem:
                raise ExpressionError(problem)
            return converted
        names = {"number": "a number", "text": "text", "flag": "yes/no", "time": "a date/time",
                 "delta": "a time difference", "raw": "text"}
        raise self.fail(node, f"is {names[value.kind]} where {names[kind]} is needed"
                        + ("; numbers that are Unix times are read as times with time(x)" if (value.kind, kind) == ("number", "time") else ""))

    def literal_as(self, value: _Value, kind: str, node: Node) -> pd.Series:
        literal = value.literal
        converted = None
        if kind == "number" and isinstance(literal, str):
            try:
                converted = float(literal.strip())
            except ValueError:
                converted = None
        elif kind == "number" and isinstance(literal, bool):
            converted = float(literal)
        elif kind == "time" and isinstance(literal, str):
            times, problem, _ = to_time(pd.Series([literal]), "")
            converted = None if problem else times.iloc[0]
        elif kind == "flag" and isinstance(literal, str):
            flags, problem = to_flag(pd.Series([literal]), "")
            converted = None if problem else bool(flags.iloc[0])
        elif kind == "text" and isinstance(literal, (str, float)):
            converted = literal if isinstance(literal, str) else f"{literal:g}"
        if converted is None:
            names = {"number": "a number", "time": "a date/time", "flag": "yes/no (true/false)", "text": "text"}
            raise self.fail(node, f"is not {names.get(kind, kind)}, which the values it is compared or combined with are")
        return pd.Series(converted, index=self.index, dtype=_DTYPES[kind])


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
    value = _Evaluator(expression, frame, {} if notes is None else notes).value(expression.root)
    if value.kind == "delta":
        raise ExpressionError(f"{expression.text.strip()}: a time difference needs a unit: seconds(), minutes(), "
                              "hours() or days() of it")
    if value.kind == "raw":
        return value.series.astype("string").str.strip()
    # Times keep their resolution (a year 3000 fits in microseconds, not nanoseconds).
    return value.series.astype(_DTYPES[value.kind]) if value.kind in ("number", "text", "flag") else value.series


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
