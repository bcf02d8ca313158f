"""What /run and /simulate share around the engine: the account a backtest starts with, the
chart (price, plots, buy/sell markers, equity under it) and the key figures a reply shows.

The engine (``core.backtest.engine``) is pure numpy; this module knows the market types and
settings, so that models and strategies trade on the same terms.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.backtest.engine import BacktestConfig, BacktestResult, run_backtest
from core.compute import Compute, Task
from core.market.symbols import IDX_CURRENCY
from core.market.types import Candles, Instrument, exchange_timezone

if TYPE_CHECKING:
    from core.charts.candles import ChartLine
    from core.config import Settings

# Stats shown in replies and share cards, in this order (backtesting.py's names).
KEY_STATS = (
    "Return [%]",
    "Buy & Hold Return [%]",
    "Max. Drawdown [%]",
    "# Trades",
    "Win Rate [%]",
    "Profit Factor",
    "Sharpe Ratio",
    "Exposure Time [%]",
)


def config_for(
    instrument: Instrument,
    settings: Settings,
    *,
    stop_loss: float | None = None,
    take_profit: float | None = None,
) -> BacktestConfig:
    """Cash in the instrument's currency, the market's commission, and its trading unit:
    IDX lots of 100 shares, whole shares elsewhere, fractional crypto in the configured step."""
    crypto = instrument.is_crypto
    return BacktestConfig(
        cash=settings.backtest_cash_idr if instrument.price_currency == IDX_CURRENCY else settings.backtest_cash_usd,
        commission=settings.commission(crypto=crypto),
        unit=settings.backtest_crypto_step if crypto else float(max(1, instrument.lot_size)),
        stop_loss=stop_loss,
        take_profit=take_profit,
    )


def key_stats(stats: pd.Series) -> dict[str, float | int | None]:
    """The figures a reply or share card shows, as plain JSON-able numbers (None for NaN)."""
    out: dict[str, float | int | None] = {}
    for name in KEY_STATS:
        value: Any = stats.get(name)
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            out[name] = None
        elif isinstance(value, (int, np.integer)):
            out[name] = int(value)
        else:
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            out[name] = number if math.isfinite(number) else None
    return out


def report_title(label: str, candles: Candles, range_: str | None, stats: dict[str, Any] | None) -> tuple[str, str]:
    """The chart's heading and its figures line: the model, ticker, interval, range and the
    tested dates; then return, buy & hold, drawdown, trades and win rate."""
    from core.market.types import default_range, exchange_time

    frame = candles.frame
    code = range_ or default_range(candles.interval).code
    span = ""
    if len(frame):
        ends = exchange_time(frame.index[[0, -1]], candles.instrument, candles.interval.intraday)
        form = "%Y-%m-%d %H:%M" if candles.interval.intraday else "%Y-%m-%d"
        span = f"{ends[0]:{form}} – {ends[1]:{form}}"
    title = " · ".join(p for p in (label, candles.instrument.display, str(candles.interval), code, span) if p)
    if not stats:
        return title, ""

    def pct(name: str, digits: int = 2, sign: bool = True) -> str:
        value = stats.get(name)
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return "n/a"
        return f"{value:+.{digits}f} %" if sign else f"{value:.{digits}f} %"

    trades = stats.get("# Trades")
    figures = (
        f"Return {pct('Return [%]')} · Buy & Hold {pct('Buy & Hold Return [%]')} · "
        f"Max drawdown {pct('Max. Drawdown [%]')} · Trades {trades if trades is not None else 'n/a'} · "
        f"Win rate {pct('Win Rate [%]', 1, sign=False)}"
    )
    return title, figures


async def render_report_chart(
    candles: Candles,
    title: str,
    lines: Sequence[ChartLine],
    result: BacktestResult | None,
    settings: Settings,
    *,
    compute: Compute,
    task: Task,
    subtitle: str | None = None,
    cash: float | None = None,
) -> bytes:
    """Every bar of the tested range (aggregated when more than fit) with the model's plots and a
    mark for every fill, and the equity curve from the starting ``cash`` in a panel under it."""
    from core.charts.candles import ChartMarker, render_candles

    # A long's entry and a short's cover buy; a long's exit and a short's entry sell.
    markers = (
        [ChartMarker(at, "buy" if kind in ("buy", "cover") else "sell") for at, kind, _ in result.markers()]
        if result
        else []
    )
    job = partial(
        render_candles,
        candles,
        (),
        title=title,
        subtitle=subtitle or None,
        width_px=settings.chart_width_px,
        height_px=settings.chart_height_px,
        max_candles=settings.chart_max_candles,
        whole=True,
        markers=tuple(markers) or None,
        lines=tuple(lines),
        equity=result.equity if result is not None else None,
        equity_start=cash,
    )
    return await compute.run(job, task=task)


@dataclass(frozen=True, slots=True)
class Report:
    """A run over the shown range: its candles, the backtest (None for an indicator), the chart."""

    candles: Candles  # the shown instrument and interval over the traded bars
    backtest: BacktestResult | None
    config: BacktestConfig | None
    chart: bytes | None
    stats: dict[str, Any] = field(default_factory=dict)


def trading_start(shown: Candles, history: pd.DataFrame) -> int:
    """Where the shown range starts in the longer ``history`` (signals are computed on all of it,
    so indicators are settled where trading starts; the backtest trades from here)."""
    return int(history.index.searchsorted(shown.frame.index[0]))


async def backtest_report(
    shown: Candles,
    history: pd.DataFrame,
    start: int,
    settings: Settings,
    *,
    title: str,
    signals: tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None, np.ndarray | None] | None,
    lines: Sequence[ChartLine] = (),
    stop_loss: float | None = None,
    take_profit: float | None = None,
    chart: bool = True,
    warmup: int = 0,
    range_: str | None = None,
    compute: Compute,
    user_id: int | None = None,
) -> Report:
    """Backtest (buy, sell, short, cover), each over ``history[start:]``, unless ``signals`` is None
    (an indicator), and draw the chart: what /run and /simulate share. ``warmup`` is the first bar
    of ``history`` where the signals' indicators all have values: when it lies inside the traded
    range, trading and Buy & Hold start there (backtesting.py's warm-up), not at the range's start."""
    trade_frame = history.iloc[start:]
    backtest = config = None
    if signals is not None:
        config = config_for(shown.instrument, settings, stop_loss=stop_loss, take_profit=take_profit)
        first = max(0, min(warmup - start, len(trade_frame) - 1))
        job = partial(run_backtest, trade_frame, *signals, config, warmup=first)
        backtest = await compute.run(job, task=Task(user_id, label="the backtest"))
    candles = dataclasses.replace(shown, frame=trade_frame)  # keeps every other field, extra included
    stats = key_stats(backtest.stats) if backtest is not None else {}
    png = None
    if chart:
        heading, figures = report_title(title, candles, range_, stats)
        cash = config.cash if config is not None else None
        png = await render_report_chart(candles, heading, lines, backtest, settings, compute=compute,
                                        task=Task(user_id, label="the chart"), subtitle=figures, cash=cash)  # fmt: skip
    return Report(candles, backtest, config, png, stats)


BACKTEST_CSV_COLUMNS = (
    "trade", "side", "size", "entry_time", "entry_price", "exit_time", "exit_price",
    "commission", "pnl", "return_pct", "exit_reason", "bars",
)  # fmt: skip


def trades_csv(result: BacktestResult, candles: Candles) -> bytes:
    """Every trade of a backtest as CSV (UTF-8, a header row): times in ISO 8601 in the exchange's
    time zone, prices and money unrounded, ``return_pct`` in percent. A trade still open at the end
    is the last row, ``exit_reason`` ``open``, its P&L marked to the last close."""
    import csv
    import io

    zone = exchange_timezone(candles.instrument)

    def when(value: Any) -> str:
        if value is None or pd.isna(value):
            return ""
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize("UTC") if stamp.tz is None else stamp
        return stamp.tz_convert(zone).isoformat()

    def num(value: Any) -> str:
        if value is None:
            return ""
        number = float(value)
        return "" if not math.isfinite(number) else repr(number)

    rows = [row for _, row in result.trades.iterrows()]
    if result.open_trade is not None:
        rows.append(result.open_trade)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(BACKTEST_CSV_COLUMNS)
    for number, row in enumerate(rows, 1):
        size = float(row["Size"])
        still_open = row.get("ExitBar") is None or pd.isna(row.get("ExitTime"))
        entry_bar, exit_bar = row.get("EntryBar"), row.get("ExitBar")
        bars = "" if still_open or entry_bar is None else str(int(exit_bar) - int(entry_bar))
        writer.writerow([
            number, "long" if size > 0 else "short", num(abs(size)),
            when(row["EntryTime"]), num(row["EntryPrice"]),
            "" if still_open else when(row["ExitTime"]), "" if still_open else num(row["ExitPrice"]),
            num(row["Commission"]), num(row["PnL"]), num(float(row["ReturnPct"]) * 100),
            "open" if still_open else str(row.get("ExitReason") or ""), bars,
        ])  # fmt: skip
    return out.getvalue().encode("utf-8")


def trades_csv_name(label: str, candles: Candles) -> str:
    frame = candles.frame
    span = f"_{frame.index[0]:%Y%m%d}-{frame.index[-1]:%Y%m%d}" if len(frame) else ""
    return f"{label}_{candles.instrument.display}_{candles.interval}{span}_trades.csv"
