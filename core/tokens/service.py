"""Personal access tokens: created in a private chat, shown once, stored as a hash, scoped.

A token is ``stx_`` and 43 URL-safe characters (256 random bits). Only its SHA-256 is stored: a
token is random, so a fast hash is enough (nothing to guess from it), and it lets a request find
its token by one indexed lookup. Whoever reads the database cannot use what they read.

Scopes are ordered: ``read`` reads (market data, models, deployments, trades) and never places or
changes anything; ``trade`` also saves models, deploys, stops and closes; ``admin`` also manages
products and discounts, and only the bot's administrators may create one. A token may expire
(``expires=90d`` by default; ``never`` on request) and is revoked by name.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.account.admin import is_admin
from core.account.service import lock_user
from core.actor import Actor
from core.config import Settings
from core.db import Database, utcnow
from core.errors import Conflict, Forbidden, Invalid, LimitExceeded, NotFound
from core.labels import check_label, did_you_mean, label_key
from core.redaction import ACCESS_TOKEN
from core.tokens.models import AccessToken

PREFIX = "stx_"
SHAPE = ACCESS_TOKEN  # log redaction and the group-chat guard know the shape too
MAX_TOKENS = 20  # live tokens per user
DEFAULT_LIFETIME = "90d"
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token


class _Revocations:
    """How many tokens this process has revoked: a cache of grants (``api.auth``) drops every
    entry made before the latest revocation, so a token revoked here stops at once (other
    processes' caches forget it within their time to live)."""

    epoch = 0


REVOCATIONS = _Revocations()
_LIFETIME = re.compile(r"^(\d{1,4})(d|w|mo|y)$")
_DAYS = {"d": 1, "w": 7, "mo": 30, "y": 365}


class Scope(IntEnum):
    """What a token may do; each scope includes the ones below it."""

    READ = 1
    TRADE = 2
    ADMIN = 3

    @property
    def word(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Scope:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise Invalid(f"'{text[:20]}' is not a scope", hint="read, trade or admin") from None


@dataclass(frozen=True, slots=True)
class TokenView:
    label: str
    scope: Scope
    hint: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None

    @staticmethod
    def from_row(row: AccessToken) -> TokenView:
        return TokenView(row.label, Scope[row.scope.upper()], row.hint, row.created_at, row.expires_at,
                         row.last_used_at)  # fmt: skip


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token just created: ``secret`` is shown to its owner this once and never again."""

    view: TokenView
    secret: str


@dataclass(frozen=True, slots=True)
class Grant:
    """Who a presented token acts for, and what it may do."""

    user_id: int
    scope: Scope
    token_id: int
    label: str

    def allows(self, needed: Scope) -> bool:
        return self.scope >= needed


def lifetime(text: str | None) -> timedelta | None:
    """``90d``, ``12w``, ``6mo``, ``1y`` or ``never`` (None); at most ten years."""
    text = (text or DEFAULT_LIFETIME).strip().lower()
    if text == "never":
        return None
    found = _LIFETIME.match(text)
    if not found or int(found.group(1)) == 0:
        raise Invalid(f"'{text[:20]}' is not a lifetime", hint="e.g. expires=30d, 12w, 6mo, 1y or never")
    days = int(found.group(1)) * _DAYS[found.group(2)]
    if days > 3650:
        raise Invalid("a token may live at most ten years", hint="or expires=never")
    return timedelta(days=days)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


async def create_token(
    db: Database, settings: Settings, actor: Actor, label: str, scope: Scope = Scope.READ,
    expires: str | None = None, *, now: datetime | None = None,
) -> NewToken:  # fmt: skip
    """A new token for ``actor``; an ``admin`` one only for the bot's administrators."""
    label = check_label(label, "token name")
    ttl = lifetime(expires)
    if scope is Scope.ADMIN and not is_admin(settings, actor):
        raise Forbidden("only the bot's administrators can create admin tokens", hint="read or trade")
    now = now or utcnow()
    secret = PREFIX + secrets.token_urlsafe(32)
    row = AccessToken(user_id=actor.user_id, label=label, label_key=label_key(label), scope=scope.word,
                      token_hash=_hash(secret), hint=f"{PREFIX}…{secret[-4:]}", created_at=now,
                      expires_at=now + ttl if ttl else None)  # fmt: skip
    try:
        async with db.session() as session:
            await lock_user(session, actor.user_id)  # two concurrent creates see each other's count
            live = await session.scalar(select(func.count()).select_from(AccessToken).where(
                AccessToken.user_id == actor.user_id, AccessToken.revoked_at.is_(None)))  # fmt: skip
            if (live or 0) >= MAX_TOKENS:
                raise LimitExceeded(f"you have {MAX_TOKENS} tokens, the most one person may keep",
                                    hint="revoke one you no longer use: /token revoke NAME")  # fmt: skip
            session.add(row)
    except IntegrityError:
        raise Conflict(f"you already have a token named {label}", hint="pick another name, or revoke that one") from None
    return NewToken(TokenView.from_row(row), secret)


async def list_tokens(db: Database, actor: Actor) -> list[TokenView]:
    """The actor's tokens not revoked, newest first (expired ones too, marked by their date)."""
    async with db.session() as session:
        rows = await session.scalars(select(AccessToken).where(
            AccessToken.user_id == actor.user_id, AccessToken.revoked_at.is_(None)
        ).order_by(AccessToken.created_at.desc(), AccessToken.id.desc()))  # fmt: skip
        return [TokenView.from_row(row) for row in rows]


async def revoke_token(db: Database, actor: Actor, label: str, *, now: datetime | None = None) -> TokenView:
    """Revoke the actor's token named ``label``: it stops working at once. The row stays, so the
    name stays taken until then and the list shows what was issued."""
    key = label_key(label.strip())
    async with db.session() as session:
        row = await session.scalar(select(AccessToken).where(
            AccessToken.user_id == actor.user_id, AccessToken.label_key == key, AccessToken.revoked_at.is_(None)))  # fmt: skip
        if row is None:
            names = list(await session.scalars(select(AccessToken.label).where(
                AccessToken.user_id == actor.user_id, AccessToken.revoked_at.is_(None))))  # fmt: skip
            raise NotFound(f"you have no token named {label.strip()[:64]}{did_you_mean(label, names)}",
                           hint="/token list shows yours")  # fmt: skip
        row.revoked_at = now or utcnow()
        REVOCATIONS.epoch += 1
        # a revoked name may be used again: free the unique (user, name) by renaming the old row
        row.label_key = f"~{row.id}"
        return TokenView.from_row(row)


async def authenticate(db: Database, presented: str, *, now: datetime | None = None) -> Grant | None:
    """The grant of a presented token, or None when it is unknown, revoked or expired (callers
    answer all three alike: a client learns nothing about which tokens exist)."""
    if not SHAPE.fullmatch(presented):
        return None
    now = now or utcnow()
    async with db.session() as session:
        row = await session.scalar(select(AccessToken).where(AccessToken.token_hash == _hash(presented)))
        if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
            return None
        if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
            row.last_used_at = now
        return Grant(row.user_id, Scope[row.scope.upper()], row.id, row.label)
