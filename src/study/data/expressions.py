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

import operator
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from study.data.convert import nearest, short, to_flag, to_number, to_time
from study.data.schema import DataError

KEYWORDS = frozenset({"and", "or", "not", "is", "null", "true", "false", "in", "case", "when", "then", "else", "end"})
UNIT_SECONDS = {"seconds": 1.0, "minutes": 60.0, "hours": 3600.0, "days": 86400.0}
# Function name -> number of arguments (None: two or more).
FUNCTIONS = {**dict.fromkeys(UNIT_SECONDS, 1), "abs": 1, "log": 1, "log2": 1, "time": 1, "coalesce": None}
COMPARISONS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_COMPARE = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
# Which kind two values are compared (or a case's branches read) as, first match wins: a time difference
# only with another, a time with a time, numbers with numbers (a yes/no counts 1/0), then yes/no.
_PRECEDENCE = ("delta", "time", "number", "flag")
MAX_EXPRESSION_CHARS = 10_000  # a column map's expression is a line; this bounds the parser's work


class ExpressionError(DataError):
    """An expression that cannot be read or evaluated; the message says where and why."""


# --- Tokens -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    kind: str  # "number", "text", "name", "keyword", "op", "end"
    text: str
    pos: int
    value: object = None


_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_NAME = re.compile(r"[^\W\d]\w*")
_OPERATORS = ("<=", ">=", "<>", "!=", "==", "=", "<", ">", "+", "-", "*", "/", "(", ")", ",")


def _where(text: str, pos: int, message: str) -> ExpressionError:
    """``message at character 7: "a > (b[here]"``: one line pointing at the position."""
    before = text[max(0, pos - 40):pos]
    after = text[pos:pos + 40]
    return ExpressionError(f"{message} at character {pos + 1}: "
                           f"\"{'...' if pos > 40 else ''}{before}[here]{after}{'...' if len(text) > pos + 40 else ''}\"")


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an ``end`` token.

    Raises
    ------
    ExpressionError
        For text the language does not know (an unclosed quote, a stray character).
    """
    tokens, pos = [], 0
    while pos < len(text):
        char = text[pos]
        if char.isspace():
            pos += 1
        elif char == "'":
            parts, end = [], pos + 1
            while True:
                close = text.find("'", end)
                if close < 0:
                    raise _where(text, pos, "text opened here is not closed with '")
                parts.append(text[end:close])
                if text.startswith("''", close):  # a quote inside text is written twice
                    parts.append("'")
                    end = close + 2
                    continue
                break
            tokens.append(Token("text", text[pos:close + 1], pos, "".join(parts)))
            pos = close + 1
        elif char == "`":
            close = text.find("`", pos + 1)
            if close < 0:
                raise _where(text, pos, "a name opened here with ` is not closed")
            if close == pos + 1:
                raise _where(text, pos, "an empty name ``")
            tokens.append(Token("name", text[pos:close + 1], pos, text[pos + 1:close]))
            pos = close + 1
        elif char == '"':
            raise _where(text, pos, "text is written in single quotes ('Solved'), a name with spaces in backticks (`my column`)")
        elif (match := _NUMBER.match(text, pos)) and (char.isdigit() or char == "."):
            tokens.append(Token("number", match.group(), pos, float(match.group())))
            pos = match.end()
        elif match := _NAME.match(text, pos):
            word = match.group()
            kind = "keyword" if word.lower() in KEYWORDS else "name"
            tokens.append(Token(kind, word, pos, word.lower() if kind == "keyword" else word))
            pos = match.end()
        else:
            operator = next((op for op in _OPERATORS if text.startswith(op, pos)), None)
            if operator is None:
                raise _where(text, pos, f"unexpected {char!r}")
            tokens.append(Token("op", operator, pos, operator))
            pos += len(operator)
    tokens.append(Token("end", "", len(text)))
    return tokens


# --- The tree -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Node:
    start: int
    end: int


@dataclass(frozen=True)
class Literal(Node):
    value: object  # float, str, bool or None


@dataclass(frozen=True)
class Column(Node):
    name: str


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "-", "not"
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str  # + - * / = != < <= > >= and or
    left: Node
    right: Node


@dataclass(frozen=True)
class IsNull(Node):
    operand: Node
    negated: bool


@dataclass(frozen=True)
class InList(Node):
    operand: Node
    options: tuple[Node, ...]
    negated: bool


@dataclass(frozen=True)
class Case(Node):
    whens: tuple[tuple[Node, Node], ...]
    otherwise: Node | None


@dataclass(frozen=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text and its tree."""

    text: str
    root: Node

    @property
    def columns(self) -> tuple[str, ...]:
        """The column names the expression reads, in the order they first appear."""
        found: dict[str, None] = {}

        def walk(node):
            if isinstance(node, Column):
                found.setdefault(node.name)
            for child in _children(node):
                walk(child)

        walk(self.root)
        return tuple(found)

    def part(self, node: Node) -> str:
        """The text of a sub-expression, for messages."""
        return self.text[node.start:node.end].strip()


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return node.left, node.right
    if isinstance(node, IsNull):
        return (node.operand,)
    if isinstance(node, InList):
        return node.operand, *node.options
    if isinstance(node, Case):
        return (*(part for pair in node.whens for part in pair), *((node.otherwise,) if node.otherwise else ()))
    if isinstance(node, Call):
        return node.args
    return ()


