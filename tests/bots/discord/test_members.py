"""Group membership on Discord: the bot leaving a server (GUILD_DELETE) and a member leaving it
(GUILD_MEMBER_REMOVE, with the Members intent) go through the real client's event handlers; /copy
asks Discord (REST, no privileged intent) before trusting a stored membership."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from core.account.models import ChatMember, Identity
from core.account.service import actor_for
from core.sharing import service as sharing

SCRIPT = "buy = crossover(ema(close, 5), ema(close, 20))\nsell = crossunder(ema(close, 5), ema(close, 20))"


def guild_payload(dk) -> dict[str, Any]:
    """GUILD_CREATE as the gateway sends it (the Guilds intent fills the cache with the channels)."""
    return {
        "id": str(dk.GUILD_ID), "name": "Traders", "icon": None, "owner_id": str(dk.OWNER_ID), "region": "us",
        "afk_channel_id": None, "afk_timeout": 300, "verification_level": 0, "default_message_notifications": 0,
        "explicit_content_filter": 0, "roles": [], "emojis": [], "features": [], "mfa_level": 0,
        "application_id": None, "system_channel_id": None, "system_channel_flags": 0, "rules_channel_id": None,
        "vanity_url_code": None, "description": None, "banner": None, "premium_tier": 0,
        "preferred_locale": "en-US", "public_updates_channel_id": None, "nsfw_level": 0, "stickers": [],
        "premium_progress_bar_enabled": False, "member_count": 3, "members": [], "voice_states": [],
        "presences": [], "threads": [], "large": False, "unavailable": False,
        "channels": [{"id": str(dk.CHANNEL_ID), "type": 0, "name": "trading", "position": 0,
                      "permission_overwrites": [], "nsfw": False, "parent_id": None}],
    }  # fmt: skip


async def settle(bot) -> None:
    """Let the event handlers discord.py scheduled run to the end."""
    for _ in range(50):
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()
                   and "on_" in t.get_name()]  # fmt: skip
        if not pending:
            return
        await asyncio.wait(pending, timeout=5)


async def _server_with_a_share(bot, dk) -> int:
    """The owner shares a model in the server's channel; the other user has used the bot there."""
    core = bot.client.runtime.core
    await bot.slash("help", user_id=dk.OTHER_ID)
    owner = await actor_for(core.db, platform="discord", external_id=str(dk.OWNER_ID), chat_id=str(dk.CHANNEL_ID),
                            chat_title="trading", is_group=True)  # fmt: skip
    group = await sharing.current_group(core.db, owner)
    share = await sharing.record_share(core.db, owner, group.id, kind="model", label="ema", ticker="BBCA",
                                       interval="1d", range_="1y", payload={"source": SCRIPT}, stats={})  # fmt: skip
    return share.id


async def _members(bot) -> set[str]:
    async with bot.client.runtime.core.db.session() as session:
        rows = await session.execute(select(Identity.external_id).join(ChatMember, ChatMember.user_id == Identity.user_id))
        return set(rows.scalars())


async def _copy_in_dm(bot, dk, share: int) -> tuple[str, list]:
    calls = await bot.slash("copy", user_id=dk.OTHER_ID, guild=False, share=share)
    text = " ".join(e.get("title", "") + e.get("description", "") for c in calls for e in c.embeds)
    return text, calls


async def test_the_bot_removed_from_a_server_forgets_its_members(bot, dk):
    share = await _server_with_a_share(bot, dk)
    assert await _members(bot) == {str(dk.OWNER_ID), str(dk.OTHER_ID)}
    state = bot.client._connection
    state.parse_guild_create(guild_payload(dk))
    await settle(bot)
    state.parse_guild_delete({"id": str(dk.GUILD_ID)})  # kicked, or the bot left
    await settle(bot)
    assert await _members(bot) == set()
    text, _ = await _copy_in_dm(bot, dk, share)
    assert "group you are not in" in text


async def test_a_member_who_leaves_the_server_is_forgotten(bot, dk):
    share = await _server_with_a_share(bot, dk)
    state = bot.client._connection
    state.parse_guild_create(guild_payload(dk))
    await settle(bot)
    state.parse_guild_member_remove({"guild_id": str(dk.GUILD_ID), "user": dk.user_payload(dk.OTHER_ID)})
    await settle(bot)
    assert await _members(bot) == {str(dk.OWNER_ID)}
    text, calls = await _copy_in_dm(bot, dk, share)
    assert "group you are not in" in text
    assert not [c for c in calls if "/members/" in c.path]  # refused from the stored rows alone


async def test_copy_asks_discord_and_refuses_a_member_who_left_unreported(bot, dk, fake_discord):
    """No Members intent, so the leave was never reported: the REST member lookup answers 404."""
    share = await _server_with_a_share(bot, dk)
    fake_discord.fail.append((lambda c: c.path == f"/guilds/{dk.GUILD_ID}/members/{dk.OTHER_ID}", 404))
    text, calls = await _copy_in_dm(bot, dk, share)
    assert "no longer in" in text
    assert [c.path for c in calls if c.via == "http" and c.method == "GET"] == [
        f"/channels/{dk.CHANNEL_ID}", f"/guilds/{dk.GUILD_ID}/members/{dk.OTHER_ID}"]
    assert await _members(bot) == {str(dk.OWNER_ID)}


async def test_copy_by_a_member_still_in_the_server_works(bot, dk):
    share = await _server_with_a_share(bot, dk)
    text, _ = await _copy_in_dm(bot, dk, share)
    assert "Copied model 'ema'" in text


async def test_member_events_need_the_opt_in_privileged_intent(core):
    from bots.commands import load
    from bots.discord.client import build_client

    assert not build_client(core, load()).intents.members
    core.settings = core.settings.model_copy(update={"discord_members_intent": True})
    assert build_client(core, load()).intents.members


async def test_a_server_outage_forgets_nobody(bot, dk):
    await _server_with_a_share(bot, dk)
    state = bot.client._connection
    state.parse_guild_create(guild_payload(dk))
    await settle(bot)
    state.parse_guild_delete({"id": str(dk.GUILD_ID), "unavailable": True})  # Discord's outage, not a removal
    await settle(bot)
    assert await _members(bot) == {str(dk.OWNER_ID), str(dk.OTHER_ID)}
