"""Shared database fixtures: every data-layer test runs on SQLite and on PostgreSQL.

- ``db``: a migrated, emptied ``Database``, parametrised ``["sqlite", "postgresql"]``
  (through ``db_backend``, which yields the url and engine options).
- ``sqlite_db``: the same on SQLite only, for tests that need no second backend.
- ``sqlite_url`` / ``pg_url``: session-wide migrated databases behind them.

Schemas are migrated once per session per backend (in a session-scoped *sync* fixture
with ``asyncio.run``, because asyncpg connections belong to the loop that opened them
and pytest-asyncio gives each test its own loop); each test gets its own engine on its
own loop and starts from empty tables (TRUNCATE on PostgreSQL, DELETE on SQLite).

PostgreSQL: ``TEST_DATABASE_URL_PG`` (default ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``)
names a server and a database to connect to; a fresh ``stoxlify_test_<random>`` database is
created there (or, without CREATEDB rights, a fresh schema) and dropped at the end. When the
server cannot be reached the PostgreSQL variants are skipped with the reason shown.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The live sample feed follows the wall clock; tests that want it turn it on with a clock of their own.
os.environ.setdefault("SAMPLE_LIVE", "false")
os.environ.setdefault("COMPUTE", "inline")  # threads: the process pool has tests of its own (tests/core/compute)
# Plain `pytest` (unlike `python -m pytest`) does not put the repo root on the path.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from core.db import Database  # noqa: E402
from core.db.migrate import import_models  # noqa: E402

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", "postgresql"]


def _pg_admin_kwargs(url: str) -> dict[str, Any]:
    u = make_url(url)
    return {
        "user": u.username,
        "password": u.password,
        "host": u.host or "127.0.0.1",
        "port": u.port or 5432,
        "database": u.database or "postgres",
    }


async def _pg_create(base_url: str, name: str) -> tuple[str, dict[str, Any], str]:
    """A fresh database (or schema when CREATE DATABASE is refused): (url, engine options, kind)."""
    import asyncpg

    conn = await asyncpg.connect(**_pg_admin_kwargs(base_url), timeout=5)
    try:
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
            url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
            return url, {}, "database"
        except asyncpg.InsufficientPrivilegeError:
            await conn.execute(f'CREATE SCHEMA "{name}"')
            options = {"connect_args": {"server_settings": {"search_path": name}}}
            return base_url, options, "schema"
    finally:
        await conn.close()


async def _pg_drop(base_url: str, name: str, kind: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(**_pg_admin_kwargs(base_url), timeout=5)
    try:
        if kind == "database":
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


async def _migrate(url: str, engine_options: dict[str, Any] | None = None) -> None:
    database = Database(url, engine_options=engine_options)
    try:
        await database.migrate()
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite file for the whole session."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'stoxlify.db'}"
    asyncio.run(_migrate(url))
    return url


@pytest.fixture(scope="session")
def pg_server() -> Iterator[tuple[str, dict[str, Any]]]:
    """A migrated PostgreSQL database for the whole session: (url, engine options)."""
    base_url = os.environ.get("TEST_DATABASE_URL_PG", DEFAULT_PG_URL)
    name = f"stoxlify_test_{secrets.token_hex(4)}"
    try:
        url, options, kind = asyncio.run(_pg_create(base_url, name))
    except (OSError, TimeoutError) as exc:
        where = make_url(base_url).render_as_string(hide_password=True)
        pytest.skip(f"PostgreSQL not reachable at {where}: {exc!r}")
    try:
        asyncio.run(_migrate(url, options))
        yield url, options
    finally:
        asyncio.run(_pg_drop(base_url, name, kind))


@pytest.fixture(scope="session")
def pg_url(pg_server: tuple[str, dict[str, Any]]) -> str:
    return pg_server[0]


async def _empty_tables(database: Database) -> None:
    tables = import_models().sorted_tables
    async with database.engine.begin() as conn:
        if database.is_sqlite:
            for table in reversed(tables):
                await conn.execute(table.delete())
        else:
            names = ", ".join(f'"{t.name}"' for t in tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


async def _open(url: str, options: dict[str, Any] | None = None) -> Database:
    database = Database(url, engine_options=options)
    await _empty_tables(database)
    return database


@pytest.fixture(params=BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """(url, engine options) of the backend under test.

    Sync on purpose: it resolves the session fixtures lazily (so only the PostgreSQL
    variants skip when the server is away), and those call ``asyncio.run``, which cannot
    run inside the loop an async fixture executes in.
    """
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url"), {}
    return request.getfixturevalue("pg_server")


@pytest.fixture
async def db(db_backend: tuple[str, dict[str, Any]]) -> AsyncIterator[Database]:
    """A migrated database with empty tables, once per backend (ids ``[sqlite]``, ``[postgresql]``)."""
    database = await _open(*db_backend)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def sqlite_db(sqlite_url: str) -> AsyncIterator[Database]:
    """A migrated SQLite database with empty tables, for tests not about the backend."""
    database = await _open(sqlite_url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture(autouse=True)
def _fresh_rate_limit(monkeypatch):
    """Every test database starts user ids at 1: keep one test's charts from rate-limiting the next."""
    from bots.commands import load
    from core.state.ratelimit import RateLimiter

    monkeypatch.setattr(load(), "rate_limiter", RateLimiter())


# -- Redis (shared state) -----------------------------------------------------------------------

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def redis_env() -> AsyncIterator[dict[str, str]]:
    """``REDIS_URL`` and a fresh ``REDIS_PREFIX`` for one test (its keys are deleted after it).

    ``TEST_REDIS_URL`` names the server (default ``redis://127.0.0.1:6379/0``); the test is
    skipped, with the reason shown, only when no server answers there.
    """
    from redis.asyncio import Redis

    url = os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL)
    client = Redis.from_url(url, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        pytest.skip(f"Redis not reachable at {url}: {exc!r}")
    prefix = f"stoxlify-test-{secrets.token_hex(4)}:"
    try:
        yield {"redis_url": url, "redis_prefix": prefix}
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture(scope="session")
def queue_workers() -> Iterator[dict[str, str]]:
    """Two ``stoxlify worker`` processes (one pool process each) reading a compute queue of their
    own for the whole session: the ``redis_url`` and ``redis_prefix`` to point bots at."""
    from redis import Redis

    from tests.workers import start_worker, stop_worker, wait_listening

    url = os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL)
    client = Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as exc:
        client.close()
        pytest.skip(f"Redis not reachable at {url}: {exc!r}")
    prefix = f"stoxlify-test-workers-{secrets.token_hex(4)}:"
    workers = [start_worker(url, prefix), start_worker(url, prefix)]
    try:
        wait_listening(url, prefix, len(workers))
        yield {"redis_url": url, "redis_prefix": prefix}
    finally:
        for worker in workers:
            stop_worker(worker)
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
        client.close()
