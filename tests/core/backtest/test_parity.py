"""Parity with backtesting.py 0.6.6: the same signals give the same trades, equity and statistics.

Our engine is fed signal arrays; backtesting.py runs ``conftest.reference_run``, a Strategy applying our
semantics to the same arrays. Numbers agree to 1e-9 relative (in practice bit for bit), timestamps and
durations exactly. backtesting.py never calls ``next()`` on bar 0 nor on the bar where its indicator
warm-up ends, so the signals compared here are false there (our engine would act on them).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from core.backtest.engine import BacktestConfig, run_backtest

WARMUP = 19  # SMA(20)'s first value


@pytest.fixture
def both(ref):
    """Run ours and the reference on the same input; assert they agree; return ours."""
    def run(frame, buy, sell, short=None, cover=None, *, warmup=0, **config):
        ours = run_backtest(frame, buy, sell, short, cover, BacktestConfig(**config), warmup=warmup)
        ref.same(ours, ref.run(frame, buy, sell, short, cover, warmup=warmup, **config))
        return ours
    return run


@pytest.fixture(scope="module")
def cross(goog, ref):
    up, down = ref.cross(goog["close"].to_numpy(), 10, 20)
    assert not up[:WARMUP + 1].any() and not down[:WARMUP + 1].any()
    return up, down


def test_sma_cross_long_only_with_commission(both, goog, cross):
    up, down = cross
    ours = both(goog, up, down, warmup=WARMUP, cash=10_000, commission=0.002)
    # the figures themselves, so a change in either library shows up here too
    assert ours.stats["# Trades"] == 46
    assert ours.stats["Equity Final [$]"] == pytest.approx(63341.19136, rel=1e-9)
    assert ours.stats["Commissions [$]"] == pytest.approx(5799.2992, rel=1e-9)
    assert ours.stats["Max. Drawdown Duration"] == pd.Timedelta(days=597)
    assert ours.open_trade is not None  # the last crossover is still open: in equity, not in # Trades
    assert (ours.trades["ExitReason"] == "signal").all()


def test_sma_cross_without_commission_from_bar_zero(both, goog, cross):
    up, down = cross
    ours = both(goog, up, down, cash=10_000)
    assert "Commissions [$]" not in ours.stats.index  # backtesting.py shows it only when non-zero


def test_fraction_of_equity(both, goog, cross):
    up, down = cross
    both(goog, up, down, warmup=WARMUP, cash=10_000, commission=0.001, size=0.5)


@pytest.mark.parametrize(("stop_loss", "take_profit"), [(0.03, 0.05), (0.08, None), (None, 0.04), (0.02, 0.3)])
def test_stop_loss_and_take_profit(both, goog, cross, stop_loss, take_profit):
    up, down = cross
    ours = both(goog, up, down, warmup=WARMUP, cash=10_000, commission=0.002,
                          stop_loss=stop_loss, take_profit=take_profit)
    reasons = set(ours.trades["ExitReason"])
    assert reasons <= {"signal", "stop", "target"}
    assert ("stop" in reasons) == (stop_loss is not None)


def test_long_short_reversal(both, goog, cross):
    up, down = cross
    ours = both(goog, up, down, down, up, warmup=WARMUP, cash=10_000, commission=0.002)
    sizes = ours.trades["Size"].to_numpy()
    assert (sizes[:-1] * sizes[1:] < 0).all()  # always in the market, alternating sides
    # a reversal exits and enters on the same bar
    assert (ours.trades["ExitBar"].to_numpy()[:-1] == ours.trades["EntryBar"].to_numpy()[1:]).all()


def test_long_short_with_stops(both, goog, cross):
    up, down = cross
    ours = both(goog, up, down, down, up, warmup=WARMUP, cash=10_000, commission=0.001,
                          stop_loss=0.04, take_profit=0.06)
    assert {"stop", "target"} <= set(ours.trades["ExitReason"])
    assert (ours.trades["Size"] < 0).any()


def test_short_only_with_stop(both, goog, cross):
    up, down = cross
    ours = both(goog, None, None, down, up, cash=10_000, commission=0.002, stop_loss=0.05)
    assert (ours.trades["Size"] < 0).all()


def _random_frame(rng, n, *, gap=0.02, drift=0.0):
    close = 100 * np.exp(np.cumsum(rng.normal(drift, 0.02, n)))
    open_ = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0, gap, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.01, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.01, n)))
    index = pd.date_range("2022-01-03 09:00", periods=n, freq="h")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": 1.0}, index=index)


@pytest.mark.parametrize("seed", range(12))
def test_random_signals_with_gaps(both, seed):
    """Random walks with opening gaps, random (often simultaneous) signals, every option."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 400))
    frame = _random_frame(rng, n)
    p = rng.uniform(0.03, 0.3)
    buy, sell, short, cover = (rng.random(n) < p for _ in range(4))
    for signal in (buy, sell, short, cover):
        signal[0] = False  # backtesting.py never acts on bar 0
    shorts = seed % 2 == 0
    config = {
        "cash": float(rng.choice([1_000.0, 10_000.0, 1e6])),
        "commission": float(rng.choice([0.0, 0.001, 0.02])),
        "size": float(rng.choice([1.0, 0.3])),
        "stop_loss": [None, 0.02, 0.05][seed % 3],
        "take_profit": [None, 0.03, 0.1, 0.9][seed % 4],
    }
    both(frame, buy, sell, short if shorts else None, cover if shorts else None, **config)


