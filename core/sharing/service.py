"""Sharing results into groups, and copying what others shared.

A share records the card's figures and a snapshot of the model's script (or the strategy's
rules), so group members can ``/copy`` it into their own account later, whatever the author
does to the original. Only members of the group a share went to may copy it; a user may share
into a group they have written in (where the bot has seen them), if the group allows sharing.
A stored membership is checked with the platform before a copy (``MembershipCheck``): someone who
left the group can no longer copy from it, even when the platform never reported the leave.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from core.account.membership import MembershipCheck, member_left
from core.account.models import Chat, ChatMember
from core.actor import Actor
from core.db import Database, utcnow
from core.errors import Forbidden, Invalid, NotFound
from core.model.service import ModelRequest, Saved, save_model
from core.sharing.models import Share
from core.strategy.rules import Analytic
from core.strategy.service import StrategyRequest, StrategyView, add_rules, save_strategy

KINDS = ("model", "strategy")


@dataclass(frozen=True, slots=True)
class GroupView:
    id: int  # our chat id (what ``/share ... to=ID`` names)
    platform: str
    external_id: str
    title: str


@dataclass(frozen=True, slots=True)
class ShareView:
    id: int
    kind: str
    label: str
    author: str
    ticker: str
    interval: str
    range: str
    stats: dict[str, Any]
    group: GroupView
    created_at: datetime
    payload: dict[str, Any]


async def share_targets(db: Database, actor: Actor) -> list[GroupView]:
    """Groups on the actor's platform where they have written and sharing is on."""
    async with db.session() as session:
        rows = await session.scalars(
            select(Chat)
            .join(ChatMember, ChatMember.chat_id == Chat.id)
            .where(
                ChatMember.user_id == actor.user_id,
                Chat.platform == actor.platform,
                Chat.is_group.is_(True),
                Chat.share_results.is_(True),
            )
            .order_by(Chat.title)
        )
        return [_group(c) for c in rows]


async def current_group(db: Database, actor: Actor) -> GroupView:
    """The group the actor is writing in; Invalid in a private chat."""
    if not actor.is_group or actor.chat_id is None:
        raise Invalid("this is not a group chat")
    async with db.session() as session:
        chat = await session.scalar(
            select(Chat).where(Chat.platform == actor.platform, Chat.external_id == str(actor.chat_id))
        )
    if chat is None:
        raise NotFound("this group is not known to the bot yet; send any command here first")
    return _group(chat)


async def record_share(
    db: Database,
    actor: Actor,
    group_id: int,
    *,
    kind: str,
    label: str,
    ticker: str,
    interval: str,
    range_: str,
    payload: dict[str, Any],
    stats: dict[str, Any],
) -> ShareView:
    """Store a share into group ``group_id``, checking the actor may post there."""
    if kind not in KINDS:
        raise Invalid(f"unknown share kind '{kind}'")
    async with db.session() as session:
        chat = await session.get(Chat, group_id)
        if chat is None or not chat.is_group or chat.platform != actor.platform:
            raise NotFound("no such group", hint="share from inside the group, or pick one of the offered groups")
        if not chat.share_results:
            raise Forbidden(f"sharing is turned off in {chat.title or 'that group'} (its admins: /group shared on)")
        if not await _is_member(session, actor, chat):
            raise Forbidden("you can share only into groups you have written in")
        row = Share(
            user_id=actor.user_id, chat_id=chat.id, kind=kind, label=label, author=actor.display_name[:128],
            ticker=ticker, interval=interval, range=range_, payload=payload, stats=stats, created_at=utcnow(),
        )  # fmt: skip
        session.add(row)
        await session.flush()
        return _view(row, chat)


async def get_share(
    db: Database, actor: Actor, share_id: int, membership: MembershipCheck | None = None
) -> ShareView:
    """A share, for members of the group it went to.

    Asked from outside that group, the stored membership is confirmed with ``membership`` (the
    platform) when given: a member who has left loses the row and is refused."""
    async with db.session() as session:
        row = await session.get(Share, share_id)
        chat = await session.get(Chat, row.chat_id) if row is not None else None
        if row is None or chat is None or chat.platform != actor.platform:
            raise NotFound(f"there is no shared result #{share_id}")
        here = _writing_in(actor, chat)
        if not here and not await _is_member(session, actor, chat):
            raise Forbidden(f"shared result #{share_id} was posted in a group you are not in")
        view = _view(row, chat)
    if not here:  # asked outside the transaction: a platform round trip must not hold the database
        await confirm_member(db, actor, view.group, membership,
                             f"shared result #{share_id} was posted in a group you are no longer in")  # fmt: skip
    return view


async def confirm_member(
    db: Database, actor: Actor, group: GroupView, membership: MembershipCheck | None, refusal: str
) -> None:
    """Forbidden(``refusal``) when the platform says the actor is no longer in ``group``; their
    stored membership is forgotten then. Nothing happens when it cannot tell or is not asked."""
    if membership is None:
        return
    if await membership.still_member(group.external_id, actor.platform_user_id) is False:
        await member_left(db, actor.platform, actor.platform_user_id, [group.external_id])
        raise Forbidden(refusal)


async def copy_share(
    db: Database, actor: Actor, share_id: int, label: str | None = None, membership: MembershipCheck | None = None
) -> Saved | tuple[StrategyView, bool]:
    """Copy a shared model (or strategy with its rules) into the actor's own, under ``label``
    (default: the shared label). Returns what the model or strategy service returns."""
    share = await get_share(db, actor, share_id, membership)
    name = label or share.label
    payload = share.payload
    if share.kind == "model":
        model = ModelRequest(
            name, payload["source"], description=payload.get("description") or f"copied from {share.author}",
            overlay=payload.get("overlay"), inputs=payload.get("inputs") or {},
        )  # fmt: skip
        return await save_model(db, actor, model, copied_from=share.id, create_only=True)
    strategy = StrategyRequest(
        name, Analytic(payload["analytic"]), payload.get("description") or f"copied from {share.author}"
    )
    view, created = await save_strategy(db, actor, strategy, create_only=True)
    rules = "\n".join(f"{r['action']} {r['condition']}" for r in payload.get("rules", []))
    if rules:
        view, _ = await add_rules(db, actor, view.label, rules)
    return view, created


def _writing_in(actor: Actor, chat: Chat) -> bool:
    """The actor is writing in ``chat`` right now: the platform vouches for the membership."""
    return actor.is_group and str(actor.chat_id) == chat.external_id and actor.platform == chat.platform


async def _is_member(session: Any, actor: Actor, chat: Chat) -> bool:
    if _writing_in(actor, chat):
        return True
    found = await session.scalar(
        select(ChatMember.id).where(ChatMember.chat_id == chat.id, ChatMember.user_id == actor.user_id)
    )
    return found is not None


def _group(chat: Chat) -> GroupView:
    return GroupView(chat.id, chat.platform, chat.external_id, chat.title or f"group {chat.external_id}")


def _view(row: Share, chat: Chat) -> ShareView:
    return ShareView(
        row.id, row.kind, row.label, row.author, row.ticker, row.interval, row.range, dict(row.stats or {}),
        _group(chat), row.created_at, dict(row.payload or {}),
    )  # fmt: skip
