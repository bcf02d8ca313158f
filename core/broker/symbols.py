"""What a broker symbol trades: its base asset and the currency it is paid in.

Kept apart from ``core.market`` (which loads pandas) so a broker can be used without it.
"""

from __future__ import annotations

import re

from core.broker.types import OrderRejected

# Longest first, so BTCFDUSD is FDUSD-quoted rather than USD-quoted.
_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "BIDR", "IDR", "USD", "EUR", "TRY", "BTC", "ETH", "BNB")
_PAIR = re.compile(r"^([A-Z0-9]{2,12})[/\-]([A-Z0-9]{2,8})$")
IDX_SUFFIX = ".JK"
IDX_LOT = 100


def is_idx(symbol: str) -> bool:
    return symbol.strip().upper().endswith(IDX_SUFFIX)


def split_symbol(symbol: str) -> tuple[str, str]:
    """``BBCA.JK`` -> ``("BBCA.JK", "IDR")``; ``BTC/USDT``, ``BTC-USDT``, ``BTCUSDT`` -> ``("BTC", "USDT")``.

    OrderRejected for anything else: an order must know which balance pays for it.
    """
    text = symbol.strip().upper()
    if text.endswith(IDX_SUFFIX) and len(text) > len(IDX_SUFFIX):
        return text, "IDR"
    match = _PAIR.match(text)
    if match:
        return match.group(1), match.group(2)
    if text.isalnum():
        for quote in _QUOTES:
            if text.endswith(quote) and len(text) >= len(quote) + 2:
                return text[: -len(quote)], quote
    raise OrderRejected(f"'{symbol[:32]}' is neither an IDX stock (BBCA.JK) nor a crypto pair (BTC/USDT)")


def unified(symbol: str) -> str:
    """ccxt's spelling of a spot pair: ``BTCUSDT`` -> ``BTC/USDT``."""
    base, quote = split_symbol(symbol)
    return f"{base}/{quote}"
