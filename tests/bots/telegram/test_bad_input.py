"""Bad input from a real Telegram update (JSON may carry "\\u0000" and lone "\\ud800" escapes):
the registry's normalisation applies to it like to any transport."""

from __future__ import annotations

from sqlalchemy import func, select

from core.account.models import User
from core.contact.models import ContactMessage


async def test_nul_in_a_message_is_refused_with_the_usage(tg):
    (sent,) = await tg.say("/contact hello\x00there")
    assert "NUL character" in sent.text and "Usage: /contact MESSAGE" in sent.text
    async with tg.core.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(ContactMessage)) == 0


async def test_a_lone_surrogate_is_stored_as_a_replacement_character(tg):
    (sent,) = await tg.say("/profile set name Ana\ud800")
    assert "Something went wrong" not in sent.text
    async with tg.core.db.session() as session:
        names = list(await session.scalars(select(User.name)))
    assert "Ana\ufffd" in names


async def test_a_long_unknown_command_is_quoted_as_an_excerpt(tg):
    (sent,) = await tg.say("/" + "q" * 3000)
    assert "unknown command /qqq" in sent.text and "q" * 41 not in sent.text
