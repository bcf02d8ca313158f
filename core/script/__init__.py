"""The model script language (its reference: ``docs/script.md``): parse once, evaluate on any candles.

    program = parse(source)                       # ScriptError with line, col and caret
    result = evaluate(program, frame, {"fast": 10})
    result.buy, result.sell, result.plots, result.stop_loss ...

    rule = parse_condition("rsi(close, 14) < 30")  # a strategy rule: one true/false expression
    mask = evaluate_condition(rule, frame)

Text goes through this package's own lexer, parser and checker into its own tree; no Python
``eval``/``exec``/``compile`` ever sees it. Precedence, loosest first: ``or``, ``and``, ``not``,
comparisons (not chainable), ``+ -``, ``* / %``, unary ``-``, then ``x[n]``, ``x.field`` and calls;
``docs/script.md`` says why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from core.labels import did_you_mean
from core.script.builtins import builtin_names, describe
from core.script.checker import Checker
from core.script.errors import ScriptError
from core.script.evaluator import Evaluator, IndicatorMemo
from core.script.lexer import tokenize
from core.script.limits import MAX_SOURCE_BYTES, TIME_LIMIT, Deadline
from core.script.parser import Parser
from core.script.tree import Condition, Program

__all__ = [
    "REFERENCE",
    "Condition",
    "Plot",
    "Program",
    "ScriptError",
    "ScriptResult",
    "builtin_names",
    "check_inputs",
    "condition_of",
    "describe",
    "evaluate",
    "evaluate_condition",
    "evaluate_condition_warmup",
    "evaluate_source",
    "parse",
    "parse_condition",
    "program_of",
    "resolve_inputs",
]

_COLUMNS = ("open", "high", "low", "close", "volume")

#: The language reference, as a path in the repository (``/dict script`` names it).
REFERENCE = "docs/script.md"


@dataclass(frozen=True, eq=False)
class Plot:
    title: str
    values: np.ndarray


@dataclass(frozen=True, eq=False)
class ScriptResult:
    """What one run produced. Signals are bool arrays with one entry per bar (None: not assigned)."""

    plots: list[Plot]
    buy: np.ndarray | None
    sell: np.ndarray | None
    short: np.ndarray | None
    cover: np.ndarray | None
    stop_loss: float | None
    take_profit: float | None
    inputs: dict[str, Any] = field(default_factory=dict)
    is_indicator: bool = False
    #: the first bar where every indicator the script computed has a value (its warm-up; 0 with
    #: none): the first bar the model could act on, as backtesting.py's ``_indicator_warmup_nbars``
    warmup: int = 0


def _text(source: str | bytes) -> str:
    """Size, encoding and NUL checks shared by scripts and rules."""
    if isinstance(source, bytes | bytearray):
        if len(source) > MAX_SOURCE_BYTES:
            raise ScriptError(f"the script is too long: {len(source):,} bytes, at most {MAX_SOURCE_BYTES:,}")
        try:
            source = bytes(source).decode("utf-8")
        except UnicodeDecodeError as e:
            raise ScriptError(f"the script is not valid UTF-8 text (bad byte at position {e.start})") from None
    if not isinstance(source, str):
        raise ScriptError("the script must be text")
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > MAX_SOURCE_BYTES:
        raise ScriptError(f"the script is too long: {size:,} bytes, at most {MAX_SOURCE_BYTES:,}")
    if "\x00" in source:
        before = source[: source.index("\x00")]
        line = before.count("\n") + 1
        col = len(before) - (before.rfind("\n") + 1) + 1
        raise ScriptError(
            "the script contains a NUL character", line=line, col=col, source_line=source.split("\n")[line - 1]
        )
    return source


def parse(source: str | bytes) -> Program:
    """Parse and check a script; every problem is a ``ScriptError`` naming its line and column."""
    text = _text(source)
    lines = tuple(text.split("\n"))
    parser = Parser(tokenize(text, lines), lines)
    statements = parser.statements()
    checker = Checker(lines)
    checker.program(statements)
    return Program(
        statements=statements,
        lines=lines,
        inputs=MappingProxyType(dict(checker.inputs)),
        outputs=frozenset(checker.outputs),
        plot_count=checker.plots,
    )


def parse_condition(text: str | bytes) -> Condition:
    """A strategy rule: one expression over the built-in series and indicators, no variables."""
    source = _text(text)
    lines = tuple(source.split("\n"))
    expr = Parser(tokenize(source, lines), lines).single_expression()
    Checker(lines, rule=True).condition(expr)
    return Condition(expr=expr, lines=lines, text=source.strip())


@lru_cache(maxsize=512)
def program_of(source: str) -> Program:
    """``parse(source)``, once per distinct script text: a ``Program`` is immutable, so the same
    one serves every view, run and deployment of that script (errors are not cached)."""
    return parse(source)


@lru_cache(maxsize=2048)
def condition_of(text: str) -> Condition:
    """``parse_condition(text)``, once per distinct rule text."""
    return parse_condition(text)


_CHECKED = ("the bars, checked",)  # memo key: the frame its runs share, checked by the first


def _check_frame(frame: pd.DataFrame) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ScriptError("a script runs on a table of candles")
    missing = [c for c in _COLUMNS if c not in frame.columns]
    if missing:
        raise ScriptError(f"the candles lack {', '.join(missing)}")
    if len(frame) == 0:
        raise ScriptError("there are no candles to run the script on")
    dtypes = frame.dtypes
    if all(pd.api.types.is_numeric_dtype(dtypes[c]) for c in _COLUMNS):
        return  # the usual case, checked without copying the table
    try:
        frame[list(_COLUMNS)].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise ScriptError("the candles' prices and volumes must be numbers") from None


def check_inputs(declared: Mapping[str, Any], given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``given`` input values checked against the script's ``input()`` declarations: unknown
    names, wrong types and non-finite numbers are ``ScriptError``s (an ``Invalid``)."""
    values: dict[str, Any] = {}
    for name, value in (given or {}).items():
        if name not in declared:
            known = ", ".join(declared) or "none"
            raise ScriptError(f"the script has no input '{name}'{did_you_mean(str(name), declared, case_sensitive=True)} (inputs: {known})")
        default = declared[name]
        if isinstance(default, bool):
            if not isinstance(value, bool | np.bool_):
                raise ScriptError(f"input '{name}' must be true or false, got {value!r}")
            values[name] = bool(value)
            continue
        if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
            raise ScriptError(f"input '{name}' must be a number, got {value!r}")
        if not math.isfinite(float(value)):
            raise ScriptError(f"input '{name}' must be a finite number, got {value!r}")
        if isinstance(value, int | np.integer):
            values[name] = int(value) if abs(int(value)) <= 2**53 else float(value)
        elif isinstance(default, int) and float(value).is_integer() and abs(float(value)) <= 2**53:
            values[name] = int(value)  # fast=10.0 for a whole-number input is 10
        else:
            values[name] = float(value)
    return values


