"""Backtest statistics with backtesting.py 0.6.6's definitions (its ``_stats.compute_stats``).

Every figure is defined and computed as in backtesting.py (same formulas, same order of floating-point
operations where it matters), so a result can be checked against that library. Percentages are in
percent; trade returns (``ReturnPct`` in the trades frame) are fractions, as in backtesting.py. Only
closed trades count in trade statistics; a trade still open at the end counts in the equity curve (so in
Return, drawdowns and so on) but not in ``# Trades`` (backtesting.py with ``finalize_trades=False``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "STAT_KEYS", "ClosedTrades", "FrameFacts", "compute_stats", "compute_stats_of", "drawdown_durations_and_peaks",
    "frame_facts", "geometric_mean", "stats_table",
]

#: Every key backtesting.py 0.6.6 reports, in its order (``Commissions [$]`` only when non-zero,
#: ``CAGR [%]`` only with a DatetimeIndex — as there).
STAT_KEYS = (
    "Start", "End", "Duration", "Exposure Time [%]", "Equity Final [$]", "Equity Peak [$]",
    "Commissions [$]", "Return [%]", "Buy & Hold Return [%]", "Return (Ann.) [%]",
    "Volatility (Ann.) [%]", "CAGR [%]", "Sharpe Ratio", "Sortino Ratio", "Calmar Ratio", "Alpha [%]",
    "Beta", "Max. Drawdown [%]", "Avg. Drawdown [%]", "Max. Drawdown Duration", "Avg. Drawdown Duration",
    "# Trades", "Win Rate [%]", "Best Trade [%]", "Worst Trade [%]", "Avg. Trade [%]",
    "Max. Trade Duration", "Avg. Trade Duration", "Profit Factor", "Expectancy [%]", "SQN",
    "Kelly Criterion",
)


def geometric_mean(returns: pd.Series | np.ndarray) -> float:
    """Geometric mean of simple returns: ``exp(sum(log(1 + r)) / len(r)) - 1``, NaN taken as 0.

    0 when any ``1 + r <= 0`` (a total loss), NaN for no returns.
    """
    r = np.nan_to_num(np.asarray(returns, dtype=np.float64), nan=0.0) + 1
    if np.any(r <= 0):
        return 0.0
    return float(np.exp(np.log(r).sum() / (len(r) or np.nan)) - 1)


def drawdown_durations_and_peaks(dd: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Drawdown periods of a drawdown series (``1 - equity / running max``).

    A period runs from a bar where ``dd == 0`` to the next bar where ``dd == 0`` (or to the last bar),
    when at least one bar lies between. Each period's duration (index value at its end minus at its
    start) and peak (its largest ``dd``, both ends included) are placed at the period's end bar; other
    bars are NaN/NaT. With no period at all both series are ``dd`` with zeros replaced by NaN (as
    backtesting.py does).
    """
    values = dd.to_numpy()
    periods = _drawdown_periods(values)
    if periods is None:
        empty = dd.replace(0, np.nan)
        return empty, empty
    prev, cur = periods
    index = dd.index
    durations = np.asarray(index[cur] - index[prev])
    if durations.dtype.kind == "m":
        filled = np.full(len(index), np.timedelta64("NaT"), dtype=durations.dtype)
    else:
        filled = np.full(len(index), np.nan)
    filled[cur] = durations
    peak = np.full(len(index), np.nan)
    peak[cur] = _period_peaks(values, prev, cur)
    return pd.Series(filled, index=index), pd.Series(peak, index=index)


