"""Static checks after parsing, so most mistakes are reported by ``parse`` with their place.

A script is straight-line code, so everything about names is known before it runs: a variable
used before it is assigned, an unknown function (with the nearest known name), a built-in
overwritten, ``plot`` used as a value, an ``input`` whose name or default is not a literal, too
many plots. It also collects the declared inputs and the assigned outputs. The walk uses an
explicit stack: a long ``a + b + c + ...`` chain is deep but must not recurse.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from core.labels import did_you_mean
from core.market.indicator_catalogue import EXCLUDED, NAME_ALIASES, catalogue
from core.script import tree as t
from core.script.builtins import HELPERS, OUTPUTS, SERIES, bind
from core.script.errors import ScriptError
from core.script.lexer import KEYWORDS
from core.script.limits import MAX_PLOTS
from core.script.values import Problem

_INPUT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


def indicator_names() -> set[str]:
    return set(catalogue())


def resolve_indicator(name: str) -> str | None:
    """The catalogue name ``name`` calls (aliases such as ``bb`` included), or None."""
    key = NAME_ALIASES.get(name, name)
    return key if key in catalogue() else None


def _children(node: t.Expr) -> Iterator[t.Expr]:
    if isinstance(node, t.Unary):
        yield node.operand
    elif isinstance(node, t.Binary):
        yield node.left
        yield node.right
    elif isinstance(node, t.Call):
        yield from node.args
        for k in node.keywords:
            yield k.value
    elif isinstance(node, t.Index):
        yield node.target
        yield node.offset
    elif isinstance(node, t.Field):
        yield node.target


class Checker:
    """``Checker(lines).program(statements)`` or ``.condition(expr)``."""

    def __init__(self, lines: tuple[str, ...], *, rule: bool = False) -> None:
        self.lines = lines
        self.rule = rule
        self.scope: set[str] = set()
        self.assigned_later: dict[str, int] = {}
        self.inputs: dict[str, int | float | bool] = {}
        self.outputs: set[str] = set()
        self.plots = 0

    def error(self, reason: str, node: t.Node) -> ScriptError:
        src = self.lines[node.line - 1] if 0 < node.line <= len(self.lines) else None
        return ScriptError(reason, line=node.line, col=node.col, source_line=src)

    def program(self, statements: tuple[t.Statement, ...]) -> None:
        for s in statements:
            if isinstance(s, t.Assign):
                self.assigned_later.setdefault(s.target, s.line)
        for s in statements:
            if isinstance(s, t.Assign):
                self.expression(s.value, statement=False)
                self.assign(s)
            else:
                self.expression(s.value, statement=True)

    def condition(self, expr: t.Expr) -> None:
        self.expression(expr, statement=False)

    def assign(self, s: t.Assign) -> None:
        if s.target in SERIES or s.target in HELPERS:
            raise self.error(f"'{s.target}' is built in; pick another name", s)
        self.scope.add(s.target)
        if s.target in OUTPUTS:
            self.outputs.add(s.target)

    # ------------------------------------------------------------------ expressions

    def expression(self, root: t.Expr, *, statement: bool) -> None:
        stack: list[tuple[t.Expr, t.Expr | None]] = [(root, None)]
        while stack:
            node, parent = stack.pop()
            if isinstance(node, t.Name):
                self.name(node)
            elif isinstance(node, t.String):
                if not isinstance(parent, t.Call):
                    raise self.error(
                        'strings are only allowed as arguments, e.g. plot(x, "title")', node
                    )
            elif isinstance(node, t.Call):
                self.call(node, at_statement=statement and node is root)
            stack.extend((child, node) for child in reversed(list(_children(node))))

    def name(self, node: t.Name) -> None:
        ident = node.id
        if ident in SERIES or ident in self.scope:
            return
        if ident in self.assigned_later:
            raise self.error(
                f"'{ident}' is used before it is assigned (on line {self.assigned_later[ident]})", node
            )
        if ident in HELPERS:
            raise self.error(f"'{ident}' is a function: call it, e.g. {HELPERS[ident].usage}", node)
        target = resolve_indicator(ident)
        if target is not None:
            info = catalogue()[target]
            raise self.error(
                f"'{ident}' is an indicator: call it, e.g. {ident}({', '.join(info.inputs)})", node
            )
        known = [*self.scope, *SERIES, *KEYWORDS, *self.inputs]
        raise self.error(f"unknown name '{ident}'{did_you_mean(ident, known, case_sensitive=True)}", node)

    def call(self, node: t.Call, *, at_statement: bool) -> None:
        name = node.func
        helper = HELPERS.get(name)
        if helper is not None:
            try:
                bound = bind(helper, node.args, {k.name: k for k in node.keywords})
            except Problem as p:
                raise self.error(p.reason, node) from None
            values = {k: v.value if isinstance(v, t.Keyword) else v for k, v in bound.items()}
            if name == "input":
                self.input(node, values)
            elif name == "plot":
                self.plot(node, values, at_statement)
            return
        if resolve_indicator(name) is not None:
            return
        if name in SERIES:
            raise self.error(
                f"'{name}' is a series, not a function: write {name}, or {name}[1] for the previous bar", node
            )
        if name in EXCLUDED:
            raise self.error(f"indicator '{name}' is not available: {EXCLUDED[name]}", node)
        if name in self.scope:
            raise self.error(f"'{name}' is a variable, not a function", node)
        known = [*HELPERS, *indicator_names(), *KEYWORDS]
        raise self.error(f"unknown function '{name}'{did_you_mean(name, known, case_sensitive=True)}", node)

    def input(self, node: t.Call, args: dict[str, t.Expr]) -> None:
        if self.rule:
            raise self.error("a rule cannot declare inputs; write the number itself", node)
        name_node, default_node = args["name"], args["default"]
        if not isinstance(name_node, t.String):
            raise self.error('an input\'s name is a string: input("fast", 12)', name_node)
        if not _INPUT_NAME.match(name_node.value):
            raise self.error(
                "an input's name is a word of letters, digits and _ starting with a letter (at most 64), e.g. \"fast\"", name_node
            )
        default = _literal(default_node)
        if default is None:
            raise self.error(
                "an input's default must be a plain number or true/false: input(\"fast\", 12)", default_node
            )
        key = name_node.value
        if key in self.inputs and (self.inputs[key] != default or type(self.inputs[key]) is not type(default)):
            raise self.error(
                f"input '{key}' is declared twice with different defaults ({self.inputs[key]!r} and {default!r})",
                node,
            )
        self.inputs[key] = default

    def plot(self, node: t.Call, args: dict[str, t.Expr], at_statement: bool) -> None:
        if self.rule:
            raise self.error("a rule cannot plot; it is a single condition", node)
        if not at_statement:
            raise self.error("plot(...) draws a line and gives no value: put it on its own line", node)
        title = args.get("title")
        if title is not None and not isinstance(title, t.String):
            raise self.error('a plot title is a string in quotes: plot(x, "EMA fast")', title)
        self.plots += 1
        if self.plots > MAX_PLOTS:
            raise self.error(f"too many plots: a script may draw at most {MAX_PLOTS}", node)


def _literal(node: t.Expr) -> int | float | bool | None:
    if isinstance(node, t.Bool):
        return node.value
    if isinstance(node, t.Number):
        return node.value
    if isinstance(node, t.Unary) and node.op == "-" and isinstance(node.operand, t.Number):
        return -node.operand.value
    return None
