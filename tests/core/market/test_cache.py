"""Candles are fetched once per (source, ticker, interval) for the life of the current candle."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pandas as pd

from core.market.cache import CandleCache, candle_close
from core.market.types import INTERVALS, Candles, Instrument, Range, Source


def _candles(interval: str = "1h", bars: int = 500) -> Candles:
    index = pd.date_range(end="2026-11-24 10:00", periods=bars, freq="h", tz="UTC")
    frame = pd.DataFrame({c: range(bars) for c in ["open", "high", "low", "close", "volume"]}, index=index, dtype=float)
    return Candles(Instrument(Source.BINANCE, "BTC/USDT", "BTCUSDT"), INTERVALS[interval], frame, "Binance")


def test_candle_close_boundaries():
    t = datetime(2026, 11, 24, 10, 17, 5, tzinfo=UTC)  # a Tuesday
    assert candle_close(t, INTERVALS["15m"]) == datetime(2026, 11, 24, 10, 30, tzinfo=UTC)
    assert candle_close(t, INTERVALS["4h"]) == datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert candle_close(t, INTERVALS["1d"]) == datetime(2026, 11, 25, tzinfo=UTC)
    assert candle_close(t, INTERVALS["1w"]) == datetime(2026, 11, 30, tzinfo=UTC)
    assert candle_close(t, INTERVALS["1mo"]) == datetime(2026, 12, 1, tzinfo=UTC)
    assert candle_close(datetime(2026, 12, 31, 23, tzinfo=UTC), INTERVALS["1mo"]) == datetime(2027, 1, 1, tzinfo=UTC)


async def test_second_request_inside_candle_life_does_not_fetch_and_after_close_does():
    cache, calls = CandleCache(), []

    async def fetch() -> Candles:
        calls.append(1)
        return _candles()

    key = (Source.BINANCE, "BTC/USDT", "1h")
    now = datetime(2026, 11, 24, 10, 5, tzinfo=UTC)
    await cache.get(key, Range("1mo"), now, fetch)
    await cache.get(key, Range("1mo"), now + timedelta(minutes=50), fetch)
    assert len(calls) == 1
    await cache.get(key, Range("1mo"), now + timedelta(minutes=56), fetch)  # the 10:00 candle closed at 11:00
    assert len(calls) == 2


async def test_shorter_range_is_sliced_from_cache_longer_range_refetches():
    cache, calls = CandleCache(), []

    async def fetch() -> Candles:
        calls.append(1)
        return _candles()

    key = (Source.BINANCE, "BTC/USDT", "1h")
    now = datetime(2026, 11, 24, 10, 5, tzinfo=UTC)
    full = await cache.get(key, Range("1mo"), now, fetch)
    short = await cache.get(key, Range("1d"), now, fetch)
    assert len(calls) == 1
    assert len(full) == 500 and 24 <= len(short) <= 25
    assert short.frame.index[-1] == full.frame.index[-1]
    await cache.get(key, Range("1y"), now, fetch)
    assert len(calls) == 2


async def test_concurrent_misses_share_one_fetch():
    cache, calls = CandleCache(), []

    async def fetch() -> Candles:
        calls.append(1)
        await asyncio.sleep(0.01)
        return _candles()

    key = (Source.BINANCE, "BTC/USDT", "1h")
    now = datetime(2026, 11, 24, 10, 5, tzinfo=UTC)
    results = await asyncio.gather(*(cache.get(key, Range("1mo"), now, fetch) for _ in range(20)))
    assert len(calls) == 1 and all(len(r) == 500 for r in results)
