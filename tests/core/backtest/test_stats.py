"""``core.backtest.stats`` against backtesting.py 0.6.6's ``_stats`` on the same inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from backtesting._stats import compute_drawdown_duration_peaks
from backtesting._stats import compute_stats as bt_compute_stats
from backtesting._stats import geometric_mean as bt_geometric_mean

from core.backtest.stats import (
    STAT_KEYS,
    _running_max,
    compute_stats,
    drawdown_durations_and_peaks,
    geometric_mean,
)

# backtesting.py 0.6.6 still calls DatetimeIndex.dayofweek, deprecated in pandas 3
pytestmark = pytest.mark.filterwarnings("ignore:DatetimeIndex.dayofweek is deprecated")


def _equity(rng, n, *, flat_share=0.3, rounding=None):
    steps = rng.normal(0.0005, 0.01, n)
    steps[rng.random(n) < flat_share] = 0.0  # flat stretches: new peaks repeat exactly, dd == 0 runs
    eq = 10_000 * np.cumprod(1 + steps)
    return np.round(eq, rounding) if rounding is not None else eq


@pytest.mark.parametrize("seed", range(40))
def test_drawdown_periods_match(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 80))
    eq = _equity(rng, n, rounding=2 if seed % 2 else None)
    dd = 1 - eq / np.maximum.accumulate(eq)
    index = pd.date_range("2021-01-01", periods=n, freq="h")
    theirs = compute_drawdown_duration_peaks(pd.Series(dd, index=index))
    ours = drawdown_durations_and_peaks(pd.Series(dd, index=index))
    for a, b in zip(ours, theirs, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())


def test_drawdown_only_on_the_last_bar_is_no_period():
    dd = pd.Series([0.0, 0.0, 0.1], index=pd.date_range("2021-01-01", periods=3))
    for a, b in zip(drawdown_durations_and_peaks(dd), compute_drawdown_duration_peaks(dd), strict=True):
        np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())


@pytest.mark.parametrize("values", [[], [0.1], [0.1, -0.05, np.nan, 0.2], [0.5, -1.0], [-1.5, 0.2]])
def test_geometric_mean_matches(values):
    theirs = bt_geometric_mean(pd.Series(values, dtype=float))
    ours = geometric_mean(pd.Series(values, dtype=float))
    assert ours == pytest.approx(theirs, rel=1e-12, nan_ok=True)


def _trades(rng, n_bars, n_trades):
    if not n_trades:
        bars = np.zeros((0, 2), dtype=np.int64)
    else:
        cuts = np.sort(rng.choice(np.arange(1, n_bars), size=min(2 * n_trades, n_bars - 1), replace=False))
        bars = cuts[: len(cuts) // 2 * 2].reshape(-1, 2)
    returns = rng.normal(0.01, 0.05, len(bars))
    return bars, returns


INDEXES = {
    "business days": lambda n: pd.bdate_range("2020-01-01", periods=n),
    "calendar days (crypto)": lambda n: pd.date_range("2020-01-01", periods=n, freq="D"),
    "minutes over weekends": lambda n: pd.date_range("2020-01-03 22:00", periods=n, freq="min"),
    "hours, Jakarta time": lambda n: pd.date_range("2020-01-01", periods=n, freq="4h", tz="Asia/Jakarta"),
    "weeks": lambda n: pd.date_range("2015-01-04", periods=n, freq="W"),
    "years": lambda n: pd.date_range("1990-12-31", periods=n, freq="YE"),
    "seconds unit": lambda n: pd.date_range("2020-01-01", periods=n, freq="15min", unit="s"),
    "irregular minutes": lambda n: pd.DatetimeIndex(
        pd.Timestamp("2020-01-06") + pd.to_timedelta(np.cumsum(np.random.default_rng(n).integers(1, 400, n)),
                                                     unit="min")),
}


@pytest.mark.parametrize("kind", list(INDEXES))
@pytest.mark.parametrize("seed", range(3))
def test_compute_stats_matches(kind, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 3000)) if kind not in {"years"} else 30
    index = INDEXES[kind](n)
    eq = _equity(rng, n)
    close = 100 * np.cumprod(1 + rng.normal(0, 0.01, n))
    bars, returns = _trades(rng, n, [0, 1, 7][seed])
    pnl = returns * 1_000
    trades = pd.DataFrame({
        "Size": 10, "EntryBar": bars[:, 0], "ExitBar": bars[:, 1], "EntryPrice": 1.0, "ExitPrice": 1.0,
        "PnL": pnl, "Commission": 0.0, "ReturnPct": returns,
        "EntryTime": index[bars[:, 0]], "ExitTime": index[bars[:, 1]],
    })
    trades["Duration"] = trades["ExitTime"] - trades["EntryTime"]
    theirs = bt_compute_stats(trades, eq, pd.DataFrame({"Close": close}, index=index), None)
    ours = compute_stats(trades, eq, pd.DataFrame({"close": close}, index=index))
    keys = [k for k in theirs.index if not k.startswith("_")]
    assert list(ours.index) == keys
    for key in keys:
        a, b = ours[key], theirs[key]
        if isinstance(b, pd.Timestamp | pd.Timedelta) or b is pd.NaT:
            assert a == b or (a is pd.NaT and b is pd.NaT), key
        else:
            assert a == pytest.approx(b, rel=1e-9, nan_ok=True), key


def test_stat_keys_cover_the_full_table():
    assert set(STAT_KEYS) == set(compute_stats(
        pd.DataFrame({"EntryBar": [1], "ExitBar": [2], "PnL": [1.0], "Commission": [0.5],
                      "ReturnPct": [0.01], "Duration": [pd.Timedelta(days=1)]}),
        np.array([100.0, 99.0, 101.0]),
        pd.DataFrame({"close": [1.0, 2.0, 3.0]}, index=pd.date_range("2024-01-01", periods=3))).index)


def test_overlapping_trades_count_once_in_exposure():
    trades = pd.DataFrame({"EntryBar": [1, 2, 6], "ExitBar": [4, 3, 6], "PnL": [1.0, -1.0, 2.0],
                           "Commission": 0.0, "ReturnPct": [0.1, -0.1, 0.2],
                           "Duration": [pd.Timedelta(days=3), pd.Timedelta(days=1), pd.Timedelta(0)]})
    frame = pd.DataFrame({"close": np.arange(1.0, 11.0)}, index=pd.date_range("2024-01-01", periods=10))
    s = compute_stats(trades, np.full(10, 100.0), frame)
    assert s["Exposure Time [%]"] == pytest.approx(50.0)  # bars 1-4 and 6


@pytest.mark.parametrize("n", [1, 4095, 4096, 4097, 5 * 1024, 20_000, 100_003])
@pytest.mark.parametrize("shape", ["rising", "falling", "flat stretches", "with NaN"])
def test_running_peak_in_blocks_is_numpys(n, shape):
    # the statistics' running peak (drawdowns) skips blocks without a new peak: the same values as
    # np.maximum.accumulate, bit for bit, wherever new peaks fall
    rng = np.random.default_rng(n)
    eq = _equity(rng, n, flat_share=0.6 if shape == "flat stretches" else 0.3)
    if shape == "falling":
        eq = eq[::-1].copy()
    if shape == "with NaN" and n > 10:
        eq[n // 3] = np.nan
    assert np.array_equal(_running_max(eq), np.maximum.accumulate(eq), equal_nan=True)


def test_long_equity_stats_match():
    # past the running peak's blocks (4 x 1024 bars): every figure still backtesting.py's
    rng = np.random.default_rng(11)
    n = 30_000
    index = pd.date_range("2020-01-03 22:00", periods=n, freq="min")
    eq = _equity(rng, n)
    eq[n // 2:] *= 0.5  # a deep drawdown, then new peaks late
    eq[-2000:] *= 3
    close = 100 * np.cumprod(1 + rng.normal(0, 0.01, n))
    bars, returns = _trades(rng, n, 7)
    trades = pd.DataFrame({
        "Size": 10, "EntryBar": bars[:, 0], "ExitBar": bars[:, 1], "EntryPrice": 1.0, "ExitPrice": 1.0,
        "PnL": returns * 1_000, "Commission": 0.0, "ReturnPct": returns,
        "EntryTime": index[bars[:, 0]], "ExitTime": index[bars[:, 1]],
    })
    trades["Duration"] = trades["ExitTime"] - trades["EntryTime"]
    theirs = bt_compute_stats(trades, eq, pd.DataFrame({"Close": close}, index=index), None)
    ours = compute_stats(trades, eq, pd.DataFrame({"close": close}, index=index))
    for key in [k for k in theirs.index if not k.startswith("_")]:
        a, b = ours[key], theirs[key]
        if isinstance(b, pd.Timestamp | pd.Timedelta) or b is pd.NaT:
            assert a == b, key
        else:
            assert a == pytest.approx(b, rel=1e-9, nan_ok=True), key
