"""The Notifier port: how jobs push messages into chats without knowing the transport.

Each chat transport implements ``Notifier``; jobs receive one (or a ``Notifiers`` fan-out) and
call ``send`` with a platform-neutral ``Notice``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class NoticeImage:
    data: bytes
    filename: str = "chart.png"


@dataclass(frozen=True, slots=True)
class Notice:
    """Plain text with optional images, sent to one chat."""

    text: str
    images: tuple[NoticeImage, ...] = ()
    commands: tuple[tuple[str, str], ...] = field(default=())  # (label, command line) buttons
    public: bool = False  # the buttons may be pressed by anyone in the chat, each acting for themselves


@dataclass(frozen=True, slots=True)
class ChatTarget:
    """Where a notice goes: a platform and that platform's chat (user or group) id."""

    platform: str  # "telegram", "discord", "console"
    chat_id: str


@runtime_checkable
class Notifier(Protocol):
    platform: str

    async def send(self, target: ChatTarget, notice: Notice) -> bool:
        """Deliver ``notice``; True when the platform accepted it. Rate limits are waited out, not dropped."""
        ...


def private_target(platform: str, user_external_id: str) -> ChatTarget:
    """A user's private chat with the bot: on Telegram it has the user's id; on Discord the notifier
    opens the DM from ``user:<id>``."""
    if platform == "discord":
        return ChatTarget(platform, f"user:{user_external_id}")
    return ChatTarget(platform, str(user_external_id))
