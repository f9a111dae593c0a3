"""The evaluator of :mod:`study.data.expressions`: a parsed expression's value on every row of a table,
column-wise with pandas, with the types, null rules and messages that module's docstring describes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from study.data.convert import to_flag, to_number, to_time
from study.data.expression_syntax import (
    _COMPARE,
    _PRECEDENCE,
    UNIT_SECONDS,
    ExpressionError,
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
DTYPES = {"number": "float64", "text": "string", "flag": "boolean", "time": "datetime64[ns]",
           "delta": "timedelta64[ns]", "raw": "string", "null": "object"}


class Evaluator:
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
        dtype = DTYPES[kind]
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
        return pd.Series(_NULLS[kind], index=self.index, dtype=DTYPES[kind])

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
        return pd.Series(converted, index=self.index, dtype=DTYPES[kind])
