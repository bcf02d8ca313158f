"""0007: percent discount codes move from whole percents to basis points, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import pytest
from alembic import command
from sqlalchemy import text

from core.db import Database
from core.db.migrate import alembic_config, upgrade_sync
from tests.conftest import DEFAULT_PG_URL, _pg_create, _pg_drop


@pytest.fixture(params=["sqlite", "postgresql"])
async def fresh(request, tmp_path) -> AsyncIterator[Database]:
    """An empty database of the backend under test (nothing migrated yet)."""
    if request.param == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
        try:
            yield database
        finally:
            await database.dispose()
        return
    base_url = os.environ.get("TEST_DATABASE_URL_PG", DEFAULT_PG_URL)
    name = f"stoxlify_mig_{secrets.token_hex(4)}"
    try:
        url, options, kind = await _pg_create(base_url, name)
    except (OSError, TimeoutError) as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc!r}")
    database = Database(url, engine_options=options)
    try:
        yield database
    finally:
        await database.dispose()
        await _pg_drop(base_url, name, kind)


async def _to(database: Database, revision: str, *, down: bool = False) -> None:
    async with database.engine.connect() as conn:
        if down:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), revision))
        else:
            await conn.run_sync(lambda c: upgrade_sync(c, revision))
        await conn.commit()


async def _rows(database: Database, columns: str) -> list[tuple]:
    async with database.engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(text(f"SELECT code, {columns} FROM discount_codes ORDER BY code"))]


async def test_whole_percents_become_basis_points_and_back(fresh):
    await _to(fresh, "0006")
    async with fresh.engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO discount_codes (code, kind, value, used_count, active) VALUES "
            "('HEMAT10', 'percent', 10, 0, true), ('GRATIS', 'percent', 100, 3, true), "
            "('POTONG', 'fixed', 25000, 0, true)"
        ))

    await _to(fresh, "0007")
    assert await _rows(fresh, "kind, percent_bp, amount_idr, used_count") == [
        ("GRATIS", "percent", 10_000, None, 3),
        ("HEMAT10", "percent", 1_000, None, 0),
        ("POTONG", "fixed", None, 25_000, 0),
    ]
    async with fresh.engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO discount_codes (code, kind, percent_bp, used_count, active) VALUES "
            "('HALF', 'percent', 250, 0, true), ('TINY', 'percent', 50, 0, true)"
        ))

    await _to(fresh, "0006", down=True)  # whole percents again: 2.5 % rounds down, never below 1 %
    assert await _rows(fresh, "kind, value") == [
        ("GRATIS", "percent", 100), ("HALF", "percent", 2), ("HEMAT10", "percent", 10),
        ("POTONG", "fixed", 25_000), ("TINY", "percent", 1),
    ]
    await _to(fresh, "head")
    assert (await _rows(fresh, "percent_bp, amount_idr"))[2] == ("HEMAT10", 1_000, None)
