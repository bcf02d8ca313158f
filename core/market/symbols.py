"""What a ticker is, read from its spelling: market, currency, trading unit, price precision, and a
crypto pair's base and quote.

The one place these facts are decided. The market sources read typed tickers with it, the brokers
split order symbols with it, and ``core.market.types.Instrument`` exposes it as properties. It loads
no pandas (nor anything that does), so ``core.broker`` can use it without the data stack.

Spellings this module knows:

- ``BBCA.JK``: a stock on the Indonesia Stock Exchange (Yahoo's suffix), in whole rupiah, lots of 100;
  typed as the bare four-letter code ``BBCA``;
- ``^JKSE`` (typed ``JKSE``, ``IHSG`` or ``COMPOSITE``): the IDX Composite, an index, not tradeable;
- ``AAPL.US`` / ``AAPL:US``: a US stock typed with its market, ``AAPL`` once resolved;
- ``BTC/USDT``, ``BTC-USDT``, ``BTCUSDT``: a crypto pair, priced in its quote;
- ``EURUSD=X``: a Yahoo forex rate.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

IDX_SUFFIX = ".JK"  # Yahoo's suffix for the Indonesia Stock Exchange
IDX_CURRENCY = "IDR"
IDX_LOT = 100  # shares in one IDX lot: the smallest quantity an order may have
IDX_COMPOSITE = "^JKSE"  # Yahoo's symbol of the IDX Composite (IHSG)
IDX_COMPOSITE_CODE = "JKSE"  # how it is typed, shown and named in offline files
IDX_INDEX_ALIASES = frozenset({IDX_COMPOSITE_CODE, "IHSG", "COMPOSITE", IDX_COMPOSITE})  # what people type for it
US_SUFFIXES = (".US", ":US")  # a typed marker only: Yahoo spells US listings without a suffix
FOREX_SUFFIX = "=X"

# The currencies a concatenated pair (``BTCUSDT``) may end in, tried in this order and the first
# that fits wins. So a quote must come before every shorter quote it ends with: FDUSD, BUSD and TUSD
# before USD, BIDR before IDR (``BTCFDUSD`` is FDUSD-quoted, not a coin "BTCFD" in USD). Apart from
# that rule the order is how common the quote is; a test checks the rule.
CRYPTO_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "BIDR", "IDR", "USD", "EUR", "TRY", "BTC", "ETH", "BNB")

_IDX_CODE = re.compile(r"^[A-Z]{4}$")  # a listed company's code; shorter or longer plain codes are US tickers
_PAIR = re.compile(r"^([A-Z0-9]{2,12})[/\-]([A-Z0-9]{2,8})$")
_MIN_BASE = 2
# A typed ticker this short is a stock code, not a pair, even when it ends in a quote (a four-letter
# IDX code such as ABTC, a five-letter US ticker); the shortest pairs people type are ETHBTC-long.
_MIN_TYPED_PAIR = 6


class Market(StrEnum):
    """Where an instrument trades, which decides its currency, trading unit and clock."""

    IDX_STOCK = "IDX"  # whole rupiah, lots of 100, Jakarta time
    IDX_INDEX = "IDX index"  # ^JKSE: shown in rupiah, never traded
    US_STOCK = "US"
    CRYPTO = "crypto"  # fractional amounts, priced in the pair's quote, around the clock
    FOREX = "forex"
    OTHER = "other"  # another Yahoo listing (7203.T, ^GSPC), or nothing known

    @property
    def idx(self) -> bool:
        """On the Indonesia Stock Exchange: prices in whole rupiah."""
        return self in (Market.IDX_STOCK, Market.IDX_INDEX)


@dataclass(frozen=True, slots=True)
class Ticker:
    """What a typed ticker stands for, before any source is asked about it."""

    market: Market
    symbol: str  # the source's spelling: BBCA.JK, ^JKSE, AAPL, BTC/USDT
    display: str  # what users see and type back: BBCA, JKSE, AAPL, BTCUSDT
    currency: str | None = None
    lot_size: int = 1


def is_idx_symbol(symbol: str) -> bool:
    """``BBCA.JK`` (any case): a symbol with the IDX suffix. Bare codes are decided by ``read_ticker``."""
    text = symbol.strip().upper()
    return text.endswith(IDX_SUFFIX) and len(text) > len(IDX_SUFFIX)


def without_idx_suffix(symbol: str) -> str:
    """``bbca.jk`` -> ``BBCA``: upper case, the IDX suffix dropped (other symbols only upper-cased)."""
    return symbol.strip().upper().removesuffix(IDX_SUFFIX)


def split_pair(symbol: str) -> tuple[str, str] | None:
    """``BTC/USDT``, ``BTC-USDT``, ``btcusdt`` -> ``("BTC", "USDT")``; None when it is no pair.

    A concatenated pair splits at the first quote of ``CRYPTO_QUOTES`` it ends with that leaves a
    base of two characters or more. Whether a *typed* ticker is a pair at all is ``looks_like_pair``.
    """
    text = symbol.strip().upper()
    match = _PAIR.match(text)
    if match:
        return match.group(1), match.group(2)
    if not text.isalnum():
        return None
    for quote in CRYPTO_QUOTES:
        if text.endswith(quote) and len(text) >= len(quote) + _MIN_BASE:
            return text[: -len(quote)], quote
    return None


def looks_like_pair(typed: str) -> bool:
    """Whether what a user typed names a crypto pair: ``BTC/USDT``, or ``BTCUSDT`` of six characters or more.

    ``BTC-USD`` is not: that is Yahoo's spelling of its own crypto rates, so a dash stays with Yahoo.
    """
    text = typed.strip().upper()
    if "/" in text:
        return _PAIR.match(text) is not None
    return text.isalnum() and len(text) >= _MIN_TYPED_PAIR and split_pair(text) is not None


def read_stock_ticker(typed: str) -> Ticker:
    """A typed ticker as Yahoo serves it (the product is Indonesian-first, so no setting is needed):

    - a plain four-letter code is an IDX stock: ``BBCA`` -> ``BBCA.JK``, as is ``bbca.jk``;
    - ``JKSE``, ``IHSG`` and ``^JKSE`` are the IDX Composite ``^JKSE``;
    - a ``.US`` or ``:US`` suffix marks a US ticker and is stripped: ``AAPL.US`` -> ``AAPL``
      (four-letter US tickers need it, the others may use it);
    - anything else passes through as Yahoo spells it (``^GSPC``, ``BTC-USD``, ``USDIDR=X``, ``MSFT``),
      with what its suffix says: another ``.JK`` listing (a warrant) is IDX, ``=X`` is forex.

    The caller refuses an empty ticker with its own hint.
    """
    raw = typed.strip().upper()
    if raw in IDX_INDEX_ALIASES:
        return Ticker(Market.IDX_INDEX, IDX_COMPOSITE, IDX_COMPOSITE_CODE, IDX_CURRENCY)
    if raw.endswith(US_SUFFIXES) and len(raw) > 3:
        sym = raw[:-3]
        return Ticker(Market.US_STOCK, sym, sym, "USD")
    code = without_idx_suffix(raw)
    if _IDX_CODE.match(code):
        return Ticker(Market.IDX_STOCK, code + IDX_SUFFIX, code, IDX_CURRENCY, IDX_LOT)
    if is_idx_symbol(raw):  # on IDX, yet not a company code: typed back as it is
        return Ticker(Market.IDX_STOCK, raw, raw, IDX_CURRENCY, IDX_LOT)
    return Ticker(market_of(raw), raw, raw)


def typed_stock_ticker(symbol: str) -> str:
    """What a user types to get a Yahoo ``symbol`` back through ``read_stock_ticker``: ``BBCA.JK`` ->
    ``BBCA``, ``^JKSE`` -> ``JKSE``, a four-letter US ``MSFT`` -> ``MSFT.US`` (else it reads as IDX)."""
    sym = symbol.strip().upper()
    if sym == IDX_COMPOSITE:
        return IDX_COMPOSITE_CODE
    code = without_idx_suffix(sym)
    if is_idx_symbol(sym) and _IDX_CODE.match(code):
        return code
    if _IDX_CODE.match(sym):
        return f"{sym}.US"
    return sym


def market_of(symbol: str, currency: str | None = None, lot_size: int | None = None) -> Market:
    """The market of a source's symbol (``BBCA.JK``, ``^JKSE``, ``BTC/USDT``, ``AAPL``, ``EURUSD=X``).

    A bare code with rupiah prices (an offline file's ``BBCA``) is IDX too: an index when it trades
    one unit at a time (``lot_size`` 1), a stock otherwise. A plain code in dollars, or with no
    currency known yet, is a US stock: Yahoo spells every other exchange with a suffix.
    """
    text = symbol.strip().upper()
    money = (currency or "").upper()
    if "/" in text:  # every crypto source here spells its pairs BASE/QUOTE once resolved
        return Market.CRYPTO
    if text.endswith(FOREX_SUFFIX):
        return Market.FOREX
    if text in IDX_INDEX_ALIASES:
        return Market.IDX_INDEX
    if is_idx_symbol(text):
        return Market.IDX_STOCK
    if money == IDX_CURRENCY:
        return Market.IDX_INDEX if lot_size == 1 else Market.IDX_STOCK
    if text.isalpha() and money in ("", "USD"):
        return Market.US_STOCK
    return Market.OTHER


def currency_of(symbol: str, currency: str | None = None) -> str | None:
    """The currency prices are in: ``currency`` when known, else what the symbol says (rupiah on
    IDX, a pair's quote); None when the symbol does not tell (``AAPL`` before Yahoo answers)."""
    if currency:
        return currency.upper()
    if market_of(symbol).idx:
        return IDX_CURRENCY
    pair = split_pair(symbol) if "/" in symbol else None
    return pair[1] if pair else None


def money_decimals(currency: str | None) -> int:
    """Decimals an amount of money prints with: none for rupiah (no coin is smaller), cents otherwise."""
    return 0 if (currency or "").upper() == IDX_CURRENCY else 2


def price_decimals(value: float, market: Market = Market.OTHER, currency: str | None = None) -> int:
    """How many decimals a price prints with: whole rupiah on IDX (and any rupiah price), five
    significant digits for forex (EURUSD 1.2345, USDJPY 155.23), cents for stocks and large crypto
    prices, four significant digits for anything below 1."""
    if market.idx or money_decimals(currency) == 0:
        return 0
    magnitude = abs(value)
    if magnitude == 0:
        return 2
    digits = math.floor(math.log10(magnitude))
    if market is Market.FOREX:  # five significant digits, as dealers quote
        return max(0, 4 - digits)
    # An amount in a currency alone (a fee, a P&L) is money: cents. A crypto pair's price gets more.
    crypto = market is Market.CRYPTO
    if magnitude >= 1000 or (magnitude >= 1 and not crypto):
        return 2
    if magnitude >= 1:
        return 4
    return min(10, 3 - digits)  # four significant digits below 1
