"""Error messages (line, column, caret, suggestions) and every limit of docs/script.md."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from core.errors import Invalid
from core.script import ScriptError, builtin_names, describe, evaluate, parse, parse_condition
from core.script.builtins import HELPERS, SERIES
from core.script.limits import Deadline


def error_of(source: str | bytes, frame: pd.DataFrame | None = None, **inputs: object) -> ScriptError:
    with pytest.raises(ScriptError) as err:
        program = parse(source)
        if frame is not None:
            evaluate(program, frame, inputs or None)
    return err.value


# ----------------------------------------------------------------------------- shape of a message


def test_unknown_function_message_with_caret_and_suggestion() -> None:
    err = error_of("x = close\nslow = 2\n  fast = emaa(close, 12)")
    assert isinstance(err, Invalid)
    assert (err.line, err.col) == (3, 10)
    assert err.source_line == "  fast = emaa(close, 12)"
    assert str(err) == (
        "line 3, col 10: unknown function 'emaa' — did you mean 'ema'?\n"
        "    fast = emaa(close, 12)\n"
        "           ^"
    )
    assert err.reason == "unknown function 'emaa' — did you mean 'ema'?"


def test_contract_example_message() -> None:
    err = error_of("fast = emaa(close, 12)")
    assert str(err).splitlines() == [
        "line 1, col 8: unknown function 'emaa' — did you mean 'ema'?",
        "  fast = emaa(close, 12)",
        "         ^",
    ]


@pytest.mark.parametrize(
    ("source", "where", "reason"),
    [
        ("fast = ema(close, 12)\nbuy = fsat > 1", (2, 7), "unknown name 'fsat' — did you mean 'fast'?"),
        ("x = clsoe", (1, 5), "unknown name 'clsoe' — did you mean 'close'?"),
        ("x = True", (1, 5), "unknown name 'True' — did you mean 'true'?"),
        ("x = Close", (1, 5), "unknown name 'Close' — did you mean 'close'?"),
        ("x = crosover(close, open)", (1, 5), "unknown function 'crosover' — did you mean 'crossover'?"),
        ("x = hihgest(close, 5)", (1, 5), "unknown function 'hihgest' — did you mean 'highest'?"),
        ("x = y + 1\ny = 2", (1, 5), "'y' is used before it is assigned (on line 2)"),
        ("close = 1", (1, 1), "'close' is built in; pick another name"),
        ("crossover = 1", (1, 1), "'crossover' is built in; pick another name"),
        ("x = rsi > 3", (1, 5), "'rsi' is an indicator: call it, e.g. rsi(close)"),
        ("x = nz", (1, 5), "'nz' is a function: call it, e.g. nz(x, value=0)"),
        ("x = open(1)", (1, 5), "'open' is a series, not a function: write open, or open[1] for the previous bar"),
        ("x = 1\ny = x(2)", (2, 5), "'x' is a variable, not a function"),
        ("x = zigzag(close)", (1, 5), "indicator 'zigzag' is not available"),
        ("x = crossover(close)", (1, 5), "crossover needs b: crossover(a, b)"),
        ("x = crossover(close, open, high)", (1, 5), "crossover takes at most 2 arguments (a, b), got 3"),
        ("x = nz(close, vaule=1)", (1, 5), "nz has no argument 'vaule' — did you mean 'value'?"),
        ("x = sma(close, length=5, length=6)", (1, 26), "'length' is given twice"),
        ("x = sma(length=5, close)", (1, 19), "put plain arguments before name=value arguments"),
        ("x = plot(close)", (1, 5), "plot(...) draws a line and gives no value: put it on its own line"),
        ("plot(close, 5)", (1, 13), "a plot title is a string in quotes"),
        ('x = input(fast, 1)', (1, 11), 'an input\'s name is a string: input("fast", 12)'),
        ('x = input("fast", close)', (1, 19), "an input's default must be a plain number or true/false"),
        ('x = input("two words", 1)', (1, 11), "an input's name is a word"),
        ('x = input("a", 1) + input("a", 2)', (1, 21), "input 'a' is declared twice with different defaults"),
        ("x = 'a'", (1, 5), "strings are only allowed as arguments"),
        ("x = 'a' * 10", (1, 5), "strings are only allowed as arguments"),
        ("x = close +", (1, 12), "the expression ends too early"),
        ("x = (close + 1", (1, 5), "this '(' is never closed: add ')'"),
        ("x = close + 1)", (1, 14), "')' has no matching '('"),
        ("x = sma(close, 5]", (1, 17), "']' does not match the '(' opened at line 1, col 8"),
        ("x = close = open", (1, 11), "unexpected '=': use '==' to compare"),
        ("x = 1 < 2 < 3", (1, 11), "comparisons cannot be chained: write a < b and b < c"),
        ("x = close >= open > high", (1, 19), "comparisons cannot be chained"),
        ("x = 9**9**9", (1, 6), "there is no power operator '**'"),
        ("x = close ^ 2", (1, 11), "there is no power operator '^'"),
        ("x = close > 1 && open > 1", (1, 15), "write 'and' instead of '&&'"),
        ("x = !(close > 1)", (1, 5), "write 'not' instead of '!'"),
        ("x = 1; y = 2", (1, 6), "one statement a line"),
        ("x = close ≤ 3", (1, 11), "write '<=' instead of '≤'"),
        ("plot(close, “t”)", (1, 13), "use straight quotes"),
        ("x = 'abc", (1, 5), "this string is never closed"),
        ("x = close[]", (1, 11), "write how many bars back inside [ ]"),
        ("x = ()", (1, 6), "empty parentheses"),
        ("x = close.max()", (1, 14), "methods cannot be called"),
        ("x = (close)(1)", (1, 12), "only a function name can be called"),
        ("x = 12abc", (1, 7), "a number cannot run into a name"),
        ("x = 1e999", (1, 5), "the number 1e999 is too large"),
        ("close > open", (1, 1), "a line must assign a value (name = ...) or call a function such as plot(...)"),
        ("1 = x", (1, 1), "a name must come before '='"),
        ("x =", (1, 4), "nothing after '='"),
        ("x = 1 2", (1, 7), "expected the end of the line, found '2'"),
        ("x = close > not open", (1, 13), "put 'not ...' in parentheses here"),
        ("x = +1", (1, 5), "write the number without a leading '+'"),
        ("x = 1,", (1, 6), "expected the end of the line, found ','"),
        ("x = close.", (1, 11), "expected a field name after '.'"),
    ],
)
def test_parse_errors(source: str, where: tuple[int, int], reason: str) -> None:
    err = error_of(source)
    assert (err.line, err.col) == where, str(err)
    assert reason in err.reason, str(err)
    lines = str(err).splitlines()
    assert lines[0].startswith(f"line {where[0]}, col {where[1]}: ")
    assert lines[2] == "  " + " " * (where[1] - 1) + "^"


@pytest.mark.parametrize(
    ("source", "where", "reason"),
    [
        ("x = macd(close).signl", (1, 17), "macd has no field 'signl' — did you mean 'signal'? (fields: macd, hist, signal)"),
        ("x = close.signal", (1, 11), "'.signal' needs an indicator with several outputs"),
        ("x = macd(close) + 1", (1, 17), "macd(...) gives several series (macd, hist, signal): pick one, e.g. .macd"),
        ("x = close > 1 and 2", (1, 15), "'and' needs true/false values, got a number"),
        ("x = close or true", (1, 11), "'or' needs true/false values, got a series of numbers"),
        ("x = not close", (1, 5), "'not' needs a true/false value, got a series of numbers"),
        ("x = -(close > 1)", (1, 5), "'-' needs numbers, got a true/false series"),
        ("x = (close > 1) + 1", (1, 17), "'+' needs numbers, got a true/false series"),
        ("x = (close > 1) < true", (1, 17), "'<' needs numbers, got true/false values"),
        ("x = close == true", (1, 11), "cannot compare a series of numbers with a true/false value"),
        ("x = close[-1]", (1, 10), "the look-back in [ ] must be a whole number from 0 to 5000, got -1"),
        ("x = close[1.5]", (1, 10), "must be a whole number from 0 to 5000, got 1.5"),
        ("x = close[5001]", (1, 10), "must be a whole number from 0 to 5000, got 5001"),
        ("x = close[close]", (1, 10), "the look-back in [ ] must be a fixed whole number, not a series"),
        ("x = close[true]", (1, 10), "got a true/false value"),
        ("x = sma(close, 10000)", (1, 5), "sma: 'length' must be between 1 and 5000, not 10000"),
        ("x = sma(close, 0)", (1, 5), "sma: 'length' must be between 1 and 5000, not 0"),
        ("x = sma(close, 2.5)", (1, 5), "must be a whole number"),
        ("x = sma(close, lenght=5)", (1, 5), "sma has no parameter 'lenght' — did you mean 'length'?"),
        ("x = sma(20)", (1, 5), "sma needs the series first: sma(close, ...)"),
        ("x = atr(high, low, 14)", (1, 5), "atr needs 3 series"),
        ("x = sma(close, 'a')", (1, 16), "indicator parameters are numbers, not strings"),
        ("x = highest(close, 0)", (1, 5), "highest: n must be a whole number from 1 to 5000, got 0"),
        ("x = change(close, close)", (1, 5), "change: n must be a fixed whole number, not a series"),
        ("x = crossover(close, close > 1)", (1, 5), "crossover needs numbers, got a true/false series"),
        ("x = iff(close, 1, 2)", (1, 5), "iff: the condition needs true/false values, got a series of numbers"),
        ("x = round(close, 0.5)", (1, 5), "round: ndigits must be a whole number"),
        ("x = abs('a')", (1, 5), "strings are only allowed as arguments"),
        ("x = sma(close, 5000)", (1, 5), "SMA(5000) needs more bars than the 300 available"),
    ],
)
def test_evaluation_errors(frame: pd.DataFrame, source: str, where: tuple[int, int], reason: str) -> None:
    err = error_of(source, frame)
    assert (err.line, err.col) == where, str(err)
    assert reason in err.reason, str(err)
    assert str(err).splitlines()[2] == "  " + " " * (where[1] - 1) + "^"


def test_indicator_errors_carry_a_usage_hint(frame: pd.DataFrame) -> None:
    err = error_of("x = macd(close, 0)", frame)
    assert err.hint == "usage: macd(close, fast, slow, signal)"


def test_long_lines_are_cut_around_the_caret() -> None:
    source = "x = " + " + ".join(["close"] * 60) + " + clsoe"
    err = error_of(source)
    shown, caret = str(err).splitlines()[1:3]
    assert len(shown) <= 82 and "clsoe" in shown
    assert shown[caret.index("^") : caret.index("^") + 5] == "clsoe"


def test_tabs_keep_the_caret_aligned() -> None:
    err = error_of("\tx = clsoe")
    shown, caret = str(err).splitlines()[1:3]
    assert shown[caret.index("^") : caret.index("^") + 5] == "clsoe"


# ----------------------------------------------------------------------------- limits


def test_source_size_limit() -> None:
    ok = "# " + "a" * (16 * 1024 - 3) + "\n"
    assert len(ok.encode()) == 16 * 1024
    parse(ok)
    err = error_of(ok + "#")
    assert err.reason == "the script is too long: 16,385 bytes, at most 16,384"
    assert err.line is None
    err = error_of(("#" + "é" * 8200).encode())  # bytes are counted, not characters
    assert "too long" in err.reason


def test_node_limit() -> None:
    source = "x = " + "+".join(["1"] * 1500) + "\ny = " + "+".join(["1"] * 1500)
    err = error_of(source)
    assert "too large: more than 5,000 parts" in err.reason
    assert err.line == 2


def test_long_operator_chain_within_limits_evaluates(small_frame: pd.DataFrame) -> None:
    source = "x = close" + " + 1" * 2000 + "\nplot(x)"
    r = evaluate(parse(source), small_frame)
    np.testing.assert_allclose(r.plots[0].values, small_frame["close"].to_numpy() + 2000)


def test_nesting_limit() -> None:
    parse("x = " + "(" * 32 + "1" + ")" * 32)
    err = error_of("x = " + "(" * 33 + "1" + ")" * 33)
    assert err.reason == "nested too deeply: at most 32 levels of parentheses, calls and operators"
    assert (err.line, err.col) == (1, 37)
    assert "nested too deeply" in error_of("x = " + "not " * 40 + "true").reason
    assert "nested too deeply" in error_of("x = " + "-" * 40 + "1").reason
    assert "nested too deeply" in error_of("x = " + "abs(" * 40 + "1" + ")" * 40).reason
    assert "nested too deeply" in error_of("x = " + "close[" * 40 + "1" + "]" * 40).reason


def test_statement_limit() -> None:
    parse("x = 1\n" * 200)
    err = error_of("x = 1\n" * 201)
    assert err.reason == "too many statements: a script may have at most 200"
    assert err.line == 201


def test_plot_limit() -> None:
    parse("plot(close)\n" * 20)
    err = error_of("plot(close)\n" * 21)
    assert err.reason == "too many plots: a script may draw at most 20"
    assert err.line == 21


def test_string_limit() -> None:
    parse(f'plot(close, "{"a" * 200}")')
    err = error_of(f'plot(close, "{"a" * 201}")')
    assert err.reason == "a string may be at most 200 characters, this one has 201"


def test_wall_time_limit(frame: pd.DataFrame) -> None:
    program = parse("x = sma(close, 5)\ny = sma(close, 6)")
    err = None
    with pytest.raises(ScriptError) as caught:
        evaluate(program, frame, time_limit=0.0)
    err = caught.value
    assert err.reason == "the script ran longer than 0 s; simplify it or run it on fewer bars"
    assert err.line == 1
    started = time.monotonic()
    evaluate(program, frame, time_limit=5.0)
    assert time.monotonic() - started < 5
    assert not Deadline(5).expired()


def test_frame_must_have_candles() -> None:
    program = parse("plot(close)")
    with pytest.raises(ScriptError, match="lack volume"):
        evaluate(program, pd.DataFrame({"open": [1.0], "high": [1.0], "low": [1.0], "close": [1.0]}))
    empty = pd.DataFrame({c: [] for c in ("open", "high", "low", "close", "volume")}, dtype=float)
    with pytest.raises(ScriptError, match="no candles"):
        evaluate(program, empty)
    text = pd.DataFrame({c: ["x"] for c in ("open", "high", "low", "close", "volume")})
    with pytest.raises(ScriptError, match="must be numbers"):
        evaluate(program, text)


# ----------------------------------------------------------------------------- names for help


def test_builtin_names_and_descriptions() -> None:
    names = builtin_names()
    for n in ("close", "bar_index", "crossover", "nz", "input", "plot", "buy", "stop_loss"):
        assert n in names
    assert describe("nz") == "nz(x, value=0): x with missing values (NaN) replaced by value"
    assert describe("hl2") == "hl2: (high + low) / 2"
    assert describe("nope") is None


def test_helpers_never_collide_with_indicators() -> None:
    from core.market.indicator_catalogue import catalogue

    assert not set(HELPERS) & set(catalogue())
    assert set(SERIES) & set(catalogue()) == {"hl2", "hlc3", "ohlc4"}


def test_condition_error_positions() -> None:
    with pytest.raises(ScriptError) as err:
        parse_condition("rsi(close, 14) < 3O")
    assert (err.value.line, err.value.col) == (1, 19)
