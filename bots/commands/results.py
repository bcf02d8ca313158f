"""How a backtest reads in chat: the key figures, the latest signal, the open position, the
last trades. /run, /simulate and /share's cards all render through here."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from core import format as fmt
from core.backtest.engine import BacktestConfig, BacktestResult
from core.market.symbols import IDX_LOT
from core.market.types import Candles, exchange_time, exchange_timezone, format_price, timezone_label

if TYPE_CHECKING:
    from core.strategy.service import StrategyView

TRADES_SHOWN = 5


def stat_lines(stats: Mapping[str, Any]) -> list[str]:
    """Two or three short lines of the key figures (backtesting.py's names, shortened)."""

    def pct(name: str) -> str:
        return fmt.signed(_num(stats.get(name)), 2, " %")

    def plain(name: str, digits: int = 2) -> str:
        value = _num(stats.get(name))
        return "n/a" if value is None else f"{value:,.{digits}f}"

    def percent(name: str) -> str:  # "n/a", not "n/a %", when there is no figure (no trades)
        value = plain(name, 1)
        return value if value == "n/a" else f"{value} %"

    trades = stats.get("# Trades")
    return [
        f"Return {pct('Return [%]')} · Buy & Hold {pct('Buy & Hold Return [%]')}",
        f"Max drawdown {pct('Max. Drawdown [%]')} · Trades {trades if trades is not None else 'n/a'} · "
        f"Win rate {percent('Win Rate [%]')}",
        f"Profit factor {plain('Profit Factor')} · Sharpe {plain('Sharpe Ratio')} · "
        f"Exposure {percent('Exposure Time [%]')}",
    ]


def backtest_lines(
    result: BacktestResult,
    candles: Candles,
    stats: Mapping[str, Any],
    config: BacktestConfig | None,
    last_signal: tuple[pd.Timestamp, str] | None = None,
) -> list[str]:
    """The block /run and /simulate share: key figures, the account, the latest signal (models
    only), the open position and the last trades."""
    lines = stat_lines(stats)
    if config is not None:
        lines.append(account_line(config.cash, config.commission, config.unit, candles.instrument.currency))
    if last_signal is not None:
        at, action = last_signal
        lines.append(
            f"Last signal: {action.upper()} on {bar_time(at, candles, zone=True)} (fills at the next bar's open)"
        )
    position = position_line(result, candles)
    if position:
        lines.append(position)
    return lines + trade_lines(result, candles)


def rule_lines(strategy: StrategyView) -> list[str]:
    """A technical strategy's rules as a reply and a share card show them."""
    lines = [f"Buy when all of: {'; '.join(r.condition for r in strategy.of('buy'))}"]
    if strategy.of("sell"):
        lines.append(f"Sell when any of: {'; '.join(r.condition for r in strategy.of('sell'))}")
    return lines


def share_command(name: str, ticker: str, interval: str, range_: str | None) -> str:
    """The /share line a run's "Share to a group" button sends."""
    return " ".join(p for p in (f"/share {name} {ticker} {interval}", range_ or "") if p)


def position_line(result: BacktestResult, candles: Candles) -> str | None:
    trade = result.open_trade
    if trade is None:
        return None
    size = float(trade["Size"])  # a Series: the engine's one open trade
    entry = float(trade["EntryPrice"])
    last = candles.last_close
    change = (last / entry - 1) * 100 * (1 if size > 0 else -1)
    side = "long" if size > 0 else "short"
    return (
        f"Open position: {side} {_units(abs(size))} @ {format_price(entry, candles.instrument)} since "
        f"{bar_time(trade['EntryTime'], candles)} ({fmt.signed(change, 2, ' %')})"
    )


def trade_lines(result: BacktestResult, candles: Candles, limit: int = TRADES_SHOWN) -> list[str]:
    trades = result.trades
    if trades is None or not len(trades):
        return []
    inst = candles.instrument
    shown = trades.tail(limit)
    lines = [f"Last {len(shown)} of {len(trades)} trades" if len(trades) > limit else "Trades"]
    lines[0] += f" (times {timezone_label(exchange_timezone(inst))}):" if candles.interval.intraday else ":"
    for row in shown.itertuples(index=False):
        side = "long" if float(row.Size) > 0 else "short"
        reason = str(getattr(row, "ExitReason", "") or "")
        why = f" ({reason})" if reason in ("stop", "target") else ""
        lines.append(
            f"  {bar_time(row.EntryTime, candles)} → {bar_time(row.ExitTime, candles)} {side} "
            f"{format_price(float(row.EntryPrice), inst)} → {format_price(float(row.ExitPrice), inst)}{why} "
            f"{fmt.signed(float(row.ReturnPct) * 100, 2, ' %')}"
        )
    return lines


def bar_time(at: object, candles: Candles, *, zone: bool = False) -> str:
    """A bar's time as a trade list shows it: the date for daily bars, date and time in the
    exchange's zone for intraday ones (``2026-12-07 14:05``, with ``WIB`` when ``zone``)."""
    stamp = pd.Timestamp(at)
    if stamp.tz is None:
        stamp = stamp.tz_localize("UTC")
    local = exchange_time(pd.DatetimeIndex([stamp]), candles.instrument, candles.interval.intraday)[0]
    if not candles.interval.intraday:
        return f"{local:%Y-%m-%d}"
    name = exchange_timezone(candles.instrument)
    suffix = f" {timezone_label(name).split(' ')[0]}" if zone else ""
    return f"{local:%Y-%m-%d %H:%M}{suffix}"


def heading(label: str, candles: Candles, range_: str | None) -> str:
    index = candles.frame.index
    span = f"{bar_time(index[0], candles)} – {bar_time(index[-1], candles, zone=True)}" if len(candles) else ""
    parts = [label, f"{candles.instrument.display} {candles.interval}", range_ or "", span]
    return " · ".join(p for p in parts if p)


def account_line(cash: float, commission: float, unit: float, currency: str | None) -> str:
    unit_text = f"lots of {IDX_LOT}" if unit == IDX_LOT else "whole units" if unit == 1 else f"steps of {unit:g}"
    return (
        f"Start {fmt.price(cash, currency)} {currency or ''} · commission {commission * 100:g} % a leg · "
        f"{unit_text}"
    ).replace("  ", " ")


def _units(size: float) -> str:
    return f"{size:,.0f}" if float(size).is_integer() else f"{size:,.6g}"


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
