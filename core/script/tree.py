"""The script's own syntax tree: small frozen dataclasses, each knowing its line and column.

Nothing here is a Python object a script can reach: the evaluator reads these nodes and only
ever produces numbers, booleans, numpy arrays and records of arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Node:
    line: int
    col: int


# ----------------------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Number(Node):
    value: int | float


@dataclass(frozen=True)
class Bool(Node):
    value: bool


@dataclass(frozen=True)
class String(Node):
    value: str


@dataclass(frozen=True)
class Name(Node):
    id: str


@dataclass(frozen=True)
class Unary(Node):
    """``-x`` (op "-") or ``not x`` (op "not")."""

    op: str
    operand: Expr


@dataclass(frozen=True)
class Binary(Node):
    """Arithmetic (``+ - * / %``), comparison (``< <= > >= == !=``) or logic (``and or``)."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Keyword(Node):
    name: str
    value: Expr


@dataclass(frozen=True)
class Call(Node):
    func: str
    args: tuple[Expr, ...] = ()
    keywords: tuple[Keyword, ...] = ()


@dataclass(frozen=True)
class Index(Node):
    """``target[offset]``: the value ``offset`` bars ago."""

    target: Expr
    offset: Expr


@dataclass(frozen=True)
class Field(Node):
    """``target.name``: one output of a multi-output indicator."""

    target: Expr
    name: str


Expr = Number | Bool | String | Name | Unary | Binary | Call | Index | Field

ARITHMETIC = frozenset({"+", "-", "*", "/", "%"})
COMPARISON = frozenset({"<", "<=", ">", ">=", "==", "!="})


# ----------------------------------------------------------------------------- statements


@dataclass(frozen=True)
class Assign(Node):
    target: str
    value: Expr


@dataclass(frozen=True)
class ExprStatement(Node):
    """A call used as a statement: ``plot(x)``."""

    value: Call


Statement = Assign | ExprStatement


# ----------------------------------------------------------------------------- programs


@dataclass(frozen=True)
class Program:
    """A parsed and checked script, ready to evaluate any number of times.

    ``inputs`` are the declared tunable parameters with their defaults, in declaration order;
    ``outputs`` the output names (buy, sell, ...) the script assigns.
    """

    statements: tuple[Statement, ...]
    lines: tuple[str, ...]
    inputs: Mapping[str, int | float | bool] = field(default_factory=lambda: MappingProxyType({}))  # read-only
    outputs: frozenset[str] = frozenset()
    plot_count: int = 0

    @property
    def is_indicator(self) -> bool:
        """A script that opens no positions only draws (``docs/script.md``, *Outputs*)."""
        return not (self.outputs & {"buy", "sell", "short"})


@dataclass(frozen=True)
class Condition:
    """A strategy rule: one expression that must give true/false on every bar."""

    expr: Expr
    lines: tuple[str, ...]
    text: str
