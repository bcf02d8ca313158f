"""A corrupt file in MARKET_DATA_DIR: only its ticker is affected, users never see the operator's file names."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from bots.console.transport import Console
from core.app import Core
from core.config import SAMPLE_DATA_DIR, Settings


@pytest.fixture
async def console(tmp_path: Path):
    data = tmp_path / "operator-data"
    data.mkdir()
    shutil.copy(SAMPLE_DATA_DIR / "BBCA_1h.csv", data / "BBCA_1h.csv")
    (data / "BAD_1h.csv").write_bytes(os.urandom(4096))  # a half-copied or binary file
    (data / "instruments.csv").write_text("garbage\n\x00\x01")
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
                        market_offline=True, market_data_dir=data)  # fmt: skip
    core = await Core.start(settings)
    try:
        yield await Console.open(core, tmp_path / "out"), data
    finally:
        await core.close()


async def test_one_bad_file_affects_only_its_ticker(console):
    console, data = console
    with capture_logs() as logs:
        bad = await console.handle("/market BAD")
        good = await console.handle("/market BBCA 1h")
    assert bad.error and bad.text == "data for BAD is unavailable right now"
    assert not good.error and good.text.startswith("BBCA") and good.images
    unreadable = [e for e in logs if e["event"] == "market_csv_unreadable" and e.get("ticker") == "BAD"]
    assert unreadable and unreadable[0]["file"] == str(data / "BAD_1h.csv")  # the operator's line names it


@pytest.mark.parametrize("line", ["/market BAD", "/market BAD 1d 1y rsi", "/market NOPE", "/search bad"])
async def test_replies_never_show_the_data_folder(console, line):
    console, data = console
    reply = await console.handle(line)
    assert str(data) not in reply.text and data.name not in reply.text and ".csv" not in reply.text
    assert "Usage" not in reply.text
