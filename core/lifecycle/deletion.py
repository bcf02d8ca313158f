"""Deleting an account: every row the user owns, in one transaction, then their stored files.

Which tables hold a user's rows is read from the metadata, like ``core.lifecycle.link`` does:

- a table with a ``user_id`` foreign key to ``users`` is owned directly (models, strategies,
  shares, deployments, credentials, orders, trades, media, watches, chat memberships, link codes,
  purchases, subscriptions, identities, Contact Us messages...);
- a table without one is owned through a ``CASCADE`` foreign key to an owned table (strategy
  rules, paper balances, purchase items), however deep.

Rows are deleted children first (the reverse of the metadata's dependency order), so
``RESTRICT`` keys such as deployments -> credentials are satisfied on every backend. A domain
adding tables later is covered without changes here. Before anything is removed the user's
deployments are set to ``TaskCanceled`` (on PostgreSQL this also takes their row locks), so a
scheduler tick that loaded one can no longer act on it. The user's private chats with the bot
(Telegram and console, where the chat id is the user's id) go too. Media bytes are deleted from
storage only after the commit; a failure there is logged and counted, never undoes the deletion.

Rows a domain keeps for itself rather than for the user (the paper broker's fill markers in
``paper_balances``) are deleted with the rest but never counted: the summary and the report name
only what the user would recognise as theirs.

An account with a ``Pending`` Mayar purchase is not deleted (Conflict): its invoice can still be
paid, and that payment would then find no purchase and no user to credit. Nor one with an order
in flight (Pending, Sent or Open), as deleting one deployment already refuses: the exchange may
fill it, and reconciliation needs its row to settle that fill.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Table, and_, delete, false, func, not_, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.account.models import Chat, Identity, User
from core.actor import Actor
from core.broker.paper import MARKER_PREFIX
from core.config import Settings
from core.db import Database, rowcount
from core.db.migrate import import_models
from core.deployment.executor import UNRESOLVED
from core.deployment.status import Status
from core.errors import Conflict, NotFound
from core.logging import get_logger
from core.media.models import Media
from core.media.service import discard
from core.media.storage import ObjectStorage, storage_for
from core.purchase.models import Purchase, PurchaseStatus
from core.tokens.service import REVOCATIONS
from core.trade.models import Order

log = get_logger(__name__)

USERS = User.__tablename__


@dataclass(frozen=True, slots=True)
class DeletionReport:
    user_id: int
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows deleted (tables with none left out)
    files_deleted: int = 0
    files_failed: int = 0

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def owned_where(
    table: Table, user_id: int, _seen: frozenset[str] = frozenset()
) -> ColumnElement[bool] | None:
    """The condition selecting ``user_id``'s rows of ``table``, or None when it holds none of anyone's."""
    column = table.c.get("user_id")
    if column is not None and any(fk.column.table.name == USERS for fk in column.foreign_keys):
        return column == user_id
    conditions = []
    for fk in table.foreign_keys:
        parent = fk.column.table
        if parent.name in _seen or parent is table or (fk.ondelete or "").upper() != "CASCADE":
            continue
        parent_where = owned_where(parent, user_id, _seen | {table.name})
        if parent_where is not None:
            conditions.append(fk.parent.in_(select(fk.column).where(parent_where)))
    return or_(*conditions) if conditions else None


def internal_where(table: Table) -> ColumnElement[bool] | None:
    """The rows of ``table`` that are bookkeeping, not user data (never counted), or None."""
    if table.name == "paper_balances":
        return table.c.asset.like(MARKER_PREFIX + "%")
    return None


def owned_tables() -> list[Table]:
    """Every table that can hold a user's rows, children before parents (the order to delete in)."""
    metadata = import_models()
    return [t for t in reversed(metadata.sorted_tables) if t.name != USERS and owned_where(t, 0) is not None]


async def summary(db: Database, actor: Actor) -> dict[str, int]:
    """How many rows of each table deleting the account would remove (tables with none left out)."""
    async with db.session() as session:
        return await _counts(session, actor.user_id)


