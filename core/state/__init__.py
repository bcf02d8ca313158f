"""Shared state: button tokens, per-user rate limits, the live alert stream, and the Redis connection
others share.

``open_state(settings)`` builds it once, for whoever needs it (the transports' buttons, the
registry's rate limiter, and over ``redis`` the market's shared candle layer,
``core.market.shared_candles``, which belongs to the market and so is built there):

- embedded (no ``REDIS_URL``, the default): in this process's memory, nothing to set up. Buttons
  stop working after a restart, each process counts rate limits on its own, each process (each
  replica) fetches its own candles, and live alerts reach only the HTTP API of the process whose jobs
  produced them.
- ``REDIS_URL`` set: in Redis under ``REDIS_PREFIX``, shared by every replica: buttons survive a
  restart and work on any replica, a user's rate limit holds across replicas, N replicas fetch
  each candle series once, and live alerts go through a pub/sub channel per user to any API process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from core.config import Settings
from core.state.alert_stream import AlertStream, MemoryAlertStream, RedisAlertStream
from core.state.buttons import ButtonStore, MemoryButtonStore, RedisButtonStore
from core.state.ratelimit import RateLimiter

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["SharedState", "memory_state", "open_state"]


@dataclass(slots=True)
class SharedState:
    buttons: ButtonStore
    rate_limits: RateLimiter
    alerts: AlertStream = field(default_factory=MemoryAlertStream)  # each user's live alerts (/v1/alerts/stream)
    redis: Redis | None = None  # None: embedded
    _raw: Redis | None = None  # the rate limiter's connection (``limits`` wants undecoded replies)

    @property
    def shared(self) -> bool:
        return self.redis is not None

    async def close(self) -> None:
        for client in (self.redis, self._raw):
            if client is not None:
                await client.aclose()


def memory_state(settings: Settings | None = None) -> SharedState:
    """The embedded state: everything in this process's memory."""
    per_minute = settings.rate_limit_per_minute if settings is not None else 12
    return SharedState(buttons=MemoryButtonStore(), rate_limits=RateLimiter(per_minute))


async def open_state(settings: Settings) -> SharedState:
    """The shared state ``settings`` ask for: Redis at ``REDIS_URL`` (checked with a ping, so a
    wrong URL fails at start rather than at the first button), else in memory."""
    if not settings.redis_url:
        return memory_state(settings)
    from limits.aio.storage import RedisStorage
    from redis.asyncio import Redis

    url, prefix = settings.redis_url, settings.redis_prefix
    redis = Redis.from_url(url, decode_responses=True)
    raw = Redis.from_url(url)
    try:
        await redis.ping()
    except Exception:
        await redis.aclose()
        await raw.aclose()
        raise
    scheme, _, rest = url.partition("://")
    storage = RedisStorage(
        f"async+{'redis+unix' if scheme == 'unix' else scheme}://{rest}",
        implementation="redispy",
        key_prefix=f"{prefix}limits",
        # limits types its pass-through client options as scalars, but hands them to redis-py's
        # client, which takes a ConnectionPool here (limits' documented way to share one).
        connection_pool=cast(Any, raw.connection_pool),
    )
    return SharedState(
        buttons=RedisButtonStore(redis, prefix),
        rate_limits=RateLimiter(settings.rate_limit_per_minute, storage),
        alerts=RedisAlertStream(redis, prefix),
        redis=redis,
        _raw=raw,
    )
