"""The database handle: one async engine, units of work, migrations.

SQLite (the embedded default) and PostgreSQL (at scale) run the same code; the
differences live here, in how connections are set up.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import sqlite3
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool

from core.errors import Unavailable
from core.logging import get_logger

log = get_logger(__name__)

# Applied to every new SQLite connection. WAL lets readers run while one writer writes;
# busy_timeout makes a second writer wait instead of failing at once; NORMAL sync is
# safe with WAL (a power cut may lose the last commits, never corrupt the file).
# WAL is a property of the file, set once by ``_enable_wal``: switching journal mode on every
# connection races other starting processes (SQLite does not always wait on busy_timeout there).
SQLITE_PRAGMAS = (
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


# Alembic keeps the running migration in module globals (``alembic.context``), so two
# migrations interleaved on one event loop would trample each other: one at a time.
_ALEMBIC_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _alembic_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _ALEMBIC_LOCKS.get(loop)
    if lock is None:
        lock = _ALEMBIC_LOCKS[loop] = asyncio.Lock()
    return lock


def _enable_wal(path: Path) -> None:
    """Put the database file in WAL mode (persistent), waiting for any writer that holds it."""
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


DATABASE_UNAVAILABLE = (
    "The bot's database is temporarily unavailable, so this was not done; nothing was lost. "
    "Please try again in a few minutes."
)
# SQLite's OperationalErrors that are the file's state, not a bug in a query ("no such table" is one)
_SQLITE_UNAVAILABLE = ("locked", "disk", "unable to open", "readonly", "busy", "full")


def _database_lost(exc: BaseException, *, sqlite: bool) -> bool:
    """Whether ``exc`` means the database cannot serve now (rather than a query being wrong)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError) and sqlite:
        return any(word in str(exc.orig).lower() for word in _SQLITE_UNAVAILABLE)
    # PostgreSQL's OperationalError and InterfaceError: the server or the connection went away;
    # a bare OSError or TimeoutError from the driver: a new connection could not be made
    return isinstance(exc, OperationalError | InterfaceError | SQLAlchemyTimeout | ConnectionError | TimeoutError
                      | socket.gaierror)  # fmt: skip


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or "mode=memory" in str(url)


class Database:
    """An async engine plus a session factory; create one per process and share it.

    ``sqlite+aiosqlite:///:memory:`` keeps a single shared connection (StaticPool) so
    every session sees the same in-memory database, which is what tests want.
    ``engine_options`` go to ``create_async_engine`` as they are (e.g. ``connect_args``).
    """

    def __init__(self, url: str, echo: bool = False, *, engine_options: dict[str, Any] | None = None) -> None:
        self.url = make_url(url)
        options: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            if _is_memory(self.url):
                options.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
            else:
                path = Path(self.url.database or "").expanduser().resolve()
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    _enable_wal(path)
                except (OSError, sqlite3.Error) as exc:
                    raise Unavailable(f"can't open the database {self.safe_url}: {self._reason(exc)}",
                                      hint=self._what_to_check()) from exc  # fmt: skip
        else:
            options["pool_pre_ping"] = True
        options.update(engine_options or {})
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_on_connect)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: committed when the block ends normally, rolled back on any exception.

        Losing the database (the server gone, the connection dropped, SQLite locked or its disk full)
        is ``Unavailable`` with a message for the user: the unit of work was rolled back, so nothing
        half-done was kept, and the user should hear that rather than "something went wrong"."""
        try:
            async with self._sessions() as session, session.begin():
                yield session
        except Exception as exc:
            if not _database_lost(exc, sqlite=self.is_sqlite):
                raise
            log.warning("database_unavailable", database=self.safe_url, error=self._reason(exc))
            raise Unavailable(DATABASE_UNAVAILABLE) from exc

    @property
    def safe_url(self) -> str:
        """The URL as an operator may see it in a message or a log: the password hidden."""
        return self.url.render_as_string(hide_password=True)

    async def check(self) -> None:
        """Connect once, at start-up: a database that cannot be reached is one clear ``Unavailable``
        naming the URL (password hidden) and what to check, not a long traceback from deep in a driver."""
        try:
            async with self.engine.connect():
                pass
        except Exception as exc:  # anything while merely connecting is the connection's fault
            raise Unavailable(f"can't connect to the database {self.safe_url}: {self._reason(exc)}",
                              hint=self._what_to_check()) from exc  # fmt: skip

    def _reason(self, exc: BaseException) -> str:
        """The driver's one-line reason, its class prefix and any password removed."""
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        text = re.sub(r"^\([\w.]+\)\s*", "", text)  # "(sqlalchemy.dialects.postgresql.asyncpg.Error) ..."
        if self.url.password:
            text = text.replace(str(self.url.password), "***")
        return text[:200] or type(exc).__name__

    def _what_to_check(self) -> str:
        if self.is_sqlite:
            return f"check that {self.url.database} can be created and written by this user (DATABASE_URL)"
        where = f"{self.url.host or 'localhost'}:{self.url.port or 5432}"
        return (f"check that the server is running and accepts connections on {where}, that database "
                f"'{self.url.database}' exists, and the user and password in DATABASE_URL")  # fmt: skip

    async def migrate(self) -> None:
        """Bring the schema to the newest migration; one query when it is already there.

        Safe to call at every start-up, and from several replicas at once on PostgreSQL
        (the migration itself holds an advisory lock).
        """
        from core.db.migrate import is_up_to_date, upgrade_sync

        async with self.engine.connect() as connection:
            if await connection.run_sync(is_up_to_date):
                await connection.rollback()
                return
            await connection.rollback()  # let Alembic open its own transaction
            async with _alembic_lock():
                await connection.run_sync(upgrade_sync)
            await connection.commit()

    async def dispose(self) -> None:
        """Close every pooled connection; call at shutdown (and at the end of each test)."""
        await self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"