def resolve_inputs(program: Program, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Declared defaults with the caller's overrides; unknown names and wrong types are errors."""
    return {**program.inputs, **check_inputs(program.inputs, overrides)}


def evaluate_source(source: str, frame: pd.DataFrame, inputs: Mapping[str, Any] | None = None) -> ScriptResult:
    """``evaluate`` from the script's text: what a compute worker runs (a parsed program does not
    pickle; each worker parses a script once, ``program_of`` caches it)."""
    return evaluate(program_of(source), frame, inputs)


def evaluate(
    program: Program,
    frame: pd.DataFrame,
    inputs: Mapping[str, Any] | None = None,
    *,
    time_limit: float = TIME_LIMIT,
    memo: IndicatorMemo | None = None,
) -> ScriptResult:
    """Run ``program`` on the candles ``frame`` (UTC index; open high low close volume).
    ``memo``: indicator results shared with other runs on the same bars (see ``Evaluator``)."""
    if memo is None or memo.get(_CHECKED) is not frame:  # the memo's runs share the bars: checked once
        _check_frame(frame)
        if memo is not None:
            memo[_CHECKED] = frame
    used = resolve_inputs(program, inputs)
    ev = Evaluator(program.lines, frame, used, Deadline(time_limit), memo)
    ev.run(program.statements)
    out = ev.outputs
    return ScriptResult(
        plots=[Plot(title, values) for title, values in ev.plots],
        buy=out.get("buy"),
        sell=out.get("sell"),
        short=out.get("short"),
        cover=out.get("cover"),
        stop_loss=out.get("stop_loss"),
        take_profit=out.get("take_profit"),
        inputs=used,
        is_indicator=program.is_indicator,
        warmup=ev.warmup,
    )


def evaluate_condition(cond: Condition, frame: pd.DataFrame, *, time_limit: float = TIME_LIMIT) -> np.ndarray:
    """The rule's truth on every bar (NaN, i.e. an indicator not defined yet, is false)."""
    return evaluate_condition_warmup(cond, frame, time_limit=time_limit)[0]


def evaluate_condition_warmup(
    cond: Condition, frame: pd.DataFrame, *, time_limit: float = TIME_LIMIT
) -> tuple[np.ndarray, int]:
    """The rule's truth on every bar, and the first bar where its indicators all have values
    (``ScriptResult.warmup`` for one rule)."""
    _check_frame(frame)
    ev = Evaluator(cond.lines, frame, {}, Deadline(time_limit))
    return ev.condition(cond.expr), ev.warmup


