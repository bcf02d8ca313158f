"""/link CODE on Telegram: the question comes with buttons; only pressing Yes links."""

from __future__ import annotations

import time

from sqlalchemy import select

from core.account.models import Identity
from core.account.service import actor_for
from core.lifecycle import link


async def _telegram_owner(tg) -> int:
    async with tg.core.db.session() as session:
        return await session.scalar(select(Identity.user_id).where(Identity.external_id == str(tg.ALICE["id"])))


async def test_link_asks_with_buttons_and_links_on_yes(tg):
    owner = await actor_for(tg.core.db, platform="discord", external_id="900", display_name="Ana on Discord")
    issued = await link.issue_code(tg.core.db, owner)

    [ask] = [c for c in await tg.say(f"/link {issued.code}") if c.method == "sendMessage"]
    assert "Join this telegram account to Ana on Discord's account?" in ask.text
    assert "discord (Ana on Discord)" in ask.text
    assert await _telegram_owner(tg) != owner.user_id  # asking moved nothing

    on = {"message_id": 77, "date": int(time.time()), "chat": tg.PRIVATE, "from": tg.BOT, "text": "Join…"}
    calls = await tg.push(ask.token("Yes, join Ana on Discord's account"), on=on)
    [done] = [c for c in calls if c.method == "editMessageText"]  # the question becomes its answer
    assert done.text == "Linked: this account now spans discord, telegram."
    assert await _telegram_owner(tg) == owner.user_id
