"""`/run ... export` and `/trades export`: the full trade list arrives as a CSV file."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from bots.commands.trades import PAGE_SIZE
from core.backtest.report import BACKTEST_CSV_COLUMNS
from core.deployment.history import FILLS_CSV_COLUMNS
from core.model.execute import ScriptRun, execute_script
from tests.core.statistic.trade_rows import add_trade

SCRIPT = "fast = ema(close, 5)\nslow = ema(close, 20)\nbuy = crossover(fast, slow)\nsell = crossunder(fast, slow)"
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def rows_of(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


async def _save(console) -> None:
    saved = await console.handle(f"/model save cross\n{SCRIPT}")
    assert not saved.error, saved.text


async def test_run_export_sends_every_trade_of_the_backtest_as_csv(console):
    await _save(console)
    reply = await console.handle("/run cross BBCA 1d 2y export")
    assert not reply.error, reply.text
    [document] = reply.files
    assert document.filename.endswith(".csv") and "cross_BBCA_1d" in document.filename
    assert document.data.decode().splitlines()[0] == ",".join(BACKTEST_CSV_COLUMNS)

    execution = await execute_script(
        console.core, None, ScriptRun(SCRIPT, "BBCA", "1d", "2y", label="cross", chart=False)
    )
    trades = execution.backtest.trades
    rows = rows_of(document.data)
    closed = [r for r in rows if r["exit_reason"] != "open"]
    assert len(trades) > 5  # more than the reply's text shows
    assert len(closed) == len(trades)
    assert len(rows) == len(trades) + (execution.backtest.open_trade is not None)
    for row, trade in zip(closed, trades.itertuples(index=False), strict=True):
        assert row["side"] == ("long" if trade.Size > 0 else "short")
        assert float(row["size"]) == abs(trade.Size)
        assert float(row["entry_price"]) == trade.EntryPrice and float(row["exit_price"]) == trade.ExitPrice
        assert float(row["pnl"]) == pytest.approx(trade.PnL)
        assert float(row["commission"]) == pytest.approx(trade.Commission)
        assert float(row["return_pct"]) == pytest.approx(trade.ReturnPct * 100)
        assert row["exit_reason"] == trade.ExitReason
        # times in the exchange's zone, WIB for IDX, and the same instant as the backtest's
        assert row["entry_time"].endswith("+07:00")
        assert datetime.fromisoformat(row["entry_time"]) == trade.EntryTime.to_pydatetime()
        assert datetime.fromisoformat(row["exit_time"]) == trade.ExitTime.to_pydatetime()

    plain = await console.handle("/run cross BBCA 1d 2y")
    assert plain.files == []  # only on request


async def test_run_export_is_written_by_the_console(console, tmp_path):
    await _save(console)
    reply = await console.handle("/run cross BTCUSDT 1h export")
    out = io.StringIO()
    written = console.show(reply, out)
    [csv_path] = [p for p in written if p.suffix == ".csv"]
    assert f"[file] {csv_path}" in out.getvalue()
    assert csv_path.read_bytes() == reply.files[0].data
    rows = rows_of(csv_path.read_bytes())
    assert rows and all(r["entry_time"].endswith("+00:00") for r in rows)  # crypto reads in UTC


async def _fills(console, count: int) -> None:
    for day in range(count):
        closing = day % 2 == 1
        await add_trade(
            console.core.db, console.actor.user_id, at=T0 + timedelta(days=day),
            side="sell" if closing else "buy", qty=100, price=9000 + day, fee=1350.0,
            pnl=1000.0 * day if closing else None,
        )  # fmt: skip


async def test_trades_export_sends_all_pages_oldest_first(console):
    count = PAGE_SIZE * 2 + 5
    await _fills(console, count)
    reply = await console.handle("/trades export")
    assert not reply.error, reply.text
    [document] = reply.files
    assert document.filename == "trades.csv"
    assert document.data.decode().splitlines()[0] == ",".join(FILLS_CSV_COLUMNS)
    rows = rows_of(document.data)
    assert len(rows) == count
    assert [datetime.fromisoformat(r["time_utc"]) for r in rows] == [T0 + timedelta(days=d) for d in range(count)]
    assert rows[1]["side"] == "sell" and float(rows[1]["pnl"]) == 1000.0 and rows[0]["pnl"] == ""
    assert rows[1]["exit_reason"] == "signal" and rows[0]["exit_reason"] == ""
    assert float(rows[3]["price"]) == 9003 and float(rows[3]["fee"]) == 1350.0 and rows[3]["currency"] == "IDR"
    assert f"{count} trades" in reply.text


async def test_trades_export_keeps_the_date_filters(console):
    await _fills(console, 12)
    reply = await console.handle("/trades export from=2026-01-03 to=2026-01-05")
    [document] = reply.files
    assert document.filename == "trades_from_2026-01-03_to_2026-01-05.csv"
    days = [r["time_utc"][:10] for r in rows_of(document.data)]
    assert days == ["2026-01-03", "2026-01-04", "2026-01-05"]
    same = await console.handle("/trades from=2026-01-03 export to=2026-01-05")
    assert same.files[0].data == document.data
    empty = await console.handle("/trades export from=2025-01-01 to=2025-01-31")
    assert not empty.error and not empty.files and "No trades" in empty.text


async def test_trade_lists_show_times_for_intraday_bars_and_dates_for_daily(console):
    import re

    await _save(console)
    hourly = (await console.handle("/run cross BTCUSDT 1h 3mo")).text.splitlines()
    start = next(i for i, line in enumerate(hourly) if line.startswith(("Trades", "Last ")) and "trades" in line.lower())
    assert "(times UTC)" in hourly[start]
    trade = hourly[start + 1]
    assert re.match(r"^  \d{4}-\d\d-\d\d \d\d:\d\d → \d{4}-\d\d-\d\d \d\d:\d\d (long|short) ", trade), trade
    assert re.search(r" [\d,]+\.\d\d → [\d,]+\.\d\d ", trade)  # BTC prices with cents
    daily = (await console.handle("/run cross BBCA 1d 1y")).text.splitlines()
    start = next(i for i, line in enumerate(daily) if line.startswith(("Trades", "Last ")) and "trades" in line.lower())
    assert re.match(r"^  \d{4}-\d\d-\d\d → \d{4}-\d\d-\d\d (long|short) [\d,]+ → [\d,]+ ", daily[start + 1])


def test_bar_time_is_in_the_exchange_zone():
    import pandas as pd

    from bots.commands.results import bar_time
    from core.market.types import INTERVALS, Candles, Instrument, Source

    inst = Instrument(Source.YFINANCE, "BBCA.JK", "BBCA", currency="IDR", lot_size=100)
    frame = pd.DataFrame(
        {c: [1.0] for c in ("open", "high", "low", "close", "volume")},
        index=pd.DatetimeIndex(["2026-12-07 07:05"], tz="UTC"),
    )
    hourly = Candles(inst, INTERVALS["5m"], frame, provider="t")
    assert bar_time(frame.index[0], hourly) == "2026-12-07 14:05"
    assert bar_time(frame.index[0], hourly, zone=True) == "2026-12-07 14:05 WIB"
    daily = Candles(inst, INTERVALS["1d"], frame, provider="t")
    assert bar_time(frame.index[0], daily) == "2026-12-07"
