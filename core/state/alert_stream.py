"""A live feed of each user's own alerts: publish where an alert is produced, subscribe per user.

The jobs publish each alert they queue for a user's chats (``jobs.ticks``: fills, pauses and the
other deployment events; ``jobs.monitoring``: watch crossings), and ``GET /v1/alerts/stream``
subscribes for the token's owner. A subscription only ever sees its own user's alerts: the user id
is the channel. Nothing is kept: an alert published while nobody listens is gone (it is still in the
chats), and a slow subscriber loses its oldest unread alerts rather than holding memory.

- embedded (no ``REDIS_URL``): ``MemoryAlertStream``, queues in this process, so the API must run in
  the process that runs the jobs (``stoxlify run`` with ``API_ENABLED``);
- ``REDIS_URL`` set: ``RedisAlertStream``, one pub/sub channel per user under ``REDIS_PREFIX``, so an
  API in another process (``stoxlify api``, any replica) receives what the scheduler's process publishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from core.errors import Unavailable
from core.events import EventKind
from core.logging import get_logger

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = get_logger(__name__)

QUEUE_SIZE = 100  # unread alerts a subscriber may fall behind by; older ones are dropped
SUBSCRIBE_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class LiveAlert:
    """One alert as the stream sends it: its kind, the text the chat shows, and its key numbers."""

    kind: EventKind
    user_id: int
    text: str
    deployment_id: int | None = None
    ticker: str | None = None
    numbers: dict[str, Any] = field(default_factory=dict)  # price, quantity, fee, pnl; or the watch's values
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_json(self) -> dict[str, Any]:
        """What a client reads (the user id is the subscriber's own, so it is not repeated)."""
        numbers = {key: _plain(value) for key, value in self.numbers.items()}
        return {**numbers, "id": self.id, "kind": self.kind.value, "deployment_id": self.deployment_id,
                "ticker": self.ticker, "text": self.text, "time": self.at.isoformat()}  # fmt: skip

    def dumps(self) -> str:
        numbers = {key: _plain(value) for key, value in self.numbers.items()}
        return json.dumps({**self.to_json(), "user_id": self.user_id, "numbers": numbers})

    @classmethod
    def loads(cls, raw: str | bytes) -> LiveAlert:
        data = json.loads(raw)
        return cls(kind=EventKind(data["kind"]), user_id=int(data["user_id"]), text=data["text"],
                   deployment_id=data.get("deployment_id"), ticker=data.get("ticker"),
                   numbers=dict(data.get("numbers") or {}), at=datetime.fromisoformat(data["time"]),
                   id=data["id"])  # fmt: skip


def _plain(value: Any) -> Any:
    """A JSON-safe number: numpy scalars as Python's, NaN and infinities as null."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Subscription(Protocol):
    async def next(self) -> LiveAlert:
        """The next alert of this user, waiting as long as it takes (cancel to stop waiting)."""
        ...


class AlertStream(Protocol):
    async def publish(self, alert: LiveAlert) -> None:
        """Hand ``alert`` to its user's subscribers, wherever they are; never raises."""
        ...

    def subscribe(self, user_id: int) -> contextlib.AbstractAsyncContextManager[Subscription]:
        """``user_id``'s alerts from the moment the context is entered until it exits; ``Unavailable``
        when the shared store cannot subscribe."""
        ...


class _QueueSubscription:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[LiveAlert] = asyncio.Queue(QUEUE_SIZE)

    async def next(self) -> LiveAlert:
        return await self.queue.get()

    def offer(self, alert: LiveAlert) -> None:
        if self.queue.full():
            self.queue.get_nowait()  # a slow reader loses its oldest alert, not the newest
        self.queue.put_nowait(alert)


class MemoryAlertStream:
    """Subscribers in this process's memory, by user."""

    def __init__(self) -> None:
        self._subscribers: defaultdict[int, set[_QueueSubscription]] = defaultdict(set)

    def subscribers(self, user_id: int) -> int:
        """How many subscriptions ``user_id`` has open (a closed stream leaves none behind)."""
        return len(self._subscribers.get(user_id, ()))

    async def publish(self, alert: LiveAlert) -> None:
        for subscription in list(self._subscribers.get(alert.user_id, ())):
            subscription.offer(alert)

    @contextlib.asynccontextmanager
    async def subscribe(self, user_id: int) -> AsyncIterator[Subscription]:
        subscription = _QueueSubscription()
        self._subscribers[user_id].add(subscription)
        try:
            yield subscription
        finally:
            mine = self._subscribers.get(user_id)
            if mine is not None:
                mine.discard(subscription)
                if not mine:
                    del self._subscribers[user_id]


class _RedisSubscription:
    def __init__(self, pubsub: Any) -> None:
        self.pubsub = pubsub

    async def next(self) -> LiveAlert:
        while True:
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            if message is None or message.get("type") != "message":
                continue
            try:
                return LiveAlert.loads(message["data"])
            except (ValueError, KeyError, TypeError):
                log.warning("alert_stream_bad_message")


async def _confirmed(pubsub: Any) -> None:
    """Redis's confirmation of the subscription: from then on every publish reaches it."""
    while True:
        message = await pubsub.get_message(timeout=1.0)
        if message is not None and message.get("type") == "subscribe":
            return


class RedisAlertStream:
    """One Redis pub/sub channel per user (``<prefix>alerts:<user id>``), shared by every process."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def channel(self, user_id: int) -> str:
        return f"{self.prefix}alerts:{user_id}"

    async def publish(self, alert: LiveAlert) -> None:
        try:
            await self.redis.publish(self.channel(alert.user_id), alert.dumps())
        except Exception as exc:  # Redis away: the alert still reaches the chats
            log.warning("alert_stream_publish_failed", error=type(exc).__name__)

    @contextlib.asynccontextmanager
    async def subscribe(self, user_id: int) -> AsyncIterator[Subscription]:
        pubsub = self.redis.pubsub()
        try:
            try:
                await pubsub.subscribe(self.channel(user_id))
                await asyncio.wait_for(_confirmed(pubsub), SUBSCRIBE_TIMEOUT_S)
            except Exception as exc:
                log.warning("alert_stream_subscribe_failed", error=type(exc).__name__)
                raise Unavailable("live alerts are unavailable right now: try again in a minute") from None
            yield _RedisSubscription(pubsub)
        finally:
            with contextlib.suppress(Exception):  # the connection may be gone already
                await pubsub.unsubscribe()
            await pubsub.aclose()
