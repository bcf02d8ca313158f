"""/bandar through the console: the offline sample, imports (typed and attached), and refusals."""

from __future__ import annotations

import struct

import pytest

from bots.console.transport import Console
from bots.registry import Context
from core.app import Core
from core.config import Settings

CSV = """date,broker,investor,buy_lot,buy_value,sell_lot,sell_value
2024-06-03,AK,F,10000,9500000000,2000,1900000000
2024-06-03,YP,D,2000,1900000000,10000,9500000000
2024-06-04,AK,F,3000,2850000000,0,0
2024-06-04,CC,,0,0,3000,2850000000
"""


@pytest.fixture
async def console(tmp_path):
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        market_offline=True,
        rate_limit_per_minute=100,
    )
    core = await Core.start(settings)
    try:
        yield await Console.open(core, tmp_path / "out")
    finally:
        await core.close()


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


async def test_sample_summary_offline(console) -> None:
    reply = await console.handle("/bandar BBCA")
    assert not reply.error, reply.text
    lines = reply.text.splitlines()
    assert lines[0] == "BBCA · broker summary · 20 Nov 2026"
    assert lines[1] == ("Verdict: Big Acc (big accumulation) · top 3 buyers 157.69B vs top 3 sellers 80.54B IDR "
                        "(ratio 1.96)")  # fmt: skip
    assert "Net flow (top 3): +77.15B IDR · +112,976 lots" in reply.text
    assert "Foreign net +102.62B · domestic net -102.62B IDR" in reply.text
    assert "  1. BK (F) 99,165 lots · 67.71B · avg 6,828" in reply.text
    assert lines[-1].startswith("SAMPLE DATA")
    [image] = reply.images
    assert _png_size(image.data) == (1200, 700) and len(image.data) > 10_000
    assert image.caption == "BBCA · Big Acc · 20 Nov 2026 · SAMPLE DATA"
    assert [b.command for b in reply.buttons[0]] == [
        "/bandar BBCA 5d",
        "/bandar BBCA 1mo",
        "/bandar BBCA 3mo",
    ]

    week = await console.handle("/bandar bbca.jk 5d")
    assert week.text.startswith("BBCA · broker summary · 16 Nov – 20 Nov 2026 (5 days)")
    assert "SAMPLE DATA" in week.text and "SAMPLE DATA" in week.images[0].caption
    day = await console.handle("/bandar BBCA 2026-11-12")
    assert "Verdict: Dist (distribution)" in day.text


async def test_import_then_summary_reads_the_users_data(console) -> None:
    imported = await console.handle("/bandar import BBCA\n" + CSV)
    assert not imported.error, imported.text
    assert imported.text.splitlines()[0] == (
        "Imported 4 row(s) for BBCA (2024-06-03 to 2024-06-04, 2 day(s)): 4 new, 0 updated."
    )
    again = await console.handle("/bandar import BBCA\n```\n" + CSV + "```")  # a code block works too
    assert "0 new, 4 updated" in again.text

    summary = await console.handle("/bandar BBCA")  # imported data wins over the sample
    assert summary.text.startswith("BBCA · broker summary · 04 Jun 2024")
    assert "Source: your imported data." in summary.text and "SAMPLE DATA" not in summary.text
    assert "Verdict: Neutral" in summary.text  # AK bought 2.85B, CC sold 2.85B
    ask = await console.handle("/bandar rm bbca")
    assert ask.text == "Delete all your imported broker data for BBCA?"
    assert ask.buttons[0][0].command == "/bandar rm BBCA --yes"
    both = await console.handle("/bandar BBCA 2024-06-03..2024-06-04")
    assert "03 Jun – 04 Jun 2024 (2 days)" in both.text
    # a complete market nets out: AK bought what YP and CC sold
    assert "top 3 buyers 10.45B vs top 3 sellers 10.45B IDR (ratio 1.00)" in both.text
    gone = await console.handle("/bandar rm BBCA --yes")
    assert gone.text == "Deleted 4 imported row(s) for BBCA."
    back = await console.handle("/bandar BBCA")  # the sample again
    assert "SAMPLE DATA" in back.text
    again = await console.handle("/bandar rm BBCA --yes")
    assert again.text == "You had no imported broker data for BBCA."


