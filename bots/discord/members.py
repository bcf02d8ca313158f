"""Discord membership events: a member leaving a server, or the bot leaving it, revokes /copy there.

Chats are recorded per channel (the interaction's channel), so a server-wide event maps to the
server's channels and threads, from the client's cache (the non-privileged Guilds intent keeps it).
``on_guild_remove`` needs no privileged intent. Member removals reach the bot only with the
privileged Members intent (``DISCORD_MEMBERS_INTENT=true`` and the switch in the developer portal);
without it they go unreported and ``/copy`` asks Discord instead (``DiscordNotifier.still_member``:
the REST member lookup needs no intent).
"""

from __future__ import annotations

import discord

from core.account.membership import bot_left, member_left
from core.app import Core

PLATFORM = "discord"


def chats_of(guild: discord.Guild) -> list[str]:
    """The ids of every channel and thread of ``guild`` the client knows: how its chats are recorded."""
    return [str(channel.id) for channel in (*guild.channels, *guild.threads)]


async def guild_removed(core: Core, guild: discord.Guild) -> int:
    """The bot left, was kicked from, or lost ``guild``: forget every membership there."""
    return await bot_left(core.db, PLATFORM, chats_of(guild))


async def member_removed(core: Core, client: discord.Client, event: discord.RawMemberRemoveEvent) -> int:
    """A member left or was removed from a server: forget their memberships of its channels."""
    guild = client.get_guild(event.guild_id)
    if guild is None:  # not cached: nothing to map; /copy still asks Discord
        return 0
    return await member_left(core.db, PLATFORM, str(event.user.id), chats_of(guild))
