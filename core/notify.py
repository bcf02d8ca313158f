"""The Notifier port: how jobs push messages into chats without knowing the transport.

Each chat transport implements ``Notifier``; jobs receive one (or a ``Notifiers`` fan-out) and
call ``send`` with a ``core.message.Message``, the same model commands answer with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from core.message import Message


@dataclass(frozen=True, slots=True)
class ChatTarget:
    """Where a notice goes: a platform and that platform's chat (user or group) id."""

    platform: str  # "telegram", "discord", "console"
    chat_id: str


@runtime_checkable
class Notifier(Protocol):
    platform: str

    async def send(self, target: ChatTarget, message: Message) -> bool:
        """Deliver ``message``; True when the platform accepted it. Rate limits are waited out, not dropped."""
        ...


def private_target(platform: str, user_external_id: str) -> ChatTarget:
    """A user's private chat with the bot: on Telegram it has the user's id; on Discord the notifier
    opens the DM from ``user:<id>``."""
    if platform == "discord":
        return ChatTarget(platform, f"user:{user_external_id}")
    return ChatTarget(platform, str(user_external_id))
