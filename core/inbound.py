"""Updates pushed to this process over HTTP (Telegram's webhook), and who takes them.

One HTTP server (``api``) serves the API and every webhook on one port, but the updates of a chat
platform are consumed by that transport's own library, running in this process. The transport
registers a ``Receiver`` on the core when it starts in webhook mode (``core.receivers[platform]``)
and removes it when it stops; the route looks it up per request, so an update that arrives before
the transport is ready (or after it stopped) is answered 503 and the platform retries it. The core
itself never reads these updates: this is only the hand-over point, so that the HTTP adapter and the
chat adapter need not import each other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Receiver:
    """Where a webhook's payloads go, and what the route checks before reading one."""

    secret: str  # the caller must present it (the route compares it in constant time)
    max_bytes: int  # bodies over it are refused unread
    # The parsed JSON payload handed over; False when it is not an update (the route answers 400).
    receive: Callable[[Any], Awaitable[bool]]
