"""The contract every market data source meets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from core.errors import Invalid
from core.market.symbols import looks_like_pair
from core.market.types import Candles, Instrument, Interval, Range, SearchHit, Source


@runtime_checkable
class MarketSource(Protocol):
    """A provider of candles and ticker search.

    Errors are domain errors with user-fit messages: ``NotFound`` for an unknown or
    delisted ticker, ``Unavailable`` for network failures and timeouts, ``Invalid``
    for an interval or range this source cannot serve.
    """

    source: Source
    provider: str  # label for replies and chart titles: "Yahoo Finance", "Binance", "CSV (sample)"

    def intervals(self) -> Sequence[str]:
        """Canonical interval codes this source serves."""
        ...

    def resolve(self, ticker: str) -> Instrument:
        """Map what a user typed to this source's symbol (``BBCA`` -> ``BBCA.JK``)."""
        ...

    async def fetch(self, instrument: Instrument, interval: Interval, range_: Range, now: datetime) -> Candles:
        """Bars of ``instrument`` covering ``range_`` back from ``now``, oldest first."""
        ...

    async def search(self, query: str, limit: int = 10) -> list[SearchHit]:
        """Instruments matching ``query``, best first."""
        ...


def check_interval(source: MarketSource, interval: Interval) -> None:
    supported = source.intervals()
    if interval.code not in supported:
        raise Invalid(
            f"{source.provider} has no {interval.code} candles",
            hint=f"{source.provider} intervals: " + " ".join(supported),
        )


def guess_source(ticker: str) -> Source:
    """Pick a source by ticker shape: pairs (``BTC/USDT``, ``ETHUSDT``) are Binance, the rest Yahoo."""
    return Source.BINANCE if looks_like_pair(ticker) else Source.YFINANCE