def _drawdown_periods(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Start and end bars of the drawdown periods (see :func:`drawdown_durations_and_peaks`)."""
    ends = np.flatnonzero(values == 0)
    if not len(ends) or ends[-1] != len(values) - 1:
        ends = np.r_[ends, len(values) - 1]
    prev, cur = ends[:-1], ends[1:]
    keep = cur > prev + 1
    if not keep.any():
        return None
    return prev[keep], cur[keep]


def _period_peaks(values: np.ndarray, prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Each period's max over ``values[prev:cur + 1]``: reduce over [prev, cur + 1), every other slot
    (a last period ending on the last bar runs to the end by itself: no copy of ``values`` with a
    sentinel appended)."""
    bounds: np.ndarray = np.column_stack((prev, cur + 1)).ravel()
    if bounds[-1] >= len(values):
        bounds = bounds[:-1]
    return np.maximum.reduceat(values, bounds)[::2]


def _log_moves(ratios: np.ndarray) -> np.ndarray:
    """``np.log(ratios)``, taken only where a ratio is not exactly 1 (log(1) is exactly 0): equity
    stands still on every bar without a position, often half of them, and the logarithm is the
    dearest pass of the statistics. A masked ufunc runs its loop over each stretch of moving bars
    (held trades: long stretches), with no gathering and scattering."""
    out = np.zeros(len(ratios))
    np.log(ratios, out=out, where=ratios != 1.0)
    return out


def _bars_held(starts: np.ndarray, ends: np.ndarray) -> int:
    """Bars within at least one trade, entry bar to exit bar inclusive (the union of the intervals)."""
    if not len(starts):
        return 0
    ends = ends + 1
    if len(starts) > 1 and (starts[1:] < starts[:-1]).any():  # the engine's trades come sorted already
        order = np.argsort(starts, kind="stable")
        starts, ends = starts[order], ends[order]
    covered_before = np.r_[0, np.maximum.accumulate(ends)[:-1]]  # furthest end of earlier trades
    return int(np.clip(ends - np.maximum(starts, covered_before), 0, None).sum())


def _durations_max_mean(durations: np.ndarray) -> tuple[Any, Any]:
    """pandas' ``max()`` and ``mean()`` of the trade durations. For timedelta64 (a DatetimeIndex) in
    integer ticks, as pandas computes them (mean: the float64 sum of the ticks over the count,
    truncated; NaT for no trades) without a Series per backtest; anything else through pandas."""
    if durations.dtype.kind != "m":
        series = pd.Series(durations)
        return series.max(), series.mean()
    if not len(durations):
        return pd.NaT, pd.NaT
    ticks = durations.view(np.int64)
    mean = np.int64(ticks.sum(dtype=np.float64) / len(ticks))
    longest, average = np.array([ticks.max(), mean], dtype=np.int64).view(durations.dtype)  # in its own unit
    return pd.Timedelta(longest), pd.Timedelta(average)


#: Bars per block of :func:`_running_max`.
_BLOCK = 1024


def _running_max(values: np.ndarray) -> np.ndarray:
    """``np.maximum.accumulate(values)``, the same values (a maximum rounds nothing), in blocks: the
    accumulate is a scalar loop (it was the dearest pass of a grid's statistics), while a block's
    maximum is a vectorised reduction. Each block's running maximum is the peak before it, except in
    the blocks that hold a new peak (an equity curve makes few): only those are accumulated."""
    n = len(values)
    whole = n // _BLOCK
    if whole < 4:
        return np.maximum.accumulate(values)
    full = whole * _BLOCK
    heads = np.empty(whole + (full < n))
    heads[:whole] = values[:full].reshape(whole, _BLOCK).max(axis=1)
    if full < n:
        heads[-1] = values[full:].max()
    carry = np.maximum.accumulate(heads)  # the peak at each block's end
    if np.isnan(carry[-1]):  # NaN compares false: leave it to numpy
        return np.maximum.accumulate(values)
    before = np.r_[-np.inf, carry[:-1]]  # the peak before each block
    out = np.empty(n)
    out[:full].reshape(whole, _BLOCK)[:] = before[:whole, None]
    out[full:] = before[-1]
    for b in np.r_[0, np.flatnonzero(heads[1:] > carry[:-1]) + 1].tolist():
        lo, hi = b * _BLOCK, min(n, (b + 1) * _BLOCK)
        np.maximum(np.maximum.accumulate(values[lo:hi]), before[b], out=out[lo:hi])
    return out


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """``sum(a * b)`` with numpy's pairwise sum, not BLAS: OpenBLAS splits a long ``np.dot`` over its
    threads, so its last bits depended on the thread count (a worker and a test thread disagreed), and
    in a compute worker (two per core) those threads fought the other workers for the cores: ten times
    the CPU of this product and sum."""
    return float(np.multiply(a, b).sum())


def _mean(a: np.ndarray) -> float:
    return float(a.mean()) if len(a) else np.nan


def _std(a: np.ndarray) -> float:
    return float(a.std(ddof=1)) if len(a) > 1 else np.nan


def _local_days(index: pd.DatetimeIndex) -> np.ndarray:
    """Whole days since 1970-01-01 of each index value, in the index's own time zone."""
    wall = index.tz_localize(None) if index.tz is not None else index
    ticks = wall.asi8
    per_day = 86_400 * {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[wall.unit]
    return ticks // per_day


def _data_period(index: pd.Index):
    """The bar period: median difference of the last 100 index values (backtesting.py's)."""
    if isinstance(index, pd.DatetimeIndex) and len(index) > 1:
        return pd.Timedelta(float(np.median(np.diff(index[-100:].asi8))), unit=index.unit)
    return pd.Series(index[-100:]).diff().dropna().median()


@dataclass(frozen=True, slots=True)
class ClosedTrades:
    """The closed trades' columns the statistics read, as arrays (the trades frame's ``EntryBar``,
    ``ExitBar``, ``PnL``, ``ReturnPct``, ``Commission``, ``Duration``): what the engine computes the
    frame from, so a grid's backtests get their statistics without a frame per set."""

    entry_bar: np.ndarray
    exit_bar: np.ndarray
    pnl: np.ndarray
    returns: np.ndarray
    commission: np.ndarray
    duration: np.ndarray

    @classmethod
    def of(cls, trades: pd.DataFrame) -> ClosedTrades:
        return cls(
            trades["EntryBar"].to_numpy(dtype=np.int64), trades["ExitBar"].to_numpy(dtype=np.int64),
            trades["PnL"].to_numpy(dtype=np.float64), trades["ReturnPct"].to_numpy(dtype=np.float64),
            trades["Commission"].to_numpy(dtype=np.float64), trades["Duration"].to_numpy(),
        )


@dataclass(frozen=True, eq=False)
class FrameFacts:
    """What the statistics read of the bars alone (the index's calendar, the closes' log returns),
    worked out once by :func:`frame_facts` for any number of backtests of the same bars (an optimiser's
    grid): the figures are the same either way, only not recomputed."""

    index: pd.Index
    is_dt: bool
    period: Any
    close: np.ndarray
    last_of_day: np.ndarray | None  # the last bar of each calendar day (sorted daily-or-finer bars)
    annual_days: float
    freq: str
    mkt_log: np.ndarray
    mkt_sum: float
    mkt_square: float  # _dot(mkt_log, mkt_log)
    resolution_ns: int | None  # the bar period's resolution in nanoseconds (durations round up to it)


def frame_facts(frame: pd.DataFrame) -> FrameFacts:
    """The :class:`FrameFacts` of ``frame`` (its index and ``close`` column)."""
    index = frame.index
    is_dt = isinstance(index, pd.DatetimeIndex)
    period = _data_period(index)
    c = frame["close"].to_numpy(dtype=float)
    last_of_day = None
    annual_days: float = np.nan
    freq = ""
    if is_dt:
        freq_days = period.days
        days = _local_days(index)
        sorted_days = index.is_monotonic_increasing
        if sorted_days:  # count bars per calendar day, then weekdays per day, not per bar
            last_of_day = np.flatnonzero(np.r_[days[1:] != days[:-1], True])
            per_day = np.diff(np.r_[-1, last_of_day])
            weekend = (days[last_of_day] + 3) % 7 >= 5  # 1970-01-01 was a Thursday
            weekend_share = per_day[weekend].sum() / len(days)
        else:
            weekend_share = ((days + 3) % 7 >= 5).mean()
        have_weekends = weekend_share > 2 / 7 * 0.6
        annual_days = {7: 52, 31: 12, 365: 1}.get(freq_days, 365 if have_weekends else 252)
        freq = {7: "W", 31: "ME", 365: "YE"}.get(freq_days, "D")
    with np.errstate(divide="ignore", invalid="ignore"):
        mkt_log = np.log(c[1:] / c[:-1])
    m = len(mkt_log)
    mkt_sum = mkt_log.sum() if m > 1 else np.nan
    mkt_square = _dot(mkt_log, mkt_log) if m > 1 else np.nan
    resolution = getattr(period, "resolution_string", None)
    resolution_ns = pd.Timedelta(1, unit=resolution).value if isinstance(period, pd.Timedelta) and resolution else None
    return FrameFacts(index, is_dt, period, c, last_of_day, annual_days, freq, mkt_log, mkt_sum, mkt_square,
                      resolution_ns)


def compute_stats(
    trades: pd.DataFrame,
    equity: np.ndarray,
    frame: pd.DataFrame,
    *,
    warmup: int = 0,
    risk_free_rate: float = 0.0,
    facts: FrameFacts | None = None,
) -> pd.Series:
    """The statistics table, keys and order as backtesting.py 0.6.6's.

    ``trades`` holds the closed trades with backtesting.py's columns ``Size, EntryBar, ExitBar,
    EntryPrice, ExitPrice, PnL, Commission, ReturnPct, Duration``; ``equity`` the account equity at each
    bar's close (cash plus the open position marked to the close); ``frame`` the OHLC data (its
    ``close`` column and index); ``warmup`` the first bar a strategy may trade (backtesting.py's
    indicator warm-up), used only by Buy & Hold.

    - Start, End, Duration: first and last index value, and their difference.
    - Exposure Time [%]: share of bars lying within a closed trade, entry bar to exit bar inclusive.
    - Equity Final [$], Equity Peak [$]: last and largest equity.
    - Commissions [$]: sum of the closed trades' commissions (entry and exit); present only when
      non-zero.
    - Return [%]: ``(equity[-1] - equity[0]) / equity[0]``.
    - Buy & Hold Return [%]: ``(close[-1] - close[warmup]) / close[warmup]``.
    - Return (Ann.) [%]: ``(1 + g) ** D - 1`` where ``g`` is the geometric mean of the period returns
      of the equity resampled to days (weeks, months, years when the bar period is 7, 31 or 365 days;
      last value per period) and ``D`` the periods per year: 252, or 365 when weekend bars make up
      more than 60 % of their calendar share (2/7), 52 weekly, 12 monthly, 1 yearly.
    - Volatility (Ann.) [%]: ``sqrt((var + (1 + g) ** 2) ** D - (1 + g) ** (2 D))``, ``var`` the sample
      variance (ddof=1) of those period returns.
    - CAGR [%]: ``(equity[-1] / equity[0]) ** (1 / years) - 1``, years = Duration / 365.25 days.
    - Sharpe Ratio: ``(Return (Ann.) - rf) / Volatility (Ann.)`` (NaN when the volatility is 0).
    - Sortino Ratio: ``(annual return - rf) / (sqrt(mean(min(r, 0) ** 2)) * sqrt(D))``.
    - Calmar Ratio: annual return / max drawdown (NaN when there is no drawdown).
    - Beta: ``cov(log equity returns, log close returns) / var(log close returns)`` (bar to bar);
      Alpha [%]: ``Return - rf - Beta * (Buy & Hold - rf)`` (Jensen's alpha).
    - Max. Drawdown [%]: ``-max(1 - equity / running max)`` (negative, as in backtesting.py).
    - Avg. Drawdown [%]: minus the mean peak of the drawdown periods (see
      :func:`drawdown_durations_and_peaks`).
    - Max./Avg. Drawdown Duration: of the drawdown periods, rounded up to the bar period's resolution.
    - # Trades: closed trades. Win Rate [%]: share with ``PnL > 0`` (NaN for none).
    - Best/Worst Trade [%]: max/min of ``ReturnPct``. Avg. Trade [%]: their geometric mean.
    - Max./Avg. Trade Duration: of ``Duration`` (exit time minus entry time), rounded up likewise.
    - Profit Factor: sum of positive returns / |sum of negative returns| (NaN when none is negative).
    - Expectancy [%]: arithmetic mean of ``ReturnPct``.
    - SQN: ``sqrt(n) * mean(PnL) / std(PnL)`` (ddof=1; NaN when the std is 0 or undefined).
    - Kelly Criterion: ``win_rate - (1 - win_rate) / (mean winning PnL / -mean losing PnL)``.
    """
    return stats_table(compute_stats_of(ClosedTrades.of(trades), equity, frame, warmup=warmup,
                                   risk_free_rate=risk_free_rate, facts=facts))


def compute_stats_of(
    trades: ClosedTrades,
    equity: np.ndarray,
    frame: pd.DataFrame,
    *,
    warmup: int = 0,
    risk_free_rate: float = 0.0,
    facts: FrameFacts | None = None,
) -> dict[str, Any]:
    """:func:`compute_stats`'s figures (the same computation, the same values) as a dict, from the
    closed trades' arrays: the table without the pandas objects, for many backtests at once."""
    if not -1 < risk_free_rate < 1:
        raise ValueError("risk_free_rate must lie in (-1, 1)")
    if facts is None:
        facts = frame_facts(frame)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 and x/0 give NaN/inf, as intended
        return _compute_stats(trades, np.asarray(equity, dtype=float), facts, warmup, risk_free_rate)


def _compute_stats(trades: ClosedTrades, equity: np.ndarray, facts: FrameFacts, warmup: int,
                   risk_free_rate: float) -> dict[str, Any]:
    index = facts.index
    is_dt = facts.is_dt
    period = facts.period

    step = facts.resolution_ns

    def rounded(value):
        if not isinstance(value, pd.Timedelta):
            return value
        if step is not None:  # value.ceil(resolution) in integer nanoseconds, in value's own unit: ~20x faster
            return pd.Timedelta(-(-value.value // step) * step, unit="ns").as_unit(value.unit)
        resolution = getattr(period, "resolution_string", None) or period.resolution
        return value.ceil(resolution)

    peak_equity = _running_max(equity)
    dd = np.divide(equity, peak_equity)
    np.subtract(1, dd, out=dd)  # 1 - equity / peak_equity, in one buffer (the same values)
    # drawdown periods' durations and peaks, compact (backtesting.py spreads them over a bar-indexed
    # series with NaN elsewhere and takes max/mean skipping NaN: the same figures)
    periods = _drawdown_periods(dd)
    if periods is None:  # backtesting.py then uses dd with zeros as NaN for both
        peaks = dd[dd != 0]
        avg_dd = _mean(peaks)
        max_dd_dur = peaks.max() if len(peaks) else np.nan
        avg_dd_dur = avg_dd
    else:
        prev, cur = periods
        peaks = _period_peaks(dd, prev, cur)
        avg_dd = _mean(peaks)
        if is_dt:  # pandas' max and mean of timedelta64 (mean: float64 sum of ticks / count, truncated)
            ticks = index.asi8[cur] - index.asi8[prev]
            max_dd_dur = pd.Timedelta(int(ticks.max()), unit=index.unit)
            avg_dd_dur = pd.Timedelta(int(np.int64(ticks.sum(dtype=np.float64) / len(ticks))), unit=index.unit)
        else:
            spans = pd.Series(index[cur] - index[prev])
            max_dd_dur, avg_dd_dur = spans.max(), spans.mean()

    pl = trades.pnl
    returns = trades.returns
    n_trades = len(pl)

    s: dict = {}
    s["Start"] = index[0]
    s["End"] = index[-1]
    s["Duration"] = s["End"] - s["Start"]

    s["Exposure Time [%]"] = _bars_held(trades.entry_bar, trades.exit_bar) / len(index) * 100
    s["Equity Final [$]"] = equity[-1]
    s["Equity Peak [$]"] = peak_equity[-1]
    # summed left to right without compensation, as backtesting.py's sum() over numpy floats
    fees = trades.commission
    commissions = float(np.cumsum(fees)[-1]) if len(fees) else 0
    if commissions:
        s["Commissions [$]"] = commissions
    s["Return [%]"] = (equity[-1] - equity[0]) / equity[0] * 100
    c = facts.close
    s["Buy & Hold Return [%]"] = (c[-1] - c[warmup]) / c[warmup] * 100

    gmean = 0.0
    annual_days = var = downside = np.nan
    if is_dt:
        annual_days = facts.annual_days
        freq = facts.freq
        if freq == "D" and facts.last_of_day is not None:
            # resample("D").last().dropna(): the last equity of each calendar day that has bars
            daily = equity[facts.last_of_day]
        else:
            daily = pd.Series(equity, index=index).resample(freq).last().dropna().to_numpy()
        day_returns = daily[1:] / daily[:-1] - 1  # .pct_change().dropna()
        day_returns = day_returns[~np.isnan(day_returns)]
        gmean = geometric_mean(day_returns)
        var = day_returns.var(ddof=1) if len(day_returns) > 1 else np.nan
        downside = np.sqrt(_mean(np.minimum(day_returns, 0) ** 2))
    annual_return = (1 + gmean) ** annual_days - 1
    s["Return (Ann.) [%]"] = annual_return * 100
    s["Volatility (Ann.) [%]"] = np.sqrt(
        (var + (1 + gmean) ** 2) ** annual_days - (1 + gmean) ** (2 * annual_days)) * 100
    if is_dt:
        years = (s["Duration"].days + s["Duration"].seconds / 86400) / 365.25
        s["CAGR [%]"] = ((equity[-1] / equity[0]) ** (1 / years) - 1) * 100 if years else np.nan
    s["Sharpe Ratio"] = (s["Return (Ann.) [%]"] - risk_free_rate * 100) / (s["Volatility (Ann.) [%]"] or np.nan)
    s["Sortino Ratio"] = (annual_return - risk_free_rate) / (downside * np.sqrt(annual_days))
    max_dd = -np.nan_to_num(dd.max())
    s["Calmar Ratio"] = annual_return / (-max_dd or np.nan)
    eq_log = _log_moves(np.divide(equity[1:], equity[:-1]))
    mkt_log = facts.mkt_log
    beta = np.nan
    if len(eq_log) > 1:
        # np.cov(eq_log, mkt_log)[0, 1] / [1, 1] (the common 1 / (m - 1) cancels), from sums and 1-d
        # dot products (_dot): np.cov's 2-d product is ~10x slower here
        m = len(mkt_log)
        eq_sum, mkt_sum = eq_log.sum(), facts.mkt_sum
        beta = (_dot(eq_log, mkt_log) - eq_sum * mkt_sum / m) / (facts.mkt_square - mkt_sum * mkt_sum / m)
    s["Alpha [%]"] = s["Return [%]"] - risk_free_rate * 100 - beta * (
        s["Buy & Hold Return [%]"] - risk_free_rate * 100)
    s["Beta"] = beta
    s["Max. Drawdown [%]"] = max_dd * 100
    s["Avg. Drawdown [%]"] = -avg_dd * 100
    s["Max. Drawdown Duration"] = rounded(max_dd_dur)
    s["Avg. Drawdown Duration"] = rounded(avg_dd_dur)
    s["# Trades"] = n_trades
    win_rate = np.nan if not n_trades else (pl > 0).mean()
    s["Win Rate [%]"] = win_rate * 100
    s["Best Trade [%]"] = (returns.max() if n_trades else np.nan) * 100
    s["Worst Trade [%]"] = (returns.min() if n_trades else np.nan) * 100
    s["Avg. Trade [%]"] = geometric_mean(returns) * 100
    longest, average = _durations_max_mean(trades.duration)
    s["Max. Trade Duration"] = rounded(longest)
    s["Avg. Trade Duration"] = rounded(average)
    s["Profit Factor"] = returns[returns > 0].sum() / (abs(returns[returns < 0].sum()) or np.nan)
    s["Expectancy [%]"] = _mean(returns) * 100
    s["SQN"] = np.sqrt(n_trades) * _mean(pl) / (_std(pl) or np.nan)
    s["Kelly Criterion"] = win_rate - (1 - win_rate) / (_mean(pl[pl > 0]) / -_mean(pl[pl < 0]))
    return s


_TABLE_INDEX: dict[tuple[str, ...], pd.Index] = {}


def stats_table(figures: dict[str, Any]) -> pd.Series:
    """``pd.Series(figures, dtype=object)``, on an index made once per set of keys (there are four:
    with or without commissions and CAGR): building it from the dict each time was a good part of a
    backtest's statistics on a grid of a thousand."""
    keys = tuple(figures)
    index = _TABLE_INDEX.get(keys)
    if index is None:
        index = _TABLE_INDEX[keys] = pd.Series(dict.fromkeys(keys), dtype=object).index
    values = np.empty(len(keys), dtype=object)
    for i, value in enumerate(figures.values()):
        values[i] = value
    return pd.Series(values, index=index, copy=False)
