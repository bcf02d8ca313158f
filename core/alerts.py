"""Who receives a pushed alert, and delivering it through the transports' notifiers.

A user's alerts go to their private chat on every platform they use (Telegram, Discord), if they
chose to receive that kind (``users.alerts_trades`` / ``alerts_watch``). A group receives the
alerts routed to it (a deployment's ``notify_chat_id``) while its admins keep ``alerts`` on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import select

from core.account.models import Chat, Identity, User
from core.account.preferences import AlertKind
from core.db import Database
from core.message import Message
from core.notify import ChatTarget, Notifier, private_target

log = logging.getLogger(__name__)


async def user_targets(db: Database, user_id: int, kind: AlertKind) -> list[ChatTarget]:
    """The private chats a user's alerts of ``kind`` go to (none when they turned that kind off)."""
    async with db.session() as session:
        user = await session.get(User, user_id)
        if user is None or not getattr(user, f"alerts_{kind}"):
            return []
        rows = await session.execute(
            select(Identity.platform, Identity.external_id).where(Identity.user_id == user_id)
        )
        return [private_target(platform, external) for platform, external in rows]


async def chat_target(db: Database, chat_id: int) -> ChatTarget | None:
    """A group's target, or None when the group turned alerts off (or is gone)."""
    async with db.session() as session:
        chat = await session.get(Chat, chat_id)
    if chat is None or not chat.alerts_enabled:
        return None
    return ChatTarget(chat.platform, chat.external_id)


async def deliver(notifiers: Mapping[str, Notifier], targets: list[ChatTarget], message: Message) -> int:
    """Send ``message`` to every target whose platform has a notifier; the number delivered."""
    delivered = 0
    for target in targets:
        notifier = notifiers.get(target.platform)
        if notifier is None:
            log.info("alert_no_notifier", extra={"platform": target.platform})
            continue
        if await notifier.send(target, message):
            delivered += 1
    return delivered
