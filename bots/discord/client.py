"""The Discord gateway client: slash commands from the registry, synced at start-up.

``serve`` logs in with ``DISCORD_TOKEN``, syncs the commands in ``setup_hook`` (to each of
``DISCORD_GUILD_IDS`` when ``DISCORD_SYNC=guild``, which is instant and meant for development;
globally otherwise, which Discord may take a while to show) and runs until ``stop`` is set.
Slash commands need no privileged intents.
"""

from __future__ import annotations

import asyncio
import contextlib

import discord
from discord import app_commands

from bots.discord import members
from bots.discord.buttons import TokenButton
from bots.discord.commands import Runtime, add_commands, press
from bots.discord.render import render
from bots.registry import Registry
from bots.secrets_guard import looks_like_secret
from core.app import Core
from core.logging import get_logger, register_secret
from core.message import Message, new_ref
from core.state.buttons import ButtonStore

log = get_logger(__name__)

# Replies echo what users typed (names, descriptions, shared cards): none of it may ping @everyone,
# a role or a user. A reply that means to ping someone names them itself (``pinging``).
NO_PINGS = discord.AllowedMentions.none()


def pinging(user: discord.abc.Snowflake) -> discord.AllowedMentions:
    """Mentions allowed for a message that addresses ``user``: that user, nobody else."""
    return discord.AllowedMentions(everyone=False, roles=False, users=[user], replied_user=False)


class StoxlifyClient(discord.Client):
    """A ``discord.Client`` with the registry's slash commands and persistent token buttons."""

    def __init__(self, runtime: Runtime, *, intents: discord.Intents | None = None) -> None:
        super().__init__(intents=intents or discord.Intents.default(), allowed_mentions=NO_PINGS)
        self.runtime = runtime
        self.tree = app_commands.CommandTree(self)
        self.tree.error(self._on_tree_error)  # the tree's handler for failures outside our callbacks
        self.commands = add_commands(self.tree, runtime)
        self.add_dynamic_items(TokenButton)

    async def setup_hook(self) -> None:
        await sync_commands(self)

    async def press_token(self, interaction: discord.Interaction, token: str) -> None:
        """A ``TokenButton`` pressed on any message of this bot (``bots.discord.buttons.PressHandler``)."""
        await press(interaction, token)

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Removed from a server: nobody may /copy from its channels any more."""
        await members.guild_removed(self.runtime.core, guild)

    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        """A member left a server (sent only with the Members intent): they may no longer /copy there."""
        await members.member_removed(self.runtime.core, self, payload)

    async def on_message(self, message: discord.Message) -> None:
        """Delete API keys or tokens pasted in a server channel and tell the author to revoke them.

        Discord only shows message text to bots with the Message Content intent
        (``DISCORD_MESSAGE_CONTENT=true`` and the switch in the developer portal); without it
        ``content`` is empty here and nothing happens. The text is never echoed or logged.
        """
        if message.guild is None or message.author.bot or not looks_like_secret(message.content or ""):
            return
        try:
            await message.delete()
            removed = "I deleted it, but"
        except (discord.Forbidden, discord.NotFound):
            removed = "I could not delete it (I need the Manage Messages permission): delete it now, and"
        except discord.HTTPException:
            removed = "I could not delete it: delete it now, and"
        log.warning("secret_pasted_in_guild", guild=message.guild.id, channel=message.channel.id)
        with contextlib.suppress(discord.HTTPException):
            await message.channel.send(
                f"{message.author.mention} that message looked like an API key or token. {removed} "
                "treat it as leaked: revoke it at its issuer now. Share keys with me only in a private message.",
                allowed_mentions=pinging(message.author),
            )

    async def _on_tree_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Failures outside our callbacks (a stale command Discord still shows): a short private answer."""
        ref = new_ref()
        log.error(
            "discord_tree_error",
            ref=ref,
            error=repr(error),
            command=getattr(interaction.command, "name", None),
        )
        if interaction.type is discord.InteractionType.autocomplete or interaction.response.is_done():
            return
        if isinstance(error, app_commands.CommandNotFound):
            reply = Message.fail("this command is not available any more: see /help")
        else:
            reply = Message.crashed(ref)
        with contextlib.suppress(discord.HTTPException):
            await interaction.response.send_message(**render(reply)[0].send_kwargs(), ephemeral=True)


def build_client(core: Core, registry: Registry, *, buttons: ButtonStore | None = None) -> StoxlifyClient:
    """The client, its command tree (one slash command per registry command) and the button handler."""
    intents = discord.Intents.default()
    intents.message_content = core.settings.discord_message_content  # privileged: only when asked for
    intents.members = core.settings.discord_members_intent  # privileged: member removals reported at once
    client = StoxlifyClient(Runtime(core=core, registry=registry, buttons=buttons or core.state.buttons), intents=intents)
    from bots.discord.notifier import DiscordNotifier

    core.notifiers["discord"] = DiscordNotifier(client)
    return client


async def sync_commands(client: StoxlifyClient) -> None:
    """Push the slash commands to Discord: per guild for ``discord_sync == "guild"``, else globally."""
    settings = client.runtime.core.settings
    tree = client.tree
    if settings.discord_sync == "guild":
        if not settings.discord_guild_ids:
            log.warning("discord_sync_no_guilds", detail="DISCORD_SYNC=guild but DISCORD_GUILD_IDS is empty")
        for guild_id in settings.discord_guild_ids:
            guild = discord.Object(id=guild_id)
            tree.copy_global_to(guild=guild)
            try:
                synced = await tree.sync(guild=guild)
            except discord.HTTPException as exc:  # not in that guild, or missing applications.commands
                log.error("discord_sync_failed", guild=guild_id, status=exc.status, code=exc.code)
            else:
                log.info("discord_synced", guild=guild_id, commands=len(synced))
        return
    try:
        synced = await tree.sync()
    except discord.HTTPException as exc:
        log.error("discord_sync_failed", status=exc.status, code=exc.code)
    else:
        log.info("discord_synced", scope="global", commands=len(synced))


async def serve(
    core: Core, registry: Registry, stop: asyncio.Event, *, client: StoxlifyClient | None = None
) -> None:
    """Run the Discord bot until ``stop`` is set (or the connection ends for good), then close.

    Pass ``client`` (from ``build_client``) to share it, for example with a ``DiscordNotifier``
    that jobs send through while the bot runs.
    """
    token = core.settings.discord_token
    if token is None:
        raise ValueError("DISCORD_TOKEN is not set")
    secret = token.get_secret_value()
    register_secret(secret)
    if client is None:
        client = build_client(core, registry)
    async with client:
        runner = asyncio.create_task(client.start(secret), name="discord-client")
        stopper = asyncio.create_task(stop.wait(), name="discord-stop")
        try:
            await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not runner.done():
                await client.close()
                await asyncio.wait({runner}, timeout=10)
            if not runner.done():
                log.warning("discord_close_slow")
                runner.cancel()
    if runner.done() and not runner.cancelled() and runner.exception() is not None:
        raise runner.exception()  # type: ignore[misc]  # a failed login, say: let the caller report it
