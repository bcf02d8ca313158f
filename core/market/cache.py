"""Candle cache: one fetch per (source, symbol, interval) for the life of the current candle.

However many users or models ask for the same series, the provider is called once until the
bar that was forming at fetch time closes. Concurrent misses for one key share a single fetch.
A request for a longer range than the cached one fetches again and replaces the entry.

With a shared layer (``core.market.shared_candles.SharedCandles``, when ``REDIS_URL`` is set) a
miss here looks in Redis before fetching, and one replica fetches while the others wait for its
result: N replicas fetch each series once. Without one (the embedded default) each process fetches its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TypeGuard

from core.logging import get_logger
from core.market.shared_candles import SharedCandles, Stored
from core.market.types import RANGE_SPANS, Candles, Interval, Range, Source

log = get_logger(__name__)

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
    def __init__(self, max_entries: int = 2048, shared: SharedCandles | None = None) -> None:
        self._entries: dict[CacheKey, _Entry] = {}
        self._locks: dict[CacheKey, asyncio.Lock] = {}
        self._max_entries = max_entries
        self.shared = shared
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
            if _usable(entry, range_, now, fresh_after):
                return _served(entry, range_)
            if self.shared is not None:
                return await self._through_shared(key, range_, now, fetch, fresh_after)
            return await self._fetch(key, range_, now, fetch)

    async def _fetch(
        self, key: CacheKey, range_: Range, now: datetime, fetch: Callable[[], Awaitable[Candles]]
    ) -> Candles:
        candles = await fetch()
        self.fetches += 1
        self._store(key, _Entry(candles, range_, candle_close(now, candles.interval), candles.fetched_at or now))
        return candles

    async def _through_shared(
        self,
        key: CacheKey,
        range_: Range,
        now: datetime,
        fetch: Callable[[], Awaitable[Candles]],
        fresh_after: datetime | None,
    ) -> Candles:
        """A local miss: the shared entry if usable, else fetch under the shared lock (or wait for
        the replica that holds it and read its result). Redis failing means fetching locally."""
        shared = self.shared
        assert shared is not None
        loop = asyncio.get_running_loop()
        give_up = loop.time() + shared.lock_s
        try:
            while True:
                stored = await shared.load(key)
                entry = _Entry(stored.candles, stored.range_, stored.expires_at, stored.fetched_at) if stored else None
                if _usable(entry, range_, now, fresh_after):
                    self._store(key, entry)
                    return _served(entry, range_)
                token = await shared.lock(key)
                if token is not None or loop.time() >= give_up:
                    break
                await asyncio.sleep(shared.poll_s)  # another replica is fetching this series
        except Exception as exc:  # a shared cache that fails must not fail the request
            log.warning("shared_candles_failed", key=str(key), error=repr(exc))
            return await self._fetch(key, range_, now, fetch)
        try:
            candles = await self._fetch(key, range_, now, fetch)
            entry = self._entries[key]
            stored = Stored(entry.candles, entry.range_, entry.expires_at, entry.fetched_at)
            try:
                await shared.save(key, stored, (entry.expires_at - now).total_seconds())
            except Exception as exc:
                log.warning("shared_candles_failed", key=str(key), error=repr(exc))
            return candles
        finally:
            if token is not None:
                try:
                    await shared.unlock(key, token)
                except Exception as exc:
                    log.warning("shared_candles_failed", key=str(key), error=repr(exc))

    def clear(self) -> None:
        self._entries.clear()

    def _store(self, key: CacheKey, entry: _Entry) -> None:
        if key not in self._entries and len(self._entries) >= self._max_entries:
            oldest = min(self._entries, key=lambda k: self._entries[k].expires_at)
            del self._entries[oldest]
        self._entries[key] = entry


def _usable(entry: _Entry | None, wanted: Range, now: datetime, fresh_after: datetime | None) -> TypeGuard[_Entry]:
    # TypeGuard: a usable entry is one that exists, so callers may serve it without checking for None again
    if entry is None or now >= entry.expires_at or not _covers(entry.range_, wanted, now):
        return False
    return fresh_after is None or entry.fetched_at >= fresh_after


def _served(entry: _Entry, wanted: Range) -> Candles:
    return slice_range(entry.candles, wanted) if entry.range_.code != wanted.code else entry.candles


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
