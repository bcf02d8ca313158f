"""The market domain's vocabulary: sources, intervals, ranges and candle series."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import pandas as pd

from core.errors import Invalid
from core.market.symbols import IDX_SUFFIX, Market, currency_of, market_of
from core.market.symbols import price_decimals as _decimals


class Source(StrEnum):
    """Market data source. Spelling follows the Stoxlify Core API, typo included."""

    UNKNOWN = "UnknwonSource"  # pick by ticker shape
    YFINANCE = "YFinance"
    BINANCE = "Binance"


@dataclass(frozen=True, slots=True)
class Interval:
    """A candle width. ``code`` is the canonical spelling users see (``15m 1h 4h 1d 1w 1mo``)."""

    code: str
    delta: timedelta  # nominal width; a month counts 30 days for cache life and bar maths

    def __str__(self) -> str:
        return self.code

    @property
    def intraday(self) -> bool:
        return self.delta < timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Range:
    """How far back to fetch: ``1d 5d 1mo 3mo 6mo 1y 2y 5y 10y ytd max``."""

    code: str

    def __str__(self) -> str:
        return self.code

    def start(self, now: datetime) -> datetime | None:
        """First instant the range covers, or None for ``max``."""
        if self.code == "max":
            return None
        if self.code == "ytd":
            return now.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        return now - RANGE_SPANS[self.code]


_MINUTE = timedelta(minutes=1)
INTERVALS: dict[str, Interval] = {
    code: Interval(code, delta)
    for code, delta in [
        ("1m", _MINUTE),
        ("3m", 3 * _MINUTE),
        ("5m", 5 * _MINUTE),
        ("15m", 15 * _MINUTE),
        ("30m", 30 * _MINUTE),
        ("1h", timedelta(hours=1)),
        ("2h", timedelta(hours=2)),
        ("4h", timedelta(hours=4)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("1mo", timedelta(days=30)),
    ]
}

# What people type, mapped to the canonical code.
_INTERVAL_ALIASES = {
    "60m": "1h",
    "240m": "4h",
    "d": "1d",
    "1day": "1d",
    "day": "1d",
    "daily": "1d",
    "w": "1w",
    "1wk": "1w",
    "week": "1w",
    "weekly": "1w",
    "1mon": "1mo",
    "1month": "1mo",
    "month": "1mo",
    "monthly": "1mo",
    "1M": "1mo",
    "h": "1h",
    "1hr": "1h",
    "4hr": "4h",
}

RANGE_SPANS: dict[str, timedelta] = {
    "1d": timedelta(days=1),
    "5d": timedelta(days=5),
    "1mo": timedelta(days=31),
    "3mo": timedelta(days=92),
    "6mo": timedelta(days=183),
    "1y": timedelta(days=366),
    "2y": timedelta(days=731),
    "5y": timedelta(days=1827),
    "10y": timedelta(days=3653),
}
RANGE_CODES = [*RANGE_SPANS, "ytd", "max"]
_RANGE_ALIASES = {"1m": "1mo", "3m": "3mo", "6m": "6mo", "1w": "5d", "12mo": "1y", "all": "max"}

# A chart of about 120-250 candles reads well; this is the range used when none is given.
DEFAULT_RANGE = {
    "1m": "1d",
    "3m": "1d",
    "5m": "5d",
    "15m": "5d",
    "30m": "1mo",
    "1h": "1mo",
    "2h": "3mo",
    "4h": "3mo",
    "1d": "6mo",
    "1w": "2y",
    "1mo": "10y",
}

_INTERVAL_SHAPE = re.compile(r"^\d*(m|h|d|w|wk|mo|M|min|hr|day|week|month)$|^(daily|weekly|monthly)$")


def interval_code(text: str) -> str | None:
    """The canonical code of what a user typed (``1D``, ``1H``, ``daily``, ``1M`` for months), or None.
    Case matters only where it means something: ``1m`` is a minute, ``1M`` a month."""
    raw = text.strip()
    code = raw if raw in INTERVALS else _INTERVAL_ALIASES.get(raw) or _INTERVAL_ALIASES.get(raw.lower())
    if code is None and raw.lower() in INTERVALS:
        code = raw.lower()
    return code


def parse_interval(text: str) -> Interval:
    """Canonical interval for what a user typed; ``Invalid`` listing the choices otherwise."""
    code = interval_code(text)
    if code is None:
        raise Invalid(f"unknown interval '{text}'", hint="intervals: " + " ".join(INTERVALS))
    return INTERVALS[code]


def looks_like_interval(text: str) -> bool:
    return interval_code(text) is not None or bool(_INTERVAL_SHAPE.match(text))


def parse_range(text: str) -> Range:
    raw = text.strip().lower() if text != "1M" else "1mo"
    code = raw if raw in RANGE_CODES else _RANGE_ALIASES.get(raw)
    if code is None:
        raise Invalid(f"unknown range '{text}'", hint="ranges: " + " ".join(RANGE_CODES))
    return Range(code)


def looks_like_range(text: str) -> bool:
    raw = text.lower()
    return raw in RANGE_CODES or raw in _RANGE_ALIASES


def default_range(interval: Interval) -> Range:
    return Range(DEFAULT_RANGE[interval.code])


@dataclass(frozen=True, slots=True)
class Instrument:
    """A ticker resolved to one source: ``BBCA`` on YFinance is ``BBCA.JK``."""

    source: Source
    symbol: str  # the source's own symbol: BBCA.JK, ^JKSE, AAPL, BTC/USDT
    display: str  # what users typed or see: BBCA, BTCUSDT
    currency: str | None = None
    lot_size: int = 1  # IDX trades in lots of 100 shares

    # The facts below are decided in core.market.symbols; ask the instrument rather than its spelling.

    @property
    def market(self) -> Market:
        """Where it trades. Anything Binance serves is a crypto pair, even a bare ``BTC`` whose quote
        is settled at fetch time."""
        if self.source is Source.BINANCE:
            return Market.CRYPTO
        return market_of(self.symbol, self.currency, self.lot_size)

    @property
    def is_idx(self) -> bool:
        """Listed on the Indonesia Stock Exchange (prices in whole rupiah, stocks in lots of 100)."""
        return self.market.idx

    @property
    def is_crypto(self) -> bool:
        return self.market is Market.CRYPTO

    @property
    def price_currency(self) -> str | None:
        """``currency`` when known, else what the symbol implies: IDR on IDX, a pair's quote."""
        return currency_of(self.symbol, self.currency)


