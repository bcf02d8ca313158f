"""The optimiser's grid and its figures: every set's figures are exactly the engine's for a backtest of
that set alone (no shared indicators, no prepared bars), on the in-sample and out-of-sample parts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.backtest.engine import BacktestConfig, prepare_bars, run_backtest
from core.backtest.stats import STAT_KEYS
from core.errors import Invalid
from core.model.optimize import MAX_COMBOS, Grid, evaluate_grid, parse_grid, whole_range_figures
from core.script import evaluate_source
from tests.sample_bars import sample_bars

SMA_CROSS = 'f = sma(close, input("fast", 10))\ns = sma(close, input("slow", 30))\nbuy = crossover(f, s)\nsell = crossunder(f, s)\n'
# long/short with a stop and a target from inputs: the engine's general path, not the long-only one
LONG_SHORT = """
f = ema(close, input("fast", 8))
s = sma(close, input("slow", 21))
buy = crossover(f, s)
short = crossunder(f, s)
sell = crossunder(f, s)
cover = crossover(f, s)
stop_loss = input("stop", 0.04)
take_profit = 0.08
"""
DECLARED = {"fast": 10, "slow": 30, "stop": 0.05, "filter": True}
NUMERIC_KEYS = [k for k in STAT_KEYS if k not in ("Start", "End", "Duration")]


def test_ranges_steps_and_fixed_values():
    grid = parse_grid(DECLARED, ["fast=5..20:5", "slow=20..30", "stop=0.02..0.05:0.01", "filter=false"])
    assert grid.ranges == {"fast": (5, 10, 15, 20), "slow": tuple(range(20, 31)), "stop": (0.02, 0.03, 0.04, 0.05)}
    assert grid.fixed == {"filter": False}
    assert grid.size == 4 * 11 * 4
    assert all(type(v) is int for v in grid.ranges["fast"])


def test_sets_with_fast_at_or_above_slow_are_skipped():
    grid = parse_grid(DECLARED, ["fast=5..20:5", "slow=10..20:5"])
    assert grid.combos() == [(5, 10), (5, 15), (5, 20), (10, 15), (10, 20), (15, 20)]
    fixed_fast = parse_grid(DECLARED, ["fast=12", "slow=10..14"])
    assert fixed_fast.combos() == [(13,), (14,)]


@pytest.mark.parametrize(
    ("words", "says"),
    [
        (["fsat=5..50"], "no input 'fsat' — did you mean 'fast'? (inputs: fast, slow, stop, filter)"),
        (["fast=50..5"], "runs backwards: write fast=5..50"),
        (["fast=5..x"], "fast: 'x' is not a number"),
        (["fast=5..50:0"], "the step of fast must be above 0"),
        (["fast=5.5..50"], "fast is a whole number"),
        (["stop=0.01..0.1"], "give the range a step, e.g. stop=0.01..0.1:0.01"),
        (["filter=true..false"], "filter is true or false: it has no range"),
        (["fast=5..50", "fast=6..9"], "input fast is given twice"),
        (["fast=10"], "give at least one input a range"),
        (["fast"], "'fast' is not an input range"),
        (["fast=1..100", "slow=1..100"], f"10,000 combinations is too many: at most {MAX_COMBOS:,}"),
        (["fast=1..100000"], "100,000 combinations is too many"),
    ],
)
def test_bad_grids_say_what_is_wrong(words, says):
    with pytest.raises(Invalid) as caught:
        parse_grid(DECLARED, words)
    assert says in caught.value.message


def _alone(source, frame, inputs, lo, hi):
    """A backtest of one set on bars [lo, hi), as /run does it: no memo, no prepared bars."""
    result = evaluate_source(source, frame, inputs)
    part = frame.iloc[lo:hi]
    first = max(0, min(result.warmup - lo, len(part) - 1))
    signals = [None if s is None else np.asarray(s, dtype=bool)[lo:hi]
               for s in (result.buy, result.sell, result.short, result.cover)]  # fmt: skip
    config = BacktestConfig(cash=10_000_000, commission=0.0015, unit=100, stop_loss=result.stop_loss,
                            take_profit=result.take_profit)  # fmt: skip
    return run_backtest(part, *signals, config, warmup=first)


def _same(figure, stat):
    if isinstance(stat, float) and math.isnan(stat):
        return figure is None
    return figure == stat  # exactly: the same floating-point operations in the same order


@pytest.mark.parametrize("source", [SMA_CROSS, LONG_SHORT], ids=["long-only", "long-short-stops"])
def test_every_figure_equals_a_backtest_of_that_set_alone(source):
    frame = sample_bars("BBCA", "1h")
    n = len(frame)
    start, split = n // 4, n // 4 + (n - n // 4) * 7 // 10
    combos = [(5, 20), (8, 21), (10, 30), (12, 50), (20, 60)]
    parts = ((start, split), (split, n))
    config = BacktestConfig(cash=10_000_000, commission=0.0015, unit=100)
    found = evaluate_grid(source, frame, {}, ("fast", "slow"), combos, parts, config, NUMERIC_KEYS)
    trades_seen = 0
    for (fast, slow), figures in zip(combos, found, strict=True):
        assert figures is not None
        for (lo, hi), got in zip(parts, figures, strict=True):
            stats = _alone(source, frame, {"fast": fast, "slow": slow}, lo, hi).stats
            for key in NUMERIC_KEYS:
                value = stats.get(key)
                if isinstance(value, pd.Timedelta):
                    continue  # durations are not kept as figures
                assert _same(got.get(key), value), (fast, slow, lo, key, got.get(key), value)
            trades_seen += stats["# Trades"]
    assert trades_seen > 50  # the sets really trade


def test_prepared_bars_give_the_same_trades_equity_and_stats():
    frame = sample_bars("BTCUSDT", "1h")
    close = frame["close"].to_numpy()
    fast = pd.Series(close).rolling(7).mean().to_numpy()
    slow = pd.Series(close).rolling(25).mean().to_numpy()
    with np.errstate(invalid="ignore"):
        buy, sell = fast > slow, fast < slow
    config = BacktestConfig(cash=10_000, commission=0.001, unit=1e-5)
    plain = run_backtest(frame, buy, sell, config=config, warmup=24)
    again = run_backtest(frame, buy, sell, config=config, warmup=24, prepared=prepare_bars(frame))
    pd.testing.assert_frame_equal(plain.trades, again.trades)
    pd.testing.assert_series_equal(plain.equity, again.equity)
    pd.testing.assert_series_equal(plain.stats, again.stats)
    assert len(plain.trades) > 10
    with pytest.raises(Invalid, match="another frame"):
        run_backtest(frame, buy, sell, config=config, prepared=prepare_bars(frame.iloc[1:]))


def test_a_set_the_script_refuses_is_none_and_the_others_still_run():
    frame = sample_bars("BBCA", "1d")
    n = len(frame)
    config = BacktestConfig(cash=10_000_000, commission=0.0015, unit=100)
    found = evaluate_grid(SMA_CROSS, frame, {}, ("fast", "slow"), [(0, 20), (5, 20)], ((0, n),), config)
    assert found[0] is None and found[1] is not None


def test_whole_range_figures_are_the_runs():
    frame = sample_bars("BBCA", "1d")
    n = len(frame)
    config = BacktestConfig(cash=10_000_000, commission=0.0015, unit=100)
    [figures] = whole_range_figures(SMA_CROSS, frame, [{"fast": 6, "slow": 24}], 40, config)
    stats = _alone(SMA_CROSS, frame, {"fast": 6, "slow": 24}, 40, n).stats
    assert figures["Return [%]"] == stats["Return [%]"] and figures["# Trades"] == stats["# Trades"]
    assert figures["Max. Drawdown [%]"] == stats["Max. Drawdown [%]"]


def test_grid_size_counts_every_combination():
    assert Grid({"a": (1, 2, 3), "b": (1, 2)}, {}).size == 6
