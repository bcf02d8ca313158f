"""Buttons bound to the user who asked.

Platforms cap button payloads (Telegram callback_data 64 bytes, Discord custom_id 100 chars), and
a button must not let another group member run a command as its owner. So a button carries only
an opaque token; the command line and its owner live in a store, and pressing checks both.

Two stores: ``MemoryButtonStore`` (embedded: tokens live in this process and die with it) and
``RedisButtonStore`` (``REDIS_URL``: tokens survive a restart and resolve on any replica).
Both expire a token ``ttl_s`` after it was bound (48 hours).
"""

from __future__ import annotations

import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from core.errors import Forbidden, NotFound, Unavailable
from core.logging import get_logger

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = get_logger(__name__)

TOKEN_PREFIX = "b:"
ANYONE = "*"  # owner of a button any chat member may press (it acts on the presser's own account)
TTL_S = 48 * 3600.0

EXPIRED = "this button has expired: run the command again"
NOT_YOURS = "this button belongs to the person who asked; run the command yourself"
UNAVAILABLE = "buttons are unavailable for a moment: run the command yourself"


class Pressable(Protocol):
    """What a store needs of a reply's button (``bots.reply.Button``)."""

    @property
    def command(self) -> str: ...

    @property
    def public(self) -> bool: ...


def new_token() -> str:
    """A short token (<= 20 chars): the prefix and 12 URL-safe characters."""
    return TOKEN_PREFIX + secrets.token_urlsafe(9)


class ButtonStore:
    """Binds (owner, command) to tokens and resolves a pressed token for its presser.

    Subclasses store the pairs: ``_put`` many at once, ``_get`` one (None when unknown or expired).
    """

    async def _put(self, pairs: dict[str, tuple[str, str]]) -> None:
        raise NotImplementedError

    async def _get(self, token: str) -> tuple[str, str] | None:
        raise NotImplementedError

    async def bind(self, owner: str, command: str) -> str:
        """A token that stands for ``command`` pressed by ``owner``."""
        [token] = await self.bind_many([(owner, command)])
        return token

    async def bind_many(self, pairs: Iterable[tuple[str, str]]) -> list[str]:
        """One token per (owner, command), stored in one go."""
        bound = {new_token(): (owner, command) for owner, command in pairs}
        if bound:
            await self._put(bound)
        return list(bound)

    async def bind_button(self, owner: str, button: Pressable) -> str:
        """``bind`` for a reply's button: a public one (``/copy`` on a shared card) binds to
        ``ANYONE``, since whoever presses it acts on their own account; the rest to ``owner``."""
        return await self.bind(ANYONE if button.public else owner, button.command)

    async def binder(self, owner: str, rows: Sequence[Sequence[Pressable]]) -> Callable[[Pressable], str]:
        """Bind every button of ``rows`` for ``owner`` at once (one round trip to a shared store) and
        return the token of each, for renderers that lay buttons out synchronously. When the store
        fails (Redis away) every token is "": renderers leave the buttons out and the reply goes."""
        wanted: dict[tuple[bool, str], str] = {}
        for row in rows:
            for button in row:
                if button.command:  # a copy button runs nothing: nothing to bind
                    wanted.setdefault((button.public, button.command), ANYONE if button.public else owner)
        keys = list(wanted)
        try:
            tokens = dict(zip(keys, await self.bind_many((wanted[k], k[1]) for k in keys), strict=True))
        except Exception as exc:  # a reply without its buttons beats no reply
            log.warning("buttons_unavailable", error=repr(exc))
            tokens = {}
        return lambda button: tokens.get((button.public, button.command), "")

    async def resolve(self, token: str, presser: str) -> str:
        """The command behind ``token`` if ``presser`` may press it."""
        try:
            bound = await self._get(token) if token.startswith(TOKEN_PREFIX) else None
        except Exception as exc:
            log.warning("buttons_unavailable", error=repr(exc))
            raise Unavailable(UNAVAILABLE) from exc
        if bound is None:
            raise NotFound(EXPIRED)
        owner, command = bound
        if owner not in (presser, ANYONE):
            raise Forbidden(NOT_YOURS)
        return command


@dataclass(frozen=True, slots=True)
class _Bound:
    owner: str  # platform user id of the person the reply was for
    command: str
    created: float


class MemoryButtonStore(ButtonStore):
    """Tokens in this process (the embedded default): lost on restart, unknown to other replicas."""

    def __init__(
        self, max_entries: int = 50_000, ttl_s: float = TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._items: OrderedDict[str, _Bound] = OrderedDict()
        self._max = max_entries
        self._ttl = ttl_s
        self._clock = clock

    async def _put(self, pairs: dict[str, tuple[str, str]]) -> None:
        now = self._clock()
        for token, (owner, command) in pairs.items():
            self._items[token] = _Bound(owner, command, now)
        while len(self._items) > self._max:
            self._items.popitem(last=False)

    async def _get(self, token: str) -> tuple[str, str] | None:
        bound = self._items.get(token)
        if bound is None or self._clock() - bound.created > self._ttl:
            return None
        return bound.owner, bound.command


class RedisButtonStore(ButtonStore):
    """Tokens in Redis (``SET key json EX ttl``): they survive a restart and work on any replica."""

    def __init__(self, redis: Redis, prefix: str = "", ttl_s: float = TTL_S) -> None:
        self._redis = redis
        self._prefix = f"{prefix}button:"
        self._ttl = max(1, int(ttl_s))

    async def _put(self, pairs: dict[str, tuple[str, str]]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for token, (owner, command) in pairs.items():
                pipe.set(self._prefix + token, json.dumps([owner, command]), ex=self._ttl)
            await pipe.execute()

    async def _get(self, token: str) -> tuple[str, str] | None:
        raw = await self._redis.get(self._prefix + token)
        if raw is None:
            return None
        owner, command = json.loads(raw)
        return str(owner), str(command)
