"""Hand-made frames with fills worked out by hand: the execution rules one at a time."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from core.backtest.engine import TRADE_COLUMNS, BacktestConfig, BacktestResult, run_backtest
from core.errors import Invalid

FULL = 1 - sys.float_info.epsilon


def bars(*ohlc: tuple[float, float, float, float], freq: str = "D") -> pd.DataFrame:
    o, h, low, c = (np.array(col, dtype=float) for col in zip(*ohlc, strict=True))
    index = pd.date_range("2024-01-01", periods=len(o), freq=freq)
    return pd.DataFrame({"open": o, "high": h, "low": low, "close": c, "volume": 1.0}, index=index)


def flat(n: int, price: float = 100.0) -> pd.DataFrame:
    return bars(*[(price, price + 1, price - 1, price)] * n)


def signal(n: int, *bars_on: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[list(bars_on)] = True
    return out


def run(frame, buy=(), sell=(), short=None, cover=None, **config) -> BacktestResult:
    n = len(frame)
    return run_backtest(frame, signal(n, *buy), signal(n, *sell),
                        None if short is None else signal(n, *short),
                        None if cover is None else signal(n, *cover), BacktestConfig(**config))


def test_signal_fills_at_next_open_and_commission_on_both_legs():
    frame = bars((10, 11, 9, 10), (10, 11, 9, 10.5), (11, 12, 10, 11.5), (12, 13, 11, 12.5), (13, 14, 12, 13))
    r = run(frame, buy=[1], sell=[3], cash=1_000, commission=0.01)
    (t,) = r.trades.itertuples()
    assert (t.EntryBar, t.EntryPrice, t.ExitBar, t.ExitPrice) == (2, 11.0, 4, 13.0)
    assert t.Size == int(1_000 * FULL // (11 + 11 * 0.01)) == 90
    assert t.Commission == pytest.approx(90 * 11 * 0.01 + 90 * 13 * 0.01)
    assert t.PnL == pytest.approx(90 * 2 - t.Commission)
    assert t.ReturnPct == pytest.approx(13 / 11 - 1 - t.Commission / (90 * 11))
    assert t.EntryTime == frame.index[2] and t.ExitTime == frame.index[4]
    assert t.Duration == pd.Timedelta(days=2)
    assert t.ExitReason == "signal"
    # equity: cash until the entry, then cash - entry fee + size * (close - entry), then cash after exit
    eq = r.equity.to_numpy()
    assert eq[:2].tolist() == [1_000, 1_000]
    assert eq[2] == pytest.approx(1_000 - 90 * 11 * 0.01 + 90 * (11.5 - 11))
    assert eq[4] == pytest.approx(1_000 + t.PnL)
    assert r.stats["# Trades"] == 1 and r.open_trade is None
    assert r.stats["Exposure Time [%]"] == pytest.approx(60.0)  # bars 2, 3, 4 of 5
    assert list(r.trades.columns) == list(TRADE_COLUMNS)


def test_signal_on_the_last_bar_never_fills():
    r = run(flat(5), buy=[4], cash=1_000)
    assert r.trades.empty and r.open_trade is None
    assert (r.equity == 1_000).all()
    assert r.stats["# Trades"] == 0 and np.isnan(r.stats["Win Rate [%]"])


def test_exit_signal_on_the_last_bar_leaves_the_trade_open():
    r = run(flat(5), buy=[0], sell=[4], cash=1_000)
    assert r.trades.empty
    assert r.open_trade is not None and r.open_trade["EntryBar"] == 1


def test_open_trade_counts_in_equity_not_in_trades():
    frame = bars((10, 10, 10, 10), (10, 10, 10, 10), (20, 20, 20, 20), (30, 30, 30, 30))
    r = run(frame, buy=[0], cash=100, commission=0.01)
    size = int(100 * FULL // (10 + 10 * 0.01))
    assert size == 9
    assert r.trades.empty and r.stats["# Trades"] == 0
    o = r.open_trade
    assert (o["Size"], o["EntryBar"], o["EntryPrice"], o["ExitBar"]) == (9, 1, 10.0, None)
    assert np.isnan(o["ExitPrice"]) and pd.isna(o["ExitTime"]) and o["ExitReason"] is None
    assert o["Commission"] == pytest.approx(0.9)
    assert o["PnL"] == pytest.approx(9 * 20 - 0.9)
    assert r.equity.iloc[-1] == pytest.approx(100 + o["PnL"])
    assert r.stats["Equity Final [$]"] == pytest.approx(100 - 0.9 + 9 * 20)
    assert r.stats["Exposure Time [%]"] == 0  # as backtesting.py: only closed trades count
    assert r.markers() == [(frame.index[1], "buy", 10.0)]


def test_reentry_after_exit_and_ignored_signals():
    n = 10
    # buy on 1 → long at 2; buy on 3 while long ignored; sell on 4 → out at 5; sell on 6 while flat
    # ignored; buy and sell both on 7 while flat → enters at 8 (the sell is ignored)
    r = run(flat(n), buy=[1, 3, 7], sell=[4, 6, 7], cash=1_000)
    assert r.trades[["EntryBar", "ExitBar"]].values.tolist() == [[2, 5]]
    assert r.open_trade["EntryBar"] == 8


def test_sell_and_buy_on_the_same_bar_while_long_exit_only():
    r = run(flat(8), buy=[1, 3], sell=[3], cash=1_000)
    assert r.trades[["EntryBar", "ExitBar"]].values.tolist() == [[2, 4]]
    assert r.open_trade is None


def test_entry_signalled_on_the_exit_bar():
    r = run(flat(8), buy=[1, 4], sell=[3], cash=1_000)  # out at open 4, in again at open 5
    assert r.trades[["EntryBar", "ExitBar"]].values.tolist() == [[2, 4]]
    assert r.open_trade["EntryBar"] == 5


def test_warmup_ignores_earlier_signals_and_sets_buy_and_hold_start():
    frame = bars(*[(p, p, p, p) for p in (50, 100, 100, 100, 200)])
    r = run_backtest(frame, signal(5, 0, 2), signal(5), config=BacktestConfig(cash=1_000), warmup=1)
    assert r.open_trade["EntryBar"] == 3
    assert r.stats["Buy & Hold Return [%]"] == pytest.approx(100.0)  # close[1] → close[-1]


def test_stop_fills_at_stop_price():
    frame = bars((100, 100, 100, 100), (100, 101, 99, 100), (100, 101, 96, 97), (97, 98, 94, 95), (95, 95, 95, 95))
    r = run(frame, buy=[0], cash=1_000, stop_loss=0.05)
    (t,) = r.trades.itertuples()
    assert (t.EntryBar, t.ExitBar, t.ExitPrice, t.ExitReason) == (1, 3, 95.0, "stop")
    assert t.SL == 95.0 and np.isnan(t.TP)


def test_gap_past_the_stop_fills_at_the_open():
    frame = bars((100, 100, 100, 100), (100, 101, 99, 100), (90, 92, 88, 91), (91, 91, 91, 91))
    r = run(frame, buy=[0], cash=1_000, stop_loss=0.05)
    (t,) = r.trades.itertuples()
    assert (t.ExitBar, t.ExitPrice, t.ExitReason) == (2, 90.0, "stop")


def test_target_fills_at_target_or_at_a_gap_open():
    frame = bars((100, 100, 100, 100), (100, 101, 99, 100), (101, 111, 100, 105), (105, 105, 105, 105))
    (t,) = run(frame, buy=[0], cash=1_000, take_profit=0.1).trades.itertuples()
    assert (t.ExitBar, t.ExitPrice, t.ExitReason) == (2, pytest.approx(110.0), "target")
    frame = bars((100, 100, 100, 100), (100, 101, 99, 100), (120, 125, 119, 121), (121, 121, 121, 121))
    (t,) = run(frame, buy=[0], cash=1_000, take_profit=0.1).trades.itertuples()
    assert (t.ExitBar, t.ExitPrice, t.ExitReason) == (2, 120.0, "target")


def test_stop_wins_when_stop_and_target_are_hit_in_one_bar():
    frame = bars((100, 100, 100, 100), (100, 101, 99, 100), (100, 120, 80, 100), (100, 100, 100, 100))
    (t,) = run(frame, buy=[0], cash=1_000, stop_loss=0.05, take_profit=0.1).trades.itertuples()
    assert (t.ExitBar, t.ExitPrice, t.ExitReason) == (2, 95.0, "stop")


def test_stop_is_checked_on_the_entry_bar():
    frame = bars((100, 100, 100, 100), (100, 101, 90, 95), (95, 95, 95, 95))
    (t,) = run(frame, buy=[0], cash=1_000, stop_loss=0.05).trades.itertuples()
    assert (t.EntryBar, t.ExitBar, t.ExitPrice) == (1, 1, 95.0)


def test_stop_hit_before_a_pending_exit_signal_and_reentry_on_the_stop_bar():
    frame = bars((100, 100, 100, 100), (100, 101, 99, 100), (100, 100, 90, 92), (92, 93, 91, 92), (92, 92, 92, 92))
    r = run(frame, buy=[0, 2], sell=[2], cash=1_000, stop_loss=0.05)
    assert r.trades[["EntryBar", "ExitBar", "ExitReason"]].values.tolist() == [[1, 2, "stop"]]
    assert r.open_trade["EntryBar"] == 3  # the buy on the stop bar acts: flat at its close


def test_short_stop_target_and_cover():
    frame = bars((100, 100, 100, 100), (100, 101, 99, 100), (100, 106, 99, 104), (104, 104, 104, 104),
                 (104, 104, 104, 104), (104, 105, 103, 104), (90, 91, 89, 90))
    r = run(frame, short=[0, 3], cover=[5], cash=10_000, stop_loss=0.05, take_profit=0.2)
    first, second = r.trades.itertuples()
    assert (first.Size, first.EntryBar, first.ExitBar, first.ExitPrice, first.ExitReason) == (
        -99, 1, 2, 105.0, "stop")
    assert first.PnL == pytest.approx(-99 * 5)
    assert (second.EntryBar, second.ExitBar, second.ExitPrice, second.ExitReason) == (4, 6, 90.0, "signal")
    assert r.markers()[:2] == [(frame.index[1], "short", 100.0), (frame.index[2], "cover", 105.0)]


def test_reversal_long_to_short_on_one_bar():
    frame = bars(*[(p, p, p, p) for p in (10, 10, 12, 12, 8, 8)])
    r = run(frame, buy=[0], sell=[2], short=[2], cover=[4], cash=100)
    (long, short) = r.trades.itertuples()
    assert (long.Size, long.EntryBar, long.ExitBar, long.ExitPrice) == (9, 1, 3, 12.0)
    assert (short.Size, short.EntryBar, short.ExitBar, short.ExitPrice) == (-9, 3, 5, 8.0)
    assert short.Size == -int((100 + 9 * 2) * FULL // 12)
    assert [m[1] for m in r.markers()] == ["buy", "sell", "short", "cover"]


def test_short_without_cover_signal_stays_open_and_long_only_ignores_cover():
    r = run(flat(6), short=[1], cover=[], cash=1_000)
    assert r.open_trade["Size"] < 0
    r = run(flat(6), buy=[], sell=[], cover=[1], cash=1_000)  # short=None: long-only, cover ignored
    assert r.trades.empty and r.open_trade is None


def test_idx_lots_of_100():
    r = run(flat(4, 1234.0), buy=[0], cash=1_000_000, unit=100)
    assert r.open_trade["Size"] == 800  # 810 affordable, rounded down to whole lots
    assert r.trades["Size"].dtype == np.int64


def test_fractional_units():
    frame = flat(4, 30_000.0)
    r = run(frame, buy=[0], sell=[1], cash=1_000, unit=0.001)
    assert r.trades["Size"].iloc[0] == 0.033
    assert r.trades["Size"].dtype == np.float64
    r = run(frame, buy=[0], cash=1_000, unit=1e-8, commission=0.001)
    assert r.open_trade["Size"] == pytest.approx(1_000 / 30_030, abs=1e-8)
    assert r.open_trade["Size"] * 30_030 <= 1_000


def test_too_poor_for_one_unit_no_trade():
    r = run(flat(6, 100.0), buy=[0, 2], sell=[1, 3], cash=50)
    assert r.trades.empty and r.open_trade is None
    assert (r.equity == 50).all()
    assert r.stats["# Trades"] == 0 and r.stats["Return [%]"] == 0


def test_no_entry_after_money_runs_short_but_later_entries_when_affordable():
    frame = bars(*[(p, p, p, p) for p in (200, 200, 200, 40, 40, 40)])
    r = run(frame, buy=[0, 3], sell=[4], cash=100)
    # 100 cash cannot buy one unit at 200 (signal on 0); at 40 it buys 2 (signal on 3)
    assert r.trades[["Size", "EntryBar", "ExitBar"]].values.tolist() == [[2, 4, 5]]


def test_size_fraction():
    r = run(flat(4, 10.0), buy=[0], cash=1_000, size=0.5)
    assert r.open_trade["Size"] == 50  # 500 // 10
    r = run(flat(4, 10.0), buy=[0], cash=1_000)
    assert r.open_trade["Size"] == 99  # all of it: backtesting.py's 1 - eps makes 999.99.. // 10


def test_signals_accept_series_and_nan():
    frame = flat(5)
    buy = pd.Series([np.nan, 1.0, 0.0, np.nan, 0.0], index=frame.index)
    r = run_backtest(frame, buy, None, config=BacktestConfig(cash=1_000))
    assert r.open_trade["EntryBar"] == 2


def test_stats_keys_and_result_is_frozen():
    r = run(flat(30), buy=[1], sell=[5], cash=1_000, commission=0.001)
    assert list(r.stats.index) == [
        "Start", "End", "Duration", "Exposure Time [%]", "Equity Final [$]", "Equity Peak [$]",
        "Commissions [$]", "Return [%]", "Buy & Hold Return [%]", "Return (Ann.) [%]",
        "Volatility (Ann.) [%]", "CAGR [%]", "Sharpe Ratio", "Sortino Ratio", "Calmar Ratio", "Alpha [%]",
        "Beta", "Max. Drawdown [%]", "Avg. Drawdown [%]", "Max. Drawdown Duration",
        "Avg. Drawdown Duration", "# Trades", "Win Rate [%]", "Best Trade [%]", "Worst Trade [%]",
        "Avg. Trade [%]", "Max. Trade Duration", "Avg. Trade Duration", "Profit Factor",
        "Expectancy [%]", "SQN", "Kelly Criterion"]
    with pytest.raises(AttributeError):
        r.trades = None  # type: ignore[misc]
    assert r.equity.name == "Equity" and r.equity.index.equals(r.stats.index[:0].append(r.equity.index))


@pytest.mark.parametrize("kwargs", [
    {"cash": 0}, {"cash": -5}, {"cash": float("inf")}, {"commission": -0.001}, {"commission": 1},
    {"size": 0}, {"size": 1.5}, {"unit": 0}, {"unit": -1}, {"stop_loss": 0}, {"stop_loss": 1},
    {"take_profit": 0}, {"take_profit": -0.1}, {"cash": "100"}, {"size": True}, {"commission": float("nan")},
])
def test_invalid_config(kwargs):
    with pytest.raises(Invalid):
        BacktestConfig(**kwargs)


def test_invalid_input():
    frame = flat(5)
    ok = signal(5)
    with pytest.raises(Invalid, match="need at least 2 bars"):
        run_backtest(frame.iloc[:1], ok[:1], ok[:1])
    with pytest.raises(Invalid, match="need at least 2 bars"):
        run_backtest(frame.iloc[:0], ok[:0], ok[:0])
    with pytest.raises(Invalid, match="lacks"):
        run_backtest(frame.drop(columns="low"), ok, ok)
    with pytest.raises(Invalid, match="DatetimeIndex"):
        run_backtest(frame.reset_index(drop=True), ok, ok)
    with pytest.raises(Invalid, match="one value per bar"):
        run_backtest(frame, ok[:4], ok)
    bad = frame.copy()
    bad.iloc[2, 0] = np.nan
    with pytest.raises(Invalid, match="missing"):
        run_backtest(bad, ok, ok)
    with pytest.raises(Invalid, match="warmup"):
        run_backtest(frame, ok, ok, warmup=5)
    with pytest.raises(Invalid, match="config"):
        run_backtest(frame, ok, ok, config={"cash": 1})  # type: ignore[arg-type]


def test_time_zone_is_kept():
    frame = flat(6)
    frame.index = frame.index.tz_localize("Asia/Jakarta")
    r = run(frame, buy=[0], sell=[2], cash=1_000)
    assert r.trades["EntryTime"].iloc[0] == frame.index[1]
    assert str(r.trades["EntryTime"].dt.tz) == "Asia/Jakarta"
    assert r.markers()[0][0] == frame.index[1]


def test_unsorted_index_is_refused():
    frame = flat(4).iloc[[0, 2, 1, 3]]
    with pytest.raises(Invalid, match="time order"):
        run_backtest(frame, signal(4), signal(4))


@pytest.mark.parametrize("seed", range(60))
def test_vectorised_long_only_path_equals_the_general_loop(seed, monkeypatch):
    """Long-only runs without stops take a numpy path; the per-trade loop must give the same result."""
    import core.backtest.engine as engine

    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 200))
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.03, n)))
    frame = bars(*zip(close * 1.001, close * 1.02, close * 0.98, close, strict=True))
    p = rng.uniform(0.02, 0.6)
    buy, sell = rng.random(n) < p, rng.random(n) < p
    config = BacktestConfig(cash=float(rng.choice([90.0, 1_000.0, 1e6])),
                            commission=float(rng.choice([0.0, 0.001, 0.05])),
                            size=float(rng.choice([1.0, 0.5])), unit=float(rng.choice([1, 100, 0.001])))
    warmup = int(rng.integers(0, n))
    fast = run_backtest(frame, buy, sell, config=config, warmup=warmup)
    monkeypatch.setattr(engine, "_long_only_plan", lambda *args: None)
    slow = run_backtest(frame, buy, sell, config=config, warmup=warmup)
    pd.testing.assert_frame_equal(fast.trades, slow.trades)
    pd.testing.assert_series_equal(fast.equity, slow.equity)
    pd.testing.assert_series_equal(fast.stats, slow.stats)
    assert (fast.open_trade is None) == (slow.open_trade is None)
    if fast.open_trade is not None:
        pd.testing.assert_series_equal(fast.open_trade, slow.open_trade)
