"""The script language's own syntax tree: plain frozen dataclasses, each with its position."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Node:
    line: int
    col: int


@dataclass(frozen=True)
class Num(Node):
    value: float


@dataclass(frozen=True)
class Bool(Node):
    value: bool


@dataclass(frozen=True)
class Str(Node):
    value: str


@dataclass(frozen=True)
class Name(Node):
    name: str


@dataclass(frozen=True)
class Keyword(Node):
    name: str
    value: Node


@dataclass(frozen=True)
class Call(Node):
    func: str
    args: tuple[Node, ...]
    kwargs: tuple[Keyword, ...]


@dataclass(frozen=True)
class Index(Node):
    target: Node
    bars: int


@dataclass(frozen=True)
class Field(Node):
    target: Node
    name: str


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "-" or "not"
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str  # + - * / % < <= > >= == != and or
    left: Node
    right: Node


@dataclass(frozen=True)
class Assign(Node):
    name: str
    value: Node


@dataclass(frozen=True)
class ExprStmt(Node):
    value: Call


@dataclass(frozen=True)
class Program:
    statements: tuple[Assign | ExprStmt, ...]
    source: str
    nodes: int
