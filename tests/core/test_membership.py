"""Group memberships follow the platform: a member who leaves, or a group the bot leaves, can no
longer be copied from; /copy asks the platform before trusting a stored membership."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.account.membership import MembershipCheck, bot_left, member_left
from core.account.models import ChatMember
from core.account.service import actor_for
from core.errors import Forbidden
from core.sharing import service as sharing

GROUP, OTHER = "-100111", "-100222"
SCRIPT = "buy = crossover(ema(close, 5), ema(close, 20))\nsell = crossunder(ema(close, 5), ema(close, 20))"


async def _in(db, who: str, chat: str):
    return await actor_for(db, platform="telegram", external_id=who, display_name=who, chat_id=chat,
                           chat_title=f"group {chat}", is_group=True)  # fmt: skip


async def _private(db, who: str):
    return await actor_for(db, platform="telegram", external_id=who, display_name=who, chat_id=who)


async def _members(db) -> set[tuple[int, int]]:
    async with db.session() as session:
        return {(m.chat_id, m.user_id) for m in await session.scalars(select(ChatMember))}


async def _share(db, author, chat_external: str) -> int:
    group = await sharing.current_group(db, author)
    assert group.external_id == chat_external
    view = await sharing.record_share(db, author, group.id, kind="model", label="ema", ticker="BBCA", interval="1d",
                                      range_="1y", payload={"source": SCRIPT}, stats={})  # fmt: skip
    return view.id


class Platform:
    """A MembershipCheck answering from a dict; None for anything it was not told."""

    def __init__(self, answers: dict[tuple[str, str], bool | None]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, str]] = []

    async def still_member(self, chat_external_id: str, user_external_id: str) -> bool | None:
        self.asked.append((chat_external_id, user_external_id))
        return self.answers.get((chat_external_id, user_external_id))


async def test_a_member_who_left_loses_that_group_only(db):
    author, bob = await _in(db, "1", GROUP), await _in(db, "2", GROUP)
    await _in(db, "2", OTHER)
    share = await _share(db, author, GROUP)
    assert await member_left(db, "telegram", "2", [GROUP]) == 1
    assert len(await _members(db)) == 2  # the author here, and Bob in the other group
    with pytest.raises(Forbidden, match="group you are not in"):
        await sharing.copy_share(db, await _private(db, "2"), share)
    assert await member_left(db, "telegram", "404", [GROUP]) == 0  # never seen: nothing to forget
    assert await member_left(db, "discord", "1", [GROUP]) == 0  # another platform's chat of that id
    assert bob.user_id in {user for _, user in await _members(db)}


async def test_the_bot_leaving_forgets_every_member_of_that_group(db):
    author = await _in(db, "1", GROUP)
    await _in(db, "2", GROUP)
    await _in(db, "2", OTHER)
    share = await _share(db, author, GROUP)
    assert await bot_left(db, "telegram", [GROUP]) == 2
    assert len(await _members(db)) == 1
    for who in ("1", "2"):
        with pytest.raises(Forbidden):
            await sharing.copy_share(db, await _private(db, who), share)


async def test_copy_asks_the_platform_and_forgets_a_member_it_denies(db):
    author = await _in(db, "1", GROUP)
    await _in(db, "2", GROUP)
    share = await _share(db, author, GROUP)
    platform = Platform({(GROUP, "2"): False})
    assert isinstance(platform, MembershipCheck)
    with pytest.raises(Forbidden, match="no longer in"):
        await sharing.copy_share(db, await _private(db, "2"), share, membership=platform)
    assert platform.asked == [(GROUP, "2")]
    assert len(await _members(db)) == 1  # Bob's row is gone: the next /copy is refused without asking
    with pytest.raises(Forbidden, match="not in"):
        await sharing.copy_share(db, await _private(db, "2"), share, membership=platform)
    assert len(platform.asked) == 1


async def test_copy_trusts_the_stored_row_when_the_platform_cannot_tell_and_skips_asking_in_the_group(db):
    author = await _in(db, "1", GROUP)
    bob = await _in(db, "2", GROUP)
    share = await _share(db, author, GROUP)
    platform = Platform({})  # None: unknown (a network error, say)
    saved = await sharing.copy_share(db, await _private(db, "2"), share, membership=platform)
    assert saved.model.label == "ema"
    await sharing.copy_share(db, bob, share, "ema2", membership=platform)  # in the group: no question
    assert platform.asked == [(GROUP, "2")]
