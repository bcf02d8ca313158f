"""Deleting an account removes every row the user owns (found from the metadata) and their files,
in one transaction, leaving other users' rows alone. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, event, func, insert, select, update

from core.account.models import Chat, User
from core.account.service import actor_for
from core.config import Settings
from core.db import utcnow
from core.db.migrate import import_models
from core.errors import NotFound
from core.lifecycle import deletion
from core.media import service as media
from core.media.storage import LocalStorage

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
EXPECTED = {
    "models", "strategies", "strategy_rules", "shares", "deployments", "credentials", "paper_balances", "orders",
    "trades", "media", "watches", "chat_members", "link_codes", "purchases", "subscriptions", "identities",
}  # fmt: skip


def _is_user_fk(table: Table) -> bool:
    column = table.c.get("user_id")
    return column is not None and any(fk.column.table.name == "users" for fk in column.foreign_keys)


def user_owned() -> tuple[list[Table], list[Table]]:
    """(tables with a user_id key to users, tables whose rows cannot exist without an owned parent)."""
    tables = import_models().sorted_tables
    direct = [t for t in tables if _is_user_fk(t)]
    owned = {t.name for t in direct}
    indirect: list[Table] = []
    for table in tables:  # dependency order: parents are classified before children
        if table.name in owned or table.name == "users":
            continue
        if any(not fk.parent.nullable and fk.column.table.name in owned for fk in table.foreign_keys):
            indirect.append(table)
            owned.add(table.name)
    return direct, indirect


class RowFactory:
    """One row in any table, with every foreign key pointing at rows made for the same user
    (owned parents) or at shared rows (chats, products, ...)."""

    def __init__(self, session, owned: set[str]) -> None:
        self.session, self.owned = session, owned
        self.made: dict[tuple[int | None, str], int] = {}

    async def row(self, table: Table, user_id: int) -> int:
        owner = user_id if table.name in self.owned else None
        key = (owner, table.name)
        if key in self.made:
            return self.made[key]
        values: dict[str, Any] = {}
        for column in table.columns:
            if column.primary_key:
                continue
            fks = list(column.foreign_keys)
            if fks:
                parent = fks[0].column.table
                values[column.name] = user_id if parent.name == "users" else await self.row(parent, user_id)
            elif not column.nullable and column.default is None and column.server_default is None:
                values[column.name] = _value(column)
        result = await self.session.execute(insert(table).values(**values))
        self.made[key] = result.inserted_primary_key[0]
        return self.made[key]


def _value(column: Column) -> Any:
    kind = getattr(column.type, "impl", column.type).python_type  # a TypeDecorator's own type is its impl's
    if kind is str:
        return secrets.token_hex(16)[: getattr(column.type, "length", None) or 32]
    if kind is datetime:
        return utcnow()
    if kind is date:
        return date.today()
    if kind is bool:
        return False
    if kind is dict:
        return {}
    return kind(1)


async def _count(db, table: Table, where=None) -> int:
    async with db.session() as session:
        query = select(func.count()).select_from(table)
        return int(await session.scalar(query if where is None else query.where(where)))


def _settings(tmp_path) -> Settings:
    return Settings(
        _env_file=None, database_url="sqlite+aiosqlite:///unused.db", media_dir=tmp_path / "media"
    )


async def _populate(db, tmp_path, platform_id: str) -> tuple[Any, Any]:
    actor = await actor_for(db, platform="telegram", external_id=platform_id, display_name=f"u{platform_id}",
                            chat_id=platform_id)  # fmt: skip
    direct, indirect = user_owned()
    async with db.session() as session:
        factory = RowFactory(session, {t.name for t in direct + indirect})
        for table in direct + indirect:
            await factory.row(table, actor.user_id)
        orders = import_models().tables["orders"]  # settled: an order still in flight blocks the deletion
        await session.execute(update(orders).where(orders.c.user_id == actor.user_id).values(status="Filled"))
    uploaded = await media.upload(db, _settings(tmp_path), actor, PNG, "avatar.png")
    return actor, uploaded


async def test_every_owned_table_is_emptied_of_the_user_and_only_the_user(db, tmp_path):
    direct, indirect = user_owned()
    assert {t.name for t in direct + indirect} >= EXPECTED  # the discovery sees what the schema has today
    victim, victim_file = await _populate(db, tmp_path, "111")
    other, other_file = await _populate(db, tmp_path, "222")
    storage = LocalStorage(tmp_path / "media")
    victim_path, other_path = (
        await _key_path(db, storage, victim_file.id),
        await _key_path(db, storage, other_file.id),
    )
    assert victim_path.exists() and other_path.exists()

    before = {t.name: await _count(db, t) for t in direct + indirect}
    others = {t.name: await _count(db, t, t.c.user_id == other.user_id) for t in direct}
    for table in direct:  # one row or more of each, for both users
        assert await _count(db, table, table.c.user_id == victim.user_id) >= 1, table.name
        assert others[table.name] >= 1, table.name

    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(" ".join(statement.split()).lower())

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        report = await deletion.delete_account(db, _settings(tmp_path), victim)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)

    for table in direct:
        assert await _count(db, table, table.c.user_id == victim.user_id) == 0, table.name
        assert await _count(db, table, table.c.user_id == other.user_id) == others[table.name], table.name
    for table in indirect:  # half of each survives: the other user's
        assert await _count(db, table) == before[table.name] // 2, table.name
    assert await _count(db, User.__table__, User.id == victim.user_id) == 0
    assert await _count(db, User.__table__, User.id == other.user_id) == 1
    chats = await _count(db, Chat.__table__, Chat.external_id == "111")
    assert chats == 0 and await _count(db, Chat.__table__, Chat.external_id == "222") == 1

    assert not victim_path.exists() and other_path.exists()
    assert report.files_deleted == 2 and report.files_failed == 0  # the uploaded file and the factory's row
    assert report.rows["users"] == 1 and report.rows["deployments"] >= 1

    # deployments were cancelled before anything was removed, and removed before their credentials
    cancel = next(i for i, s in enumerate(statements) if s.startswith("update deployments set status"))
    first_delete = next(i for i, s in enumerate(statements) if s.startswith("delete from"))
    gone = {name: next(i for i, s in enumerate(statements) if s.startswith(f"delete from {name} "))
            for name in ("deployments", "credentials", "orders", "trades")}  # fmt: skip
    assert cancel < first_delete
    assert gone["trades"] < gone["orders"] < gone["deployments"] < gone["credentials"]


async def _key_path(db, storage: LocalStorage, media_id: int):
    from core.media.models import Media

    async with db.session() as session:
        key = await session.scalar(select(Media.key).where(Media.id == media_id))
    return storage.path_of(key)


async def test_a_failure_rolls_everything_back(db, tmp_path, monkeypatch):
    victim, uploaded = await _populate(db, tmp_path, "111")
    broken = Table("no_such_table", MetaData(), Column("id", Integer, primary_key=True),
                   Column("user_id", ForeignKey(User.__table__.c.id)))  # fmt: skip
    real = deletion.owned_tables
    monkeypatch.setattr(deletion, "owned_tables", lambda: [*real(), broken])
    direct, _ = user_owned()
    before = {t.name: await _count(db, t, t.c.user_id == victim.user_id) for t in direct}
    with pytest.raises(Exception, match="no_such_table"):
        await deletion.delete_account(db, _settings(tmp_path), victim)
    after = {t.name: await _count(db, t, t.c.user_id == victim.user_id) for t in direct}
    assert after == before
    # the file stays too: storage is touched only after the commit
    assert (await _key_path(db, LocalStorage(tmp_path / "media"), uploaded.id)).exists()


class FailingStorage(LocalStorage):
    async def delete(self, key: str) -> None:
        raise OSError("disk on fire")


async def test_file_failures_are_counted_not_raised(db, tmp_path):
    victim, _ = await _populate(db, tmp_path, "111")
    report = await deletion.delete_account(
        db, _settings(tmp_path), victim, storage=FailingStorage(tmp_path / "media")
    )
    assert report.files_failed == 2 and report.files_deleted == 0
    assert await _count(db, User.__table__, User.id == victim.user_id) == 0


async def test_summary_counts_and_missing_user(db, tmp_path):
    victim, _ = await _populate(db, tmp_path, "111")
    counts = await deletion.summary(db, victim)
    assert counts["media"] == 2 and counts["identities"] == 2 and counts["paper_balances"] == 1
    await deletion.delete_account(db, _settings(tmp_path), victim)
    assert await deletion.summary(db, victim) == {}
    with pytest.raises(NotFound, match="no longer exists"):
        await deletion.delete_account(db, _settings(tmp_path), victim)


async def test_a_pending_mayar_purchase_blocks_the_deletion(db, tmp_path):
    from core.errors import Conflict
    from core.purchase.models import Purchase

    victim = await actor_for(db, platform="telegram", external_id="333", display_name="u333")
    async with db.session() as session:
        row = Purchase(user_id=victim.user_id, status="Pending", provider="Mayar", subtotal=1, discount=0, tax=0,
                       total=1, created_at=utcnow())
        session.add(row)
        await session.flush()
        order = row.id
    with pytest.raises(Conflict, match=f"order #{order} is waiting for payment: pay it or wait for it to expire.*"
                                       r"/purchases"):
        await deletion.delete_account(db, _settings(tmp_path), victim)
    assert await _count(db, User.__table__, User.id == victim.user_id) == 1  # nothing was removed
    async with db.session() as session:
        (await session.get(Purchase, order)).status = "Expired"
    await deletion.delete_account(db, _settings(tmp_path), victim)
    assert await _count(db, User.__table__, User.id == victim.user_id) == 0


async def test_paper_fill_markers_are_deleted_but_never_counted(db, tmp_path):
    from core.broker.models import PaperBalance
    from core.broker.paper import PaperBroker
    from core.broker.service import paper_credential
    from core.broker.types import OrderRequest

    settings = _settings(tmp_path)
    victim = await actor_for(db, platform="telegram", external_id="111", display_name="u111")
    cred = await paper_credential(db, victim)
    paper = PaperBroker(db, settings, cred.id)
    await paper.create_order(OrderRequest("d1-b1-buy", "BTC/USDT", "buy", 0.1, 50_000))
    await paper.create_order(OrderRequest("d1-b2-sell", "BTC/USDT", "sell", 0.05, 51_000))
    assert await _count(db, PaperBalance.__table__) == 3 + 6  # IDR, USDT, BTC and two fills' markers

    counts = await deletion.summary(db, victim)
    assert counts["paper_balances"] == 3 and counts["credentials"] == 1
    report = await deletion.delete_account(db, settings, victim)
    assert report.rows["paper_balances"] == 3
    assert await _count(db, PaperBalance.__table__) == 0  # the markers went too


async def test_an_order_in_flight_blocks_the_deletion_until_it_settles(db, tmp_path):
    """An order sent to the exchange may still fill: its row is what reconciliation settles it by,
    so the account waits for it (nothing deleted, the deployment still running)."""
    from core.broker.models import Credential
    from core.deployment.models import Deployment
    from core.errors import Conflict
    from core.trade.models import Order

    trader = await actor_for(db, platform="telegram", external_id="444", display_name="u444")
    async with db.session() as session:
        key = Credential(user_id=trader.user_id, broker="Binance", label="main", label_key="main")
        session.add(key)
        await session.flush()
        running = Deployment(user_id=trader.user_id, credential_id=key.id, label="ema", source="x", market="Binance",
                             ticker="BTCUSDT", interval="1h", status="OpenPosition", position_qty=0.1)  # fmt: skip
        session.add(running)
        await session.flush()
        sent = Order(user_id=trader.user_id, deployment_id=running.id, credential_id=key.id, broker="Binance",
                     client_order_id="stx-1-sell", symbol="BTC/USDT", side="sell", quantity=0.1, status="Sent")
        session.add(sent)
        await session.flush()
        order_id, deployment_id = sent.id, running.id
    with pytest.raises(Conflict, match=f"order #{order_id} is still in flight.*nothing was deleted"):
        await deletion.delete_account(db, _settings(tmp_path), trader)
    async with db.session() as session:
        assert (await session.get(Order, order_id)).status == "Sent"
        assert (await session.get(Deployment, deployment_id)).status == "OpenPosition"  # the cancel rolled back
        (await session.get(Order, order_id)).status = "Filled"  # reconciliation settled it
    report = await deletion.delete_account(db, _settings(tmp_path), trader)
    assert report.rows["orders"] == 1 and await _count(db, User.__table__, User.id == trader.user_id) == 0
