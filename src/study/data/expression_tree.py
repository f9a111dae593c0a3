"""The tree of a parsed column-map expression: its nodes and :class:`Expression` (text and root).

:mod:`study.data.expression_syntax` builds it from text; :mod:`study.data.expressions` evaluates it.
"""

from __future__ import annotations

from dataclasses import dataclass


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
            for child in children(node):
                walk(child)

        walk(self.root)
        return tuple(found)

    def part(self, node: Node) -> str:
        """The text of a sub-expression, for messages."""
        return self.text[node.start:node.end].strip()


def children(node: Node) -> tuple[Node, ...]:
    """The sub-expressions of a node, left to right."""
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