async def test_import_errors_name_lines(console) -> None:
    bad = CSV.replace("2024-06-04,AK,F,3000", "2024-06-04,AK,F,3k").replace("YP,D", "YP,Q")
    reply = await console.handle("/bandar import BBCA\n" + bad)
    assert reply.error
    assert "2 bad rows, nothing imported:" in reply.text
    assert "line 3: investor 'Q' is not F, D or empty" in reply.text
    assert "line 4: buy_lot '3k' is not a whole number of lots" in reply.text
    assert "columns: date,broker,investor,buy_lot,buy_value,sell_lot,sell_value" in reply.text
    empty = await console.handle("/bandar import BBCA")
    assert empty.error and "no CSV given" in empty.text and "/bandar import BBCA" in empty.text


async def test_import_from_an_attached_file(console) -> None:
    async def attached() -> bytes:
        return ("ticker," + CSV.splitlines()[0] + "\nTLKM,2024-06-03,AK,F,100,400000000,0,0\n").encode()

    ctx = Context(
        core=console.core, actor=console.actor, transport="telegram", extras={"attached_text": attached}
    )
    reply = await console.registry.dispatch(ctx, "/bandar import")
    assert not reply.error, reply.text
    assert reply.text.startswith("Imported 1 row(s) for TLKM (2024-06-03, 1 day(s)): 1 new, 0 updated.")
    tlkm = await console.handle("/bandar TLKM 2024-06-03")
    assert "Verdict: Big Acc" in tlkm.text and "1. AK (F) 100 lots · 400.00M · avg 40,000" in tlkm.text


async def test_refusals_are_clear(console) -> None:
    none = await console.handle("/bandar TLKM")
    assert none.error and "no broker data for TLKM" in none.text
    assert "/bandar import TLKM" in none.text and "BANDAR_API_URL" in none.text
    crypto = await console.handle("/bandar BTCUSDT")
    assert crypto.error and "runs offline" in crypto.text and "MARKET_OFFLINE=false" in crypto.text
    hourly = await console.handle("/bandar BBCA 1h")
    assert hourly.error and "IDX broker data is daily" in hourly.text
    extra = await console.handle("/bandar BBCA 5d now")
    assert extra.error and "unexpected 'now'" in extra.text
    typo = await console.handle("/bandar BBCA yesterday")
    assert typo.error and "'yesterday' is not a date or range" in typo.text
    missing = await console.handle("/bandar BBCA 2026-11-14")
    assert missing.error and "covers 2026-11-09 to 2026-11-20" in missing.text


def test_crypto_summary_text() -> None:
    from datetime import UTC, datetime

    from bots.commands.bandar import render_summary
    from core.bandarmology.crypto import Trade, analyse_trades, summarize_trades

    trades = [Trade(i, 90_000.0, 0.01 * i, "buy" if i % 2 else "sell") for i in range(1, 21)]
    start, end = datetime(2024, 11, 23, 11, tzinfo=UTC), datetime(2024, 11, 23, 12, tzinfo=UTC)
    summary = summarize_trades("BTCUSDT", analyse_trades(trades), start=start, end=end, base="BTC", quote="USDT",
                               notes=("sampled: 5 trades",))  # fmt: skip
    text = render_summary(summary)
    assert text.splitlines()[:3] == [
        "BTCUSDT · taker flow · 23 Nov 2024 11:00–12:00 UTC",
        "Verdict: Neutral (neutral) · large takers bought 17.10K vs sold 18.00K USDT (ratio 0.95)",
        "Net flow (large takers): -900 USDT · -0.0100 BTC",
    ]
    assert "  Large takers: 0.1900 BTC · 17.10K USDT avg 90,000.00 · 1 trade(s)" in text
    assert "All takers net: -9,000 USDT" in text
    assert "large takers stand in for the top brokers" in text and "Note: sampled: 5 trades" in text
    assert "SAMPLE DATA" not in text
