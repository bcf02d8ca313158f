"""Who is this? Turning a platform identity into an ``Actor``, creating the user on first contact.

``actor_for`` runs on every incoming message, so the common path is one indexed read;
``last_seen_at`` is written at most once per ``SEEN_RESOLUTION`` to keep SQLite's single
writer free for real work.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.account.models import PLATFORMS, Chat, ChatMember, Identity, User
from core.actor import Actor
from core.db import Database, insert_ignoring_conflicts, session_dialect, utcnow
from core.errors import Invalid, NotFound, Unavailable
from core.text import storable_name

SEEN_RESOLUTION = timedelta(minutes=1)
_ATTEMPTS = 3


async def actor_for(
    db: Database,
    *,
    platform: str,
    external_id: str | int,
    display_name: str = "",
    chat_id: str | int | None = None,
    chat_title: str | None = None,
    is_group: bool = False,
    is_admin: bool = False,
    now: datetime | None = None,
) -> Actor:
    """The ``Actor`` for a platform user, creating user and identity on first contact.

    Race-safe: concurrent first contacts of one identity create exactly one user (the
    identity insert ignores conflicts; a loser rolls back its user and reads the winner's).
    The chat is recorded when ``chat_id`` is given. ``is_admin`` (group admin, as the
    platform reports it) is passed through to the actor, not stored.
    """
    if platform not in PLATFORMS:
        raise Invalid(f"unknown platform '{platform}'", hint="platforms: " + " ".join(PLATFORMS))
    external_id = str(external_id).strip()
    if not external_id:
        raise Invalid("empty platform user id")
    display_name = storable_name(display_name).strip()[:128]
    chat_title = storable_name(chat_title) if chat_title is not None else None
    chat = str(chat_id) if chat_id is not None else None
    now = now or utcnow()

    for _ in range(_ATTEMPTS):
        try:
            async with db.session() as session:
                user_id = await _touch_identity(session, platform, external_id, display_name, now)
                if user_id is None:
                    user_id = await _create_identity(session, platform, external_id, display_name, now)
                if chat is not None:
                    chat_row = await _record_chat(session, platform, chat, chat_title, is_group)
                    if is_group:
                        await _record_member(session, chat_row, user_id, now)
        except _LostRace:
            continue  # rolled back; the next attempt finds the winner's identity
        else:
            return Actor(
                user_id=user_id,
                platform=platform,
                platform_user_id=external_id,
                display_name=display_name,
                chat_id=chat,
                is_group=is_group,
                is_admin=is_admin,
            )
    raise Unavailable("could not register you right now, please try again")


async def get_user(db: Database, actor: Actor) -> User:
    """The actor's own ``User`` row (detached, safe to read after the session closed)."""
    async with db.session() as session:
        user = await session.get(User, actor.user_id)
    if user is None:
        raise NotFound("your account no longer exists; send any message to start again")
    return user


async def _touch_identity(
    session: AsyncSession, platform: str, external_id: str, display_name: str, now: datetime
) -> int | None:
    """Known identity: refresh last-seen (and a changed display name) and return its user id."""
    row = (
        await session.execute(
            select(Identity.id, Identity.user_id, Identity.display_name, Identity.last_seen_at).where(
                Identity.platform == platform, Identity.external_id == external_id
            )
        )
    ).one_or_none()
    if row is None:
        return None
    renamed = bool(display_name) and display_name != row.display_name
    if renamed or now - row.last_seen_at >= SEEN_RESOLUTION:
        values: dict[str, object] = {"last_seen_at": now}
        if renamed:
            values["display_name"] = display_name
        await session.execute(update(Identity).where(Identity.id == row.id).values(**values))
        await session.execute(update(User).where(User.id == row.user_id).values(last_seen_at=now))
    return row.user_id


class _LostRace(Exception):
    """A concurrent request created the same identity first; roll back and read it."""


async def _create_identity(
    session: AsyncSession, platform: str, external_id: str, display_name: str, now: datetime
) -> int:
    """New user plus identity; raises ``_LostRace`` when a concurrent request won the race."""
    user = User(name=display_name, created_at=now, last_seen_at=now)
    session.add(user)
    try:
        await session.flush()
        stmt = (
            insert_ignoring_conflicts(session_dialect(session), Identity, "platform", "external_id")
            .values(
                user_id=user.id,
                platform=platform,
                external_id=external_id,
                display_name=display_name,
                first_seen_at=now,
                last_seen_at=now,
            )
            .returning(Identity.id)
        )
        created = await session.scalar(stmt)
    except IntegrityError as exc:  # only if a backend ignored ON CONFLICT; same outcome
        raise _LostRace from exc
    if created is None:
        raise _LostRace  # leaving the unit of work rolls back the orphan user
    return user.id


async def _record_chat(
    session: AsyncSession, platform: str, external_id: str, title: str | None, is_group: bool
) -> int:
    """Insert the chat once; afterwards only a changed title or group flag is written. Returns its id."""
    row = (
        await session.execute(
            select(Chat.id, Chat.title, Chat.is_group).where(
                Chat.platform == platform, Chat.external_id == external_id
            )
        )
    ).one_or_none()
    title = (title or "").strip()[:256]
    if row is None:
        await session.execute(
            insert_ignoring_conflicts(session_dialect(session), Chat, "platform", "external_id").values(
                platform=platform,
                external_id=external_id,
                title=title,
                is_group=is_group,
                created_at=utcnow(),
            )
        )
        # scalar_one: the chat is there now, inserted just above or by the request that won the race
        return (
            await session.execute(select(Chat.id).where(Chat.platform == platform, Chat.external_id == external_id))
        ).scalar_one()
    if (title and title != row.title) or is_group != row.is_group:
        await session.execute(
            update(Chat).where(Chat.id == row.id).values(title=title or row.title, is_group=is_group)
        )
    return int(row.id)


async def _record_member(session: AsyncSession, chat_id: int, user_id: int, now: datetime) -> None:
    """Remember that the user writes in this group (where /share may post for them)."""
    known = await session.scalar(
        select(ChatMember.id).where(ChatMember.chat_id == chat_id, ChatMember.user_id == user_id)
    )
    if known is None:
        await session.execute(
            insert_ignoring_conflicts(session_dialect(session), ChatMember, "chat_id", "user_id").values(
                chat_id=chat_id, user_id=user_id, last_seen_at=now
            )
        )


async def lock_user(session: AsyncSession, user_id: int) -> None:
    """Serialise this transaction with the user's other writers until it commits.

    A no-op UPDATE of the user's row: PostgreSQL holds the row lock, SQLite the database write
    lock, so a check-then-insert (a plan's deployment limit, a double-pressed Pay) that follows
    sees what a concurrent one committed. Run it first in the transaction: on SQLite a snapshot
    taken by an earlier read could not be upgraded to a write.
    """
    await session.execute(
        update(User).where(User.id == user_id).values(id=User.id).execution_options(synchronize_session=False)
    )
