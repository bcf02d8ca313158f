"""The database lost while the bot runs: the user hears it is temporarily unavailable, not "something went wrong"."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bots.console.transport import Console
from core.app import Core
from core.config import Settings
from core.db import Database
from core.market.models import Watch
from core.market.service import MarketService

UNAVAILABLE = "temporarily unavailable, so this was not done; nothing was lost"


class Proxy:
    """A TCP relay to PostgreSQL that can be cut, as a network failure or a server restart would."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.links: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.links += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()  # no new connections either
        for writer in self.links:
            writer.transport.abort()
        self.links.clear()


async def _console(db: Database, tmp_path) -> AsyncIterator[Console]:
    settings = Settings(_env_file=None, database_url=str(db.url), market_offline=True)
    core = Core(settings=settings, db=db, market=MarketService(settings))
    try:
        yield await Console.open(core, tmp_path / "out")
    finally:
        await core.market.close()


async def test_postgresql_lost_mid_run(pg_server, tmp_path):
    url, options = pg_server
    target = make_url(url)
    proxy = Proxy(target.host or "127.0.0.1", target.port or 5432)
    port = await proxy.start()
    db = Database(target.set(port=port).render_as_string(hide_password=False), engine_options=options)
    try:
        async for console in _console(db, tmp_path):
            assert not (await console.handle("/watchlist")).error
            await proxy.cut()
            for line in ("/watch BBCA", "/watchlist"):
                reply = await console.handle(line)
                assert reply.error and UNAVAILABLE in reply.text and "Something went wrong" not in reply.text
                assert "Usage" not in reply.text and str(port) not in reply.text
    finally:
        await db.dispose()


async def test_sqlite_locked_by_another_process(sqlite_db, tmp_path):
    async for console in _console(sqlite_db, tmp_path):
        assert not (await console.handle("/watch BBCA")).error
        holder = sqlite3.connect(sqlite_db.url.database, timeout=0)
        holder.execute("BEGIN EXCLUSIVE")  # a backup tool or a stuck process holding the file
        try:
            reply = await console.handle("/watch BBRI")  # waits out busy_timeout (5 s), then gives up
        finally:
            holder.rollback()
            holder.close()
        assert reply.error and UNAVAILABLE in reply.text and "Something went wrong" not in reply.text
        async with sqlite_db.session() as session:
            assert list(await session.scalars(select(Watch.ticker))) == ["BBCA"]


@pytest.mark.parametrize("word", ["no such table: nope"])
def test_a_wrong_query_is_still_a_bug_not_an_outage(word):
    from sqlalchemy.exc import OperationalError

    from core.db.engine import _database_lost

    assert not _database_lost(OperationalError("SELECT", {}, Exception(word)), sqlite=True)
