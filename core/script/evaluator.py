"""Runs a checked tree over one candle frame, bar-wise with numpy.

Every value is a numpy array (one entry per bar), a number, true/false, a string argument or a
record of arrays; nothing else is ever created, and names are looked up only in the script's
own variables and the built-in tables, never as Python attributes. Left-leaning chains
(``a + b + c``, ``x[1][2]``, ``m.signal[1]``) are folded in loops, so the Python stack grows
only with the parser-bounded nesting. The deadline is checked before each statement and call.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from core.errors import Invalid
from core.labels import did_you_mean
from core.market import indicator_compute
from core.market.indicator_catalogue import catalogue
from core.script import tree as t
from core.script import values as v
from core.script.builtins import HELPERS, OUTPUTS, SERIES, SIGNALS, bind, frame_series
from core.script.checker import resolve_indicator
from core.script.errors import ScriptError, ScriptTimeout
from core.script.limits import MAX_LOOKBACK, MAX_PLOTS, Deadline

_WINDOWS = frozenset({"highest", "lowest"})  # helpers that are indicators over a window (warm-up)

# Indicator results by name and inputs, shared by the runs of one task on the same bars (and, under
# the keys below, those bars' built-in series and their indicator arguments, made once for all runs).
IndicatorMemo = dict[tuple[Any, ...], Any]
_SERIES = ("built-in series",)
_ARGS_HELD = ("built-in series as indicator arguments",)
_CONVERTED = "indicator result as arrays"
_WARMUP = "warm-up of an indicator value"


class Evaluator:
    """State of one run: the bars, the variables so far, the plots and outputs assigned."""

    def __init__(
        self,
        lines: tuple[str, ...],
        frame: pd.DataFrame,
        inputs: Mapping[str, Any],
        deadline: Deadline,
        memo: IndicatorMemo | None = None,
    ) -> None:
        self.lines = lines
        self.memo = memo
        self.index = frame.index
        self.n = len(frame)
        if memo is None:
            self.series = frame_series(frame)
        else:  # the runs sharing a memo share the bars (see IndicatorMemo): their series are made once
            held = memo.get(_SERIES)
            if held is None:
                held = memo[_SERIES] = frame_series(frame)
            self.series = held
        self.inputs = inputs
        self.deadline = deadline
        self.variables: dict[str, Any] = {}
        self.plots: list[tuple[str, np.ndarray]] = []
        self.outputs: dict[str, Any] = {}
        # the first bar where every indicator computed so far has a value (backtesting.py's warm-up)
        self.warmup = 0

    def note_warmup(self, value: Any) -> Any:
        """Record where an indicator's leading NaNs end, as backtesting.py's ``_indicator_warmup_nbars``:
        the index of its first value (0 when it has none at all: then nothing is ever defined)."""
        arrays = value.fields.values() if isinstance(value, v.Record) else (value,)
        for arr in arrays:
            if isinstance(arr, np.ndarray) and arr.dtype.kind == "f" and len(arr):
                self.warmup = max(self.warmup, int(np.isnan(arr).argmin()))
        return value

    def error(self, reason: str, node: t.Node, hint: str | None = None) -> ScriptError:
        src = self.lines[node.line - 1] if 0 < node.line <= len(self.lines) else None
        return ScriptError(reason, line=node.line, col=node.col, source_line=src, hint=hint)

    def tick(self, node: t.Node) -> None:
        if self.deadline.expired():
            src = self.lines[node.line - 1] if 0 < node.line <= len(self.lines) else None
            raise ScriptTimeout(self.deadline.message(), line=node.line, col=node.col, source_line=src)

    # ------------------------------------------------------------------ statements

    def run(self, statements: tuple[t.Statement, ...]) -> None:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for s in statements:
                self.tick(s)
                if isinstance(s, t.Assign):
                    value = self.compute(s.value)
                    problem = v.misuse(value)
                    if problem is not None and not isinstance(value, v.Record):  # records may be named
                        raise self.error(problem.reason, s.value)
                    if s.target in OUTPUTS:
                        self.outputs[s.target] = self.output(s, value)
                    self.variables[s.target] = value
                else:
                    self.compute(s.value)

    def output(self, s: t.Assign, value: Any) -> Any:
        name = s.target
        if name in SIGNALS:
            if not v.is_boolean(value):
                raise self.error(
                    f"{name} must be true/false (a condition such as close > open), got {v.kind(value)}", s
                )
            return np.array(v.as_array(value, self.n), dtype=bool)
        if isinstance(value, np.ndarray):
            raise self.error(f"{name} must be a single number such as 0.05, not a series", s)
        if not v.is_number(value) or not np.isfinite(value) or value <= 0:
            raise self.error(f"{name} must be a positive fraction of the entry price such as 0.05", s)
        if name == "stop_loss" and value >= 1:
            raise self.error(
                f"stop_loss must be below 1 (it is a fraction of the entry price: 0.05 is 5 %), got {value:g}", s
            )
        return float(value)

    def condition(self, expr: t.Expr) -> np.ndarray:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = self.compute(expr)
        problem = v.misuse(value)
        if problem is not None:
            raise self.error(problem.reason, expr)
        if not v.is_boolean(value):
            raise self.error(
                f"a rule must be a condition (true/false), e.g. rsi(close, 14) < 30; this one gives {v.kind(value)}",
                expr,
            )
        return np.array(v.as_array(value, self.n), dtype=bool)

    # ------------------------------------------------------------------ expressions

    def compute(self, node: t.Expr) -> Any:
        try:
            if isinstance(node, t.Number | t.Bool | t.String):
                return node.value
            if isinstance(node, t.Name):
                return self.name(node)
            if isinstance(node, t.Binary):
                return self.binary(node)
            if isinstance(node, t.Unary):
                operand = self.compute(node.operand)
                return v.negate(operand) if node.op == "-" else v.invert(operand)
            if isinstance(node, t.Index | t.Field):
                return self.postfix(node)
            if isinstance(node, t.Call):
                return self.call(node)
        except v.Problem as p:
            raise self.error(p.reason, node) from None
        raise self.error("this is not something a script can compute", node)  # pragma: no cover

    def name(self, node: t.Name) -> Any:
        if node.id in self.variables:
            return self.variables[node.id]
        if node.id in SERIES:
            return self.series[node.id]
        raise v.Problem(f"unknown name '{node.id}'")  # the checker reports it first, with a suggestion

    def binary(self, node: t.Binary) -> Any:
        spine: list[t.Binary] = []
        cur: t.Expr = node
        while isinstance(cur, t.Binary):
            spine.append(cur)
            cur = cur.left
        acc = self.compute(cur)
        for b in reversed(spine):
            right = self.compute(b.right)
            try:
                if b.op in t.ARITHMETIC:
                    acc = v.arithmetic(b.op, acc, right)
                elif b.op in t.COMPARISON:
                    acc = v.compare(b.op, acc, right)
                else:
                    acc = v.logic(b.op, acc, right)
            except v.Problem as p:
                raise self.error(p.reason, b) from None
        return acc

    def postfix(self, node: t.Index | t.Field) -> Any:
        spine: list[t.Index | t.Field] = []
        cur: t.Expr = node
        while isinstance(cur, t.Index | t.Field):
            spine.append(cur)
            cur = cur.target
        acc = self.compute(cur)
        for p in reversed(spine):
            try:
                acc = self.lookback(p, acc) if isinstance(p, t.Index) else self.field(p, acc)
            except v.Problem as problem:
                raise self.error(problem.reason, p) from None
        return acc

    def lookback(self, node: t.Index, target: Any) -> Any:
        offset = self.compute(node.offset)
        if isinstance(target, str):
            raise v.Problem(v.STRING_MISUSE)
        if target is None:
            raise v.Problem("plot(...) gives no value")
        bars = v.whole_number(offset, "the look-back in [ ]", 0, MAX_LOOKBACK)
        return v.shift(target, bars)

    def field(self, node: t.Field, target: Any) -> Any:
        if not isinstance(target, v.Record):
            if isinstance(target, str):
                raise v.Problem(v.STRING_MISUSE)
            raise v.Problem(
                f"'.{node.name}' needs an indicator with several outputs (like macd(close).signal), "
                f"got {v.kind(target)}"
            )
        if node.name not in target.fields:
            raise v.Problem(
                f"{target.label} has no field '{node.name}'{did_you_mean(node.name, target.fields, case_sensitive=True)}"
                f" (fields: {', '.join(target.fields)})"
            )
        return target.fields[node.name]

    # ------------------------------------------------------------------ calls

    def call(self, node: t.Call) -> Any:
        self.tick(node)
        helper = HELPERS.get(node.func)
        if helper is not None:
            bound = bind(helper, node.args, {k.name: k.value for k in node.keywords})
            if node.func == "input":
                name = bound["name"]
                assert isinstance(name, t.String)
                return self.inputs[name.value]
            if node.func == "plot":
                return self.plot(node, bound)
            assert helper.run is not None
            # required parameters come first and the optional ones are last, so this is a prefix
            args = [self.compute(bound[p]) for p in helper.params if p in bound]
            out = helper.run(self.n, *args)
            return self.note_warmup(out) if node.func in _WINDOWS else out
        target = resolve_indicator(node.func)
        if target is None:
            raise v.Problem(f"unknown function '{node.func}'")
        value = self.indicator(node, target)
        if self.memo is not None:  # a memo's indicator value is the same object every run: its warm-up too
            held = self.memo.get((_WARMUP, id(value)))
            if held is not None and held[0] is value:
                self.warmup = max(self.warmup, held[1])
                return value
            before, self.warmup = self.warmup, 0
            self.note_warmup(value)
            self.memo[(_WARMUP, id(value))] = (value, self.warmup)  # keeps value alive: its id stays its own
            self.warmup = max(before, self.warmup)
            return value
        return self.note_warmup(value)

    def plot(self, node: t.Call, bound: dict[str, t.Expr]) -> None:
        series = self.compute(bound["series"])
        problem = v.misuse(series)
        if problem is not None:
            raise v.Problem(problem.reason)
        title_node = bound.get("title")
        title = title_node.value if isinstance(title_node, t.String) else f"plot {len(self.plots) + 1}"
        if len(self.plots) >= MAX_PLOTS:
            raise v.Problem(f"too many plots: a script may draw at most {MAX_PLOTS}")
        self.plots.append((title, np.array(v.as_float_array(series, self.n), dtype=np.float64)))
        return None

    def indicator(self, node: t.Call, name: str) -> Any:
        info = catalogue()[name]
        args = [self.indicator_arg(a) for a in node.args]
        kwargs = {k.name: self.indicator_arg(k.value) for k in node.keywords}
        if not any(isinstance(a, pd.Series) for a in [*args, *kwargs.values()]):
            raise v.Problem(
                f"{node.func} needs the series first: {node.func}({', '.join(info.inputs)}, ...)"
            )
        try:
            result = self._computed(name, args, kwargs)
        except Invalid as e:
            usage = ", ".join([*info.inputs, *(p.name for p in info.params)])
            raise self.error(e.message, node, f"usage: {node.func}({usage})") from None
        except Exception:  # a pandas-ta failure on odd data must read as a script error, not a crash
            raise self.error(f"{node.func} could not be computed on this data", node) from None
        if self.memo is not None:  # the memo's runs share the converted value (nothing writes into it)
            held = self.memo.get((_CONVERTED, id(result), node.func))
            if held is not None and held[0] is result:
                return held[1]
        if isinstance(result, dict):
            value: Any = v.Record(node.func, {k: s.to_numpy(dtype=np.float64, copy=True) for k, s in result.items()})
        else:
            value = result.to_numpy(dtype=np.float64, copy=True)
        if self.memo is not None:
            self.memo[(_CONVERTED, id(result), node.func)] = (result, value)  # a Record keeps the name called
        return value

    def _computed(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """``indicator_compute.call``, or its result for the very same inputs earlier in this memo's
        run (the scripts of one task share bars: ``ema(close, 20)`` is worked out once for them all).
        Series are keyed by their bytes, so equal values hit and nothing else can."""
        if self.memo is None:
            return indicator_compute.call(name, *args, **kwargs)

        memo = self.memo

        def key(value: Any) -> Any:
            if not isinstance(value, pd.Series):
                return ("value", value)
            for held in memo.get(_ARGS_HELD, ()):
                if held[1] is value:
                    return held[2]
            return ("series", value.to_numpy().tobytes())

        found = (name, tuple(key(a) for a in args), tuple(sorted((k, key(a)) for k, a in kwargs.items())))
        if found not in self.memo:
            self.memo[found] = indicator_compute.call(name, *args, **kwargs)  # errors are not kept: raised each time
        return self.memo[found]

    def indicator_arg(self, node: t.Expr) -> Any:
        value = self.compute(node)
        if isinstance(value, str):
            raise self.error("indicator parameters are numbers, not strings", node)
        if isinstance(value, v.Record):
            raise self.error(value.pick_hint(), node)
        if value is None:
            raise self.error("plot(...) gives no value", node)
        if isinstance(value, np.ndarray):
            if self.memo is not None and any(value is s for s in self.series.values()):
                # a built-in series (close, hl2...) as an argument: the same Series and memo key every
                # run, so a hit costs no copy and no hashing of the bars (a bytes object keeps its hash)
                args: list[tuple[np.ndarray, pd.Series, Any]] = self.memo.setdefault(_ARGS_HELD, [])
                for held in args:
                    if held[0] is value:
                        return held[1]
                series = pd.Series(value.astype(np.float64), index=self.index)
                args.append((value, series, ("series", series.to_numpy().tobytes())))
                return series
            return pd.Series(value.astype(np.float64), index=self.index)
        return value

