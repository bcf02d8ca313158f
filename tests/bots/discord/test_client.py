"""Client set-up: intents, command sync, and serve's start and stop."""

from __future__ import annotations

import asyncio

import discord
import pytest
from pydantic import SecretStr

from bots.commands import load
from bots.discord.client import StoxlifyClient, build_client, serve, sync_commands


async def test_no_privileged_intents(bot):
    intents = bot.client.intents
    assert not (intents.message_content or intents.members or intents.presences)


async def test_guild_sync_puts_every_command_in_each_guild(bot, dk, fake_discord):
    await bot.client.setup_hook()
    (put,) = fake_discord.only("http")
    assert (put.method, put.path) == ("PUT", f"/applications/{dk.APP_ID}/guilds/{dk.GUILD_ID}/commands")
    assert {c["name"] for c in put.json} == {c.name for c in load()}


async def test_global_sync(bot, dk, fake_discord):
    settings = bot.client.runtime.core.settings
    bot.client.runtime.core.settings = settings.model_copy(update={"discord_sync": "global"})
    await sync_commands(bot.client)
    (put,) = fake_discord.only("http")
    assert (put.method, put.path) == ("PUT", f"/applications/{dk.APP_ID}/commands")
    assert "market" in {c["name"] for c in put.json}


async def test_failed_sync_is_logged_not_fatal(bot, fake_discord):
    fake_discord.fail.append((lambda c: c.path.endswith("/commands"), 403))
    await sync_commands(bot.client)  # no exception: the bot still serves what was synced before


async def test_serve_runs_until_stop_and_closes(core, monkeypatch):
    core.settings = core.settings.model_copy(update={"discord_token": SecretStr("abc.def.ghi-test-token")})
    started: list[tuple[StoxlifyClient, str]] = []
    running, closed = asyncio.Event(), asyncio.Event()
    original_close = StoxlifyClient.close

    async def fake_start(self, token, *, reconnect=True):  # the gateway connection, until close()
        started.append((self, token))
        running.set()
        await closed.wait()

    async def close(self):
        closed.set()
        await original_close(self)

    monkeypatch.setattr(StoxlifyClient, "start", fake_start)
    monkeypatch.setattr(StoxlifyClient, "close", close)
    stop = asyncio.Event()
    shared = build_client(core, load())  # shared with a DiscordNotifier, say
    task = asyncio.create_task(serve(core, load(), stop, client=shared))
    await asyncio.wait_for(running.wait(), 5)
    client, token = started[0]
    assert client is shared and token == "abc.def.ghi-test-token" and not client.is_closed()
    stop.set()
    await asyncio.wait_for(task, 5)
    assert client.is_closed()


async def test_serve_reports_a_failed_login(core, monkeypatch):
    core.settings = core.settings.model_copy(update={"discord_token": SecretStr("bad-token-value")})

    async def fake_start(self, token, *, reconnect=True):
        raise discord.LoginFailure("Improper token has been passed.")

    monkeypatch.setattr(StoxlifyClient, "start", fake_start)
    with pytest.raises(discord.LoginFailure):
        await asyncio.wait_for(serve(core, load(), asyncio.Event()), 5)


async def test_serve_needs_a_token(core):
    with pytest.raises(ValueError, match="DISCORD_TOKEN"):
        await serve(core, load(), asyncio.Event())


async def test_client_never_pings_everyone_roles_or_users_by_default(bot):
    """A safeguard under every reply: text echoed from users (a model's description holding
    ``@everyone`` or ``<@&role>``) cannot ping anyone, whatever path sends it."""
    mentions = bot.client.allowed_mentions
    assert mentions is not None
    assert mentions.to_dict() == {"parse": []}


async def test_a_reply_carries_the_safeguard_in_its_request(bot):
    calls = await bot.slash("help")
    (response,) = calls
    assert response.json["data"]["allowed_mentions"] == {"parse": []}
