"""Who calls: a bearer token (``/token new``) checked on every route but the health check.

An unknown, revoked or expired token is 401 alike (a client learns nothing about which tokens
exist); a token whose scope is too small is 403. An ``admin`` token acts as its owner's admin
identity, and only while that identity is still listed in ``ADMIN_IDS``: dropping an admin from
the settings disables their admin tokens too. Each token has its own request window
(``API_RATE_LIMIT_PER_MINUTE``, shared across replicas through the shared state).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import select

from core.account.admin import is_admin
from core.account.models import Identity, User
from core.actor import Actor
from core.app import Core
from core.errors import LimitExceeded
from core.state.ratelimit import RateLimiter
from core.tokens.service import REVOCATIONS, Grant, Scope, authenticate


class Unauthenticated(Exception):
    """No usable bearer token: 401."""


class TooSmallScope(Exception):
    """The token may not do this: 403."""

    def __init__(self, needed: Scope) -> None:
        super().__init__(f"this token's scope does not allow this: it needs a {needed.word} token")


class RateLimited(LimitExceeded):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many requests with this token: try again in {max(1, round(retry_after_s))} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class Caller:
    """The actor a request acts as, and its token's grant."""

    actor: Actor
    grant: Grant


def bearer(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("send Authorization: Bearer <token> (make one in a private chat: /token new NAME)")
    return value.strip()


class Grants:
    """Callers by token for ``ttl_s`` seconds, so a client's requests do not each read the token,
    its user and their logins from the database. A revocation in this process empties it at once
    (``REVOCATIONS``); another replica's revocation reaches this one within ``ttl_s``, and an
    expiry within ``ttl_s`` of its time."""

    def __init__(self, ttl_s: float = 2.0, size: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self._found: dict[str, tuple[float, int, Caller]] = {}
        self._reading: dict[str, asyncio.Future[Caller | None]] = {}  # lookups under way, by token

    async def caller(self, core: Core, token: str) -> Caller | None:
        hit = self._found.get(token)
        if hit is not None and hit[0] > time.monotonic() and hit[1] == REVOCATIONS.epoch:
            return hit[2]
        # A client's connections all miss together when its entry expires: one of them reads the
        # database and the others wait for that answer, instead of a hundred identical queries.
        reading = self._reading.get(token)
        if reading is None:  # a task of its own: a waiter that disconnects cancels only its wait
            reading = self._reading[token] = asyncio.ensure_future(self._read(core, token))
            reading.add_done_callback(lambda _: self._reading.pop(token, None))
        return await asyncio.shield(reading)

    async def _read(self, core: Core, token: str) -> Caller | None:
        now = time.monotonic()
        epoch = REVOCATIONS.epoch
        grant = await authenticate(core.db, token)
        if grant is None:
            self._found.pop(token, None)
            return None
        found = Caller(await _actor(core, grant), grant)
        if len(self._found) >= self.size:
            self._found.clear()  # a flood of distinct valid tokens: start over rather than grow
        self._found[token] = (now + self.ttl_s, epoch, found)
        return found


def requires(scope: Scope) -> Callable[[Request], Awaitable[Caller]]:
    """A route dependency: the caller, once its token is valid, wide enough and within its rate."""

    async def caller(request: Request) -> Caller:
        core: Core = request.app.state.core
        found = await request.app.state.grants.caller(core, bearer(request))
        if found is None:
            raise Unauthenticated("this token is unknown, revoked or expired")
        grant = found.grant
        if not grant.allows(scope):
            raise TooSmallScope(scope)
        limiter: RateLimiter = request.app.state.rate_limiter
        wait = await limiter.retry_after(grant.token_id)
        if wait > 0:
            raise RateLimited(wait)
        return found

    return caller


async def _actor(core: Core, grant: Grant) -> Actor:
    async with core.db.session() as session:
        user = await session.get(User, grant.user_id)
        identities = list(await session.scalars(select(Identity).where(Identity.user_id == grant.user_id)))
    name = (user.name if user else "") or next((i.display_name for i in identities if i.display_name), "")
    actor = Actor(user_id=grant.user_id, platform="http", platform_user_id=f"token:{grant.token_id}", display_name=name)
    if grant.scope is Scope.ADMIN:
        for identity in identities:  # act as the identity that makes the owner an admin, if one still does
            candidate = Actor(grant.user_id, identity.platform, identity.external_id, name, is_admin=True)
            if is_admin(core.settings, candidate):
                return candidate
    return actor
