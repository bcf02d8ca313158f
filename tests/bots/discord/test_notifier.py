"""DiscordNotifier: notices into channels and DMs through discord.py's HTTP client."""

from __future__ import annotations

import pytest

from bots.discord.notifier import DiscordNotifier
from core.message import Image, Message
from core.notify import ChatTarget, Notifier

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _posts(fake):
    return [c for c in fake.only("http") if c.method == "POST" and c.path.endswith("/messages")]


async def test_notice_to_a_channel_sends_a_card_with_the_chart(bot, dk, fake_discord):
    notifier = DiscordNotifier(bot.client)
    assert isinstance(notifier, Notifier) and notifier.platform == "discord"
    notice = Message.with_commands(
        "BBCA: RSI crossed below 30\nRSI 28.4 · price 9,150", images=(Image(PNG, "bbca 1d.png"),)
    )
    assert await notifier.send(ChatTarget("discord", str(dk.CHANNEL_ID)), notice) is True
    (post,) = _posts(fake_discord)
    assert post.path == f"/channels/{dk.CHANNEL_ID}/messages"
    assert post.flags == 1 << 15 and not post.embeds and not post.json["content"]  # IS_COMPONENTS_V2, no text field
    [container] = post.components
    text, gallery = container["components"]
    assert (container["type"], text["type"], gallery["type"]) == (17, 10, 12)
    assert text["content"] == "### BBCA: RSI crossed below 30\nRSI 28.4 · price 9,150"
    assert post.files == [("bbca_1d.png", PNG)]
    assert [item["media"]["url"] for item in gallery["items"]] == ["attachment://bbca_1d.png"]
    assert post.json["attachments"][0]["filename"] == "bbca_1d.png"
    dk.check_card_limits(post.json)


async def test_notice_to_a_user_opens_a_dm_and_binds_buttons_to_that_user(bot, dk, fake_discord):
    notifier = DiscordNotifier(bot.client)
    notice = Message.with_commands("Trade signal BBCA", commands=(("Chart", "/market BBCA 1h"),))
    assert await notifier.send(ChatTarget("discord", f"user:{dk.OTHER_ID}"), notice)
    opened, post = fake_discord.only("http")
    assert (opened.method, opened.path, opened.json) == (
        "POST",
        "/users/@me/channels",
        {"recipient_id": dk.OTHER_ID},
    )
    assert post.path == f"/channels/{dk.DM_CHANNEL_ID}/messages"
    (token,) = post.custom_ids
    assert await bot.client.runtime.buttons.resolve(token, str(dk.OTHER_ID)) == "/market BBCA 1h"


async def test_buttons_are_left_out_in_guild_channels(bot, dk, fake_discord):
    notifier = DiscordNotifier(bot.client)
    notice = Message.with_commands("Alert", commands=(("Chart", "/market BBCA"),))
    assert await notifier.send(ChatTarget("discord", str(dk.CHANNEL_ID)), notice)
    (post,) = _posts(fake_discord)
    assert post.custom_ids == []


async def test_rate_limited_notice_is_retried_not_dropped(bot, dk, fake_discord):
    notifier = DiscordNotifier(bot.client, retry_delays=(0, 0))
    fake_discord.fail += [
        (lambda c: c.path.endswith("/messages"), 429),
        (lambda c: c.path.endswith("/messages"), 503),
    ]
    assert await notifier.send(ChatTarget("discord", str(dk.CHANNEL_ID)), Message.with_commands("Alert"))
    assert len(_posts(fake_discord)) == 3


async def test_refused_notice_returns_false_without_retrying(bot, dk, fake_discord):
    notifier = DiscordNotifier(bot.client, retry_delays=(0, 0))
    fake_discord.fail.append((lambda c: c.path.endswith("/messages"), 403))
    target = ChatTarget("discord", str(dk.CHANNEL_ID))
    assert await notifier.send(target, Message.with_commands("Alert")) is False
    assert len(_posts(fake_discord)) == 1


@pytest.mark.parametrize("target", [ChatTarget("telegram", "123"), ChatTarget("discord", "general")])
async def test_foreign_or_malformed_targets_are_not_sent(bot, fake_discord, target):
    assert await DiscordNotifier(bot.client).send(target, Message.with_commands("Alert")) is False
    assert fake_discord.calls == []
