"""The Media domain: upload, list, fetch and remove a user's files.

Bytes go to object storage (``core.media.storage``) under a random key; the ``media`` row says
whose they are, what they are (sniffed, never declared) and how big. Only the owner sees a
row: someone else's id answers "not found", so ids cannot be probed. Storage and database are
kept in step in the safe order: bytes are written before the row exists, and deleted only
after the row is gone (a failure then leaves an orphan file, logged, never a dangling row).

Each user keeps at most their plan's number of files and bytes (``core.purchase.limits``): checked
before the bytes are written, and again under the user's lock when the row is added, so uploads
racing each other cannot overrun it.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import format as fmt
from core.account.models import User
from core.account.service import lock_user
from core.actor import Actor
from core.config import Settings
from core.db import Database, parse_id, utcnow
from core.errors import Invalid, LimitExceeded, NotFound
from core.logging import get_logger
from core.media.models import Media
from core.media.sniff import EXTENSIONS, extension_of, require_type
from core.media.storage import ObjectStorage, new_key, storage_for
from core.paging import Page, fetch_page
from core.purchase.limits import Limits, limits_for

log = get_logger(__name__)

REF_PREFIX = "media:"
MAX_NAME = 128
_DATA_URL = re.compile(r"^data:[\w.+/-]*(;[\w=.+-]+)*;base64,", re.I)
_NAME_DROP = re.compile(r"[^\w .()+-]+")


@dataclass(frozen=True, slots=True)
class MediaView:
    id: int
    name: str
    content_type: str
    size: int
    created_at: datetime

    @property
    def ref(self) -> str:
        """How a profile (or anything else) refers to this file: ``media:ID``."""
        return f"{REF_PREFIX}{self.id}"


@dataclass(frozen=True, slots=True)
class MediaUsage:
    """What a user keeps in media storage, against their plan's quota (0: unbounded)."""

    files: int
    bytes: int
    max_files: int
    max_bytes: int
    plan: str


def view_of(row: Media) -> MediaView:
    return MediaView(row.id, row.name, row.content_type, row.size, row.created_at)


