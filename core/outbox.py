"""Alerts waiting to be sent: queued durably, delivered by their own job.

A tick (or reconciliation) renders its alerts and queues them here, one row per chat, and returns:
a slow or rate-limited chat never delays the next tick's orders, and a restart loses no alert, since
the rows stay until sent. The delivery job (``deliver_due``) claims due rows with a short lease (a
compare-and-set on ``claimed_until``, so two replicas never send one row twice), sends each through
the transport's notifier, and marks it sent; a send that raised is retried with back-off
(``RETRIES`` times), and one the platform refused for good (``Notifier.send`` is False: blocked,
chat gone) is kept as undeliverable, never re-sent. Rows for a platform this process has no notifier
for are left for a replica that has one. Sent rows are pruned after ``KEEP_SENT``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import JSON, Boolean, Integer, LargeBinary, String, Text, delete, func, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Database, rowcount
from core.db.base import Base, UTCDateTime, utcnow
from core.logging import get_logger
from core.message import Image, Message
from core.notify import ChatTarget, Notifier

log = get_logger(__name__)

LEASE = timedelta(seconds=60)  # a claimed row is another replica's to retry after this
RETRIES = 5
BACKOFF_S = (2, 10, 30, 120, 600)
KEEP_SENT = timedelta(days=2)
BATCH = 100


class OutboxMessage(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    image: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    image_name: Mapped[str] = mapped_column(String(64), default="chart.png")
    commands: Mapped[list[list[str]]] = mapped_column(JSON, default=list)  # [label, command line] buttons
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None, index=True)
    error: Mapped[str] = mapped_column(String(300), default="")  # the last failure; "undeliverable" kept for good


async def enqueue(db: Database, targets: Sequence[ChatTarget], message: Message) -> int:
    """Queue ``message`` for each target (its first image only: alerts carry one chart; its buttons as
    ``(label, command)`` pairs, all public or none); rows queued."""
    if not targets:
        return 0
    image = message.images[0] if message.images else None
    now = utcnow()
    async with db.session() as session:
        for target in targets:
            session.add(OutboxMessage(
                platform=target.platform, chat_id=target.chat_id, text=message.text,
                image=image.data if image else None, image_name=image.filename if image else "chart.png",
                commands=[list(c) for c in message.commands], public=message.public, created_at=now, due_at=now,
            ))  # fmt: skip
    return len(targets)


async def deliver_due(db: Database, notifiers: Mapping[str, Notifier], now: datetime | None = None) -> int:
    """Send the due messages this process has a notifier for; how many were delivered."""
    now = now or utcnow()
    delivered = 0
    while True:
        batch = await _claim(db, list(notifiers), now)
        if not batch:
            return delivered
        for row in batch:
            delivered += await _send(db, notifiers[row.platform], row, now)
        if len(batch) < BATCH:
            return delivered


async def pending(db: Database) -> int:
    """Messages not sent yet (undeliverable ones excluded)."""
    async with db.session() as session:
        return await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
        ) or 0


async def _claim(db: Database, platforms: list[str], now: datetime) -> list[OutboxMessage]:
    if not platforms:
        return []
    free = or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now)
    async with db.session() as session:
        ids = list(await session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.sent_at.is_(None), OutboxMessage.due_at <= now, OutboxMessage.platform.in_(platforms), free)
            .order_by(OutboxMessage.id)
            .limit(BATCH)
        ))  # fmt: skip
        if not ids:
            return []
        won = list(await session.scalars(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.sent_at.is_(None), free)
            .values(claimed_until=now + LEASE)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        ))  # fmt: skip
        rows = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(won)).order_by(OutboxMessage.id)))
        session.expunge_all()
        return rows


async def _send(db: Database, notifier: Notifier, row: OutboxMessage, now: datetime) -> int:
    images = (Image(row.image, row.image_name),) if row.image else ()
    message = Message.with_commands(row.text, images, ((c[0], c[1]) for c in row.commands), public=row.public)
    try:
        sent = await notifier.send(ChatTarget(row.platform, row.chat_id), message)
    except Exception as exc:  # the chat is down or slow: try again later, then give up loudly
        attempts = row.attempts + 1
        done = attempts >= RETRIES
        log.warning("alert_send_failed", outbox=row.id, attempts=attempts, error=type(exc).__name__)
        values: dict[str, object] = {"attempts": attempts, "claimed_until": None, "error": f"{type(exc).__name__}"[:300]}
        if done:
            values |= {"sent_at": now, "error": f"undeliverable after {attempts} attempts: {type(exc).__name__}"[:300]}
        else:
            values["due_at"] = now + timedelta(seconds=BACKOFF_S[min(attempts, len(BACKOFF_S)) - 1])
        await _update(db, row.id, **values)
        return 0
    await _update(db, row.id, sent_at=now, claimed_until=None, attempts=row.attempts + 1,
                  error="" if sent else "undeliverable")  # fmt: skip
    return 1 if sent else 0


async def _update(db: Database, row_id: int, **values: object) -> None:
    async with db.session() as session:
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == row_id).values(**values)
            .execution_options(synchronize_session=False)
        )  # fmt: skip


async def prune(db: Database, now: datetime | None = None) -> int:
    """Forget messages sent (or given up) more than ``KEEP_SENT`` ago."""
    cutoff = (now or utcnow()) - KEEP_SENT
    async with db.session() as session:
        gone = await session.execute(delete(OutboxMessage).where(OutboxMessage.sent_at < cutoff))
        return rowcount(gone) or 0
