"""Administrators are platform identities listed in settings (``ADMIN_IDS``), not a stored flag:
granting or revoking is a configuration change, and a database edit cannot make anyone admin."""

from __future__ import annotations

from core.actor import Actor
from core.config import Settings
from core.errors import Forbidden


def is_admin(settings: Settings, actor: Actor) -> bool:
    return f"{actor.platform}:{actor.platform_user_id}" in {entry.strip() for entry in settings.admin_ids}


def require_admin(settings: Settings, actor: Actor) -> None:
    if not is_admin(settings, actor):
        raise Forbidden("only the bot's administrators can do that")
