"""Who is asking: passed to every service call so each can check ownership."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    """A user acting through one platform identity, optionally inside a group chat."""

    user_id: int
    platform: str = "console"
    platform_user_id: str = "console"
    display_name: str = ""
    chat_id: str | None = None
    is_group: bool = False
    is_admin: bool = False

    def owns(self, owner_id: int | None) -> bool:
        return owner_id is not None and owner_id == self.user_id
