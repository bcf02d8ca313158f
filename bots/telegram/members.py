"""Telegram membership updates: a member leaving a group, or the bot leaving it, revokes /copy there.

Telegram reports the bot's own status in a chat (``my_chat_member``) to any bot that lists it in
``allowed_updates``, but other members' changes (``chat_member``) only to bots that administer the
group. So without admin rights a leave goes unreported, and ``TelegramNotifier.still_member``
(getChatMember, which any member bot may call) is asked at ``/copy`` time as well.
"""

from __future__ import annotations

from telegram import ChatMember, Update
from telegram.constants import ChatMemberStatus
from telegram.ext import ChatMemberHandler, ContextTypes

from core.account.membership import bot_left, member_left
from core.app import Core

PLATFORM = "telegram"
GONE = frozenset({ChatMemberStatus.LEFT, ChatMemberStatus.BANNED})


def is_gone(member: ChatMember) -> bool:
    """Out of the chat: left, banned, or restricted without being a member."""
    if member.status in GONE:
        return True
    return member.status == ChatMemberStatus.RESTRICTED and not getattr(member, "is_member", True)


def handler(core: Core) -> ChatMemberHandler:
    """The handler for ``chat_member`` and ``my_chat_member`` updates."""

    async def on_member_change(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        changed = update.chat_member or update.my_chat_member
        if changed is None or not is_gone(changed.new_chat_member):
            return  # joins are recorded when the member first writes there
        chat = str(changed.chat.id)
        gone = changed.new_chat_member.user
        if gone.id == context.bot.id:
            await bot_left(core.db, PLATFORM, [chat])
        else:
            await member_left(core.db, PLATFORM, str(gone.id), [chat])

    return ChatMemberHandler(on_member_change, ChatMemberHandler.ANY_CHAT_MEMBER)
