"""The ``api`` fixture: a real uvicorn server on a loopback port, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from bots.console.transport import Console
from core.app import Core
from core.config import Settings
from core.market.service import MarketService
from tests.http.serving import serving


@pytest.fixture
async def api(db, tmp_path):
    """(a console user to make tokens with, an HTTP client to the served app)."""
    settings = Settings(_env_file=None, database_url="sqlite+aiosqlite://", market_offline=True,
                        api_max_body_bytes=4096, api_rate_limit_per_minute=0,
                        media_dir=tmp_path / "media")  # fmt: skip
    core = Core(settings=settings, db=db, market=MarketService(settings))
    console = await Console.open(core, tmp_path / "out")
    try:
        async with serving(core) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield console, client
    finally:
        await core.market.close()