def clean_name(name: str | None, content_type: str) -> str:
    """A display name: the last path segment only, no control or odd characters, at most 128
    characters; a generic ``file.ext`` when nothing is left. It is never used as a path."""
    raw = unicodedata.normalize("NFKC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = " ".join(_NAME_DROP.sub("_", raw).split()).strip(" .")
    return cleaned[:MAX_NAME] or f"file.{EXTENSIONS[content_type]}"


def served_name(view: MediaView) -> str:
    """The name a file is handed back under: its display name with the extension of its sniffed
    type in place of any the user gave (``evil.html`` holding a GIF comes back as ``evil.gif``;
    a type without a known extension as ``.bin``), so no client opens it as markup."""
    stem = view.name.rsplit(".", 1)[0].strip(" .")
    return f"{stem or 'file'}.{extension_of(view.content_type)}"


def decode_base64(content: str) -> bytes:
    """Standard or URL-safe base64, with or without padding, line breaks or a ``data:`` URL prefix."""
    text = _DATA_URL.sub("", (content or "").strip())
    text = "".join(text.split())
    if not text:
        raise Invalid("no content: send the file as base64 text")
    text += "=" * (-len(text) % 4)
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(text)
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("that is not valid base64 content") from None


def parse_ref(ref: str) -> int | None:
    """The media id in ``media:ID`` (or None when ``ref`` is not a media reference)."""
    text = (ref or "").strip()
    if not text.lower().startswith(REF_PREFIX):
        return None
    number = text[len(REF_PREFIX) :].strip().lstrip("#")
    if not (number.isascii() and number.isdigit()):
        raise Invalid(f"'{ref}' is not a media reference: write media:ID, e.g. media:12")
    media_id = parse_id(number)
    if media_id is None:  # more digits than an id holds: no such file (not a driver overflow)
        raise NotFound(f"you have no file #{number}", hint="see /media")
    return media_id


async def upload(
    db: Database,
    settings: Settings,
    actor: Actor,
    data: bytes,
    name: str | None = None,
    *,
    storage: ObjectStorage | None = None,
) -> MediaView:
    """Store ``data`` for the actor: size checked, type sniffed, a random key, the name sanitised."""
    if len(data) > settings.media_max_bytes:
        raise Invalid(
            f"that file is {fmt.size(len(data))}; the largest accepted is {fmt.size(settings.media_max_bytes)}"
        )
    content_type = require_type(data)
    limits = await limits_for(db, settings, actor.user_id)
    async with db.session() as session:  # refused before any bytes are written
        check_quota(await _usage(session, actor.user_id, limits), len(data))
    storage = storage or storage_for(settings)
    key = new_key()
    await storage.put(key, data, content_type)
    try:
        async with db.session() as session:
            await lock_user(session, actor.user_id)  # concurrent uploads of this user wait here
            check_quota(await _usage(session, actor.user_id, limits), len(data))
            row = Media(
                user_id=actor.user_id, key=key, content_type=content_type, size=len(data),
                name=clean_name(name, content_type), created_at=utcnow(),
            )  # fmt: skip
            session.add(row)
            await session.flush()
            view = view_of(row)
    except BaseException:
        await discard(storage, key)
        raise
    log.info("media_uploaded", user=actor.user_id, media=view.id, type=content_type, size=view.size)
    return view


async def upload_base64(
    db: Database, settings: Settings, actor: Actor, content: str, name: str | None = None,
    *, storage: ObjectStorage | None = None,
) -> MediaView:  # fmt: skip
    """``upload`` of base64 text; a too-long text is refused before it is decoded."""
    if len(content or "") > settings.media_max_bytes * 4 // 3 + 1024:
        raise Invalid(f"that content is over the {fmt.size(settings.media_max_bytes)} limit")
    return await upload(db, settings, actor, decode_base64(content), name, storage=storage)


async def usage(db: Database, settings: Settings, actor: Actor) -> MediaUsage:
    """The actor's files and bytes in storage, and their plan's quota."""
    limits = await limits_for(db, settings, actor.user_id)
    async with db.session() as session:
        return await _usage(session, actor.user_id, limits)


async def _usage(session: AsyncSession, user_id: int, limits: Limits) -> MediaUsage:
    files, size = (
        await session.execute(
            select(func.count(Media.id), func.coalesce(func.sum(Media.size), 0)).where(Media.user_id == user_id)
        )
    ).one()
    return MediaUsage(int(files), int(size), limits.media_files, limits.media_bytes, limits.plan)


def check_quota(used: MediaUsage, size: int) -> None:
    """LimitExceeded, saying the quota and the use, when one more file of ``size`` bytes is too much."""
    hint = "remove files you no longer need: /media rm ID (see /media)"
    if used.max_files and used.files >= used.max_files:
        raise LimitExceeded(
            f"you keep {used.files} of {used.max_files} files on your {used.plan} plan "
            f"({fmt.size(used.bytes)} used): no room for another",
            hint=hint,
        )
    if used.max_bytes and used.bytes + size > used.max_bytes:
        raise LimitExceeded(
            f"that file ({fmt.size(size)}) does not fit: you use {fmt.size(used.bytes)} of "
            f"{fmt.size(used.max_bytes)} on your {used.plan} plan",
            hint=hint,
        )


async def get_media(db: Database, actor: Actor, media_id: int) -> MediaView:
    async with db.session() as session:
        return view_of(await _owned(session, actor, media_id))


async def fetch(
    db: Database, settings: Settings, actor: Actor, media_id: int, *, storage: ObjectStorage | None = None
) -> tuple[MediaView, bytes]:
    """The actor's file and its bytes."""
    async with db.session() as session:
        row = await _owned(session, actor, media_id)
        view, key = view_of(row), row.key
    data = await (storage or storage_for(settings)).get(key)
    return view, data


async def list_media(db: Database, actor: Actor, page: int = 1, page_size: int = 10) -> Page[MediaView]:
    """The actor's files, newest first."""
    mine = select(Media).where(Media.user_id == actor.user_id).order_by(Media.created_at.desc(), Media.id.desc())
    async with db.session() as session:
        rows, total = await fetch_page(session, mine, page, page_size)
        items = [view_of(r) for r in rows.scalars()]
    return Page(items, page, page_size, total)


async def remove(
    db: Database, settings: Settings, actor: Actor, media_id: int, *, storage: ObjectStorage | None = None
) -> MediaView:
    """Delete the actor's file: the row (and a profile image pointing at it) first, then the bytes."""
    async with db.session() as session:
        row = await _owned(session, actor, media_id)
        view, key = view_of(row), row.key
        await session.delete(row)
        await session.execute(
            update(User).where(User.id == actor.user_id, User.image == view.ref).values(image=None)
        )
    await discard(storage or storage_for(settings), key)
    return view


async def _owned(session, actor: Actor, media_id: int) -> Media:
    row = await session.get(Media, media_id)
    if row is None or row.user_id != actor.user_id:
        raise NotFound(f"you have no file #{media_id}", hint="see /media for yours")
    return row


async def discard(storage: ObjectStorage, key: str) -> bool:
    """Delete stored bytes; a failure is logged and reported as False (an orphan file wastes
    space, nothing more), never raised: the row is gone already."""
    try:
        await storage.delete(key)
    except Exception as exc:
        log.warning("media_delete_failed", key=key, error=type(exc).__name__)
        return False
    return True


