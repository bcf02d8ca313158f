"""Group settings: which alerts a group receives and whether results are shared into it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from core.account.models import Chat
from core.actor import Actor
from core.db import Database
from core.errors import Forbidden, Invalid, NotFound

SETTINGS = {
    "alerts": ("alerts_enabled", "trade and monitoring alerts are posted here"),
    "shared": ("share_results", "members may /share model and strategy results here"),
}


@dataclass(frozen=True, slots=True)
class GroupSettings:
    title: str
    alerts: bool
    shared: bool


async def group_settings(db: Database, actor: Actor) -> GroupSettings:
    async with db.session() as session:
        chat = await _group(session, actor)
        return GroupSettings(chat.title, chat.alerts_enabled, chat.share_results)


async def change_group_setting(db: Database, actor: Actor, name: str, value: bool) -> GroupSettings:
    """Set one setting of the actor's current group; only its admins may."""
    if name not in SETTINGS:
        raise Invalid(f"no group setting '{name}'", hint="settings: " + ", ".join(SETTINGS))
    if not actor.is_admin:
        raise Forbidden("only this group's admins can change its settings")
    async with db.session() as session:
        chat = await _group(session, actor)
        setattr(chat, SETTINGS[name][0], value)
        return GroupSettings(chat.title, chat.alerts_enabled, chat.share_results)


async def _group(session, actor: Actor) -> Chat:
    if not actor.is_group or actor.chat_id is None:
        raise Invalid("group settings belong to a group: use this command in the group")
    chat = await session.scalar(
        select(Chat).where(Chat.platform == actor.platform, Chat.external_id == str(actor.chat_id))
    )
    if chat is None:
        raise NotFound("this group is not known to the bot yet: send any command in it first")
    return chat