# --- Parser -------------------------------------------------------------------------------------

class _Parser:
    """Recursive descent, one method per precedence level (lowest first)."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.token
        self.index += 1
        return token

    def is_keyword(self, *words: str) -> bool:
        return self.token.kind == "keyword" and self.token.value in words

    def is_op(self, *ops: str) -> bool:
        return self.token.kind == "op" and self.token.value in ops

    def fail(self, message: str, token: Token | None = None) -> ExpressionError:
        token = token or self.token
        found = "the end" if token.kind == "end" else repr(token.text)
        return _where(self.text, token.pos, f"{message}, found {found}")

    def expect_op(self, op: str, what: str) -> Token:
        if not self.is_op(op):
            raise self.fail(f"expected {op!r} {what}")
        return self.advance()

    def expect_keyword(self, word: str, what: str) -> Token:
        if not self.is_keyword(word):
            raise self.fail(f"expected '{word}' {what}")
        return self.advance()

    def parse(self) -> Node:
        if self.token.kind == "end":
            raise self.fail("an empty expression")
        node = self.expression()
        if self.token.kind != "end":
            raise self.fail("expected an operator or the end")
        return node

    def expression(self) -> Node:
        self.depth += 1
        if self.depth > 100:  # (((( ... without end: a message, not a RecursionError
            raise self.fail("nested too deeply")
        node = self.disjunction()
        self.depth -= 1
        return node

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.is_keyword("or"):
            self.advance()
            right = self.conjunction()
            node = Binary(node.start, right.end, "or", node, right)
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.is_keyword("and"):
            self.advance()
            right = self.negation()
            node = Binary(node.start, right.end, "and", node, right)
        return node

    def negation(self) -> Node:
        if self.is_keyword("not"):
            start = self.advance().pos
            operand = self.negation()
            return Unary(start, operand.end, "not", operand)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.additive()
        if self.token.kind == "op" and self.token.value in COMPARISONS:
            op = COMPARISONS[self.advance().value]
            right = self.additive()
            node = Binary(left.start, right.end, op, left, right)
            if self.token.kind == "op" and self.token.value in COMPARISONS:
                raise self.fail("comparisons do not chain (write a < b and b < c)")
            return node
        if self.is_keyword("is"):
            self.advance()
            negated = self.is_keyword("not")
            if negated:
                self.advance()
            end = self.expect_keyword("null", "after 'is'" + (" not" if negated else ""))
            return IsNull(left.start, end.pos + len(end.text), left, negated)
        if self.is_keyword("not", "in"):
            negated = self.is_keyword("not")
            if negated:
                self.advance()
                if not self.is_keyword("in"):
                    raise self.fail("expected 'in' after 'not' (or write 'not' before the comparison)")
            self.advance()
            self.expect_op("(", "to open the list of 'in'")
            options = [self.expression()]
            while self.is_op(","):
                self.advance()
                options.append(self.expression())
            close = self.expect_op(")", "to close the list of 'in'")
            return InList(left.start, close.pos + 1, left, tuple(options), negated)
        return left

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.is_op("+", "-"):
            op = self.advance().value
            right = self.multiplicative()
            node = Binary(node.start, right.end, op, node, right)
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while self.is_op("*", "/"):
            op = self.advance().value
            right = self.unary()
            node = Binary(node.start, right.end, op, node, right)
        return node

    def unary(self) -> Node:
        if self.is_op("-", "+"):
            token = self.advance()
            operand = self.unary()
            return operand if token.value == "+" else Unary(token.pos, operand.end, "-", operand)
        return self.primary()

    def primary(self) -> Node:
        token = self.token
        end = token.pos + len(token.text)
        if token.kind in ("number", "text"):
            self.advance()
            return Literal(token.pos, end, token.value)
        if self.is_keyword("true", "false", "null"):
            self.advance()
            return Literal(token.pos, end, {"true": True, "false": False, "null": None}[token.value])
        if self.is_keyword("case"):
            return self.case()
        if self.is_op("("):
            self.advance()
            node = self.expression()
            close = self.expect_op(")", "to close '('")
            return _spanned(node, token.pos, close.pos + 1)
        if token.kind == "name":
            self.advance()
            if self.is_op("(") and not token.text.startswith("`"):
                return self.call(token)
            return Column(token.pos, end, token.value)
        if token.kind == "keyword":
            raise _where(self.text, token.pos, f"'{token.text}' is a keyword; a column of that name is written `{token.text}`")
        raise self.fail("expected a value, a column or '('")

    def call(self, name: Token) -> Node:
        function = name.value.lower()
        if function not in FUNCTIONS:
            close = nearest(function, list(FUNCTIONS))
            hint = f"did you mean {close}()?" if close else f"functions: {', '.join(FUNCTIONS)}"
            raise _where(self.text, name.pos, f"no function {name.text}() ({hint})")
        self.advance()  # (
        args = [] if self.is_op(")") else [self.expression()]
        while self.is_op(","):
            self.advance()
            args.append(self.expression())
        close = self.expect_op(")", f"to close {function}(")
        wanted = FUNCTIONS[function]
        if (wanted is None and len(args) < 2) or (wanted is not None and len(args) != wanted):
            count = "two or more arguments" if wanted is None else "one argument"
            raise _where(self.text, name.pos, f"{function}() takes {count}, not {len(args)}")
        return Call(name.pos, close.pos + 1, function, tuple(args))

    def case(self) -> Node:
        start = self.advance().pos
        whens = []
        while self.is_keyword("when"):
            self.advance()
            condition = self.expression()
            self.expect_keyword("then", "after the condition of 'when'")
            whens.append((condition, self.expression()))
        if not whens:
            raise self.fail("expected 'when' after 'case'")
        otherwise = None
        if self.is_keyword("else"):
            self.advance()
            otherwise = self.expression()
        end = self.expect_keyword("end", "to close 'case'")
        return Case(start, end.pos + 3, tuple(whens), otherwise)


def _spanned(node: Node, start: int, end: int) -> Node:
    """``node`` with the span of its parentheses, so messages quote ``(a + b)`` whole."""
    return type(node)(start, end, *(getattr(node, f) for f in node.__dataclass_fields__ if f not in ("start", "end")))


MAX_TREE_DEPTH = 200


def parse(text: str) -> Expression:
    """Read an expression (see the module docstring for the language).

    Parameters
    ----------
    text : str

    Returns
    -------
    Expression

    Raises
    ------
    ExpressionError
        One line saying what was expected and pointing at the position:
        ``expected ')' to close '(', found the end at character 7: "a > (b[here]"``.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be text, not {short(text)}")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"an expression of {len(text):,} characters is too long (at most {MAX_EXPRESSION_CHARS:,})")
    try:
        root = _Parser(text).parse()
    except RecursionError:  # "- - - - ..." or "not not not ..." thousands deep
        raise ExpressionError(f"an expression nested too deeply: {short(text)}") from None
    # A flat chain (a + a + ... 500 times) parses in a loop but is a tree 500 deep, which evaluating it
    # would recurse through: measured here, without recursion, against a depth any real map stays far under.
    depth, stack = 0, [(root, 1)]
    while stack:
        node, level = stack.pop()
        depth = max(depth, level)
        stack.extend((child, level + 1) for child in _children(node))
    if depth > MAX_TREE_DEPTH:
        raise ExpressionError(f"an expression nested {depth} levels deep is too deep (at most {MAX_TREE_DEPTH}); "
                              f"split it into several derived columns: {short(text)}")
    return Expression(text, root)


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
