"""What /run and /simulate share around the engine: the account a backtest starts with, the
chart (price, plots, buy/sell markers, equity under it) and the key figures a reply shows.

The engine (``core.backtest.engine``) is pure numpy; this module knows the market types and
settings, so that models and strategies trade on the same terms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.backtest.engine import BacktestConfig, BacktestResult
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
        commission=settings.backtest_commission_crypto if crypto else settings.backtest_commission_stocks,
        unit=settings.backtest_crypto_step if crypto else float(max(1, instrument.lot_size)),
        stop_loss=stop_loss,
        take_profit=take_profit,
    )


@dataclass(frozen=True, slots=True)
class Fill:
    """A trade's entry or exit as a chart marker and a reply line."""

    at: pd.Timestamp
    side: str  # buy | sell (a short's entry is a sell, its cover a buy)
    price: float
    action: str  # buy | sell | short | cover | stop | target


def fills_of(result: BacktestResult) -> list[Fill]:
    """Every entry and exit, in time order (the open trade's entry included)."""
    frames = [result.trades]
    if result.open_trade is not None:
        frames.append(pd.DataFrame([result.open_trade]))
    out: list[Fill] = []
    for frame in frames:
        if frame is None or not len(frame):
            continue
        for row in frame.itertuples(index=False):
            size = float(row.Size)
            long = size > 0
            out.append(Fill(pd.Timestamp(row.EntryTime), "buy" if long else "sell", float(row.EntryPrice),
                            "buy" if long else "short"))  # fmt: skip
            exit_time = getattr(row, "ExitTime", None)
            exit_price = getattr(row, "ExitPrice", None)
            if exit_time is None or pd.isna(exit_time) or exit_price is None or pd.isna(exit_price):
                continue
            reason = str(getattr(row, "ExitReason", "signal") or "signal")
            action = {"stop": "stop", "target": "target"}.get(reason, "sell" if long else "cover")
            out.append(Fill(pd.Timestamp(exit_time), "sell" if long else "buy", float(exit_price), action))
    out.sort(key=lambda f: f.at)
    return out


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

    markers = [ChartMarker(f.at, "buy" if f.side == "buy" else "sell") for f in fills_of(result)] if result else []
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