CANDLE_COLUMNS = ["open", "high", "low", "close", "volume"]


@dataclass(slots=True)
class Candles:
    """OHLCV bars of one instrument, oldest first.

    ``frame`` has a tz-aware UTC ``DatetimeIndex`` (bar open time) and float columns
    ``open high low close volume``. ``provider`` names where the bars came from for
    titles and replies; ``sample`` marks the shipped sample data, which every reply labels.
    """

    instrument: Instrument
    interval: Interval
    frame: pd.DataFrame
    provider: str
    sample: bool = False
    fetched_at: datetime | None = None
    name: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def last_close(self) -> float:
        return float(self.frame["close"].iloc[-1])


@dataclass(frozen=True, slots=True)
class SearchHit:
    symbol: str  # what to type in /market
    name: str
    exchange: str
    source: Source
    kind: str = ""  # EQUITY, INDEX, CRYPTO...
    score: float = 0.0


# --------------------------------------------------------------------------- exchange time and price precision

# Yahoo's suffix for a listing -> the exchange's time zone. No suffix is a US listing.
_SUFFIX_ZONES = {
    IDX_SUFFIX: "Asia/Jakarta",
    ".L": "Europe/London",
    ".T": "Asia/Tokyo",
    ".HK": "Asia/Hong_Kong",
    ".SI": "Asia/Singapore",
    ".KL": "Asia/Kuala_Lumpur",
    ".BK": "Asia/Bangkok",
    ".AX": "Australia/Sydney",
    ".TO": "America/Toronto",
    ".DE": "Europe/Berlin",
    ".PA": "Europe/Paris",
}
_ZONE_NAMES = {"Asia/Jakarta": "WIB", "America/New_York": "ET", "UTC": "UTC"}


def exchange_timezone(instrument: Instrument) -> str:
    """The IANA zone an instrument's exchange keeps time in: what charts and trade lists show.

    IDX is Asia/Jakarta (WIB); crypto and forex trade around the clock and read in UTC; a Yahoo
    listing follows its suffix (none: a US exchange, America/New_York).
    """
    if instrument.is_idx:
        return "Asia/Jakarta"
    if instrument.market in (Market.CRYPTO, Market.FOREX):
        return "UTC"
    symbol = instrument.symbol.upper()
    for suffix, zone in _SUFFIX_ZONES.items():
        if symbol.endswith(suffix):
            return zone
    return "America/New_York"


def timezone_label(zone: str) -> str:
    """``WIB (Asia/Jakarta)``, ``UTC``, ``ET (America/New_York)``: how a chart axis names its zone."""
    short = _ZONE_NAMES.get(zone)
    if zone == "UTC":
        return "UTC"
    return f"{short} ({zone})" if short else zone


def exchange_time(index: pd.Index, instrument: Instrument, intraday: bool = True) -> pd.DatetimeIndex:
    """Naive timestamps in the exchange's zone (tz-aware input; a naive index is returned as is).

    Daily and longer bars stamped at midnight UTC keep their dates: converting them west of UTC
    would move every bar to the day before.
    """
    idx = pd.DatetimeIndex(index)
    if idx.tz is None:
        return idx
    utc = idx.tz_convert("UTC")
    if not intraday and len(utc) and bool((utc.normalize() == utc).all()):
        return utc.tz_localize(None)
    return idx.tz_convert(exchange_timezone(instrument)).tz_localize(None)


def price_decimals(value: float, instrument: Instrument | None = None, *, currency: str | None = None,
                   symbol: str | None = None) -> int:  # fmt: skip
    """How many decimals a price of this instrument prints with (``core.market.symbols.price_decimals``):
    whole rupiah on IDX, five significant digits for forex, cents for stocks and large crypto prices,
    four significant digits for anything below 1. ``currency`` and ``symbol`` stand in for an instrument."""
    currency = currency or (instrument.currency if instrument else None)
    if instrument is not None and symbol is None:
        market = instrument.market
    else:
        market = market_of(symbol or (instrument.symbol if instrument else ""), currency)
    return _decimals(value, market, currency)


def format_price(value: float | None, instrument: Instrument | None = None, *, currency: str | None = None,
                 symbol: str | None = None) -> str:  # fmt: skip
    """``7,125`` for IDR, ``91,002.49`` for BTC, ``1.2345`` for EURUSD, ``0.0001234`` for a tiny coin."""
    if value is None or not math.isfinite(value):
        return "-"
    decimals = price_decimals(value, instrument, currency=currency, symbol=symbol)
    return f"{value:,.{decimals}f}"
