"""Watch conditions in either grammar: the short one (``rsi<30``, ``close crosses above ema:50``) or
any script expression that gives true/false (``crossover(ema(close, 9), ema(close, 21))``,
``rsi(close, 14) < 30 and close > sma(close, 200)``).

The short grammar is tried first, so every condition stored before expressions existed reads as it
did. A text it refuses that looks like an expression (a call, ``[n]``, ``and``/``or``/``not``) is
parsed as a script rule (``core.script.parse_condition``: checked, never Python ``eval``); the
error shown is the one from the grammar the text was written in.

An ``ExpressionCondition`` holds only its text, so it pickles to a compute worker as it is; each
process parses a text once (``condition_of``'s cache).
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.errors import Invalid
from core.market.conditions import MAX_LENGTH, Condition, ConditionStatus, parse_condition
from core.script import condition_of
from core.script import tree as t
from core.script.errors import ScriptError
from core.script.evaluator import Evaluator
from core.script.limits import MAX_LOOKBACK, TIME_LIMIT, Deadline

EXAMPLES = "rsi<30, close>=ema:50, crossover(ema(close, 9), ema(close, 21)), rsi(close, 14) < 30 and close > sma(close, 200)"
_SCRIPT_SHAPE = re.compile(r"[(\[]|\b(and|or|not)\b")
_CROSSES = {"crossover": "crosses above", "crossunder": "crosses below"}


def parse_watch_condition(text: str) -> Condition | ExpressionCondition:
    """What a user typed after ``/watch TICKER [INTERVAL]``, in either grammar; ``Invalid`` naming
    what is wrong otherwise."""
    try:
        return parse_condition(text)
    except Invalid:
        if not _SCRIPT_SHAPE.search((text or "").lower()):
            raise  # written in the short grammar: its own error says what is wrong
    source = " ".join((text or "").split())
    if len(source) > MAX_LENGTH:
        raise Invalid(f"condition too long (at most {MAX_LENGTH} characters)", hint=f"examples: {EXAMPLES}")
    try:
        condition_of(source)
    except ScriptError as exc:
        raise Invalid(exc.message, hint=f"a script expression gives true/false; examples: {EXAMPLES}") from None
    return ExpressionCondition(source)


@dataclass(frozen=True, slots=True)
class ExpressionCondition:
    """A script expression used as a watch condition. ``lhs``/``rhs`` values are the two sides of a
    top-level comparison or cross (shown as "now …" and drawn on the alert chart)."""

    text: str

    def __str__(self) -> str:
        return self.text

    @property
    def expr(self) -> t.Expr:
        return condition_of(self.text).expr

    @property
    def op(self) -> str:
        """The top-level comparison (``<``), ``crosses above``/``below`` for crossover/crossunder, or ''."""
        expr = self.expr
        if isinstance(expr, t.Binary) and expr.op in t.COMPARISON:
            return expr.op
        if isinstance(expr, t.Call) and expr.func in _CROSSES:
            return _CROSSES[expr.func]
        return ""

    def sides(self) -> tuple[t.Expr, t.Expr] | None:
        """The top-level comparison's or cross's two sides, when it has them."""
        expr = self.expr
        if isinstance(expr, t.Binary) and expr.op in t.COMPARISON:
            return expr.left, expr.right
        if isinstance(expr, t.Call) and expr.func in _CROSSES and len(expr.args) == 2:
            return expr.args[0], expr.args[1]
        return None

    def bars_needed(self) -> int:
        """Two of the longest number in any call and some (lengths, look-backs), as the short grammar."""
        longest = max((abs(n) for n in _numbers(self.expr)), default=0.0)
        return int(min(MAX_LOOKBACK, max(30.0, 2 * longest + 10)))

    def evaluate(self, frame: pd.DataFrame) -> ConditionStatus:
        """The verdict on the last bar of ``frame``: None while a side (or the whole) is undefined."""
        if frame.empty:
            return ConditionStatus(None, None, None)
        ev = _evaluator(self.text, frame)  # one run: the sides reuse the indicators the verdict computed
        truth = ev.condition(self.expr)
        lhs = rhs = None
        sides = self.sides()
        if sides is not None:
            lhs, rhs = (_last(v) for v in _compute(ev, sides))
            if lhs is None or rhs is None:
                return ConditionStatus(lhs, rhs, None)
        return ConditionStatus(lhs, rhs, bool(truth[-1]))

    def series(self, frame: pd.DataFrame) -> tuple[list[tuple[str, pd.Series]], list[tuple[float, str | None]]]:
        """What the alert chart draws: each compared series as a line (with its text as the title),
        and each number a series is compared to as a threshold, with the title of the line it goes with.
        Comparisons joined by ``and``/``or`` each contribute theirs."""
        lines: list[tuple[str, pd.Series]] = []
        thresholds: list[tuple[float, str | None]] = []
        ev = _evaluator(self.text, frame)
        for left, right in _comparisons(self.expr):
            pair = []
            for side in (left, right):
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pair.append((side, ev.compute(side)))
            numbers = [(s, v) for s, v in pair if _is_scalar(v)]
            arrays = [(s, v) for s, v in pair if isinstance(v, np.ndarray) and v.dtype.kind in "fiu"]
            for side, values in arrays:
                title = show(side)
                if title not in (name for name, _ in lines) and title not in ("close", "price"):
                    lines.append((title, pd.Series(values.astype(float), index=frame.index)))
            if len(arrays) == 1 and len(numbers) == 1:
                follows = show(arrays[0][0])
                thresholds.append((float(numbers[0][1]), None if follows == "close" else follows))
        return lines, thresholds


def evaluate_sides(condition: ExpressionCondition, frame: pd.DataFrame) -> tuple[Any, Any]:
    """The values of the top-level comparison's two sides on ``frame``."""
    sides = condition.sides()
    if sides is None:
        raise Invalid("this condition has no two sides to show")
    return _compute(_evaluator(condition.text, frame), sides)


