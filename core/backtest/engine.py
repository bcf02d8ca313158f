"""The backtest engine: signal arrays in, trades, equity and backtesting.py's statistics out.

Execution model (``docs/script.md``, *What a run does with the outputs*), stated precisely. It is backtesting.py
0.6.6's (``Backtest(data, strategy, cash, commission=c, finalize_trades=False)`` with a strategy that
acts on the signals as below), so trades, equity and every statistic can be checked against that library
(``tests/core/backtest`` does so).

- Signals are evaluated at each bar's close. An order placed on bar ``i`` fills at ``open[i + 1]``; a
  signal on the last bar never fills. Signals on bars before ``warmup`` are ignored.
- Flat at bar ``i``'s close: ``buy[i]`` opens a long, else ``short[i]`` opens a short (``buy`` wins when
  both fire). Long: ``sell[i]`` closes it; if ``short[i]`` fires on the same bar the position is reversed
  (the long closes and the short opens, both at ``open[i + 1]``, the short sized from the cash after the
  close). Short: ``cover[i]`` closes it, reversed into a long when ``buy[i]`` fires too. An entry signal
  in the direction already held, or an exit signal while flat, does nothing. Without ``short`` the
  engine is long-only (``cover`` is ignored).
- After a signal exit filled at ``open[x]`` the next entry may be signalled on bar ``x`` itself (it then
  fills at ``open[x + 1]``); after a stop or target hit on bar ``h``, likewise from bar ``h`` on.
- Position size, in units, when entering at ``price`` with cash ``C`` (flat, so equity = cash):
  ``f = size`` (``1 - 2**-52`` for ``size == 1``, as backtesting.py's full-equity default), ``adj = price +
  f * price * commission / f``, ``units = int(C * f // adj)``; with ``unit`` > 1 (IDX lots) that is
  rounded down to a multiple of ``unit``; with ``unit`` < 1 (crypto) ``units = floor(C * f / adj / unit)
  * unit`` (with a 1e-9 step tolerance against float noise). Zero units: no trade, the signal is dropped.
- Commission ``|units| * price * commission`` is paid at entry (from cash) and at exit.
- Stops and targets are fractions of the entry (fill) price: a long's stop at ``entry * (1 - stop_loss)``
  and target at ``entry * (1 + take_profit)``, a short's at ``entry * (1 + stop_loss)`` and ``entry *
  (1 - take_profit)`` (a short's target of 1 or more can never be reached and is ignored). They are
  checked against every bar's low/high from the entry bar itself (the entry fills at the open, then the
  bar's range is tested) up to and including the bar of an exit signal (whose fill at the next open
  comes first on that next bar). A long's stop fills at ``min(open, stop)`` (the open when the bar gaps
  below it), its target at ``max(open, target)``; mirrored for shorts. When stop and target are both
  within one bar's range the stop wins (backtesting.py processes the stop order first).
- Equity at each bar's close: ``cash + (close * units - units * entry)`` with cash net of commissions
  paid and of closed trades' profit (backtesting.py's bookkeeping, bit for bit). If equity falls to 0
  or below (a short run against), the open trade is closed at that bar's close (``ExitReason``
  ``"liquidation"``) and equity stays 0 from there on, as backtesting.py's broker does.
- A trade still open at the end is not in ``trades`` nor ``# Trades`` (but is in equity and in
  ``open_trade``), as backtesting.py with ``finalize_trades=False``.

One difference with backtesting.py: it never calls ``Strategy.next`` on the first bar (nor before its
indicator warm-up, ``warmup`` here), so a signal on bar 0 would be ignored there; here it fills at
``open[1]``.

The simulation is vectorised: numpy over bars, Python only over trades. Long-only runs without stops
find their trades with numpy over the signal bars (a two-state machine, see :func:`_long_only_plan`);
other runs loop once per trade (:func:`_simulate`: ``bisect`` to the next signal, numpy for the first
stop/target hit in the trade's window). Either way a short pass over the trades sizes them (each size
depends on the cash the previous trade left), and equity, trade figures and statistics are numpy over
bars. pandas-ta, numba and matplotlib are not imported.
"""

