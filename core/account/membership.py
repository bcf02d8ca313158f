"""Group membership kept true to the platform: who may ``/copy`` a group's shared results.

A ``ChatMember`` row is written when the bot sees a user write in a group. It must not outlive
the membership: transports report a member leaving (or being removed) and the bot leaving a
group, and ``/copy`` asks the platform again (``MembershipCheck``) before trusting a stored row,
since some leaves are never reported (Telegram sends ``chat_member`` updates only to admin bots;
Discord sends member removals only with the privileged Members intent).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from sqlalchemy import Select, delete, select

from core.account.models import Chat, ChatMember, Identity
from core.db import Database, rowcount
from core.logging import get_logger

log = get_logger(__name__)


@runtime_checkable
class MembershipCheck(Protocol):
    """A platform answering whether a user is in a group now (transports implement it)."""

    async def still_member(self, chat_external_id: str, user_external_id: str) -> bool | None:
        """True or False as the platform says; None when it cannot tell now (keep what is stored)."""
        ...


async def member_left(db: Database, platform: str, user_external_id: str, chat_external_ids: Iterable[str]) -> int:
    """Forget that the user with this platform id belongs to these chats; the rows removed."""
    chats = sorted({str(chat) for chat in chat_external_ids})
    if not chats:
        return 0
    async with db.session() as session:
        user_id = await session.scalar(
            select(Identity.user_id).where(Identity.platform == platform, Identity.external_id == str(user_external_id))
        )
        if user_id is None:
            return 0
        result = await session.execute(
            delete(ChatMember).where(ChatMember.user_id == user_id, ChatMember.chat_id.in_(_chat_ids(platform, chats)))
        )
    removed = rowcount(result) or 0
    log.info("group_member_left", platform=platform, chats=len(chats), removed=removed)
    return removed


async def bot_left(db: Database, platform: str, chat_external_ids: Iterable[str]) -> int:
    """The bot is out of these chats: forget every membership in them; the rows removed.

    The chats themselves stay (shares and settings point at them); members are recorded afresh
    if the bot is added back and they write there."""
    chats = sorted({str(chat) for chat in chat_external_ids})
    if not chats:
        return 0
    async with db.session() as session:
        result = await session.execute(delete(ChatMember).where(ChatMember.chat_id.in_(_chat_ids(platform, chats))))
    removed = rowcount(result) or 0
    log.info("group_bot_left", platform=platform, chats=len(chats), removed=removed)
    return removed


def _chat_ids(platform: str, external_ids: list[str]) -> Select[int]:
    return select(Chat.id).where(Chat.platform == platform, Chat.external_id.in_(external_ids))
