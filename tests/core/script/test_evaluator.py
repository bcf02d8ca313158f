"""Evaluation: values against pandas/pandas-ta computed directly, helpers, inputs and outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.market.indicator_compute import call
from core.script import (
    ScriptError,
    evaluate,
    evaluate_condition,
    evaluate_condition_warmup,
    parse,
    parse_condition,
)

EXAMPLE = """\
# EMA cross with an RSI filter
fast = ema(close, input("fast", 12))
slow = ema(close, input("slow", 26))
plot(fast, "EMA fast")
plot(slow, "EMA slow")
buy  = crossover(fast, slow) and rsi(close, 14) < 70
sell = crossunder(fast, slow)
stop_loss   = 0.05     # optional: leave a long 5 % below its entry
take_profit = 0.12     # optional
"""


def run(source: str, frame: pd.DataFrame, **inputs: object):
    return evaluate(parse(source), frame, inputs or None)


def plotted(source: str, frame: pd.DataFrame) -> np.ndarray:
    result = run(source, frame)
    assert len(result.plots) == 1
    return result.plots[0].values


def flags(text: str, frame: pd.DataFrame) -> np.ndarray:
    return evaluate_condition(parse_condition(text), frame)


def tiny(closes: list[float]) -> pd.DataFrame:
    c = np.asarray(closes, dtype=float)
    index = pd.date_range("2025-01-01", periods=len(c), freq="D", tz="UTC")
    return pd.DataFrame({"open": c, "high": c + 1, "low": c - 1, "close": c, "volume": np.ones_like(c)}, index=index)


# ----------------------------------------------------------------------------- the first example of docs/script.md


def test_reference_first_example(frame: pd.DataFrame) -> None:
    program = parse(EXAMPLE)
    assert program.inputs == {"fast": 12, "slow": 26}
    assert program.outputs == {"buy", "sell", "stop_loss", "take_profit"}
    assert program.plot_count == 2
    result = evaluate(program, frame)
    fast = call("ema", frame["close"], 12).to_numpy()
    slow = call("ema", frame["close"], 26).to_numpy()
    rsi = call("rsi", frame["close"], 14).to_numpy()
    prev_fast, prev_slow = np.r_[np.nan, fast[:-1]], np.r_[np.nan, slow[:-1]]
    with np.errstate(invalid="ignore"):
        up = (prev_fast <= prev_slow) & (fast > slow)
        down = (prev_fast >= prev_slow) & (fast < slow)
        expected_buy = up & (rsi < 70)
    assert result.buy is not None and result.buy.dtype == bool and len(result.buy) == len(frame)
    np.testing.assert_array_equal(result.buy, expected_buy)
    np.testing.assert_array_equal(result.sell, down)
    assert down.any()
    assert result.stop_loss == 0.05
    assert result.take_profit == 0.12
    assert result.short is None and result.cover is None
    assert [p.title for p in result.plots] == ["EMA fast", "EMA slow"]
    np.testing.assert_allclose(result.plots[0].values, fast, equal_nan=True)
    assert result.plots[0].values.dtype == np.float64
    assert result.inputs == {"fast": 12, "slow": 26}
    assert result.is_indicator is False


def test_inputs_override_by_name(frame: pd.DataFrame) -> None:
    result = run(EXAMPLE, frame, fast=5)
    assert result.inputs == {"fast": 5, "slow": 26}
    np.testing.assert_allclose(
        result.plots[0].values, call("ema", frame["close"], 5).to_numpy(), equal_nan=True
    )


def test_input_override_types(frame: pd.DataFrame) -> None:
    src = 'x = sma(close, input("len", 20))\nbuy = input("go", true) and close > x\nplot(x * input("k", 1.5))'
    program = parse(src)
    r = evaluate(program, frame, {"len": 10, "go": False, "k": 2})
    assert r.inputs == {"len": 10, "go": False, "k": 2}
    assert not r.buy.any()
    expected = frame["close"].rolling(10).mean().to_numpy() * 2
    np.testing.assert_allclose(r.plots[0].values, expected, equal_nan=True)
    with pytest.raises(ScriptError, match="input 'len' must be a number, got True"):
        evaluate(program, frame, {"len": True})
    with pytest.raises(ScriptError, match="input 'go' must be true or false, got 1"):
        evaluate(program, frame, {"go": 1})
    with pytest.raises(ScriptError, match="input 'k' must be a number, got '2'"):
        evaluate(program, frame, {"k": "2"})
    with pytest.raises(ScriptError, match="finite"):
        evaluate(program, frame, {"k": float("nan")})
    with pytest.raises(ScriptError) as err:
        evaluate(program, frame, {"lenn": 5})
    assert str(err.value) == "the script has no input 'lenn' — did you mean 'len'? (inputs: len, go, k)"
    with pytest.raises(ScriptError, match="between 1 and 5000"):
        evaluate(program, frame, {"len": 0})


# ----------------------------------------------------------------------------- series and indicators


def test_builtin_series(frame: pd.DataFrame) -> None:
    o, h, lo, c = (frame[k].to_numpy() for k in ("open", "high", "low", "close"))
    np.testing.assert_allclose(plotted("plot(hl2)", frame), (h + lo) / 2)
    np.testing.assert_allclose(plotted("plot(hlc3)", frame), (h + lo + c) / 3)
    np.testing.assert_allclose(plotted("plot(ohlc4)", frame), (o + h + lo + c) / 4)
    np.testing.assert_array_equal(plotted("plot(bar_index)", frame), np.arange(len(frame)))
    np.testing.assert_array_equal(plotted("plot(volume)", frame), frame["volume"].to_numpy())


def test_called_hl2_is_the_indicator(frame: pd.DataFrame) -> None:
    expected = ((frame["high"] + frame["low"]) / 2).to_numpy()
    np.testing.assert_allclose(plotted("plot(hl2(high, low))", frame), expected)


def test_indicators_match_pandas(frame: pd.DataFrame) -> None:
    c = frame["close"]
    np.testing.assert_allclose(plotted("plot(sma(close, 20))", frame), c.rolling(20).mean(), equal_nan=True)
    np.testing.assert_allclose(
        plotted("plot(ema(close, length=10))", frame), call("ema", c, 10), equal_nan=True
    )
    np.testing.assert_allclose(
        plotted("plot(rsi(close, 14))", frame), call("rsi", c, 14), equal_nan=True
    )
    np.testing.assert_allclose(
        plotted("plot(atr(high, low, close, 14))", frame),
        call("atr", frame["high"], frame["low"], frame["close"], 14),
        equal_nan=True,
    )
    np.testing.assert_allclose(plotted("plot(sma(hl2, 5))", frame), ((frame["high"] + frame["low"]) / 2).rolling(5).mean(), equal_nan=True)


def test_multi_output_fields(frame: pd.DataFrame) -> None:
    m = call("macd", frame["close"])
    assert isinstance(m, dict)
    r = run("m = macd(close)\nplot(m.signal)\nplot(m.hist[1])\nplot(bbands(close, 20, 2).upper)", frame)
    np.testing.assert_allclose(r.plots[0].values, m["signal"], equal_nan=True)
    np.testing.assert_allclose(r.plots[1].values, m["hist"].shift(1), equal_nan=True)
    bb = call("bbands", frame["close"], 20, 2)
    np.testing.assert_allclose(r.plots[2].values, bb["upper"], equal_nan=True)


def test_indicator_name_can_be_a_variable(frame: pd.DataFrame) -> None:
    r = run("rsi = rsi(close, 14)\nbuy = rsi < 50\nplot(rsi)", frame)
    np.testing.assert_array_equal(r.buy, (call("rsi", frame["close"], 14) < 50).to_numpy())


def test_indicator_alias_is_callable(frame: pd.DataFrame) -> None:
    np.testing.assert_allclose(plotted("plot(ma(close, 7))", frame), frame["close"].rolling(7).mean(), equal_nan=True)


# ----------------------------------------------------------------------------- arithmetic and logic


def test_arithmetic_broadcasts_and_divides_by_zero_quietly(frame: pd.DataFrame) -> None:
    c, o = frame["close"].to_numpy(), frame["open"].to_numpy()
    np.testing.assert_allclose(plotted("plot((close - open) / open * 100)", frame), (c - o) / o * 100)
    np.testing.assert_allclose(plotted("plot(-close * 2 + 1)", frame), -c * 2 + 1)
    np.testing.assert_allclose(plotted("plot(close % 7)", frame), np.mod(c, 7))
    assert np.isinf(plotted("plot(close / 0)", frame)).all()
    assert np.isnan(plotted("plot((close - close) / 0)", frame)).all()
    assert np.isnan(plotted("plot(close % 0)", frame)).all()
    np.testing.assert_array_equal(plotted("plot(1 / 0 + 0 * close)", frame), np.full(len(frame), np.inf))
    np.testing.assert_array_equal(plotted("plot(7 % 0 + 0 * close)", frame), np.full(len(frame), np.nan))


def test_scalar_arithmetic_keeps_whole_numbers_for_lengths(frame: pd.DataFrame) -> None:
    src = 'n = input("n", 10) * 2 - 5\nplot(sma(close, n))'
    np.testing.assert_allclose(plotted(src, frame), frame["close"].rolling(15).mean(), equal_nan=True)
    np.testing.assert_allclose(
        plotted("plot(sma(close, round(7.6)))", frame), frame["close"].rolling(8).mean(), equal_nan=True
    )


def test_nan_compares_false_even_for_not_equal() -> None:
    f = tiny([1, 2, 3, 4, 5])
    for op in ("<", "<=", ">", ">=", "==", "!="):
        assert not flags(f"sma(close, 3) {op} 2", f)[:2].any()
    np.testing.assert_array_equal(flags("sma(close, 3) != 2", f), [False, False, False, True, True])
    np.testing.assert_array_equal(flags("not (sma(close, 3) > 0)", f), [True, True, False, False, False])


def test_boolean_logic_and_equality(frame: pd.DataFrame) -> None:
    c, o = frame["close"].to_numpy(), frame["open"].to_numpy()
    np.testing.assert_array_equal(flags("close > open and not close > 100", frame), (c > o) & ~(c > 100))
    np.testing.assert_array_equal(flags("close > open or close < 90", frame), (c > o) | (c < 90))
    np.testing.assert_array_equal(flags("(close > open) == true", frame), c > o)
    np.testing.assert_array_equal(flags("(close > open) != (open > close)", frame), (c > o) != (o > c))
    assert flags("true", frame).all() and len(flags("true", frame)) == len(frame)
    assert not flags("1 > 2", frame).any()


def test_lookback_shifts_with_nan_and_false() -> None:
    f = tiny([1, 2, 3, 4, 5])
    r = run("plot(close[2])\nbuy = (close > 2)[1]\nk = 1\nsell = close[k + 1] > 0", f)
    np.testing.assert_array_equal(r.plots[0].values, [np.nan, np.nan, 1, 2, 3])
    np.testing.assert_array_equal(r.buy, [False, False, False, True, True])
    np.testing.assert_array_equal(r.sell, [False, False, True, True, True])
    assert np.isnan(run("plot(close[0][10])", f).plots[0].values).all()
    np.testing.assert_array_equal(run("plot(close[0])", f).plots[0].values, [1, 2, 3, 4, 5])


# ----------------------------------------------------------------------------- helpers


def test_crossover_and_crossunder_semantics() -> None:
    f = tiny([1, 3, 3, 1, 2, 5, 1])
    # previous <= 2 and now > 2 ; previous >= 2 and now < 2
    np.testing.assert_array_equal(flags("crossover(close, 2)", f), [False, True, False, False, False, True, False])
    np.testing.assert_array_equal(flags("crossunder(close, 2)", f), [False, False, False, True, False, False, True])
    # touching then rising counts (a was == b on the previous bar)
    g = tiny([1, 2, 3])
    np.testing.assert_array_equal(flags("crossover(close, 2)", g), [False, False, True])
    # NaN on either bar is no cross
    h = tiny([5, 1, 5, 1, 5])
    np.testing.assert_array_equal(flags("crossover(close, sma(close, 2))", h), [False, False, True, False, True])


def test_highest_lowest_change(frame: pd.DataFrame) -> None:
    c = frame["close"]
    np.testing.assert_allclose(plotted("plot(highest(high, 10))", frame), frame["high"].rolling(10).max(), equal_nan=True)
    np.testing.assert_allclose(plotted("plot(lowest(low, n=5))", frame), frame["low"].rolling(5).min(), equal_nan=True)
    np.testing.assert_allclose(plotted("plot(change(close))", frame), c.diff(), equal_nan=True)
    np.testing.assert_allclose(plotted("plot(change(close, 3))", frame), c.diff(3), equal_nan=True)
    np.testing.assert_allclose(plotted("plot(highest(close, length=3))", frame), c.rolling(3).max(), equal_nan=True)


def test_math_helpers(frame: pd.DataFrame) -> None:
    c, o = frame["close"].to_numpy(), frame["open"].to_numpy()
    np.testing.assert_allclose(plotted("plot(abs(close - open))", frame), np.abs(c - o))
    np.testing.assert_allclose(plotted("plot(min(close, open))", frame), np.minimum(c, o))
    np.testing.assert_allclose(plotted("plot(max(close, 100))", frame), np.maximum(c, 100))
    np.testing.assert_allclose(plotted("plot(round(close, 1))", frame), np.round(c, 1))
    np.testing.assert_allclose(plotted("plot(round(close))", frame), np.round(c))
    np.testing.assert_allclose(plotted("plot(sqrt(close))", frame), np.sqrt(c))
    np.testing.assert_allclose(plotted("plot(log(close))", frame), np.log(c))
    assert np.isnan(plotted("plot(sqrt(-close))", frame)).all()
    assert np.isneginf(plotted("plot(log(close * 0))", frame)).all()


def test_iff_and_nz() -> None:
    f = tiny([1, 2, 3, 4])
    r = run("plot(iff(close > 2, close, -close))\nplot(nz(close[1]))\nplot(nz(close[2], value=-1))", f)
    np.testing.assert_array_equal(r.plots[0].values, [-1, -2, 3, 4])
    np.testing.assert_array_equal(r.plots[1].values, [0, 1, 2, 3])
    np.testing.assert_array_equal(r.plots[2].values, [-1, -1, 1, 2])
    r = run("buy = iff(close > 2, true, close < 2)", f)
    np.testing.assert_array_equal(r.buy, [True, False, True, True])
    with pytest.raises(ScriptError, match="same kind"):
        run("plot(iff(close > 2, 1, true))", f)


def test_plot_titles_default_and_bool_plots() -> None:
    f = tiny([1, 2, 3])
    r = run('plot(close)\nplot(close > 1, title="up")\nplot(5)', f)
    assert [p.title for p in r.plots] == ["plot 1", "up", "plot 3"]
    np.testing.assert_array_equal(r.plots[1].values, [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(r.plots[2].values, [5.0, 5.0, 5.0])
    assert r.is_indicator and r.buy is None


# ----------------------------------------------------------------------------- outputs


def test_signal_outputs_broadcast_booleans() -> None:
    f = tiny([1, 2, 3])
    r = run("buy = true\nsell = false\nshort = close > 2\ncover = close < 2", f)
    np.testing.assert_array_equal(r.buy, [True, True, True])
    np.testing.assert_array_equal(r.sell, [False, False, False])
    np.testing.assert_array_equal(r.short, [False, False, True])
    np.testing.assert_array_equal(r.cover, [True, False, False])
    assert not r.is_indicator
    r = run("short = close > 2", f)
    assert r.cover is None and r.buy is None and not r.is_indicator


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("buy = close", "buy must be true/false (a condition such as close > open), got a series of numbers"),
        ("sell = 1", "sell must be true/false (a condition such as close > open), got a number"),
        ("stop_loss = 1.5", "stop_loss must be below 1"),
        ("stop_loss = -0.1", "stop_loss must be a positive fraction"),
        ("stop_loss = true", "stop_loss must be a positive fraction"),
        ("take_profit = 0", "take_profit must be a positive fraction"),
        ("take_profit = close * 0.01", "take_profit must be a single number such as 0.05, not a series"),
    ],
)
def test_output_type_errors(source: str, message: str) -> None:
    with pytest.raises(ScriptError, match="line 1, col 1: " + message.replace("(", r"\(").replace(")", r"\)")):
        run(source, tiny([1, 2, 3]))


def test_stop_loss_and_take_profit_may_come_from_inputs(frame: pd.DataFrame) -> None:
    r = run('buy = close > open\nstop_loss = input("sl", 0.02)\ntake_profit = input("tp", 3)', frame, tp=0.5)
    assert r.stop_loss == 0.02 and r.take_profit == 0.5


def test_variables_can_be_reassigned_and_outputs_read_back() -> None:
    f = tiny([1, 2, 3])
    r = run("x = close\nx = x + 1\nbuy = x > 3\nsell = not buy", f)
    np.testing.assert_array_equal(r.buy, [False, False, True])
    np.testing.assert_array_equal(r.sell, [True, True, False])


# ----------------------------------------------------------------------------- rules


def test_condition_rule(frame: pd.DataFrame) -> None:
    rsi = call("rsi", frame["close"], 14).to_numpy()
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(flags("rsi(close, 14) < 40", frame), rsi < 40)
    cond = parse_condition("crossover(ema(close, 5), ema(close, 20))")
    assert cond.text == "crossover(ema(close, 5), ema(close, 20))"
    assert flags("crossover(ema(close, 5), ema(close, 20))", frame).dtype == bool


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rsi(close, 14)", "a rule must be a condition (true/false), e.g. rsi(close, 14) < 30"),
        ("x = close > 1", "a rule is a condition, not an assignment"),
        ('plot(close)', "a rule cannot plot"),
        ('close > input("a", 1)', "a rule cannot declare inputs"),
        ("fast > slow", "unknown name 'fast'"),
        ("close > 1\nopen > 1", "a rule is a single condition"),
        ("", "the rule is empty"),
    ],
)
def test_condition_rule_errors(frame: pd.DataFrame, text: str, message: str) -> None:
    with pytest.raises(ScriptError) as err:
        evaluate_condition(parse_condition(text), frame)
    assert message in str(err.value)


def test_empty_and_comment_only_scripts_are_indicators_with_nothing(frame: pd.DataFrame) -> None:
    r = run("# nothing yet\n", frame)
    assert r.plots == [] and r.is_indicator and r.buy is None


def test_warmup_is_the_first_bar_every_indicator_has_a_value():
    frame = tiny([float(100 + (i % 7) - (i % 3)) for i in range(80)])
    assert run("buy = close > open\nsell = close < open", frame).warmup == 0  # no indicator
    assert run("buy = close > sma(close, 20)\nsell = close < sma(close, 5)", frame).warmup == 19  # the slowest
    assert run("hi = highest(high, 10)\nbuy = close > hi[1]\nsell = false", frame).warmup == 9
    macd = run("m = macd(close)\nbuy = crossover(m.macd, m.signal)\nsell = false", frame)
    assert macd.warmup == int(call("macd", frame["close"])["signal"].isna().sum())  # the record's slowest
    holds, warm = evaluate_condition_warmup(parse_condition("rsi(close, 14) < 30"), frame)
    assert (warm, len(holds)) == (14, 80)
