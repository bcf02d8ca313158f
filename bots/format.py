"""Number and text formatting shared by every command's rendering."""

from __future__ import annotations

import math

from core.market.types import Instrument, format_price


def price(
    value: float | None, currency: str | None = None, *, instrument: Instrument | None = None, symbol: str | None = None
) -> str:
    """Prices with the instrument's own precision (``core.market.types.format_price``, which the
    charts use too): whole rupiah on IDX, EURUSD 1.2345, BTC 91,002.49, a small coin 0.0001234."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return format_price(value, instrument, currency=currency, symbol=symbol)


def signed(value: float | None, digits: int = 2, suffix: str = "") -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:+,.{digits}f}{suffix}"


def arrow(value: float | None) -> str:
    if value is None or value == 0:
        return "■"
    return "▲" if value > 0 else "▼"


def compact(value: float | None) -> str:
    """1234567 -> 1.23M: volumes and market caps."""
    if value is None or math.isnan(value):
        return "n/a"
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.2f}{unit}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def number(value: float | None, digits: int = 2) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


SAMPLE_NOTE = "SAMPLE DATA: synthetic prices for trying the bot, not real quotes."
