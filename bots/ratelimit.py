"""Per-user limit on expensive commands (charts, backtests): ``core.state.ratelimit``."""

from __future__ import annotations

from core.state.ratelimit import RateLimiter

__all__ = ["RateLimiter"]
