"""/link: a Telegram and a Discord identity become one user, with everything both owned."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.account import link
from core.account.models import Identity, LinkCode, User
from core.account.service import actor_for
from core.db import utcnow
from core.errors import Conflict, NotFound
from core.market.models import Watch


async def _watch(db, user_id: int, ticker: str, condition: str = "") -> None:
    async with db.session() as session:
        session.add(Watch(user_id=user_id, source="YFinance", ticker=ticker, condition=condition))


async def test_link_merges_identities_and_owned_rows(db):
    tg = await actor_for(db, platform="telegram", external_id="111", display_name="Ana")
    dc = await actor_for(db, platform="discord", external_id="222", display_name="ana#1")
    await _watch(db, tg.user_id, "BBCA")
    await _watch(db, dc.user_id, "BBCA")  # the same watch on both: kept once
    await _watch(db, dc.user_id, "TLKM", "price>3000")

    issued = await link.issue_code(db, tg)
    async with db.session() as session:
        stored = await session.scalar(select(LinkCode.code_hash))
    assert issued.code.replace("-", "") not in stored  # only a hash is kept

    result = await link.redeem_code(db, dc, issued.code.lower())
    assert result.user_id == tg.user_id and result.platforms == ("discord", "telegram")

    again = await actor_for(db, platform="discord", external_id="222")
    assert again.user_id == tg.user_id
    async with db.session() as session:
        watches = sorted((w.ticker, w.condition) for w in await session.scalars(select(Watch)))
        users = await session.scalar(select(func.count()).select_from(User))
        identities = set(await session.scalars(select(Identity.user_id)))
    assert watches == [("BBCA", ""), ("TLKM", "price>3000")]
    assert users == 1 and identities == {tg.user_id}


async def test_code_is_single_use_and_expires(db):
    tg = await actor_for(db, platform="telegram", external_id="111")
    dc = await actor_for(db, platform="discord", external_id="222")
    other = await actor_for(db, platform="discord", external_id="333")
    issued = await link.issue_code(db, tg)
    await link.redeem_code(db, dc, issued.code)
    with pytest.raises(NotFound, match="unknown or has expired"):
        await link.redeem_code(db, other, issued.code)

    late = await link.issue_code(db, other)
    tg2 = await actor_for(db, platform="telegram", external_id="444")
    with pytest.raises(NotFound):
        await link.redeem_code(db, tg2, late.code, now=utcnow() + timedelta(minutes=11))


async def test_cannot_link_two_identities_of_one_platform(db):
    first = await actor_for(db, platform="telegram", external_id="111")
    second = await actor_for(db, platform="telegram", external_id="999")
    issued = await link.issue_code(db, first)
    with pytest.raises(Conflict, match="already has a telegram identity"):
        await link.redeem_code(db, second, issued.code)
    with pytest.raises(Conflict, match="yours already"):
        await link.redeem_code(db, first, issued.code)