async def delete_account(
    db: Database, settings: Settings, actor: Actor, *, storage: ObjectStorage | None = None
) -> DeletionReport:
    """Remove the actor's user and everything they own, in one transaction; then their files."""
    tables = owned_tables()
    user_id = actor.user_id
    async with db.session() as session:
        if await session.get(User, user_id, with_for_update=not db.is_sqlite) is None:
            raise NotFound("your account no longer exists")
        pending = await session.scalar(
            select(Purchase.id).where(Purchase.user_id == user_id, Purchase.status == PurchaseStatus.PENDING,
                                      Purchase.provider == "Mayar").order_by(Purchase.id).limit(1)
        )
        if pending is not None:  # a payment arriving after the deletion would have nobody to credit
            raise Conflict(
                f"order #{pending} is waiting for payment: pay it or wait for it to expire before deleting "
                "your account (see /purchases)"
            )
        deployments = import_models().tables.get("deployments")
        if deployments is not None:
            await session.execute(
                update(deployments)
                .where(deployments.c.user_id == user_id)
                .values(status=Status.CANCELED)
            )
        # After the cancel (which on PostgreSQL holds the deployments' locks, so no tick records a
        # new order meanwhile): an order already sent may fill on the exchange, and only its row lets
        # reconciliation settle it. Deleting it would lose that fill; the user waits for it instead.
        in_flight = await session.scalar(
            select(Order.id).where(Order.user_id == user_id, Order.status.in_(UNRESOLVED)).order_by(Order.id).limit(1)
        )
        if in_flight is not None:
            raise Conflict(
                f"order #{in_flight} is still in flight on the exchange: wait a minute for it to settle, "
                "then delete your account again (nothing was deleted)"
            )
        keys = list(await session.scalars(select(Media.key).where(Media.user_id == user_id)))
        private_chats = await _private_chats(session, user_id)
        rows: dict[str, int] = {}
        for table in tables:
            owned = owned_where(table, user_id)
            assert owned is not None  # owned_tables() lists only the tables that have an owner condition
            internal = internal_where(table)
            if internal is not None:  # deleted too, but not the user's data: not counted
                await session.execute(delete(table).where(owned, internal))
            result = await session.execute(delete(table).where(owned))
            if rowcount(result):
                rows[table.name] = rowcount(result)
        if private_chats is not None:
            result = await session.execute(delete(Chat).where(private_chats))
            if rowcount(result):
                rows[Chat.__tablename__] = rowcount(result)
        await session.execute(delete(User).where(User.id == user_id))
        rows[USERS] = 1
    REVOCATIONS.epoch += 1  # the account's tokens went with it: caches of grants (api.auth) forget them now
    storage = storage or storage_for(settings)
    deleted = sum([await discard(storage, key) for key in keys])
    failed = len(keys) - deleted
    log.info("account_deleted", user=user_id, rows=sum(rows.values()), files=deleted, files_failed=failed)
    return DeletionReport(user_id, rows, deleted, failed)


async def _private_chats(session: AsyncSession, user_id: int) -> ColumnElement[bool] | None:
    """The user's one-to-one chats with the bot: chats whose id is one of their identities' ids."""
    pairs = [tuple(r) for r in await session.execute(
        select(Identity.platform, Identity.external_id).where(Identity.user_id == user_id)
    )]  # fmt: skip
    if not pairs:
        return None
    return and_(Chat.is_group == false(), tuple_(Chat.platform, Chat.external_id).in_(pairs))


async def _counts(session: AsyncSession, user_id: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in owned_tables():
        where = owned_where(table, user_id)
        assert where is not None  # owned_tables() lists only the tables that have an owner condition
        internal = internal_where(table)
        if internal is not None:
            where = and_(where, not_(internal))
        n = await session.scalar(select(func.count()).select_from(table).where(where))
        if n:
            counts[table.name] = int(n)
    return counts
