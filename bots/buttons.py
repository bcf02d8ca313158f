"""Buttons bound to the user who asked: the stores live in ``core.state.buttons`` (memory by
default, Redis when ``REDIS_URL`` is set); transports import them from here."""

from __future__ import annotations

from core.state.buttons import (
    ANYONE,
    TOKEN_PREFIX,
    ButtonStore,
    MemoryButtonStore,
    RedisButtonStore,
)

__all__ = ["ANYONE", "TOKEN_PREFIX", "ButtonStore", "MemoryButtonStore", "RedisButtonStore"]
