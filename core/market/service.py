"""Market service: Get Market Info, Search Market Ticker, and the candles every other domain uses.

Sources are picked by the request (``Source``) or, for ``UnknwonSource``, by ticker shape.
In offline mode one CSV source serves every ticker. Candles go through ``CandleCache`` so a
series is fetched once per candle however many callers want it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from core.compute import Compute, InlineCompute, Task
from core.config import Settings
from core.errors import Invalid
from core.market.cache import CandleCache, candle_close
from core.market.fundamentals import Fundamentals
from core.market.indicator_compute import IndicatorResult, compute_many
from core.market.indicator_specs import IndicatorSpec, parse_spec
from core.market.shared_candles import SharedCandles
from core.market.sources.base import MarketSource, check_interval, guess_source
from core.market.types import (
    Candles,
    Interval,
    Range,
    SearchHit,
    Source,
    default_range,
    parse_interval,
    parse_range,
)

MAX_INDICATORS = 6
# The range fetched to warm indicators up when a chart shows the key range.
WARM_UP_RANGE = {
    "1d": "5d", "5d": "1mo", "1mo": "3mo", "3mo": "6mo", "6mo": "1y", "ytd": "2y", "1y": "2y", "2y": "5y",
    "5y": "10y", "10y": "max",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Quote:
    """The latest price and how it moved.

    ``change`` and ``change_pct`` compare the last price with the previous session's close
    (the previous bar for daily and longer intervals). ``range_low``/``range_high`` span the
    last session (``range_label`` says which: day, week or month).
    """

    price: float
    previous_close: float | None
    change: float | None
    change_pct: float | None
    range_low: float
    range_high: float
    range_label: str
    volume: float
    as_of: datetime


@dataclass(slots=True)
class MarketInfo:
    candles: Candles
    quote: Quote
    indicators: list[IndicatorResult]


COMPUTED_CACHE_SIZE = 256  # indicator results of recent requests (a few hundred KB each at most)


class MarketService:
    def __init__(
        self,
        settings: Settings,
        sources: dict[Source, MarketSource] | None = None,
        clock: Callable[[], datetime] = utcnow,
        *,
        compute: Compute | None = None,
        shared_candles: SharedCandles | None = None,
    ) -> None:
        self.settings = settings
        # where CPU work runs; the bootstrap hands in the process pool, alone the service uses threads
        self.compute: Compute = compute or InlineCompute(settings)
        # shared_candles: Redis (REDIS_URL) behind the in-process cache, so replicas fetch a series once
        self.cache = CandleCache(shared=shared_candles)
        self._computed: OrderedDict[tuple[Any, ...], list[IndicatorResult]] = OrderedDict()  # see _indicators
        self._answers: OrderedDict[tuple[Any, ...], tuple[datetime, MarketInfo]] = OrderedDict()  # until the candle closes
        self._clock = clock
        self._sources: dict[Source, MarketSource] = dict(sources or {})
        self._offline: MarketSource | None = None

    # -- sources ------------------------------------------------------------------------------

    def source_for(self, ticker: str, source: Source = Source.UNKNOWN) -> MarketSource:
        if self.settings.market_offline:
            return self._offline_source()
        chosen = guess_source(ticker) if source is Source.UNKNOWN else source
        if chosen not in self._sources:
            self._sources[chosen] = self._make_source(chosen)
        return self._sources[chosen]

    def _offline_source(self) -> MarketSource:
        if self._offline is None:
            from core.market.sample_feed import SampleFeed
            from core.market.sources.csv import CsvSource

            sample = self.settings.sample_data
            feed = SampleFeed(self.settings.sample_seed) if sample and self.settings.sample_live else None
            self._offline = CsvSource(self.settings.market_data_dir, sample=sample, feed=feed)
        return self._offline

    def _make_source(self, source: Source) -> MarketSource:
        if source is Source.BINANCE:
            from core.market.sources.binance import BinanceSource

            return BinanceSource(self.settings)
        from core.market.sources.yahoo import YahooSource

        return YahooSource(self.settings)

    def served_intervals(self, ticker: str, source: Source = Source.UNKNOWN) -> list[str]:
        """Interval codes available for ``ticker`` (offline files may hold only some)."""
        provider = self.source_for(ticker, source)
        per_ticker = getattr(provider, "ticker_intervals", None)
        return list(per_ticker(ticker) if per_ticker is not None else provider.intervals())

    def intervals_by_source(self) -> dict[str, list[str]]:
        """Interval codes each source serves, for the dictionary and error hints."""
        sources = [self._make_source(Source.YFINANCE), self._make_source(Source.BINANCE)]
        if self.settings.market_offline:
            sources.insert(0, self._offline_source())
        return {s.provider: list(s.intervals()) for s in sources}

    async def close(self) -> None:
        for source in [*self._sources.values(), self._offline]:
            closer = getattr(source, "close", None)
            if closer is not None:
                await closer()

    # -- candles ------------------------------------------------------------------------------

    async def candles(
        self,
        ticker: str,
        interval: str | Interval = "1d",
        range_: str | Range | None = None,
        source: Source = Source.UNKNOWN,
        *,
        fresh_after: datetime | None = None,
    ) -> Candles:
        """Bars for ``ticker``; validated against what its source supports, served from cache
        (fetched anew when the cached bars were fetched before ``fresh_after``)."""
        ticker = ticker.strip()
        if not ticker:
            raise Invalid("a ticker is needed, such as BBCA or BTCUSDT")
        interval = interval if isinstance(interval, Interval) else parse_interval(interval)
        if range_ is None:
            range_ = default_range(interval)
        elif not isinstance(range_, Range):
            range_ = parse_range(range_)
        provider = self.source_for(ticker, source)
        check_interval(provider, interval)
        instrument = provider.resolve(ticker)
        now = self._clock()
        key = (instrument.source, f"{provider.provider}:{instrument.symbol}", interval.code)
        return await self.cache.get(
            key, range_, now, lambda: provider.fetch(instrument, interval, range_, now), fresh_after=fresh_after
        )

    # -- Get Market Info ------------------------------------------------------------------------

    async def market_info(
        self,
        ticker: str,
        interval: str = "1d",
        range_: str | None = None,
        indicators: Sequence[str] = (),
        source: Source = Source.UNKNOWN,
        *,
        user_id: int | None = None,
    ) -> MarketInfo:
        """Quote and indicator values for one ticker; the indicators are computed on the compute
        plane, on ``user_id``'s share. The chart of them is the caller's to draw
        (``core.charts.service``): the market knows nothing of pictures."""
        if len(indicators) > MAX_INDICATORS:
            raise Invalid(f"at most {MAX_INDICATORS} indicators per chart, got {len(indicators)}")
        # A dashboard polling BBCA within one candle gets the answer already worked out: the bars
        # behind it are the candle cache's, which fetches again only once the candle closes.
        asked = (ticker.strip().upper(), interval, range_, source, tuple(indicators))
        kept = self._answers.get(asked)
        if kept is not None and self._clock() < kept[0]:
            self._answers.move_to_end(asked)
            return kept[1]
        specs = [parse_spec(text) for text in indicators]  # fail before any fetch
        if specs:  # indicators settle on a longer history, then show on the asked-for range
            candles, history = await self.candles_with_history(ticker, interval, range_, source)
            results = await self._indicators(history, specs, user_id)
        else:
            candles, results = await self.candles(ticker, interval, range_, source), []
        info = MarketInfo(candles, quote_of(candles), results)
        self._answers[asked] = (candle_close(self._clock(), candles.interval), info)
        while len(self._answers) > COMPUTED_CACHE_SIZE:
            self._answers.popitem(last=False)
        return info

    async def _indicators(self, history: Candles, specs: list[IndicatorSpec], user_id: int | None) -> list[IndicatorResult]:
        """``compute_many`` on the compute plane, or its results for the very same bars and specs
        kept from an earlier request (many users ask for BBCA's RSI within one candle)."""
        frame = history.frame
        key = (history.provider, history.instrument.symbol, history.interval.code, len(frame),
               frame.index[0] if len(frame) else None, frame.index[-1] if len(frame) else None,
               tuple(frame[["close", "volume"]].iloc[-1]) if len(frame) else (), tuple(s.text for s in specs))  # fmt: skip
        results = self._computed.get(key)
        if results is None:
            results = await self.compute.run(compute_many, frame, specs, task=Task(user_id, label="the indicators"))
            self._computed[key] = results
            while len(self._computed) > COMPUTED_CACHE_SIZE:
                self._computed.popitem(last=False)
        else:
            self._computed.move_to_end(key)
        return list(results)

    async def candles_with_history(
        self,
        ticker: str,
        interval: str = "1d",
        range_: str | None = None,
        source: Source = Source.UNKNOWN,
    ) -> tuple[Candles, Candles]:
        """The shown bars, and a longer history ending with them for indicators to settle on.

        Models and strategies are evaluated on the history and traded on the shown range only.
        """
        parsed_interval = parse_interval(interval)
        shown_range = parse_range(range_) if range_ else default_range(parsed_interval)
        history = await self.history(ticker, parsed_interval, shown_range, source)
        shown = await self.candles(ticker, parsed_interval, shown_range, source)
        return shown, history

    async def history(
        self,
        ticker: str,
        interval: Interval,
        shown: Range,
        source: Source = Source.UNKNOWN,
        *,
        fresh_after: datetime | None = None,
    ) -> Candles:
        """The bars a script showing ``shown`` is evaluated on: one range step further back, so
        indicators are settled where the chart starts; the shown range itself when the source
        cannot serve the longer one (Yahoo's intraday limits). ``/run`` and a deployment's tick
        both evaluate on it, so a deployment's indicators and ``bar_index`` are ``/run``'s."""
        longer = WARM_UP_RANGE.get(shown.code)
        if longer is not None:
            try:
                return await self.candles(ticker, interval, Range(longer), source, fresh_after=fresh_after)
            except Invalid:
                pass
        return await self.candles(ticker, interval, shown, source, fresh_after=fresh_after)

    # -- Search Market Ticker -------------------------------------------------------------------

    async def fundamentals(self, ticker: str, source: Source = Source.UNKNOWN) -> Fundamentals:
        """Company fundamentals for a stock (Yahoo, or the offline folder's fundamentals.json)."""
        provider = self.source_for(ticker, source)
        fetch = getattr(provider, "fundamentals", None)
        if fetch is None:
            raise Invalid(f"{provider.provider} has no fundamentals: they exist for stocks only")
        return await fetch(ticker)

    async def search(self, query: str, source: Source = Source.UNKNOWN, limit: int = 10) -> list[SearchHit]:
        """Instruments matching ``query`` across sources, best first, at most ``limit``."""
        query = query.strip()
        if len(query) < 2:
            raise Invalid("search needs at least 2 characters")
        if self.settings.market_offline:
            providers = [self._offline_source()]
        elif source is Source.UNKNOWN:
            providers = [self.source_for("X", Source.YFINANCE), self.source_for("X", Source.BINANCE)]
        else:
            providers = [self.source_for("X", source)]
        results = await asyncio.gather(*(p.search(query, limit) for p in providers), return_exceptions=True)
        hits = [hit for result in results if isinstance(result, list) for hit in result]
        if not hits:
            errors = [r for r in results if isinstance(r, BaseException)]
            if errors and len(errors) == len(results):
                raise errors[0]
        hits.sort(key=lambda h: (-h.score, len(h.symbol), h.symbol))
        return hits[:limit]


def quote_of(candles: Candles) -> Quote:
    """Latest price, change against the previous session's close, and the session's range."""
    frame = candles.frame
    if frame.empty:
        raise Invalid(f"no bars for {candles.instrument.display}")
    last = frame.iloc[-1]
    if candles.interval.intraday:
        days = frame.index.normalize()
        session = frame[days == days[-1]]
        before = frame[days < days[-1]]
        previous_close = float(before["close"].iloc[-1]) if len(before) else None
        low, high, volume, label = session["low"].min(), session["high"].max(), session["volume"].sum(), "day"
    else:
        previous_close = float(frame["close"].iloc[-2]) if len(frame) > 1 else None
        low, high, volume = last["low"], last["high"], last["volume"]
        label = {"1w": "week", "1mo": "month"}.get(candles.interval.code, "day")
    price = float(last["close"])
    change = None if previous_close is None else price - previous_close
    change_pct = None if change is None or not previous_close else change / previous_close * 100
    return Quote(
        price=price,
        previous_close=previous_close,
        change=change,
        change_pct=change_pct,
        range_low=float(low),
        range_high=float(high),
        range_label=label,
        volume=float(volume) if pd.notna(volume) else 0.0,
        as_of=frame.index[-1].to_pydatetime(),
    )
