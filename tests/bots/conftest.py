"""A console user talking to a real core: SQLite in tmp, offline sample data."""

from __future__ import annotations

import pytest

from bots.console.transport import Console
from core.app import Core
from core.config import Settings


@pytest.fixture
async def console(tmp_path):
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        market_offline=True,
    )
    core = await Core.start(settings)
    try:
        yield await Console.open(core, tmp_path / "out")
    finally:
        await core.close()


@pytest.fixture
async def db_console(db, tmp_path):
    """The console user over the ``db`` fixture: the same commands on SQLite and on PostgreSQL."""
    from core.market.service import MarketService

    settings = Settings(_env_file=None, database_url="sqlite+aiosqlite://", market_offline=True)
    core = Core(settings=settings, db=db, market=MarketService(settings))
    try:
        yield await Console.open(core, tmp_path / "out")
    finally:
        await core.market.close()
