"""Candle cache: one fetch per (source, symbol, interval) for the life of the current candle.

However many users or models ask for the same series, the provider is called once until the
bar that was forming at fetch time closes. Concurrent misses for one key share a single fetch.
A request for a longer range than the cached one fetches again and replaces the entry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from core.market.types import RANGE_SPANS, Candles, Interval, Range, Source

CacheKey = tuple[Source, str, str]


def candle_close(now: datetime, interval: Interval) -> datetime:
    """When the candle that contains ``now`` closes (UTC boundaries, as exchanges bucket bars)."""
    now = now.astimezone(UTC)
    if interval.code == "1mo":
        year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
        return datetime(year, month, 1, tzinfo=UTC)
    if interval.code == "1w":
        monday = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
        return monday + timedelta(weeks=1)
    step = int(interval.delta.total_seconds())
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % step + step, tz=UTC)


def range_span(range_: Range, now: datetime) -> timedelta:
    """How far back ``range_`` reaches; ``max`` is longer than anything."""
    if range_.code == "max":
        return timedelta.max
    if range_.code == "ytd":
        return now - now.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return RANGE_SPANS[range_.code]


@dataclass(slots=True)
class _Entry:
    candles: Candles
    range_: Range
    expires_at: datetime
    fetched_at: datetime  # the provider's fetch time (the cache's clock when the source does not say)


class CandleCache:
    def __init__(self, max_entries: int = 2048) -> None:
        self._entries: dict[CacheKey, _Entry] = {}
        self._locks: dict[CacheKey, asyncio.Lock] = {}
        self._max_entries = max_entries
        self.fetches = 0  # how many times the provider was called; benchmarks and tests read it

    async def get(
        self,
        key: CacheKey,
        range_: Range,
        now: datetime,
        fetch: Callable[[], Awaitable[Candles]],
        *,
        fresh_after: datetime | None = None,
    ) -> Candles:
        """``fresh_after``: an entry fetched before then is stale (a feed that publishes late)."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self._entries.get(key)
            fresh = fresh_after is None or (entry is not None and entry.fetched_at >= fresh_after)
            if entry is not None and fresh and now < entry.expires_at and _covers(entry.range_, range_, now):
                return slice_range(entry.candles, range_) if entry.range_.code != range_.code else entry.candles
            candles = await fetch()
            self.fetches += 1
            self._store(key, _Entry(candles, range_, candle_close(now, candles.interval), candles.fetched_at or now))
            return candles

    def clear(self) -> None:
        self._entries.clear()

    def _store(self, key: CacheKey, entry: _Entry) -> None:
        if key not in self._entries and len(self._entries) >= self._max_entries:
            oldest = min(self._entries, key=lambda k: self._entries[k].expires_at)
            del self._entries[oldest]
        self._entries[key] = entry


def _covers(cached: Range, wanted: Range, now: datetime) -> bool:
    return cached.code == wanted.code or range_span(cached, now) >= range_span(wanted, now)


def slice_range(candles: Candles, wanted: Range) -> Candles:
    """The bars of ``wanted`` at the end of ``candles``."""
    if wanted.code == "max" or candles.frame.empty:
        return candles
    # Measured back from the last bar, as the CSV source does, so cached and fresh slices agree.
    last = candles.frame.index[-1].to_pydatetime()
    start = wanted.start(last)
    return replace(candles, frame=candles.frame.loc[candles.frame.index >= start])
