"""Shared helpers: the reference run in backtesting.py 0.6.6 and the comparison with ours.

``reference_run`` drives backtesting.py with a Strategy that applies *our* execution semantics to
given signal arrays (see ``core/backtest/engine.py``): flat → ``buy`` (else ``short``) enters at the
next open; long + ``sell`` closes (and reverses when ``short`` fires on the same bar); short + ``cover``
likewise. backtesting.py's ``sl``/``tp`` are absolute prices fixed when the order is placed, while ours
are fractions of the fill price (the next open); the reference computes them from the next bar's open,
which it reads from the full data it closes over, and sets them on the placed order (``Order._replace``,
as ``Strategy.buy(sl=, tp=)`` would, minus its check against the *current* close, which a gap at the
next open can fail). That look-ahead only sets the price levels: the order still fills at the next open
and the stop/target orders still run through backtesting.py's broker, from the entry bar on.
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from backtesting import Backtest, Strategy

from core.backtest.engine import BacktestResult

STAT_NUMBERS_RTOL = 1e-9
TRADE_COLUMNS = ("Size", "EntryBar", "ExitBar", "EntryPrice", "ExitPrice", "PnL", "Commission", "ReturnPct",
                 "EntryTime", "ExitTime", "Duration")


def to_bt(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns=str.capitalize)


def sma(values: np.ndarray, n: int) -> np.ndarray:
    out = np.full(len(values), np.nan)
    c = np.cumsum(np.r_[0.0, values])
    out[n - 1:] = (c[n:] - c[:-n]) / n
    return out


def cross_signals(close: np.ndarray, fast: int, slow: int) -> tuple[np.ndarray, np.ndarray]:
    """(crossover, crossunder) of SMA(fast) and SMA(slow): a <= b on the previous bar and a > b now."""
    a, b = sma(close, fast), sma(close, slow)
    with np.errstate(invalid="ignore"):
        up = np.r_[False, a[:-1] <= b[:-1]] & (a > b)
        down = np.r_[False, a[:-1] >= b[:-1]] & (a < b)
    return up, down


def reference_run(frame: pd.DataFrame, buy, sell, short=None, cover=None, *, cash: float = 10_000,
                  commission: float = 0.0, size: float = 1.0, stop_loss: float | None = None,
                  take_profit: float | None = None, warmup: int = 0) -> pd.Series:
    """backtesting.py's stats (with ``_trades`` and ``_equity_curve``) for our semantics."""
    data = to_bt(frame)
    opens = data["Open"].to_numpy()
    n = len(opens)
    no = np.zeros(n, dtype=bool)
    buy = no if buy is None else np.asarray(buy)
    sell = no if sell is None else np.asarray(sell)
    shorts = short is not None
    short = no if short is None else np.asarray(short)
    cover = no if cover is None else np.asarray(cover)
    warm = np.r_[np.full(warmup, np.nan), np.zeros(n - warmup)]

    class Reference(Strategy):
        def init(self):
            # an indicator whose first `warmup` values are NaN gives backtesting.py's warm-up
            self.warm = self.I(lambda: warm, name="warm")

        def enter(self, side: int, i: int) -> None:
            order = (self.buy if side > 0 else self.sell)(**({"size": size} if size < 1 else {}))
            if i + 1 < n:
                p = opens[i + 1]
                if stop_loss is not None:
                    order._replace(sl_price=p * (1 - stop_loss) if side > 0 else p * (1 + stop_loss))
                if take_profit is not None and (side > 0 or take_profit < 1):
                    order._replace(tp_price=p * (1 + take_profit) if side > 0 else p * (1 - take_profit))

        def next(self):
            i = len(self.data) - 1
            pos = self.position
            if pos.is_long and sell[i]:
                pos.close()
                if shorts and short[i]:
                    self.enter(-1, i)
            elif pos.is_short and cover[i]:
                pos.close()
                if buy[i]:
                    self.enter(1, i)
            elif not pos:
                if buy[i]:
                    self.enter(1, i)
                elif shorts and short[i]:
                    self.enter(-1, i)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Backtest(data, Reference, cash=cash, commission=commission, finalize_trades=False).run()


def assert_same(ours: BacktestResult, ref: pd.Series) -> None:
    """Trades, equity and every statistic equal (numbers to 1e-9 relative, times exactly)."""
    theirs = ref["_trades"]
    assert len(ours.trades) == len(theirs)
    for col in TRADE_COLUMNS:
        a, b = ours.trades[col].to_numpy(), theirs[col].to_numpy()
        if a.dtype.kind in "fc":
            np.testing.assert_allclose(a, b.astype(float), rtol=STAT_NUMBERS_RTOL, atol=0, err_msg=col)
        else:
            assert (a == b).all(), col
    for col in ("SL", "TP"):
        b = pd.to_numeric(theirs[col], errors="coerce").to_numpy(dtype=float)
        np.testing.assert_allclose(ours.trades[col].to_numpy(dtype=float), b, rtol=STAT_NUMBERS_RTOL,
                                   atol=0, err_msg=col)
    np.testing.assert_allclose(ours.equity.to_numpy(), ref["_equity_curve"]["Equity"].to_numpy(),
                               rtol=STAT_NUMBERS_RTOL, atol=0)
    keys = [k for k in ref.index if not k.startswith("_")]
    assert list(ours.stats.index) == keys
    for key in keys:
        a, b = ours.stats[key], ref[key]
        if isinstance(b, pd.Timestamp | pd.Timedelta) or b is pd.NaT:
            assert a == b or (pd.isna(a) and pd.isna(b)), key
        elif isinstance(b, int | np.integer):
            assert a == b, key
        elif pd.isna(b):
            assert pd.isna(a), key
        else:
            assert a == pytest.approx(b, rel=STAT_NUMBERS_RTOL), key


@pytest.fixture(scope="session")
def goog() -> pd.DataFrame:
    from backtesting.test import GOOG

    return GOOG.rename(columns=str.lower).astype(float)


@pytest.fixture(scope="session")
def ref():
    """The helpers above, for test modules (conftest cannot be imported with --import-mode=importlib)."""
    return SimpleNamespace(run=reference_run, same=assert_same, cross=cross_signals, sma=sma)
