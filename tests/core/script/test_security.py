"""Hostile input: known Python sandbox escapes and resource bombs, and a fuzzing property.

Every payload must end in a ``ScriptError`` (never another exception, never a Python object in
a result), and the package must not contain a way to hand text to Python's own evaluator.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import core.script as script_pkg
from core.script import ScriptError, ScriptResult, evaluate, evaluate_condition, parse, parse_condition

PAYLOADS: list[str | bytes] = [
    "__class__",
    "x = __class__",
    "x = close.__class__",
    "x = close.__class__.__mro__",
    "x = ().__class__.__bases__[0].__subclasses__()",
    "x = (1).__class__.__bases__[0].__subclasses__()",
    '__import__("os").system("id")',
    "x = __import__('os')",
    "x = __builtins__",
    "x = sma.__globals__",
    'x = "{0.__class__}".format(close)',
    'plot("{0.__class__}".format(close))',
    'x = f"{close}"',
    'plot(close, f"{close}")',
    "9**9**9",
    "x = 9**9**9",
    "x = 'a'*10**9",
    "x = 'a' * 1000000000",
    "x = 1\n" * 300,
    "(" * 100_000,
    "x = " + "(" * 5_000 + "1" + ")" * 5_000,
    "x = " + "not " * 10_000 + "true",
    "x = " + "not " * 3_000 + "true",
    "x = " + "-" * 10_000 + "1",
    "x = 1\x00",
    b"x = \x00 1",
    b"x = \xff\xfe 1",
    b"plot(close, '\xc3\x28')",
    "x = close[10**9]",
    "x = close[1000000000]",
    "x = close[-1]",
    "x = close[1.5]",
    "x = sma(close, 10**9)",
    "x = sma(close, 1000000000)",
    "x = sma(close, offset=-5)",
    "x = sma(close, talib=1)",
    "x = lambda: 1",
    "x = lambda x: x",
    "import os",
    "from os import system",
    'exec("1")',
    'x = exec("1")',
    'x = eval("1")',
    "x = eval",
    "x = getattr(close, '__class__')",
    'open("/etc/passwd")',
    'x = open("/etc/passwd").read()',
    "x = globals()",
    "x = locals()['close']",
    "x = close; import os",
    "x = close \\\n + 1",
    "x = '\\x41'",
    "x = сlose",  # Cyrillic с
    "x = clоse",  # Cyrillic о
    "x = ｃｌｏｓｅ",  # full-width
    "buy = close > open\u200b",  # zero-width space
    "x = " + "1" * 20_000,
    "x = " + "9" * 400,
    " " * 10_000 + "x = clsoe",
    "x = [1, 2, 3]",
    "x = {}",
    "x = close if true else open",
    "def f(): pass",
    "class A: pass",
    "x = close @ open",
    "x = `id`",
    "x = $close",
    "x = close[0:5]",
    "x = close.shift(1)",
    "x = close.values",
    "x = input('a', 1).__class__",
    "x = input('__class__', 1)",
    "x = plot(close)",
    "buy = true\nbuy.__dict__",
    "x = 1e309",
    "x = nan",
    "x = inf",
    "x = -1e999",
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=[f"p{i}" for i in range(len(PAYLOADS))])
def test_payload_is_a_script_error(payload: str | bytes, small_frame: pd.DataFrame) -> None:
    with pytest.raises(ScriptError) as err:
        evaluate(parse(payload), small_frame)
    assert isinstance(err.value.reason, str) and err.value.reason
    assert len(str(err.value)) < 1_000


@pytest.mark.parametrize("payload", ["__import__('os')", "close.__class__", "9**9", "(" * 50_000])
def test_payload_as_a_rule_is_a_script_error(payload: str, small_frame: pd.DataFrame) -> None:
    with pytest.raises(ScriptError):
        evaluate_condition(parse_condition(payload), small_frame)


def test_open_is_a_series_not_a_function() -> None:
    with pytest.raises(ScriptError, match="'open' is a series, not a function"):
        parse('open("/etc/passwd")')


def test_backslash_inside_a_string_is_just_a_character(small_frame: pd.DataFrame) -> None:
    result = evaluate(parse("plot(close, '\\x41\\n')"), small_frame)
    assert result.plots[0].title == "\\x41\\n"


def test_package_never_evaluates_text_with_python() -> None:
    root = Path(script_pkg.__file__).parent
    forbidden = re.compile(r"(?<![\w.])(eval|exec|compile|__import__|getattr|setattr|literal_eval)\s*\(")
    for path in root.glob("*.py"):
        code = "\n".join(
            line for line in path.read_text().splitlines() if not line.lstrip().startswith(("#", '"', "``"))
        )
        assert not forbidden.search(code), path.name


def _check_result(result: ScriptResult, n: int) -> None:
    """A result only ever holds numbers, booleans, strings and numpy arrays of the right length."""
    assert isinstance(result, ScriptResult)
    for arr in (result.buy, result.sell, result.short, result.cover):
        assert arr is None or (isinstance(arr, np.ndarray) and arr.dtype == bool and arr.shape == (n,))
    for p in result.plots:
        assert isinstance(p.title, str)
        assert isinstance(p.values, np.ndarray) and p.values.dtype == np.float64 and p.values.shape == (n,)
    for x in (result.stop_loss, result.take_profit):
        assert x is None or type(x) is float
    for value in result.inputs.values():
        assert type(value) in (int, float, bool)


# ----------------------------------------------------------------------------- property tests

_TOKENS = [
    "close", "open", "high", "low", "volume", "hl2", "bar_index", "x", "y", "buy", "sell", "short",
    "cover", "stop_loss", "take_profit", "sma", "ema", "rsi", "macd", "bbands", "atr", "crossover",
    "crossunder", "highest", "lowest", "change", "abs", "min", "max", "round", "sqrt", "log", "iff",
    "nz", "input", "plot", "signal", "upper", "true", "false", "and", "or", "not", "0", "1", "2", "14",
    "0.05", "1e3", "5000", "-", "+", "*", "/", "%", "<", "<=", ">", ">=", "==", "!=", "=", "(", ")",
    "[", "]", ",", ".", "\n", "'t'", '"len"', "#", "//", "length=", "value=", "title=", "__class__",
]  # fmt: skip

_VALID = [
    "fast = ema(close, input(\"fast\", 12))\nslow = ema(close, 26)\nplot(fast, \"f\")\n"
    "buy = crossover(fast, slow) and rsi(close, 14) < 70\nsell = crossunder(fast, slow)\nstop_loss = 0.05",
    "m = macd(close)\nplot(m.signal)\nbuy = m.hist > 0 and m.hist[1] <= 0\nsell = not (m.hist > 0)",
    "b = bbands(close, 20, 2)\nbuy = close < b.lower\nsell = close > b.upper\ntake_profit = 0.1",
    "x = highest(high, 10) - lowest(low, 10)\nplot(nz(x / close * 100, value=-1))\n"
    "short = change(close, 3) < 0\ncover = iff(close > open, true, false)",
    "y = round(sqrt(abs(close - open)), 2) + log(volume) % 3\nplot(min(y, max(y[1], 2)))",
]

_ALPHABET = st.one_of(
    st.sampled_from([*"abcelnosxyz_0129.,()[]=<> +-*/%"]),
    st.sampled_from([*"!#'\"\n\t\\:;{}@^&|~", "\x00", "é", "с", "“", "\u200b"]),
)

_ATOMS = ["close", "open", "high", "low", "volume", "hl2", "bar_index", "x", "1", "2", "14", "0.5", "true", "false"]
_FUNCS = [
    "sma", "ema", "rsi", "atr", "crossover", "crossunder", "highest", "lowest", "change", "abs", "min",
    "max", "round", "sqrt", "log", "iff", "nz",
]  # fmt: skip
_RECORDS = ["macd(close)", "bbands(close, 5, 2)", "stoch(high, low, close)", "m"]
_FIELDS = ["macd", "signal", "hist", "upper", "lower", "k", "d", "nope"]


def _compound(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "/", "%", "<", ">=", "==", "!=", "and", "or"]), children)
        .map(lambda p: f"({p[0]} {p[1]} {p[2]})"),
        st.tuples(st.sampled_from(["-", "not "]), children).map(lambda p: f"{p[0]}{p[1]}"),
        st.tuples(st.sampled_from(_FUNCS), st.lists(children, min_size=1, max_size=3))
        .map(lambda p: f"{p[0]}({', '.join(p[1])})"),
        st.tuples(children, st.sampled_from(["0", "1", "3", "x", "-1", "1.5"])).map(lambda p: f"{p[0]}[{p[1]}]"),
        st.tuples(st.sampled_from(_RECORDS), st.sampled_from(_FIELDS)).map(lambda p: f"{p[0]}.{p[1]}"),
    )


_EXPR = st.recursive(st.sampled_from(_ATOMS), _compound, max_leaves=10)
_TARGETS = ["x", "m", "buy", "sell", "short", "cover", "stop_loss", "take_profit", "plot"]
_STATEMENT = st.tuples(st.sampled_from(_TARGETS), _EXPR).map(
    lambda p: f"plot({p[1]})" if p[0] == "plot" else f"{p[0]} = {p[1]}"
)


def _run(source: str | bytes, frame: pd.DataFrame) -> None:
    try:
        result = evaluate(parse(source), frame)
    except ScriptError as e:
        assert isinstance(str(e), str)
        return
    _check_result(result, len(frame))


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tokens=st.lists(st.sampled_from(_TOKENS), max_size=30), joiner=st.sampled_from([" ", ""]))
def test_random_token_scripts_only_raise_script_errors(
    tokens: list[str], joiner: str, small_frame: pd.DataFrame
) -> None:
    _run(joiner.join(tokens), small_frame)


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    base=st.sampled_from(_VALID),
    edits=st.lists(
        st.tuples(st.sampled_from(["insert", "delete", "replace"]), st.floats(0, 1), _ALPHABET), max_size=6
    ),
)
def test_mutated_valid_scripts_only_raise_script_errors(
    base: str, edits: list[tuple[str, float, str]], small_frame: pd.DataFrame
) -> None:
    text = base
    for kind, where, ch in edits:
        i = min(int(where * len(text)), max(len(text) - 1, 0))
        if kind == "insert":
            text = text[:i] + ch + text[i:]
        elif kind == "delete":
            text = text[:i] + text[i + 1 :]
        else:
            text = text[:i] + ch + text[i + 1 :]
    _run(text, small_frame)


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_arbitrary_text_and_bytes_only_raise_script_errors(data: str | bytes, small_frame: pd.DataFrame) -> None:
    _run(data, small_frame)


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(statements=st.lists(_STATEMENT, min_size=1, max_size=6))
def test_grammar_built_scripts_only_raise_script_errors(statements: list[str], small_frame: pd.DataFrame) -> None:
    _run("x = close\nm = macd(close)\n" + "\n".join(statements), small_frame)


def test_valid_seed_scripts_run(small_frame: pd.DataFrame) -> None:
    for source in _VALID:
        _check_result(evaluate(parse(source), small_frame), len(small_frame))
