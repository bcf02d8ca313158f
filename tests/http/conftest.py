"""The ``api`` fixture: a real uvicorn server on a loopback port, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from api.server import server
from bots.console.transport import Console
from core.app import Core
from core.config import Settings
from core.market.service import MarketService


@pytest.fixture
async def api(db, tmp_path):
    """(a console user to make tokens with, an HTTP client to the served app)."""
    settings = Settings(_env_file=None, database_url="sqlite+aiosqlite://", market_offline=True,
                        api_max_body_bytes=4096, api_rate_limit_per_minute=0,
                        media_dir=tmp_path / "media")  # fmt: skip
    core = Core(settings=settings, db=db, market=MarketService(settings))
    http = server(core, host="127.0.0.1", port=0)
    task = asyncio.create_task(http.serve())
    while not http.started:  # noqa: ASYNC110 - uvicorn says it is listening only through this flag
        await asyncio.sleep(0.01)
    port = http.servers[0].sockets[0].getsockname()[1]
    console = await Console.open(core, tmp_path / "out")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield console, client
    finally:
        http.should_exit = True
        await asyncio.wait_for(task, 10)
        await core.market.close()
