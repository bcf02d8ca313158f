"""Per-user limit on expensive commands (charts, backtests), so one user cannot starve the rest."""

from __future__ import annotations

import time
from collections import defaultdict, deque


class RateLimiter:
    """At most ``per_minute`` expensive commands per user in any 60-second window."""

    def __init__(self, per_minute: int = 12, clock=time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._seen: dict[int, deque[float]] = defaultdict(deque)

    def retry_after(self, user_id: int) -> float:
        """Seconds until ``user_id`` may run another expensive command; 0 records this one as allowed."""
        if self.per_minute <= 0:
            return 0.0
        now = self._clock()
        seen = self._seen[user_id]
        while seen and now - seen[0] >= 60:
            seen.popleft()
        if len(seen) >= self.per_minute:
            return 60 - (now - seen[0])
        seen.append(now)
        return 0.0
