"""What /run and /simulate share around the engine: the account a backtest starts with, the
chart (price, plots, buy/sell markers, equity under it) and the key figures a reply shows.

The engine (``core.backtest.engine``) is pure numpy; this module knows the market types and
settings, so that models and strategies trade on the same terms.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.backtest.engine import BacktestConfig, BacktestResult, run_backtest
from core.market.types import Candles, Instrument, Source

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


def is_crypto(instrument: Instrument) -> bool:
    return instrument.source is Source.BINANCE or "/" in instrument.symbol


def config_for(
    instrument: Instrument,
    settings: Settings,
    *,
    stop_loss: float | None = None,
    take_profit: float | None = None,
) -> BacktestConfig:
    """Cash in the instrument's currency, the market's commission, and its trading unit:
    IDX lots of 100 shares, whole shares elsewhere, fractional crypto in the configured step."""
    crypto = is_crypto(instrument)
    idr = (instrument.currency or "").upper() == "IDR" or instrument.symbol.upper().endswith(".JK")
    return BacktestConfig(
        cash=settings.backtest_cash_idr if idr else settings.backtest_cash_usd,
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


async def render_report_chart(
    candles: Candles,
    title: str,
    lines: Sequence[ChartLine],
    result: BacktestResult | None,
    settings: Settings,
) -> bytes:
    """Price with the model's plots and the fills, and the equity curve in a panel under it."""
    from core.charts.candles import ChartMarker, render_candles_async

    # A long's entry and a short's cover buy; a long's exit and a short's entry sell.
    markers = [ChartMarker(at, "buy" if kind in ("buy", "cover") else "sell") for at, kind, _ in result.markers()] if result else []
    return await render_candles_async(
        candles,
        title=title,
        width_px=settings.chart_width_px,
        height_px=settings.chart_height_px,
        max_candles=settings.chart_max_candles,
        markers=markers,
        lines=lines,
        equity=result.equity if result is not None else None,
    )


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
        backtest = await asyncio.to_thread(run_backtest, trade_frame, *signals, config, warmup=first)
    candles = dataclasses.replace(shown, frame=trade_frame)  # keeps every other field, extra included
    png = await render_report_chart(candles, title, lines, backtest, settings) if chart else None
    return Report(candles, backtest, config, png, key_stats(backtest.stats) if backtest is not None else {})
