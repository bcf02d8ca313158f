"""Files in a reply reach Telegram as documents (sendDocument), after the chart and the text."""

from __future__ import annotations

import csv
import io

from tests.core.statistic.trade_rows import add_trade

SCRIPT = "fast = ema(close, 5)\nslow = ema(close, 20)\nbuy = crossover(fast, slow)\nsell = crossunder(fast, slow)"


def _document(call) -> tuple[str, bytes]:
    [(name, data, *_)] = list(call.files.values())
    return name, data


async def test_run_export_arrives_as_a_csv_document(tg):
    saved = await tg.say(f"/model save cross\n{SCRIPT}")
    assert "Saved model 'cross'" in saved[-1].text
    calls = await tg.say("/run cross BBCA 1d 1y export")
    methods = [c.method for c in calls if c.method != "sendChatAction"]
    assert "sendPhoto" in methods and methods[-1] == "sendDocument"
    name, data = _document(calls[-1])
    assert name.endswith("_trades.csv") and "cross_BBCA_1d" in name
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert rows and {"entry_time", "exit_time", "pnl", "return_pct", "exit_reason"} <= set(rows[0])
    assert "trade(s) of cross on BBCA 1d" in calls[-1].params["caption"]


async def test_trades_export_in_private(tg):
    from core.account.service import actor_for

    actor = await actor_for(tg.core.db, platform="telegram", external_id=str(tg.ALICE["id"]))
    from datetime import UTC, datetime

    await add_trade(tg.core.db, actor.user_id, at=datetime(2026, 1, 2, 9, tzinfo=UTC), side="buy", qty=100,
                    price=9000, fee=1350.0)  # fmt: skip
    calls = await tg.say("/trades export")
    [doc] = [c for c in calls if c.method == "sendDocument"]
    name, data = _document(doc)
    assert name == "trades.csv"
    [row] = list(csv.DictReader(io.StringIO(data.decode())))
    assert row["time_utc"] == "2026-01-02T09:00:00+00:00" and float(row["price"]) == 9000
