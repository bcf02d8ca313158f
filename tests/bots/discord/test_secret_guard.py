"""A key pasted in a server channel is deleted and its author told to revoke it, never echoed."""

from __future__ import annotations

from discord import Message, Object, TextChannel

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"  # Binance key shape


async def _deliver(bot, dk, content: str):
    """A real discord.Message in a server channel, handed to the client's on_message."""
    state = bot.client._connection
    data = {
        "id": "990000000000000001", "channel_id": str(dk.CHANNEL_ID), "guild_id": str(dk.GUILD_ID),
        "author": dk.user_payload(dk.OWNER_ID), "content": content, "timestamp": "2026-11-24T10:00:00+00:00",
        "edited_timestamp": None, "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [],
        "attachments": [], "embeds": [], "pinned": False, "type": 0,
    }  # fmt: skip
    guild = Object(dk.GUILD_ID)
    channel = TextChannel(
        state=state, guild=guild,  # type: ignore[arg-type]
        data={"id": str(dk.CHANNEL_ID), "type": 0, "name": "general", "position": 0, "guild_id": str(dk.GUILD_ID)},
    )  # fmt: skip
    message = Message(state=state, channel=channel, data=data)  # type: ignore[arg-type]
    message.guild = guild  # type: ignore[assignment]
    start = len(bot.fake.calls)
    await bot.client.on_message(message)
    return bot.fake.calls[start:]


async def test_pasted_key_is_deleted_and_not_echoed(bot, dk):
    calls = await _deliver(bot, dk, f"here is my key {KEY}")
    assert [c.method for c in calls] == ["DELETE", "POST"]
    assert calls[0].path.endswith(f"/channels/{dk.CHANNEL_ID}/messages/990000000000000001")
    warning = calls[1].json["content"]
    assert "revoke it" in warning and KEY not in warning


async def test_ordinary_message_is_left_alone(bot, dk):
    assert await _deliver(bot, dk, "BBCA looks strong today") == []


async def test_the_warning_pings_only_its_author(bot, dk):
    calls = await _deliver(bot, dk, f"@everyone here is my key {KEY}")
    allowed = calls[1].json["allowed_mentions"]
    assert allowed["parse"] == [] and allowed["users"] == [dk.OWNER_ID]
