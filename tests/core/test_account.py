"""Accounts: users created on first contact, race-safe; identities, chats, cascades."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from core.account.models import Chat, Identity, User
from core.account.service import actor_for, get_user
from core.actor import Actor
from core.db import utcnow
from core.errors import Invalid, NotFound
from core.market.models import Watch


async def _count(db, model) -> int:
    async with db.session() as s:
        return await s.scalar(select(func.count()).select_from(model))


async def test_first_contact_creates_user_and_identity_once(db):
    first = await actor_for(db, platform="telegram", external_id=123, display_name="Ana")
    again = await actor_for(db, platform="telegram", external_id="123", display_name="Ana")
    assert first == again
    assert first == Actor(
        user_id=first.user_id, platform="telegram", platform_user_id="123", display_name="Ana"
    )
    assert await _count(db, User) == 1 and await _count(db, Identity) == 1
    user = await get_user(db, first)
    assert user.name == "Ana" and user.email is None
    assert user.created_at.tzinfo is not None


async def test_concurrent_first_contacts_create_one_user(db):
    actors = await asyncio.gather(
        *(actor_for(db, platform="discord", external_id="42", display_name="Budi") for _ in range(5))
    )
    assert len({a.user_id for a in actors}) == 1
    assert await _count(db, User) == 1
    assert await _count(db, Identity) == 1


async def test_same_id_on_two_platforms_is_two_users(db):
    telegram = await actor_for(db, platform="telegram", external_id="7")
    discord = await actor_for(db, platform="discord", external_id="7")
    assert telegram.user_id != discord.user_id


async def test_last_seen_is_refreshed_at_most_once_a_minute(db):
    t0 = utcnow() - timedelta(hours=1)
    actor = await actor_for(db, platform="console", external_id="me", now=t0)
    await actor_for(db, platform="console", external_id="me", now=t0 + timedelta(seconds=30))
    assert (await get_user(db, actor)).last_seen_at == t0
    later = t0 + timedelta(minutes=2)
    await actor_for(db, platform="console", external_id="me", now=later)
    assert (await get_user(db, actor)).last_seen_at == later
    async with db.session() as s:
        identity = await s.scalar(select(Identity))
    assert identity.last_seen_at == later and identity.first_seen_at == t0


async def test_display_name_change_is_stored(db):
    await actor_for(db, platform="telegram", external_id="1", display_name="Old")
    actor = await actor_for(db, platform="telegram", external_id="1", display_name="New")
    assert actor.display_name == "New"
    async with db.session() as s:
        assert await s.scalar(select(Identity.display_name)) == "New"


async def test_group_chat_is_recorded_once_and_title_follows(db):
    common = {"platform": "telegram", "chat_id": -100, "is_group": True}
    actors = await asyncio.gather(
        *(actor_for(db, external_id=str(i), chat_title="Traders", **common) for i in range(4))
    )
    assert {a.chat_id for a in actors} == {"-100"} and all(a.is_group for a in actors)
    assert await _count(db, Chat) == 1
    await actor_for(db, external_id="1", chat_title="Traders ID", **common)
    await actor_for(db, external_id="2", chat_title=None, **common)  # unknown title keeps the stored one
    async with db.session() as s:
        chat = await s.scalar(select(Chat))
    assert (chat.external_id, chat.title, chat.is_group) == ("-100", "Traders ID", True)


async def test_private_contact_records_no_chat_without_chat_id(db):
    actor = await actor_for(db, platform="telegram", external_id="5")
    assert actor.chat_id is None and not actor.is_group
    assert await _count(db, Chat) == 0


async def test_bad_input_is_invalid(db):
    with pytest.raises(Invalid, match="unknown platform"):
        await actor_for(db, platform="myspace", external_id="1")
    with pytest.raises(Invalid):
        await actor_for(db, platform="telegram", external_id="  ")


async def test_deleting_a_user_cascades_to_identities_and_watches(db):
    gone = await actor_for(db, platform="telegram", external_id="1")
    kept = await actor_for(db, platform="telegram", external_id="2")
    async with db.session() as s:
        for actor in (gone, kept):
            s.add(Watch(user_id=actor.user_id, source="YFinance", ticker="BBCA"))
    async with db.session() as s:
        await s.execute(delete(User).where(User.id == gone.user_id))
    async with db.session() as s:
        assert (await s.scalars(select(Identity.user_id))).all() == [kept.user_id]
        assert (await s.scalars(select(Watch.user_id))).all() == [kept.user_id]
    with pytest.raises(NotFound):
        await get_user(db, gone)


async def test_names_a_platform_reports_are_stored_without_nul_or_lone_surrogates(db):
    """A name comes from a JSON payload, where "\\u0000" and "\\ud800" are valid escapes."""
    actor = await actor_for(db, platform="telegram", external_id=9, display_name="A\x00na\ud800",
                            chat_id=-100, chat_title="Tra\x00ders \udc80", is_group=True)  # fmt: skip
    assert actor.display_name == "Ana\ufffd"
    async with db.session() as s:
        assert await s.scalar(select(User.name).where(User.id == actor.user_id)) == "Ana\ufffd"
        assert await s.scalar(select(Chat.title)) == "Traders \ufffd"
