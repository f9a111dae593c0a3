"""The syntax of a column map's expressions: tokens, the tree, and the recursive-descent parser.

:mod:`study.data.expressions` describes the language and evaluates a parsed tree with pandas; this
module only reads text into a tree (:func:`parse`), so that nothing a map holds is ever run as code.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from study.data.convert import nearest, short
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
    children,
)
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
        stack.extend((child, level + 1) for child in children(node))
    if depth > MAX_TREE_DEPTH:
        raise ExpressionError(f"an expression nested {depth} levels deep is too deep (at most {MAX_TREE_DEPTH}); "
                              f"split it into several derived columns: {short(text)}")
    return Expression(text, root)