def test_short_squeeze_liquidates_like_backtesting(both):
    """A short whose losses exceed the account: closed at that bar's close, equity 0 after, run over."""
    n = 12
    close = np.array([100, 100, 100, 150, 220, 260, 300, 310, 320, 330, 340, 350], dtype=float)
    frame = pd.DataFrame({"open": close, "high": close * 1.01, "low": close * 0.99, "close": close},
                         index=pd.date_range("2024-01-01", periods=n, freq="D"))
    no = np.zeros(n, dtype=bool)
    short = no.copy()
    short[1] = True
    ours = both(frame, no, no, short, no, cash=10_000, commission=0.001)
    assert list(ours.trades["ExitReason"]) == ["liquidation"]
    assert ours.trades["ExitBar"].iloc[0] == 4
    assert (ours.equity.iloc[4:] == 0).all()


SMA_CROSS = "fast = sma(close, 10)\nslow = sma(close, 20)\nbuy = crossover(fast, slow)\nsell = crossunder(fast, slow)"


def test_a_script_with_warming_indicators_matches_backtesting_sma_cross(goog, ref):
    """A model script, its warm-up found by the evaluator, against backtesting.py's own SmaCross
    (``self.I`` indicators): the same trades and every statistic, Buy & Hold and Alpha included,
    both measured from the first bar the indicators have values (bar 19), not from bar 0."""
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    from core.script import evaluate, parse

    result = evaluate(parse(SMA_CROSS), goog)
    assert result.warmup == WARMUP
    ours = run_backtest(goog, result.buy, result.sell, None, None, BacktestConfig(cash=10_000, commission=0.002),
                        warmup=result.warmup)

    class SmaCross(Strategy):
        def init(self):
            self.fast = self.I(SMA, self.data.Close, 10)
            self.slow = self.I(SMA, self.data.Close, 20)

        def next(self):
            if self.position.is_long and crossover(self.slow, self.fast):
                self.position.close()
            elif not self.position and crossover(self.fast, self.slow):
                self.buy()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = Backtest(goog.rename(columns=str.capitalize), SmaCross, cash=10_000, commission=0.002,
                          finalize_trades=False).run()
    ref.same(ours, theirs)
    close = goog["close"].to_numpy()
    assert ours.stats["Buy & Hold Return [%]"] == pytest.approx((close[-1] - close[WARMUP]) / close[WARMUP] * 100)
    assert ours.stats["Buy & Hold Return [%]"] != pytest.approx((close[-1] - close[0]) / close[0] * 100)
