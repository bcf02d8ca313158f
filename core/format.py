"""How numbers read in the bot's messages: prices, amounts, rupiah, percentages, sizes, durations.

One module for the commands (``bots/commands``), the jobs' alerts (``jobs/``) and the core's own
refusals, so that a price or a percentage reads the same wherever it is shown. A missing figure
reads ``n/a``. Prices keep their instrument's precision (``core.market.types.format_price``, which
the charts draw with too).
"""

from __future__ import annotations

import math

from core.market.types import Instrument, format_price

SAMPLE_NOTE = "SAMPLE DATA: synthetic prices for trying the bot, not real quotes."


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def price(
    value: float | None, currency: str | None = None, *, instrument: Instrument | None = None, symbol: str | None = None
) -> str:
    """Prices with the instrument's own precision: whole rupiah on IDX, EURUSD 1.2345, BTC 91,002.49,
    a small coin 0.0001234."""
    if _missing(value):
        return "n/a"
    return format_price(value, instrument, currency=currency, symbol=symbol)


def money(value: float | None, currency: str, signed: bool = False) -> str:
    """An amount with its currency, at that currency's precision: ``1,250,000 IDR``; ``signed`` shows
    a gain's ``+`` too (a P&L)."""
    if value is None:
        return "n/a"
    text = price(abs(value), currency)
    sign = ("+" if value > 0 else "-" if value < 0 else "") if signed else ("-" if value < 0 else "")
    return f"{sign}{text} {currency}".rstrip()


def signed(value: float | None, digits: int = 2, suffix: str = "") -> str:
    """``+1,234.50``, ``-0.75%``: a change, always with its sign."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:+,.{digits}f}{suffix}"


def net(value: float | None, digits: int = 0) -> str:
    """A net flow, signed: ``+1.23M`` from a million up, ``-45,000`` (``digits`` decimals) below."""
    if value is None:
        return "n/a"
    sign = "+" if value >= 0 else "-"
    shown = compact(abs(value)) if abs(value) >= 1e6 else f"{abs(value):,.{digits}f}"
    return sign + shown


def change(value: float | None, digits: int = 2) -> str:
    """A percentage change as alerts show it: ``+3.70%`` (no thousands separator)."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:+.{digits}f}%"


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
    """An indicator's value or a statistic: whole from 1,000 up, ``digits`` decimals below."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def quantity(value: float) -> str:
    """Units held or traded: ``1,500`` shares, a coin to its last digit (``0.00012``)."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.8f}".rstrip("0").rstrip(".")


def rupiah(amount: int) -> str:
    """A price in whole rupiah, as plans and purchases show it: ``Rp 150,000``."""
    return f"Rp {amount:,}"


def percent_text(bp: int) -> str:
    """Basis points as a percentage with only the decimals it needs: 1000 -> ``10 %``, 250 -> ``2.5 %``."""
    whole, rest = divmod(abs(bp), 100)
    sign = "-" if bp < 0 else ""
    return f"{sign}{whole} %" if not rest else f"{sign}{whole}.{rest:02d}".rstrip("0") + " %"


def size(n: int, byte_unit: str = "B") -> str:
    """``12 B``, ``3 KB``, ``1.5 MB``; ``byte_unit`` names the bytes below 1 KB (``bytes`` in lists)."""
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} {byte_unit}"


def duration(seconds: float) -> str:
    """A span of time to the unit that reads best: ``45 min``, ``6.5 h``, ``3.0 days``."""
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    hours = minutes / 60
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"
