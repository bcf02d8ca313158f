"""The Database handle: SQLite set-up, units of work, UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import StatementError

from core.account.models import User
from core.db import Database


async def test_sqlite_file_gets_directory_and_pragmas(tmp_path):
    path = tmp_path / "nested" / "deeper" / "bot.db"
    database = Database(f"sqlite+aiosqlite:///{path}")
    try:
        async with database.engine.connect() as conn:
            journal = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
            foreign_keys = (await conn.execute(text("PRAGMA foreign_keys"))).scalar()
            busy = (await conn.execute(text("PRAGMA busy_timeout"))).scalar()
            synchronous = (await conn.execute(text("PRAGMA synchronous"))).scalar()
    finally:
        await database.dispose()
    assert path.parent.is_dir()
    assert (journal, foreign_keys, busy, synchronous) == ("wal", 1, 5000, 1)  # 1 = NORMAL


async def test_memory_database_is_shared_between_sessions():
    database = Database("sqlite+aiosqlite:///:memory:")
    try:
        await database.migrate()
        async with database.session() as s:
            s.add(User(name="ana"))
        async with database.session() as s:
            assert await s.scalar(select(User.name)) == "ana"
    finally:
        await database.dispose()


async def test_session_commits_on_exit_and_rolls_back_on_error(db):
    async with db.session() as s:
        s.add(User(name="kept"))
    with pytest.raises(RuntimeError):
        async with db.session() as s:
            s.add(User(name="dropped"))
            await s.flush()
            raise RuntimeError("boom")
    async with db.session() as s:
        assert (await s.scalars(select(User.name))).all() == ["kept"]


async def test_objects_stay_readable_after_commit(db):
    async with db.session() as s:
        user = User(name="ana")
        s.add(user)
    assert user.id is not None and user.name == "ana"  # expire_on_commit=False


async def test_timestamps_come_back_aware_in_utc(db):
    jakarta = timezone(timedelta(hours=7))
    at = datetime(2026, 1, 2, 9, 30, tzinfo=jakarta)
    async with db.session() as s:
        s.add(User(name="ana", created_at=at, last_seen_at=at))
    async with db.session() as s:
        stored = await s.scalar(select(User.created_at))
        count = await s.scalar(
            select(func.count()).where(User.created_at < datetime(2026, 1, 2, 3, tzinfo=UTC))
        )
    assert stored == at and stored.tzinfo is UTC
    assert stored.hour == 2
    assert count == 1  # compared as UTC instants in SQL too


async def test_naive_timestamps_are_refused(db):
    with pytest.raises(StatementError, match="naive datetime"):
        async with db.session() as s:
            s.add(User(name="ana", created_at=datetime(2026, 1, 1)))


def test_repr_hides_password():
    database = Database("postgresql+asyncpg://bot:secret@db.example/stoxlify")
    assert "secret" not in repr(database)