from __future__ import annotations

import math
import sys
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from core.backtest.stats import ClosedTrades, FrameFacts, compute_stats_of, frame_facts, stats_table
from core.errors import Invalid

__all__ = [
    "DEFAULT_CONFIG", "TRADE_COLUMNS", "BacktestConfig", "BacktestResult", "PreparedBars", "backtest_stats",
    "entry_fraction",
    "entry_units", "prepare_bars", "run_backtest",
]

#: backtesting.py's ``Strategy.buy`` default size: all equity, but below 1 so it reads as a fraction.
_FULL_EQUITY = 1 - sys.float_info.epsilon

#: Columns of ``BacktestResult.trades`` (backtesting.py's ``_trades`` without Tag and indicator
#: columns, plus ExitReason).
TRADE_COLUMNS = (
    "Size", "EntryBar", "ExitBar", "EntryPrice", "ExitPrice", "SL", "TP", "PnL", "Commission",
    "ReturnPct", "EntryTime", "ExitTime", "Duration", "ExitReason",
)

MarkerKind = Literal["buy", "sell", "short", "cover"]


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise Invalid(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise Invalid(f"{name} must be a finite number, got {value!r}")
    return value


@dataclass(frozen=True)
class BacktestConfig:
    """How orders are sized and charged; validated on construction (``Invalid`` on a bad value).

    - ``cash``: starting cash, > 0.
    - ``commission``: fraction of traded value charged on entry and on exit, in [0, 1).
    - ``size``: fraction of equity committed per entry, in (0, 1].
    - ``unit``: trading step, > 0: 1 = whole units (stocks), 100 = IDX lots, ``1e-8`` (any value < 1)
      = fractional sizes to that step (crypto).
    - ``stop_loss``: fraction of the entry price, in (0, 1): a long exits at ``entry * (1 - stop_loss)``,
      a short at ``entry * (1 + stop_loss)``; None for no stop.
    - ``take_profit``: fraction of the entry price, > 0: a long exits at ``entry * (1 + take_profit)``,
      a short at ``entry * (1 - take_profit)``; None for no target.
    """

    cash: float = 10_000_000.0
    commission: float = 0.0
    size: float = 1.0
    unit: float = 1.0
    stop_loss: float | None = None
    take_profit: float | None = None

    def __post_init__(self) -> None:
        if _number("cash", self.cash) <= 0:
            raise Invalid(f"cash must be above 0, got {self.cash!r}")
        if not 0 <= _number("commission", self.commission) < 1:
            raise Invalid(f"commission must be a fraction in [0, 1), got {self.commission!r}")
        if not 0 < _number("size", self.size) <= 1:
            raise Invalid(f"size must be a fraction of equity in (0, 1], got {self.size!r}")
        if _number("unit", self.unit) <= 0:
            raise Invalid(f"unit must be above 0, got {self.unit!r}")
        if self.stop_loss is not None and not 0 < _number("stop_loss", self.stop_loss) < 1:
            raise Invalid(f"stop_loss must be a fraction in (0, 1), got {self.stop_loss!r}")
        if self.take_profit is not None and not _number("take_profit", self.take_profit) > 0:
            raise Invalid(f"take_profit must be a fraction above 0, got {self.take_profit!r}")


DEFAULT_CONFIG = BacktestConfig()


@dataclass(frozen=True)
class BacktestResult:
    """What :func:`run_backtest` returns.

    - ``trades``: closed trades, one row each, columns :data:`TRADE_COLUMNS`: ``Size`` (units, negative
      for shorts), ``EntryBar``/``ExitBar`` (bar positions), ``EntryPrice``/``ExitPrice``, ``SL``/``TP``
      (stop and target price levels, NaN when unset), ``PnL`` (``Size * (ExitPrice - EntryPrice) -
      Commission``), ``Commission`` (entry plus exit), ``ReturnPct`` (a fraction: ``sign(Size) *
      (ExitPrice / EntryPrice - 1) - Commission / (|Size| * EntryPrice)``), ``EntryTime``/``ExitTime``,
      ``Duration`` (ExitTime - EntryTime), ``ExitReason`` (``"signal"``, ``"stop"``, ``"target"``, or
      ``"liquidation"`` when equity reached 0). Exactly backtesting.py's ``stats._trades`` values.
    - ``open_trade``: the trade still open at the end as a Series with the same fields, or None. Its
      exit fields are empty (``ExitBar`` None, ``ExitPrice`` NaN, ``ExitTime`` NaT, ``ExitReason`` None);
      ``PnL`` and ``ReturnPct`` are marked to the last close and ``Commission`` is the entry commission
      paid (unlike backtesting.py's ``Trade.pl``, which leaves commission out until the exit), so
      ``equity[-1] == cash + trades.PnL.sum() + open_trade.PnL`` up to rounding. ``Duration`` runs to
      the last bar.
    - ``equity``: account equity at each bar's close (``Equity``, indexed like the frame).
    - ``stats``: backtesting.py's statistics table (see :func:`core.backtest.stats.compute_stats`).
    - ``config``: the configuration used.
    """

    trades: pd.DataFrame
    open_trade: pd.Series | None
    equity: pd.Series
    stats: pd.Series
    config: BacktestConfig = field(default=DEFAULT_CONFIG)

    def markers(self) -> list[tuple[pd.Timestamp, MarkerKind, float]]:
        """Entries and exits for chart markers, in time order: ``(time, kind, price)``.

        A long's entry is ``"buy"`` and its exit ``"sell"``; a short's ``"short"`` and ``"cover"``. The
        open trade contributes its entry only.
        """
        out: list[tuple[pd.Timestamp, MarkerKind, float]] = []
        t = self.trades
        for size, et, ep, xt, xp in zip(t["Size"].tolist(), t["EntryTime"].tolist(), t["EntryPrice"].tolist(),
                                        t["ExitTime"].tolist(), t["ExitPrice"].tolist(), strict=True):
            long = size > 0
            out.append((et, "buy" if long else "short", ep))
            out.append((xt, "sell" if long else "cover", xp))
        if self.open_trade is not None:
            long = self.open_trade["Size"] > 0
            out.append((self.open_trade["EntryTime"], "buy" if long else "short",
                        float(self.open_trade["EntryPrice"])))
        return out


def _frame_arrays(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(frame, pd.DataFrame):
        raise Invalid("the price data must be a DataFrame")
    missing = [c for c in ("open", "high", "low", "close") if c not in frame.columns]
    if missing:
        raise Invalid(f"the price data lacks column(s) {', '.join(missing)}")
    if len(frame) < 2:
        raise Invalid(f"need at least 2 bars to backtest, got {len(frame)}")
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise Invalid("the price data needs a DatetimeIndex")
    if not frame.index.is_monotonic_increasing:
        raise Invalid("the price data must be in time order")
    arrays = []
    for col in ("open", "high", "low", "close"):
        try:
            a = frame[col].to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise Invalid(f"column {col} must be numeric") from exc
        low_, high_ = a.min(), a.max()  # NaN propagates through both: two fast passes, no temporaries
        if not (math.isfinite(low_) and math.isfinite(high_)):
            raise Invalid(f"column {col} has missing or infinite values")
        if col in ("open", "close") and low_ <= 0:
            raise Invalid(f"column {col} has prices of 0 or below")
        arrays.append(a)
    return arrays[0], arrays[1], arrays[2], arrays[3]


@dataclass(frozen=True, eq=False)
class PreparedBars:
    """A frame checked and read once for many backtests of the same bars (an optimiser's grid): its
    price arrays and its :class:`~core.backtest.stats.FrameFacts`. Made by :func:`prepare_bars`; a run
    given one returns exactly what it returns without it."""

    frame: pd.DataFrame
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    facts: FrameFacts


def prepare_bars(frame: pd.DataFrame) -> PreparedBars:
    """``frame`` checked (``Invalid`` as :func:`run_backtest` raises it) and read for repeated runs."""
    return PreparedBars(frame, _frame_arrays(frame), frame_facts(frame))


def _signal(name: str, value, n: int, warmup: int) -> np.ndarray:
    """A writable bool copy of a signal with bars before ``warmup`` and the last bar cleared."""
    if value is None:
        return np.zeros(n, dtype=bool)
    arr = value.to_numpy() if isinstance(value, pd.Series) else np.asarray(value)
    if arr.shape != (n,):
        raise Invalid(f"signal {name} must have one value per bar ({n}), got shape {arr.shape}")
    if arr.dtype == bool:
        arr = arr.copy()
    else:
        try:
            f = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise Invalid(f"signal {name} must be true/false values") from exc
        arr = np.nan_to_num(f, nan=0.0) != 0
    arr[:warmup] = False
    arr[n - 1] = False
    return arr


def _positions(mask: np.ndarray, n: int) -> list[int]:
    """Bars where ``mask`` is true, ascending, with ``n`` appended as a sentinel."""
    out = np.flatnonzero(mask).tolist()
    out.append(n)
    return out


def entry_fraction(size: float) -> float:
    """The fraction of cash an entry commits: ``size``, or just below 1 for all of it (backtesting.py's
    full-equity default, so the sizing stays relative)."""
    return size if size < 1 else _FULL_EQUITY


def entry_units(cash: float, price: float, fraction: float, commission: float, unit: float) -> float:
    """Units an entry of ``fraction`` of ``cash`` buys at ``price`` with ``commission`` inside it,
    rounded down to ``unit`` (whole units, IDX lots of 100, or a fractional crypto step).

    The one sizing rule: the backtest sizes every entry with it and so does a deployment's order
    (``core.deployment.sizing``), which is why a paper deployment buys exactly what ``/run`` shows and a
    100 % entry always leaves room for its fee. Float operations are backtesting.py's, in its order.
    """
    f, c = fraction, commission
    if unit == int(unit):
        lot = int(unit)
        return int((cash * f) // (price + f * price * c / f)) // lot * lot
    decimals = max(0, -math.floor(math.log10(unit))) + 6
    steps = math.floor((cash * f) / (price + f * price * c / f) / unit + 1e-9)
    return round(steps * unit, decimals) if steps > 0 else 0


def _sizer(config: BacktestConfig):
    """``units(cash, price)``: :func:`entry_units` with the run's size, commission and unit."""
    f = entry_fraction(config.size)
    c = config.commission
    unit = config.unit

    def units(cash: float, price: float) -> float:
        return entry_units(cash, price, f, c, unit)

    if unit == int(unit):
        units.whole = (f, int(unit))  # type: ignore[attr-defined]  # for _long_only_plan's batch sizing
    return units


def run_backtest(
    frame: pd.DataFrame,
    buy,
    sell,
    short=None,
    cover=None,
    config: BacktestConfig = DEFAULT_CONFIG,
    *,
    warmup: int = 0,
    prepared: PreparedBars | None = None,
) -> BacktestResult:
    """Backtest entry/exit signals on OHLC bars (semantics in the module docstring).

    ``frame``: DatetimeIndex, float columns ``open high low close`` (``volume`` unused). ``buy``,
    ``sell``, ``short``, ``cover``: one bool per bar (numpy arrays or Series; NaN counts as false), or
    None for never; ``short=None`` makes the run long-only. ``warmup``: signals on earlier bars are
    ignored, and Buy & Hold is measured from ``close[warmup]`` (backtesting.py's indicator warm-up).
    Raises ``Invalid`` for unusable input. ``prepared``: :func:`prepare_bars` of this very ``frame``,
    for many runs on the same bars.
    """
    run = _run(frame, buy, sell, short, cover, config, warmup, prepared)
    index = frame.index
    closed = run.closed
    trades = pd.DataFrame({
        "Size": closed.size,
        "EntryBar": closed.entry_bar,
        "ExitBar": closed.exit_bar,
        "EntryPrice": closed.entry_price,
        "ExitPrice": closed.exit_price,
        "SL": closed.stop,
        "TP": closed.target,
        "PnL": closed.trades.pnl,
        "Commission": closed.trades.commission,
        "ReturnPct": closed.trades.returns,
        "EntryTime": closed.entry_time,
        "ExitTime": closed.exit_time,
        "Duration": closed.trades.duration,
        "ExitReason": closed.reasons,
    }, copy=False)  # fmt: skip
    open_trade = None
    if run.open_entry is not None:
        e, size, entry, sl, tp = run.open_entry
        open_trade = _open_trade(index, run.close, config.commission, e, size, entry, sl, tp)
    stats = stats_table(compute_stats_of(closed.trades, run.equity, frame, warmup=run.warmup, facts=run.facts))
    return BacktestResult(trades=trades, open_trade=open_trade,
                          equity=pd.Series(run.equity, index=index, name="Equity"), stats=stats, config=config)


def backtest_stats(
    frame: pd.DataFrame,
    buy,
    sell,
    short=None,
    cover=None,
    config: BacktestConfig = DEFAULT_CONFIG,
    *,
    warmup: int = 0,
    prepared: PreparedBars | None = None,
) -> dict[str, Any]:
    """``run_backtest(...).stats`` as a dict (same keys, order and values: the same run and the same
    statistics code on the same arrays), without the trades frame, the equity series and the table:
    for an optimiser's grid, where those pandas objects per set cost more than the backtest."""
    run = _run(frame, buy, sell, short, cover, config, warmup, prepared)
    return compute_stats_of(run.closed.trades, run.equity, frame, warmup=run.warmup, facts=run.facts)


@dataclass(frozen=True, slots=True)
class _Closed:
    """The closed trades' columns (``BacktestResult.trades``) as arrays; ``trades`` those the
    statistics read."""

    size: np.ndarray
    entry_bar: np.ndarray
    exit_bar: np.ndarray
    entry_price: np.ndarray
    exit_price: np.ndarray
    stop: np.ndarray
    target: np.ndarray
    reasons: np.ndarray
    entry_time: np.ndarray | pd.DatetimeIndex
    exit_time: np.ndarray | pd.DatetimeIndex
    trades: ClosedTrades


@dataclass(frozen=True, slots=True)
class _Run:
    closed: _Closed
    open_entry: tuple[int, float, float, float, float] | None  # entry bar, size, price, stop, target
    equity: np.ndarray
    close: np.ndarray
    warmup: int
    facts: FrameFacts | None


def _run(frame, buy, sell, short, cover, config, warmup, prepared) -> _Run:
    """The backtest itself, its results as arrays (what :func:`run_backtest` and
    :func:`backtest_stats` both present)."""
    if not isinstance(config, BacktestConfig):
        raise Invalid("config must be a BacktestConfig")
    if prepared is not None and prepared.frame is not frame:
        raise Invalid("prepared bars are of another frame")
    open_, high, low, close = prepared.arrays if prepared is not None else _frame_arrays(frame)
    n = len(open_)
    if isinstance(warmup, bool) or not isinstance(warmup, int | np.integer) or not 0 <= warmup < n:
        raise Invalid(f"warmup must be a whole number of bars in [0, {n}), got {warmup!r}")
    warmup = int(warmup)
    shorts = short is not None
    buy_ = _signal("buy", buy, n, warmup)
    sell_ = _signal("sell", sell, n, warmup)
    short_ = _signal("short", short, n, warmup)
    cover_ = _signal("cover", cover, n, warmup) if shorts else np.zeros(n, dtype=bool)

    units = _sizer(config)
    c = config.commission
    sl = config.stop_loss
    tp = config.take_profit
    nan = math.nan
    long_stop = 1 - sl if sl is not None else nan
    long_target = 1 + tp if tp is not None else nan
    short_stop = 1 + sl if sl is not None else nan
    short_target = 1 - tp if tp is not None and tp < 1 else nan

    plan = None
    if not shorts and sl is None and tp is None:
        plan = _long_only_plan(buy_, sell_, open_, n, float(config.cash), c, units)
    if plan is None:
        plan = _simulate(buy_, sell_, short_, cover_, shorts, open_, low, high, n, warmup,
                         float(config.cash), c, units, (long_stop, long_target, short_stop, short_target))
    E, X, S, hits = plan

    int_sizes = config.unit == int(config.unit)
    e_arr: np.ndarray = np.array(E, dtype=np.int64)
    x_arr: np.ndarray = np.array(X, dtype=np.int64)
    s_arr: np.ndarray = np.array(S, dtype=np.int64 if int_sizes else np.float64)
    m = len(E)
    is_open = bool(m) and int(X[-1]) == n
    ep: np.ndarray = open_[e_arr]
    xp: np.ndarray = open_[np.minimum(x_arr, n - 1)]
    reasons: np.ndarray = np.full(m, "signal", dtype=object)
    for t, (hit_price, reason) in hits.items():
        xp[t] = hit_price
        reasons[t] = reason
    if is_open:
        xp[-1] = nan
        reasons[-1] = None
    long = s_arr > 0
    stop: np.ndarray = np.where(long, ep * long_stop, ep * short_stop)
    target: np.ndarray = np.where(long, ep * long_target, ep * short_target)

    # cash: start, minus each entry commission, plus each closed trade's PnL net of the exit commission;
    # a running sum over those terms in order (np.cumsum adds left to right, as the loop did)
    abs_s = np.abs(s_arr)
    entry_fee = abs_s * ep * c
    flows = np.empty(2 * m + 1)
    flows[0] = cash0 = float(config.cash)
    flows[1::2] = -entry_fee
    flows[2::2] = s_arr * (xp - ep) - abs_s * xp * c
    running = np.cumsum(flows)
    equity = _equity(n, close, cash0, e_arr, x_arr, s_arr, ep, running[1::2], running[2::2])

    broke = np.flatnonzero(equity <= 0)
    if len(broke):
        at = int(broke[0])
        keep = e_arr <= at
        e_arr, x_arr, s_arr, ep, xp, stop, target, reasons = (
            v[keep] for v in (e_arr, x_arr, s_arr, ep, xp, stop, target, reasons))
        liquidated = x_arr > at
        x_arr[liquidated] = at
        xp[liquidated] = close[at]
        reasons[liquidated] = "liquidation"
        is_open = False
        equity[at:] = 0.0

    open_entry = None
    if is_open:
        open_entry = (int(e_arr[-1]), s_arr[-1].item(), float(ep[-1]), float(stop[-1]), float(target[-1]))
    closed = slice(0, len(e_arr) - 1) if is_open else slice(None)
    return _Run(_closed_trades(frame.index, c, e_arr[closed], x_arr[closed], s_arr[closed], ep[closed], xp[closed],
                               stop[closed], target[closed], reasons[closed]),
                open_entry, equity, close, warmup, prepared.facts if prepared is not None else None)  # fmt: skip


def _long_only_plan(buy, sell, open_, n, cash, c, units):
    """Trades of a long-only run without stops, found with numpy over the signal bars, then sized in
    one pass over the trades: ``(E, X, S, {})`` as :func:`_simulate` (E and X as arrays), or None when
    some entry gets no units (that changes which signals act; :func:`_simulate` handles it).

    The position after each bar's signals is a two-state machine: ``buy`` alone sets long, ``sell``
    alone sets flat, both toggle (flat: the buy enters and the sell is ignored; long: the sell exits and
    the buy is ignored), neither keeps. So the state at each signal bar is the value of the last bar with
    exactly one signal, flipped once per two-signal bar since.
    """
    ev = np.flatnonzero(buy | sell)
    b = buy[ev]
    one = b != sell[ev]
    at = np.arange(len(ev))
    last_one = np.maximum.accumulate(np.where(one, at, -1))
    flips = np.cumsum(b & ~one)
    flips_then = np.where(last_one >= 0, flips[last_one], 0)
    state = np.where(last_one >= 0, b[last_one], False) ^ ((flips - flips_then) & 1).astype(bool)
    before = np.r_[False, state[:-1]]
    entries = ev[state & ~before] + 1
    exits = ev[~state & before] + 1
    entry_prices = open_[entries].tolist()
    exit_prices = open_[exits].tolist()
    E, X = entries, exits  # arrays (run_backtest takes lists or arrays): no round trip through lists
    if len(X) < len(E):
        X = np.append(exits, n)  # open at the end
        exit_prices.append(math.nan)
    S: list[float] = []
    add = S.append
    whole = getattr(units, "whole", None)
    if whole is not None:  # whole units: the sizing divisor for every entry at once (same float ops)
        f, lot = whole
        p = open_[entries]
        divisors = (p + f * p * c / f).tolist()
        moves = (np.asarray(exit_prices) - p).tolist()  # exit_price - price, each the same subtraction
        # the loop of the general case below with the sizing inlined: a grid of a thousand sets runs
        # it for every trade of every set (whole units apart from lots: no rounding to a lot)
        if lot == 1:
            for price, exit_price, move, divisor in zip(entry_prices, exit_prices, moves, divisors, strict=True):
                size = int((cash * f) // divisor)
                if size <= 0:
                    return None
                add(size)
                cash = (cash - size * price * c) + (size * move - size * exit_price * c)
                if cash <= 0:
                    return None
            return E, X, S, {}
        for price, exit_price, move, divisor in zip(entry_prices, exit_prices, moves, divisors, strict=True):
            size = int((cash * f) // divisor) // lot * lot
            if size <= 0:
                return None
            add(size)
            cash = (cash - size * price * c) + (size * move - size * exit_price * c)
            if cash <= 0:
                return None
        return E, X, S, {}
    for price, exit_price in zip(entry_prices, exit_prices, strict=True):
        size = units(cash, price)
        if size <= 0:
            return None
        add(size)
        cash = (cash - size * price * c) + (size * (exit_price - price) - size * exit_price * c)
        if cash <= 0:
            return None
    return E, X, S, {}


def _simulate(buy, sell, short, cover, shorts, open_, low, high, n, warmup, cash, c, units, levels):
    """The general run, one loop iteration per trade: ``(E, X, S, hits)`` with each trade's entry bar,
    exit bar (``n`` while open) and signed size, and ``hits[trade number] = (fill, "stop" | "target")``.

    Per trade: the next entry signal (``bisect`` in the signal bars), the size from the cash left, the
    next exit signal, and the first stop/target hit in between (numpy over the trade's window).
    """
    long_stop, long_target, short_stop, short_target = levels
    has_stops = any(v == v for v in levels)
    entry_at = _positions(buy | short, n) if shorts else _positions(buy, n)
    sell_at = _positions(sell, n)
    cover_at = _positions(cover, n)
    E: list[int] = []
    X: list[int] = []
    S: list[float] = []
    hits: dict[int, tuple[float, str]] = {}
    add_e, add_x, add_s = E.append, X.append, S.append
    k = warmup
    forced = 0  # side of a reversal entry signalled on bar k
    while True:
        if forced:
            s, side, forced = k, forced, 0
        else:
            s = entry_at[bisect_left(entry_at, k)]
            if s >= n:
                break
            side = 1 if not shorts or buy.item(s) else -1
        e = s + 1
        price = open_.item(e)
        size = units(cash, price)
        if size <= 0:
            k = s + 1
            continue
        cash -= size * price * c
        exits = sell_at if side > 0 else cover_at
        j = exits[bisect_left(exits, e)]
        signed = size * side
        add_e(e)
        add_s(signed)
        if has_stops:
            last = j if j < n else n - 1
            if side > 0:
                h, hit_price, reason = _first_hit(open_, low, high, e, last, price * long_stop,
                                                  price * long_target, 1)
            else:
                h, hit_price, reason = _first_hit(open_, high, low, e, last, price * short_stop,
                                                  price * short_target, -1)
            if h >= 0:
                hits[len(E) - 1] = (hit_price, reason)
                add_x(h)
                cash = cash + (signed * (hit_price - price) - size * hit_price * c)
                k = h
                if cash <= 0:
                    break  # the equity check in run_backtest ends the run here
                continue
        if j >= n:
            add_x(n)  # still open at the end
            break
        x = j + 1
        add_x(x)
        exit_price = open_.item(x)
        cash = cash + (signed * (exit_price - price) - size * exit_price * c)
        if cash <= 0:
            break
        if shorts and (short.item(j) if side > 0 else buy.item(j)):
            forced = -side
            k = j
        else:
            k = j + 1
    return E, X, S, hits


def _first_hit(open_, adverse, favourable, e, last, stop, target, side):
    """First bar in ``[e, last]`` where a trade's stop or target is reached: ``(bar, fill, reason)``, or
    ``(-1, nan, "")``. ``adverse``/``favourable`` are the lows/highs for a long (``side`` 1), the
    highs/lows for a short. The stop wins a bar where both are within range. Fills: the level, or the
    bar's open when the bar opened beyond it."""
    hs = ht = -1
    if stop == stop:  # not NaN
        w = adverse[e:last + 1] <= stop if side > 0 else adverse[e:last + 1] >= stop
        a = int(w.argmax())
        if w[a]:
            hs = e + a
            last = hs  # a target after the stop cannot matter
    if target == target:
        w = favourable[e:last + 1] >= target if side > 0 else favourable[e:last + 1] <= target
        a = int(w.argmax())
        if w[a]:
            ht = e + a
    if hs >= 0 and (ht < 0 or hs <= ht):
        o = open_.item(hs)
        return hs, (min(o, stop) if side > 0 else max(o, stop)), "stop"
    if ht >= 0:
        o = open_.item(ht)
        return ht, (max(o, target) if side > 0 else min(o, target)), "target"
    return -1, math.nan, ""


def _equity(n, close, cash0, e, x, s, ep, cae, cax) -> np.ndarray:
    """Equity at each close from the trades' change points: at an entry bar cash becomes the cash after
    the entry commission and the position ``s`` at ``ep``; at an exit bar the cash after the exit and no
    position (an entry on the same bar, a reversal, comes later and wins)."""
    m = len(e)
    at: np.ndarray = np.empty(2 * m + 1, dtype=np.int64)
    cash: np.ndarray = np.empty(2 * m + 1, dtype=np.float64)
    size: np.ndarray = np.zeros(2 * m + 1, dtype=np.float64)
    value: np.ndarray = np.zeros(2 * m + 1, dtype=np.float64)
    at[0], cash[0] = 0, cash0
    at[1::2], at[2::2] = e, x
    cash[1::2], cash[2::2] = cae, cax
    size[1::2] = s
    value[1::2] = s * ep
    if m and x[-1] >= n:  # open at the end: no exit change point
        at, cash, size, value = at[:-1], cash[:-1], size[:-1], value[:-1]
    last = np.r_[at[1:] != at[:-1], True]
    at, cash, size, value = at[last], cash[last], size[last], value[last]
    counts = np.diff(np.r_[at, n])
    # cash + (close * size - value), in one buffer (addition commutes exactly: the same values)
    out = np.multiply(close, np.repeat(size, counts))
    out -= np.repeat(value, counts)
    out += np.repeat(cash, counts)
    return out


def _closed_trades(index, c, e, x, s, ep, xp, sl, tp, reasons) -> _Closed:
    commission = np.abs(s) * xp * c + np.abs(s) * ep * c  # exit + entry, as backtesting.py adds them
    times = index.values if index.tz is None else index  # plain datetime64 is faster; keep a time zone
    entry_time = times[e]
    exit_time = times[x]
    duration = np.asarray(exit_time - entry_time)
    pnl = s * (xp - ep) - commission
    returns = np.copysign(1.0, s) * (xp / ep - 1) - commission / (np.abs(s) * ep)
    return _Closed(s, e, x, ep, xp, sl, tp, reasons, entry_time, exit_time,
                   ClosedTrades(e, x, pnl, returns, commission, duration))


def _open_trade(index, close, c, e, size, entry, sl, tp) -> pd.Series:
    last = float(close[-1])
    commission = abs(size) * entry * c
    return pd.Series({
        "Size": size,
        "EntryBar": e,
        "ExitBar": None,
        "EntryPrice": entry,
        "ExitPrice": math.nan,
        "SL": sl,
        "TP": tp,
        "PnL": size * (last - entry) - commission,
        "Commission": commission,
        "ReturnPct": math.copysign(1.0, size) * (last / entry - 1) - commission / (abs(size) * entry),
        "EntryTime": index[e],
        "ExitTime": pd.NaT,
        "Duration": index[-1] - index[e],
        "ExitReason": None,
    }, dtype=object)