def _compute(ev: Evaluator, sides: tuple[t.Expr, t.Expr]) -> tuple[Any, Any]:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ev.compute(sides[0]), ev.compute(sides[1])


def show(node: t.Expr) -> str:
    """An expression written back as text (for a legend): ``ema(close, 9)``, ``macd(close).signal``."""
    if isinstance(node, t.Number):
        return f"{node.value:g}" if isinstance(node.value, float) else str(node.value)
    if isinstance(node, t.Bool):
        return "true" if node.value else "false"
    if isinstance(node, t.String):
        return repr(node.value)
    if isinstance(node, t.Name):
        return node.id
    if isinstance(node, t.Unary):
        return f"-{show(node.operand)}" if node.op == "-" else f"not {show(node.operand)}"
    if isinstance(node, t.Binary):
        return f"{show(node.left)} {node.op} {show(node.right)}"
    if isinstance(node, t.Index):
        return f"{show(node.target)}[{show(node.offset)}]"
    if isinstance(node, t.Field):
        return f"{show(node.target)}.{node.name}"
    args = [show(a) for a in node.args] + [f"{k.name}={show(k.value)}" for k in node.keywords]
    return f"{node.func}({', '.join(args)})"


def _evaluator(text: str, frame: pd.DataFrame) -> Evaluator:
    """A run over ``frame`` whose indicator results are kept for the whole run (``memo``)."""
    return Evaluator(condition_of(text).lines, frame, {}, Deadline(TIME_LIMIT), {})


def _comparisons(expr: t.Expr) -> list[tuple[t.Expr, t.Expr]]:
    """The compared pairs of ``expr``: top-level comparisons and crosses, through ``and``/``or``/``not``."""
    if isinstance(expr, t.Binary) and expr.op in ("and", "or"):
        return _comparisons(expr.left) + _comparisons(expr.right)
    if isinstance(expr, t.Unary) and expr.op == "not":
        return _comparisons(expr.operand)
    if isinstance(expr, t.Binary) and expr.op in t.COMPARISON:
        return [(expr.left, expr.right)]
    if isinstance(expr, t.Call) and expr.func in _CROSSES and len(expr.args) == 2:
        return [(expr.args[0], expr.args[1])]
    return []


def _numbers(node: t.Expr) -> list[float]:
    """Every number written inside a call's arguments or a look-back."""
    found: list[float] = []
    stack: list[t.Expr] = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, t.Call):
            for arg in (*cur.args, *(k.value for k in cur.keywords)):
                if isinstance(arg, t.Number):
                    found.append(float(arg.value))
                stack.append(arg)
        elif isinstance(cur, t.Index):
            if isinstance(cur.offset, t.Number):
                found.append(float(cur.offset.value))
            stack.extend((cur.target, cur.offset))
        elif isinstance(cur, t.Binary):
            stack.extend((cur.left, cur.right))
        elif isinstance(cur, t.Unary):
            stack.append(cur.operand)
        elif isinstance(cur, t.Field):
            stack.append(cur.target)
    return found


def _is_scalar(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_)


def _last(values: Any) -> float | None:
    """The value on the last bar (a number stands for every bar); None when missing or NaN."""
    if isinstance(values, np.ndarray):
        if not len(values) or values.dtype.kind not in "fiu":
            return None
        number = float(values[-1])
    elif _is_scalar(values):
        number = float(values)
    else:
        return None
    return number if math.isfinite(number) else None
