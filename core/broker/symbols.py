"""A broker symbol's base asset and the currency it is paid in, as orders need them.

The facts themselves (what is IDX, which quotes a pair may have) live in ``core.market.symbols``,
which loads no pandas; this module adds what a broker needs on top: a refusal for a symbol no
balance can pay for, and ccxt's spelling.
"""

from __future__ import annotations

from core.broker.types import OrderRejected
from core.market.symbols import IDX_CURRENCY, IDX_LOT, is_idx_symbol, split_pair

__all__ = ["IDX_LOT", "is_idx", "split_symbol", "unified"]

is_idx = is_idx_symbol  # BBCA.JK: whole lots of IDX_LOT shares, paid in rupiah


def split_symbol(symbol: str) -> tuple[str, str]:
    """``BBCA.JK`` -> ``("BBCA.JK", "IDR")``; ``BTC/USDT``, ``BTC-USDT``, ``BTCUSDT`` -> ``("BTC", "USDT")``.

    OrderRejected for anything else: an order must know which balance pays for it.
    """
    if is_idx_symbol(symbol):
        return symbol.strip().upper(), IDX_CURRENCY
    pair = split_pair(symbol)
    if pair is None:
        raise OrderRejected(f"'{symbol[:32]}' is neither an IDX stock (BBCA.JK) nor a crypto pair (BTC/USDT)")
    return pair


def unified(symbol: str) -> str:
    """ccxt's spelling of a spot pair: ``BTCUSDT`` -> ``BTC/USDT``."""
    base, quote = split_symbol(symbol)
    return f"{base}/{quote}"
