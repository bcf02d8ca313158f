"""/trades, /positions, /dashboard and /alerts through the registry: the replies a user reads."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from PIL import Image as PILImage
from sqlalchemy import select

from bots.commands import load
from bots.registry import Context
from core import format as fmt
from core.account.models import User
from core.db import utcnow
from tests.core.statistic.trade_rows import add_deployment, add_trade

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


async def _daily_trades(console, days: int) -> None:
    """One fill a day from 1 Jan 2026; odd days close with a P&L of 1,000 × the day."""
    for day in range(days):
        closing = day % 2 == 1
        await add_trade(
            console.core.db, console.actor.user_id, at=T0 + timedelta(days=day),
            side="sell" if closing else "buy", qty=100, price=9000 + day, fee=1350.0,
            pnl=1000.0 * day if closing else None,
        )  # fmt: skip


def _commands(reply) -> list[str]:
    return [button.command for row in reply.buttons for button in row]


async def test_trades_pages_newest_first(console):
    await _daily_trades(console, 12)
    first = await console.handle("/trades")
    assert not first.error, first.text
    lines = first.text.splitlines()
    assert lines[0] == "Your trades (page 1 of 2, 12 in all):"
    assert len(lines) == 11
    assert lines[1] == (
        "• 2026-01-12 09:00 · ema_cross · SELL 100 BBCA.JK @ 9,011 · fee 1,350 IDR · P&L +11,000 IDR · exit: signal"
    )
    assert lines[2] == "• 2026-01-11 09:00 · ema_cross · BUY 100 BBCA.JK @ 9,010 · fee 1,350 IDR"
    assert _commands(first) == ["/trades 2"]
    second = await console.handle("/trades 2")
    assert second.text.splitlines()[0] == "Your trades (page 2 of 2, 12 in all):"
    assert [line[2:12] for line in second.text.splitlines()[1:]] == ["2026-01-02", "2026-01-01"]
    assert _commands(second) == ["/trades 1"]
    beyond = await console.handle("/trades 3")
    assert beyond.error and "there are 2 pages of trades, not 3" in beyond.text


async def test_trades_from_to_includes_the_whole_last_day(console):
    await _daily_trades(console, 12)
    reply = await console.handle("/trades from=2026-01-03 to=2026-01-05")
    lines = reply.text.splitlines()
    assert lines[0] == "Your trades from 2026-01-03 to 2026-01-05 (3 in all):"
    assert [line[2:12] for line in lines[1:]] == ["2026-01-05", "2026-01-04", "2026-01-03"]
    since = await console.handle("/trades from=2026-01-11")
    assert since.text.splitlines()[0] == "Your trades since 2026-01-11 (2 in all):"
    # The page may also follow the filters, and the buttons keep the filters.
    paged = await console.handle("/trades to=2026-01-11 2")
    assert paged.text.splitlines()[0] == "Your trades up to 2026-01-11 (page 2 of 2, 11 in all):"
    assert _commands(paged) == ["/trades 1 to=2026-01-11"]
    none = await console.handle("/trades from=2025-01-01 to=2025-01-31")
    assert not none.error and none.text == "No trades from 2025-01-01 to 2025-01-31."


async def test_trades_bad_filters_are_explained(console):
    bad_date = await console.handle("/trades from=2026-02-30")
    assert bad_date.error and "'2026-02-30' is not a date: write YYYY-MM-DD" in bad_date.text
    assert "Usage: /trades [PAGE] [DATES...]" in bad_date.text
    unknown = await console.handle("/trades since=2026-01-01")
    assert unknown.error and "'since=2026-01-01' is not a filter" in unknown.text
    backwards = await console.handle("/trades from=2026-02-01 to=2026-01-01")
    assert backwards.error and "from=2026-02-01 is after to=2026-01-01" in backwards.text
    zero = await console.handle("/trades 0")
    assert zero.error and "page numbers start at 1" in zero.text


async def test_trades_dates_at_the_end_of_the_calendar_are_a_usage_error(console):
    end = await console.handle("/trades to=9999-12-31")
    assert end.error and "to=9999-12-31 is too far ahead: the last date is 9998-12-31" in end.text
    assert "Something went wrong" not in end.text
    start = await console.handle("/trades from=9999-06-01")
    assert start.error and "too far ahead" in start.text
    last = await console.handle("/trades to=9998-12-31")
    assert not last.error, last.text


async def test_no_trades_yet(console):
    reply = await console.handle("/trades")
    assert not reply.error and reply.text.startswith("No trades yet.")


async def test_positions_with_unrealised_pnl_on_sample_data(console):
    db, user_id = console.core.db, console.actor.user_id
    deployment = await add_deployment(
        db, user_id, "ema_cross", ticker="BBCA", status="OpenPosition", position_qty=100, entry_price=8500
    )
    await add_trade(db, user_id, at=T0, side="buy", qty=100, price=8500, fee=850.0, deployment_id=deployment)
    await add_deployment(db, user_id, "flat", ticker="TLKM")
    reply = await console.handle("/positions")
    assert not reply.error, reply.text
    assert (await console.core.market.candles("BBCA")).last_close == 8775  # the shipped sample's
    assert reply.text.splitlines() == [
        "Your open positions:",
        "• ema_cross · BBCA 1d · long 100 @ 8,500 → 8,775 · unrealised +26,650 IDR (+3.13%)",  # net of the entry fee
        "SAMPLE DATA: synthetic prices for trying the bot, not real quotes.",
    ]


async def test_dashboard_text_chart_and_period_buttons(console):
    db, user_id = console.core.db, console.actor.user_id
    now = utcnow()
    await add_deployment(db, user_id, "ema_cross", status="OpenPosition", position_qty=100, entry_price=9000)
    fills = [
        ("ema_cross", now - timedelta(hours=5), "buy", 100, 9000, None),
        ("ema_cross", now - timedelta(hours=3), "sell", 100, 9300, 28_000.0),
        ("rsi_rev", now - timedelta(days=3), "sell", 10, 3000, -1_000.0),
    ]
    for label, at, side, qty, price, pnl in fills:
        await add_trade(db, user_id, at=at, side=side, qty=qty, price=price, pnl=pnl, label=label)
    week = await console.handle("/dashboard")
    assert not week.error, week.text
    lines = week.text.splitlines()
    assert lines[0].startswith("Dashboard · last week (")
    assert lines[1:] == [
        "P&L +27,000 IDR · return +2.89%",  # 27,000 / (902,000 + 31,000)
        "Win rate 50.0% (1 of 2 closed) · Trades 3",
        "Open positions 1 · Active deployments 1",
        # the fills name no deployment, so nothing prices them: held at their (fee-free) entry
        "Unrealised now 0 IDR · equity +27,000 IDR · max drawdown -0.11% (-1,000 IDR) "
        "(1 position without a price, valued at entry)",
        "Best model: ema_cross +28,000 IDR (+3.10%)",
        "Worst model: rsi_rev -1,000 IDR (-3.23%)",
    ]
    [image] = week.images
    assert PILImage.open(io.BytesIO(image.data)).format == "PNG"
    assert _commands(week) == ["/dashboard day", "/dashboard month"]
    day = await console.handle("/dashboard day")
    assert "P&L +28,000 IDR" in day.text and "Win rate 100.0% (1 of 1 closed) · Trades 2" in day.text
    assert "Worst model" not in day.text


async def test_dashboard_marks_an_open_position_to_market(console):
    db, user_id = console.core.db, console.actor.user_id
    deployment = await add_deployment(
        db, user_id, "ema_cross", ticker="BBCA", status="OpenPosition", position_qty=100, entry_price=8500
    )
    await add_trade(db, user_id, at=utcnow() - timedelta(hours=2), side="buy", qty=100, price=8500, fee=850.0,
                    deployment_id=deployment)  # fmt: skip
    last = (await console.core.market.candles("BBCA")).last_close
    reply = await console.handle("/dashboard day")
    assert not reply.error, reply.text
    unrealised = fmt.money(100 * (last - 8500) - 850, "IDR", signed=True)  # as /positions values it
    [line] = [t for t in reply.text.splitlines() if t.startswith("Unrealised now")]
    assert line.startswith(f"Unrealised now {unrealised} · equity {unrealised} · max drawdown ")
    [image] = reply.images
    assert image.caption.startswith("Equity with unrealised P&L · last day · max drawdown ")
    assert PILImage.open(io.BytesIO(image.data)).format == "PNG"


async def test_dashboard_without_trades_and_a_bad_period(console):
    reply = await console.handle("/dashboard month")
    assert not reply.error and reply.images == []
    assert reply.text.splitlines()[1:] == ["No trades in the last month.", "Open positions 0 · Active deployments 0"]
    bad = await console.handle("/dashboard year")
    assert bad.error and "PERIOD must be one of day, week, month, not 'year'" in bad.text


async def _alerts_row(console) -> tuple[bool, bool]:
    async with console.core.db.session() as session:
        user = await session.scalar(select(User).where(User.id == console.actor.user_id))
        return user.alerts_trades, user.alerts_watch


async def test_alerts_toggle_the_users_columns(console):
    shown = await console.handle("/alerts")
    assert shown.text.splitlines()[1:] == [
        "  trades: on (orders and fills of your deployed models, and why one paused)",
        "  watch: on (your watchlist conditions when they become met)",
    ]
    assert _commands(shown) == ["/alerts trades off", "/alerts watch off"]

    off = await console.handle("/alerts watch off")
    assert off.text.startswith("Watch alerts turned off.") and "  watch: off" in off.text
    assert await _alerts_row(console) == (True, False)
    assert _commands(off) == ["/alerts trades off", "/alerts watch on"]

    await console.handle("/alerts all off")
    assert await _alerts_row(console) == (False, False)
    await console.handle("/alerts trades on")
    assert await _alerts_row(console) == (True, False)

    half = await console.handle("/alerts watch")
    assert half.error and "say on or off" in half.text
    bad = await console.handle("/alerts prices off")
    assert bad.error and "KIND must be one of trades, watch, all" in bad.text


async def test_in_a_group_alerts_point_to_the_group_setting_and_money_stays_private(console):
    registry = load()
    group_actor = replace(console.actor, chat_id="-100", is_group=True)
    ctx = Context(console.core, group_actor)
    reply = await registry.dispatch(ctx, "/alerts watch off")
    assert reply.error and "/group alerts on|off" in reply.text
    assert await _alerts_row(console) == (True, True)  # unchanged
    for line in ("/trades", "/positions", "/dashboard"):
        refused = await registry.dispatch(ctx, line)
        assert refused.error and "works only in a private chat" in refused.text


async def test_deployments_read_in_words_not_the_seeds_enum_names(console):
    db, user_id = console.core.db, console.actor.user_id
    await add_deployment(db, user_id, "ema_cross", ticker="BBCA", status="OpenPosition", position_qty=100, entry_price=8500)
    await add_deployment(db, user_id, "idle", ticker="TLKM")
    await add_deployment(db, user_id, "held", ticker="ASII", status="Paused", position_qty=200, entry_price=5000)
    listed = (await console.handle("/deployments")).text
    assert "    holding 100 from 8,500\n" in listed
    assert "    no position, waiting for a buy signal\n" in listed
    assert "    paused, holding 200 from 5,000\n" in listed
    assert not any(word in listed for word in ("OpenPosition", "NoPosition", "Paused ·", "flat"))
