"""``DiscordNotifier``: how jobs push notices (alerts with charts) into Discord.

Targets (``ChatTarget(platform="discord", chat_id=...)``):

- ``"<channel id>"``: a guild text channel, thread, or DM channel. This is the ``chat_id`` an
  ``Actor`` carries (the interaction's channel), so alerts go back where the user asked.
- ``"user:<user id>"``: a direct message to that user; the DM channel is opened first.

A notice renders like a command reply (an embed, its images attached and shown, further messages
for long text). Its buttons need an owner: they are added for DMs (the recipient owns them) and
left out in guild channels. discord.py's HTTP client already waits out 429s; when it still gives
up (or Discord answers 5xx) the message is retried after ``retry_delays``, so nothing is dropped
for being rate limited. ``send`` returns False only when Discord refused the message for good.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

import discord

from bots.discord.render import Page, render
from core.logging import get_logger
from core.message import Message
from core.notify import ChatTarget
from core.state.buttons import ANYONE, ButtonStore

log = get_logger(__name__)

USER_PREFIX = "user:"
T = TypeVar("T")


class DiscordNotifier:
    platform = "discord"

    def __init__(
        self,
        client: discord.Client,
        *,
        buttons: ButtonStore | None = None,
        retry_delays: Sequence[float] = (2.0, 10.0, 30.0),
    ) -> None:
        self.client = client
        # the store the client's button handler resolves against (StoxlifyClient.runtime.buttons)
        self.buttons = (
            buttons if buttons is not None else getattr(getattr(client, "runtime", None), "buttons", None)
        )
        self.retry_delays = tuple(retry_delays)

    async def still_member(self, chat_external_id: str, user_external_id: str) -> bool | None:
        """``core.account.membership.MembershipCheck``: whether the user is in the server of the
        channel ``chat_external_id``, asked over REST (no privileged intent needed). False when
        Discord says the member, the channel or the bot's access is gone (404, 403); None when it
        cannot tell (a group DM has no server; other failures)."""
        try:
            guild_id = await self._guild_of(int(chat_external_id))
            if guild_id is None:
                return None
            await self.client.http.get_member(guild_id, int(user_external_id))
        except discord.HTTPException as exc:
            if exc.status in (403, 404):
                log.info("discord_membership_denied", chat=chat_external_id, status=exc.status)
                return False
            log.warning("discord_membership_unknown", chat=chat_external_id, status=exc.status)
            return None
        except ValueError:
            return None
        return True

    async def _guild_of(self, channel_id: int) -> int | None:
        """The server of a channel: from the cache, else from Discord (GET /channels/{id})."""
        channel = self.client.get_channel(channel_id)
        if channel is not None:
            guild = getattr(channel, "guild", None)
            return guild.id if guild is not None else None
        # a DM's payload has no guild_id: read the TypedDict union as a plain mapping
        data: Mapping[str, object] = await self.client.http.get_channel(channel_id)
        guild_id = data.get("guild_id")
        return int(guild_id) if isinstance(guild_id, str | int) and guild_id else None

    async def send(self, target: ChatTarget, message: Message) -> bool:
        if target.platform != self.platform:
            log.warning("notice_wrong_platform", platform=target.platform)
            return False
        try:
            destination, owner = await self._destination(target.chat_id, wants_owner=bool(message.commands))
        except ValueError:
            log.warning("notice_bad_target", chat_id=target.chat_id)
            return False
        except (discord.HTTPException, discord.RateLimited) as exc:
            log.warning("notice_target_unreachable", chat_id=target.chat_id, error=type(exc).__name__)
            return False
        if destination is None:
            return False
        if owner is None and message.public:
            # a group's shared card: its buttons are public (binder binds them to ANYONE, so every
            # member may press them for themselves); buttons are rendered only for an owner
            owner = ANYONE
        bind = await self.buttons.binder(owner, message.buttons) if owner is not None and self.buttons else None
        for page in render(message, bind=bind):
            if not await self._deliver(destination, page, target.chat_id):
                return False
        return True

    async def _destination(
        self, chat_id: str, *, wants_owner: bool
    ) -> tuple[discord.abc.Messageable | None, str | None]:
        """Where to send and, for a DM, who owns the notice's buttons."""
        if chat_id.startswith(USER_PREFIX):
            user_id = int(chat_id.removeprefix(USER_PREFIX))
            channel = await self._retrying(chat_id, lambda: self.client.create_dm(discord.Object(id=user_id)))
            return channel, str(user_id)
        channel_id = int(chat_id)
        if wants_owner:  # only a DM channel has an owner for buttons: look it up
            found = self.client.get_channel(channel_id) or await self._retrying(
                chat_id, lambda: self.client.fetch_channel(channel_id)
            )
            if isinstance(found, discord.DMChannel) and found.recipient is not None:
                return found, str(found.recipient.id)
            if isinstance(found, discord.abc.Messageable):
                return found, None
        return self.client.get_partial_messageable(channel_id), None

    async def _deliver(self, destination: discord.abc.Messageable, page: Page, chat_id: str) -> bool:
        try:
            await self._retrying(chat_id, lambda: destination.send(**page.send_kwargs()))
        except (discord.HTTPException, discord.RateLimited) as exc:
            log.warning(
                "notice_refused",
                chat_id=chat_id,
                status=getattr(exc, "status", 429),
                code=getattr(exc, "code", 0),
            )
            return False
        return True

    async def _retrying(self, chat_id: str, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``, again after each of ``retry_delays`` while Discord says "later" (429, 5xx)."""
        for delay in self.retry_delays:
            try:
                return await call()
            except discord.RateLimited as exc:  # raised only when the client sets max_ratelimit_timeout
                wait = max(exc.retry_after, delay)
            except discord.HTTPException as exc:
                if exc.status != 429 and exc.status < 500:
                    raise
                wait = delay
            log.info("notice_retry", chat_id=chat_id, wait_s=wait)
            await asyncio.sleep(wait)
        return await call()  # the last attempt: its failure is the caller's
