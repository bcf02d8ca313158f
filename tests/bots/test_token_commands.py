"""/token new|list|revoke on both databases: a token is shown once, stored as a hash, scoped,
revocable, expiring; in groups and for non-admins the dangerous parts are refused."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from datetime import timedelta

from sqlalchemy import select

from bots.registry import Context
from core.db import utcnow
from core.tokens.models import AccessToken
from core.tokens.service import MAX_TOKENS, Scope, authenticate

TOKEN = re.compile(r"^stx_[A-Za-z0-9_-]{43}$", re.M)


async def _rows(console) -> list[AccessToken]:
    async with console.core.db.session() as session:
        return list(await session.scalars(select(AccessToken).order_by(AccessToken.id)))


def _secret(text: str) -> str:
    [found] = TOKEN.findall(text)
    return found


async def test_a_new_token_is_shown_once_and_only_its_hash_is_stored(db_console):
    reply = await db_console.handle("/token new my-script")
    assert not reply.error and reply.ephemeral
    secret = _secret(reply.text)
    assert "read, expires" in reply.text and "shown this once" in reply.text
    [row] = await _rows(db_console)
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest() and secret not in repr(vars(row))
    assert row.scope == "read" and row.hint == f"stx_…{secret[-4:]}"
    assert row.expires_at is not None and timedelta(days=89) < row.expires_at - row.created_at <= timedelta(days=90)

    listed = await db_console.handle("/token list")
    assert "my-script · read · stx_…" in listed.text and secret not in listed.text and "never used" in listed.text

    grant = await authenticate(db_console.core.db, secret)
    assert grant is not None and grant.user_id == db_console.actor.user_id and grant.scope is Scope.READ
    assert not grant.allows(Scope.TRADE)
    assert "last used" in (await db_console.handle("/token list")).text


async def test_revoked_expired_and_unknown_tokens_do_not_authenticate(db_console):
    db = db_console.core.db
    kept = _secret((await db_console.handle("/token new kept trade expires=never")).text)
    gone = _secret((await db_console.handle("/token new gone")).text)
    assert "Revoked token 'gone'" in (await db_console.handle("/token revoke GONE")).text
    assert await authenticate(db, gone) is None
    assert await authenticate(db, kept[:-1] + ("A" if kept[-1] != "A" else "B")) is None  # one character off
    assert await authenticate(db, "Bearer " + kept) is None and await authenticate(db, "") is None
    later = utcnow() + timedelta(days=3650)
    assert (await authenticate(db, kept, now=later)).scope is Scope.TRADE  # expires=never
    short = _secret((await db_console.handle("/token new short expires=1d")).text)
    assert await authenticate(db, short, now=utcnow() + timedelta(days=2)) is None
    # a revoked name may be used again
    assert not (await db_console.handle("/token new gone")).error
    assert "you already have a token named KEPT" in (await db_console.handle("/token new KEPT")).text


async def test_bad_input_gets_the_usage(db_console):
    cases = {
        "/token new": "which token?",
        "/token new x superuser": "'superuser' is not a scope",
        "/token new x expires=forever": "'forever' is not a lifetime",
        "/token new x expires=20y": "at most ten years",
        "/token new x expires=0d": "is not a lifetime",
        "/token new bad!name": "token name",
        "/token revoke nope": "you have no token named nope",
        "/token list extra": "takes nothing more",
    }
    for line, expected in cases.items():
        reply = await db_console.handle(line)
        assert reply.error and expected in reply.text, (line, reply.text)
    assert await _rows(db_console) == []


async def test_admin_tokens_are_for_admins_and_tokens_are_private(db_console):
    refused = await db_console.handle("/token new ops admin")
    assert refused.error and "only the bot's administrators can create admin tokens" in refused.text
    core = db_console.core
    core.settings = core.settings.model_copy(update={"admin_ids": [f"console:{db_console.actor.platform_user_id}"]})
    made = await db_console.handle("/token new ops admin")
    assert (await authenticate(core.db, _secret(made.text))).scope is Scope.ADMIN

    in_group = dataclasses.replace(db_console.actor, is_group=True, chat_id="-100")
    group = await db_console.registry.dispatch(Context(core, in_group), "/token new leaked")
    assert group.error and "private" in group.text.lower()
    assert [row.label for row in await _rows(db_console)] == ["ops"]


async def test_one_person_keeps_a_bounded_number_of_tokens(db_console):
    for n in range(MAX_TOKENS):
        assert not (await db_console.handle(f"/token new t{n}")).error
    over = await db_console.handle("/token new one-more")
    assert over.error and f"you have {MAX_TOKENS} tokens" in over.text
    await db_console.handle("/token revoke t0")
    assert not (await db_console.handle("/token new one-more")).error


def test_tokens_are_masked_in_logs_and_spotted_in_groups():
    from bots.secrets_guard import looks_like_secret
    from core.redaction import scrub

    secret = "stx_" + "a1B2-c3_D4" * 4 + "xyz"
    assert looks_like_secret(f"here is my token {secret}")
    assert secret not in scrub(f"Authorization header {secret} sent")


async def test_deleting_the_account_ends_its_tokens(db_console):
    secret = _secret((await db_console.handle("/token new my-script trade")).text)
    asked = await db_console.handle("/deleteaccount")
    assert "access tokens" in asked.text
    await db_console.handle("/deleteaccount --yes")
    assert await authenticate(db_console.core.db, secret) is None and await _rows(db_console) == []
