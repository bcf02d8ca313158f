"""Migrations: idempotent at start-up, reversible, and in step with the models on both backends."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from core.account.models import User
from core.db import Database
from core.db.migrate import alembic_config, import_models, script_heads, upgrade_sync

TABLES = {"users", "identities", "chats", "watches"}


def _head() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"migrations have several heads: {heads}"
    return heads[0]


def test_start_up_fast_path_reads_the_same_head_as_alembic():
    assert script_heads() == frozenset([_head()])


async def _version(database: Database) -> list[str]:
    async with database.engine.connect() as conn:
        return list((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())


async def test_migrate_again_is_a_no_op(db):
    async with db.session() as s:
        s.add(User(name="ana"))
    await db.migrate()
    async with db.engine.connect() as conn:  # Alembic itself, past the start-up fast path
        await conn.run_sync(upgrade_sync)
        await conn.commit()
    assert await _version(db) == [_head()]
    async with db.session() as s:
        assert (await s.scalars(select(User.name))).all() == ["ana"]


async def test_models_match_migrations(db):
    metadata = import_models()

    def diff(conn):
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return compare_metadata(context, metadata)

    async with db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_fresh_sqlite_file_migrates_twice_and_downgrades(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    try:
        await database.migrate()
        await database.migrate()
        assert await _version(database) == [_head()]

        def tables(conn):
            return set(inspect(conn).get_table_names())

        async with database.engine.connect() as conn:
            assert await conn.run_sync(tables) >= TABLES
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "base"))
            await conn.commit()
            assert not TABLES & await conn.run_sync(tables)
        await database.migrate()  # behind the head again: upgraded
        assert await _version(database) == [_head()]
    finally:
        await database.dispose()


def test_every_models_module_is_registered():
    assert set(import_models().tables) >= TABLES


async def test_concurrent_start_ups_migrate_once(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'race.db'}"
    databases = [Database(url) for _ in range(3)]
    try:
        await asyncio.gather(*(d.migrate() for d in databases))
        assert await _version(databases[0]) == [_head()]
    finally:
        for d in databases:
            await d.dispose()
