"""The summary chart: a PNG for IDX and crypto summaries, rendered on the chart thread."""

from __future__ import annotations

import struct
from datetime import UTC, date, datetime

import pytest

from core.bandarmology import chart
from core.bandarmology.crypto import Trade, analyse_trades, summarize_trades
from core.bandarmology.summary import summarize_flows
from core.bandarmology.types import BrokerFlow


def _size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def _idx(sample: bool = False):
    flows = [BrokerFlow("AK", "F", 10, 9.5e6, 0, 0.0), BrokerFlow("YP", "D", 0, 0.0, 5, 4.75e6)]
    return summarize_flows("BBCA", flows, provider="test feed", start=date(2024, 6, 3), end=date(2024, 6, 7),
                           sample=sample)  # fmt: skip


def _crypto():
    trades = [Trade(i, 90_000.0, 0.01 * i, "buy" if i % 2 else "sell") for i in range(1, 21)]
    start, end = datetime(2024, 11, 23, 11, tzinfo=UTC), datetime(2024, 11, 23, 12, tzinfo=UTC)
    return summarize_trades("BTCUSDT", analyse_trades(trades), start=start, end=end, base="BTC", quote="USDT")


def test_headings() -> None:
    first, second = chart.heading(_idx(sample=True))
    assert first == "BBCA · Big Acc (big accumulation) · net top 3 +4.75M IDR"
    assert second == "03 Jun – 07 Jun 2024 · test feed · foreign net +9.5M · SAMPLE DATA (synthetic)"
    first, second = chart.heading(_crypto())
    assert first.startswith("BTCUSDT · ") and "net large takers" in first and first.endswith(" USDT")
    assert second == "23 Nov 2024 11:00–12:00 UTC · Binance trades"


@pytest.mark.parametrize("make", [_idx, _crypto])
def test_png(make) -> None:
    png = chart.render_summary(make(), width_px=900, height_px=500)
    assert _size(png) == (900, 500) and len(png) > 5_000


async def test_the_bandar_command_renders_on_the_compute_plane(tmp_path) -> None:
    """/bandar's chart is CPU work: it goes through the executor, never the event loop."""
    from bots.console.transport import Console
    from core.app import Core
    from core.compute import InlineCompute
    from core.config import Settings

    ran: list[str] = []

    class Recording(InlineCompute):
        async def run(self, fn, *args, task=None):
            ran.append(getattr(fn, "__name__", repr(fn)))
            return await super().run(fn, *args, task=task) if task else await super().run(fn, *args)

    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
                        market_offline=True, sample_live=False)  # fmt: skip
    core = await Core.start(settings)
    core.compute = Recording(settings)
    try:
        reply = await (await Console.open(core, tmp_path / "out")).handle("/bandar BBCA")
    finally:
        await core.close()
    assert not reply.error and _size(reply.images[0].data) == (1200, 700)
    assert "render_summary" in ran

