"""Per-user limit on expensive commands (charts, backtests), so one user cannot starve the rest.

A moving window from the ``limits`` library: in process memory by default (each process counts
on its own, and a restart forgets), in Redis when ``REDIS_URL`` is set (one count across replicas).
"""

from __future__ import annotations

import time

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from core.logging import get_logger

log = get_logger(__name__)

NAMESPACE = "expensive"


class RateLimiter:
    """At most ``per_minute`` expensive commands per user in any 60-second window."""

    def __init__(self, per_minute: int = 12, storage: Storage | None = None, *, namespace: str = NAMESPACE) -> None:
        self.storage = storage if storage is not None else MemoryStorage()
        self.namespace = namespace  # one window per (namespace, key): users' commands, API tokens
        self._limiter = MovingWindowRateLimiter(self.storage)
        self.per_minute = per_minute

    @property
    def per_minute(self) -> int:
        return self._per_minute

    @per_minute.setter
    def per_minute(self, value: int) -> None:
        self._per_minute = value
        self._item = RateLimitItemPerMinute(max(value, 1), namespace=self.namespace)

    async def retry_after(self, user_id: int) -> float:
        """Seconds until ``user_id`` may run another expensive command; 0 records this one as allowed."""
        if self._per_minute <= 0:
            return 0.0
        try:
            if await self._limiter.hit(self._item, str(user_id)):
                return 0.0
            stats = await self._limiter.get_window_stats(self._item, str(user_id))
        except Exception as exc:  # the shared store is away: let the command run rather than fail it
            log.warning("rate_limit_unavailable", error=repr(exc))
            return 0.0
        return max(stats.reset_time - time.time(), 0.001)
