"""Bad input in slash options and modal values (no command line: they reach ``registry.invoke``)."""

from __future__ import annotations

from sqlalchemy import func, select

from bots.discord import commands as discord_commands
from core.contact.models import ContactMessage
from core.model.models import Model


def _text(calls) -> str:
    return " ".join(e.get("title", "") + e.get("description", "") for c in calls for e in c.embeds)


async def test_nul_in_a_slash_option_is_refused_with_the_usage(bot):
    calls = await bot.slash("contact", message="hello\x00there")
    text = _text(calls)
    assert "NUL character" in text and "Usage: /contact MESSAGE" in text
    async with bot.client.runtime.core.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(ContactMessage)) == 0


async def test_a_huge_number_in_a_slash_option_is_out_of_range(bot):
    text = _text(await bot.slash("pause", id="9" * 5000))
    assert "ID is out of range" in text and "Something went wrong" not in text and "9" * 41 not in text


async def test_a_lone_surrogate_in_a_modal_value_is_mended(bot, dk, monkeypatch):
    monkeypatch.setattr(discord_commands, "MODAL_TIMEOUT_S", None)
    calls = await bot.slash("model", action="save", name="cross")
    [modal] = [c for c in calls if c.path.endswith("/callback")]
    form = modal.json["data"]
    label, upload = form["components"]  # Labels (type 18): the text input, then a File Upload (type 19)
    assert upload["component"]["type"] == 19
    text_input = label["component"]
    script = "buy = close > open  # up \ud800\nsell = close < open"
    submit = {
        "custom_id": form["custom_id"],
        "components": [{"type": 18, "component": {"type": 4, "custom_id": text_input["custom_id"], "value": script}}],
    }
    answer = _text(await bot.send(dk.interaction_payload(5, submit)))
    assert "Saved model 'cross'" in answer, answer
    async with bot.client.runtime.core.db.session() as session:
        source = await session.scalar(select(Model.source))
    assert "# up \ufffd" in source
