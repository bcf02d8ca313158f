"""Contact Us: a user's message is stored, then forwarded to the admins' chat.

Storing comes first and is its own unit of work, so a message is kept even when the admins'
chat is not configured or the transport fails; ``forwarded_at`` records a delivery. Each user
may send ``CONTACT_PER_HOUR`` messages an hour, counted from the stored rows (so the limit
holds across restarts and replicas).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from core.account.admin import require_admin
from core.actor import Actor
from core.alerts import deliver
from core.config import Settings
from core.contact.models import ContactMessage
from core.db import Database, utcnow
from core.errors import Invalid, LimitExceeded
from core.logging import get_logger
from core.message import Message
from core.notify import ChatTarget, Notifier
from core.paging import Page, fetch_page

log = get_logger(__name__)

MAX_TEXT = 2000
WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class ContactView:
    id: int
    user_id: int | None
    name: str
    text: str
    created_at: datetime
    forwarded_at: datetime | None


@dataclass(frozen=True, slots=True)
class Sent:
    message: ContactView
    forwarded: bool


def admin_target(settings: Settings) -> ChatTarget | None:
    """``ADMIN_CHAT`` (``platform:chat_id``, e.g. ``telegram:-1001234567890``) as a target."""
    raw = (settings.admin_chat or "").strip()
    platform, sep, chat_id = raw.partition(":")
    if not sep or not platform.strip() or not chat_id.strip():
        if raw:
            log.warning("admin_chat_malformed", value=raw)
        return None
    return ChatTarget(platform.strip().lower(), chat_id.strip())


def check_text(text: str) -> str:
    cleaned = (text or "").strip()
    if not cleaned:
        raise Invalid("write your message after the command, e.g. /contact the chart for BBCA is blank")
    if len(cleaned) > MAX_TEXT:
        raise Invalid(f"a message has at most {MAX_TEXT} characters, not {len(cleaned)}: split it in two")
    return cleaned


async def send_message(
    db: Database,
    settings: Settings,
    notifiers: Mapping[str, Notifier],
    actor: Actor,
    text: str,
    *,
    now: datetime | None = None,
) -> Sent:
    """Store the actor's message (rate-limited), then forward it to the admins' chat."""
    text = check_text(text)
    now = now or utcnow()
    async with db.session() as session:
        recent = list(
            await session.scalars(
                select(ContactMessage.created_at)
                .where(ContactMessage.user_id == actor.user_id, ContactMessage.created_at > now - WINDOW)
                .order_by(ContactMessage.created_at)
            )
        )
        if len(recent) >= settings.contact_per_hour:
            wait = recent[0] + WINDOW - now
            minutes = max(1, -(-int(wait.total_seconds()) // 60))
            raise LimitExceeded(
                f"you have sent {len(recent)} messages in the last hour, the most allowed: "
                f"please try again in {minutes} minute{'s' if minutes != 1 else ''}"
            )
        row = ContactMessage(user_id=actor.user_id, name=actor.display_name[:128], text=text, created_at=now)
        session.add(row)
        await session.flush()
        view = _view(row)
    forwarded = await _forward(settings, notifiers, actor, view)
    if forwarded:
        at = utcnow()
        async with db.session() as session:
            await session.execute(
                update(ContactMessage).where(ContactMessage.id == view.id).values(forwarded_at=at)
            )
        view = ContactView(view.id, view.user_id, view.name, view.text, view.created_at, at)
    log.info("contact_received", user=actor.user_id, message=view.id, forwarded=forwarded)
    return Sent(view, forwarded)


async def list_messages(
    db: Database, settings: Settings, actor: Actor, page: int = 1, page_size: int = 10
) -> Page[ContactView]:
    """The most recent messages first; administrators only."""
    require_admin(settings, actor)
    newest = select(ContactMessage).order_by(ContactMessage.created_at.desc(), ContactMessage.id.desc())
    async with db.session() as session:
        rows, total = await fetch_page(session, newest, page, page_size)
        items = [_view(r) for r in rows.scalars()]
    return Page(items, page, page_size, total)


async def _forward(
    settings: Settings, notifiers: Mapping[str, Notifier], actor: Actor, view: ContactView
) -> bool:
    target = admin_target(settings)
    if target is None:
        return False
    who = view.name or "someone"
    text = f"Contact #{view.id} from {who} ({actor.platform}:{actor.platform_user_id}, user {actor.user_id}):\n{view.text}"
    try:
        return await deliver(notifiers, [target], Message(text)) == 1
    except Exception as exc:  # a transport failure must not lose the stored message
        log.warning("contact_forward_failed", message=view.id, error=type(exc).__name__)
        return False


def _view(row: ContactMessage) -> ContactView:
    return ContactView(row.id, row.user_id, row.name, row.text, row.created_at, row.forwarded_at)
