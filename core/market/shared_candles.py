"""The candle cache's shared layer: fetched series in Redis, so N replicas fetch each series once.

A series is stored as JSON (never pickle: the store is shared) until the candle that was forming
at fetch time closes, as ``CandleCache`` keeps it in memory. A short lock (``SET NX PX``) lets one
replica fetch a missing series while the others wait for it and read the stored result.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from core.config import Settings
from core.logging import get_logger
from core.market.types import INTERVALS, Candles, Instrument, Range, Source
from core.state import SharedState

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = get_logger(__name__)

FORMAT = 1
# Deletes the lock only if it is still ours (it may have expired and been taken by another replica).
_UNLOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


@dataclass(slots=True)
class Stored:
    candles: Candles
    range_: Range
    expires_at: datetime
    fetched_at: datetime


class SharedCandles:
    """Candle series in Redis under ``{prefix}candles:{source}|{symbol}|{interval}``."""

    def __init__(self, redis: Redis, prefix: str = "", *, lock_s: float = 30.0, poll_s: float = 0.05) -> None:
        self._redis = redis
        self._prefix = f"{prefix}candles:"
        self.lock_s = lock_s  # how long one replica may hold a fetch before the others fetch themselves
        self.poll_s = poll_s  # how often a waiting replica looks for the result

    def _key(self, key: tuple[Any, str, str]) -> str:
        source, symbol, interval = key
        return f"{self._prefix}{source}|{symbol}|{interval}"

    async def load(self, key: tuple[Any, str, str]) -> Stored | None:
        raw = await self._redis.get(self._key(key))
        if raw is None:
            return None
        try:
            return loads(raw)
        except (ValueError, KeyError, TypeError) as exc:  # another version's format: fetch anew
            log.warning("shared_candles_unreadable", key=self._key(key), error=repr(exc))
            return None

    async def save(self, key: tuple[Any, str, str], stored: Stored, ttl_s: float) -> None:
        text = dumps(stored)
        if text is None or ttl_s <= 0:
            return
        await self._redis.set(self._key(key), text, px=max(1, int(ttl_s * 1000)))

    async def lock(self, key: tuple[Any, str, str]) -> str | None:
        """A token if this replica now holds the fetch of ``key``; None if another one does."""
        token = secrets.token_hex(8)
        taken = await self._redis.set(self._key(key) + ":lock", token, nx=True, px=int(self.lock_s * 1000))
        return token if taken else None

    async def unlock(self, key: tuple[Any, str, str], token: str) -> None:
        await self._redis.eval(_UNLOCK, 1, self._key(key) + ":lock", token)


def shared_candles(state: SharedState, settings: Settings) -> SharedCandles | None:
    """The shared layer over ``state``'s Redis (None when the state is embedded: each process then
    caches candles on its own). A fetch may hold its lock for three market timeouts."""
    if state.redis is None:
        return None
    return SharedCandles(state.redis, settings.redis_prefix, lock_s=settings.market_timeout_s * 3)


def dumps(stored: Stored) -> str | None:
    """JSON for ``stored``; None for a series that does not fit it (then it is cached locally only)."""
    candles, frame = stored.candles, stored.candles.frame
    if INTERVALS.get(candles.interval.code) != candles.interval or not isinstance(frame.index, pd.DatetimeIndex):
        return None
    if not all(pd.api.types.is_numeric_dtype(dtype) for dtype in frame.dtypes):
        return None
    inst = candles.instrument
    body = {
        "format": FORMAT,
        "range": stored.range_.code,
        "expires_at": stored.expires_at.isoformat(),
        "fetched_at": stored.fetched_at.isoformat(),
        "instrument": [inst.source.value, inst.symbol, inst.display, inst.currency, inst.lot_size],
        "interval": candles.interval.code,
        "provider": candles.provider,
        "sample": candles.sample,
        "candles_fetched_at": candles.fetched_at.isoformat() if candles.fetched_at else None,
        "name": candles.name,
        "extra": candles.extra,
        "tz": str(frame.index.tz) if frame.index.tz is not None else None,
        "unit": frame.index.unit,
        "freq": frame.index.freqstr,
        "index": frame.index.asi8.tolist(),
        "index_name": frame.index.name,
        "columns": [[str(c), str(frame[c].dtype), frame[c].tolist()] for c in frame.columns],
    }
    try:
        return json.dumps(body, separators=(",", ":"))
    except (TypeError, ValueError):  # an extra that JSON cannot hold
        return None


def loads(text: str | bytes) -> Stored:
    body = json.loads(text)
    if body["format"] != FORMAT:
        raise ValueError(f"format {body['format']}")
    unit = body["unit"]
    index = pd.to_datetime(body["index"], unit=unit, utc=True).as_unit(unit)
    index = index.tz_convert(body["tz"]) if body["tz"] else index.tz_localize(None)
    if body["freq"]:
        index = pd.DatetimeIndex(index, freq=body["freq"])
    index.name = body["index_name"]
    frame = pd.DataFrame(
        {name: pd.Series(values, index=index, dtype=dtype) for name, dtype, values in body["columns"]},
        index=index,
    )
    source, symbol, display, currency, lot_size = body["instrument"]
    fetched = body["candles_fetched_at"]
    candles = Candles(
        instrument=Instrument(Source(source), symbol, display, currency, lot_size),
        interval=INTERVALS[body["interval"]],
        frame=frame,
        provider=body["provider"],
        sample=body["sample"],
        fetched_at=datetime.fromisoformat(fetched) if fetched else None,
        name=body["name"],
        extra=body["extra"],
    )
    return Stored(
        candles, Range(body["range"]), datetime.fromisoformat(body["expires_at"]),
        datetime.fromisoformat(body["fetched_at"]),
    )
