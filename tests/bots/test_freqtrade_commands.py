"""/status, /profit, /performance, /balance, /daily, /weekly, /monthly and exit reasons: the replies a user reads."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from core.broker.models import PaperBalance
from core.db import utcnow
from core.trade.models import Order, Trade
from tests.core.statistic.trade_rows import add_deployment, add_trade, paper_credential


async def _book(console) -> None:
    """BBCA: a win of 28,000 after 2 days and a loss of 5,000 after 1 day; TLKM: a loss of 1,000;
    BTC: a win of 5 USDT; and BBCA held now (100 @ 8,500 since 3 days ago)."""
    db, user_id = console.core.db, console.actor.user_id
    now = utcnow()
    fills = [
        (now - timedelta(days=10), "buy", 100, 9000, None, "BBCA.JK", "IDR"),
        (now - timedelta(days=8), "sell", 100, 9300, 28_000.0, "BBCA.JK", "IDR"),
        (now - timedelta(days=6), "buy", 10, 3000, None, "TLKM.JK", "IDR"),
        (now - timedelta(days=5, hours=12), "sell", 10, 2900, -1_000.0, "TLKM.JK", "IDR"),
        (now - timedelta(days=5), "buy", 100, 9000, None, "BBCA.JK", "IDR"),
        (now - timedelta(days=4), "sell", 100, 8960, -5_000.0, "BBCA.JK", "IDR"),
        (now - timedelta(hours=30), "buy", 0.01, 50_000, None, "BTC/USDT", "USDT"),
        (now - timedelta(hours=6), "sell", 0.01, 51_000, 5.0, "BTC/USDT", "USDT"),
    ]
    for at, side, qty, price, pnl, symbol, currency in fills:
        await add_trade(db, user_id, at=at, side=side, qty=qty, price=price, pnl=pnl, symbol=symbol,
                        currency=currency)  # fmt: skip
    held = await add_deployment(
        db, user_id, "ema_cross", ticker="BBCA", status="OpenPosition", position_qty=100, entry_price=8500
    )
    await add_trade(db, user_id, at=now - timedelta(days=3), side="buy", qty=100, price=8500, fee=850.0,
                    deployment_id=held)  # fmt: skip


async def test_status_shows_live_profit_and_hold_time(console):
    assert (await console.handle("/status")).text.startswith("No open positions.")
    await _book(console)
    reply = await console.handle("/status")
    assert not reply.error, reply.text
    assert reply.text.splitlines() == [
        "Your open positions:",
        "• ema_cross · BBCA 1d · long 100 @ 8,500 → 8,775 · unrealised +26,650 IDR (+3.13%) · held 3.0 days",
        "SAMPLE DATA: synthetic prices for trying the bot, not real quotes.",
    ]


async def test_profit_per_currency(console):
    empty = await console.handle("/profit")
    assert not empty.error and empty.text.startswith("No trades yet.")
    await _book(console)
    reply = await console.handle("/profit")
    assert not reply.error, reply.text
    assert reply.text.split("\n\n") == [
        "Profit in IDR:\n"
        "Realised +22,000 IDR · 3 closed trades · win rate 33.3%\n"
        "Unrealised +26,650 IDR on 1 open position\n"
        "Average hold 28.0 h · max drawdown 6,000 IDR\n"  # (2 days + 12 h + 1 day) / 3
        "Best BBCA.JK +23,000 IDR (+1.28%) · worst TLKM.JK -1,000 IDR (-3.33%)",
        "Profit in USDT:\n"
        "Realised +5.00 USDT · 1 closed trade · win rate 100.0%\n"
        "Average hold 24.0 h · max drawdown 0.00 USDT\n"
        "Best BTC/USDT +5.00 USDT (+0.99%)",
    ]


async def test_performance_best_first(console):
    assert (await console.handle("/performance")).text.startswith("No closed trades yet.")
    await _book(console)
    reply = await console.handle("/performance")
    assert reply.text.splitlines() == [
        "Performance per ticker (realised, best first):",
        "1. BBCA.JK · 2 trades · +23,000 IDR (+1.28%)",
        "2. BTC/USDT · 1 trade · +5.00 USDT (+0.99%)",
        "3. TLKM.JK · 1 trade · -1,000 IDR (-3.33%)",
    ]


async def test_daily_weekly_monthly_tables(console):
    db, user_id = console.core.db, console.actor.user_id
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)
    await add_trade(db, user_id, at=today, side="sell", qty=0.01, price=51_000, pnl=5.0, symbol="BTC/USDT",
                    currency="USDT")  # fmt: skip
    for pnl in (28_000.0, -5_000.0):
        await add_trade(db, user_id, at=yesterday, side="sell", qty=100, price=9300, pnl=pnl)
    daily = await console.handle("/daily 3")
    assert not daily.error, daily.text
    assert daily.text.splitlines() == [
        "Daily realised P&L, last 3 days (UTC days):",
        f"{today:%Y-%m-%d %a} · 0 IDR (0 trades) · +5.00 USDT (1 trade)",
        f"{yesterday:%Y-%m-%d %a} · +23,000 IDR (2 trades) · 0.00 USDT (0 trades)",
        f"{today - timedelta(days=2):%Y-%m-%d %a} · 0 IDR (0 trades) · 0.00 USDT (0 trades)",
    ]
    monday = today - timedelta(days=today.weekday())
    weekly = await console.handle("/weekly 2")
    assert weekly.text.splitlines()[:2] == [
        "Weekly realised P&L, last 2 weeks (weeks from Monday, UTC):",
        f"week of {monday:%Y-%m-%d} · {'0 IDR (0' if today == monday else '+23,000 IDR (2'} trades)"
        " · +5.00 USDT (1 trade)",
    ]
    monthly = (await console.handle("/monthly")).text.splitlines()
    assert monthly[0] == "Monthly realised P&L, last 6 months (months, UTC):"
    assert len(monthly) == 7 and monthly[1].startswith(f"{today:%b %Y} · ") and monthly[1].endswith("+5.00 USDT (1 trade)")


async def test_period_tables_refuse_bad_numbers(console):
    nothing = await console.handle("/weekly")
    assert not nothing.error and nothing.text.endswith("No closed trades in that time.")
    big = await console.handle("/daily 1000")
    assert big.error and "N must be 1 to 92 days, not 1000" in big.text and "Usage: /daily [N]" in big.text
    word = await console.handle("/monthly soon")
    assert word.error and "Usage: /monthly [N]" in word.text
    zero = await console.handle("/weekly 0")
    assert zero.error and "N must be 1 to 52 weeks, not 0" in zero.text


async def test_trades_show_exit_reasons(console):
    db, user_id = console.core.db, console.actor.user_id
    now = utcnow()
    await add_trade(db, user_id, at=now - timedelta(hours=2), side="buy", qty=100, price=9000)
    stop = await add_trade(db, user_id, at=now - timedelta(hours=1), side="sell", qty=100, price=8800,
                           pnl=-20_000.0)  # fmt: skip
    async with db.session() as session:
        order_id = await session.scalar(select(Trade.order_id).where(Trade.id == stop))
        await session.execute(update(Order).where(Order.id == order_id).values(reason="stop"))
    lines = (await console.handle("/trades")).text.splitlines()
    assert lines[1].endswith("· P&L -20,000 IDR · exit: stop")
    assert "exit:" not in lines[2]


async def test_balance_values_holdings_per_currency(console):
    db, user_id = console.core.db, console.actor.user_id
    first = await console.handle("/balance")
    assert first.text.splitlines()[-1] == "Estimated total: 100,000,000 IDR · 10,000.00 USDT"
    credential_id = await paper_credential(db, user_id)
    async with db.session() as session:
        session.add_all([PaperBalance(credential_id=credential_id, asset="BBCA.JK", amount=100),
                         PaperBalance(credential_id=credential_id, asset="NOPE", amount=2)])  # fmt: skip
    reply = await console.handle("/balance")
    assert not reply.error, reply.text
    assert reply.text.splitlines() == [
        "Your paper account:",
        "• IDR 100,000,000",
        "• USDT 10,000.00",
        "• BBCA.JK 100 @ 8,775 = 877,500 IDR",
        "• NOPE 2 · price: Sample data has no NOPEUSDT",
        "Estimated total: 100,877,500 IDR · 10,000.00 USDT",  # never summed across currencies
        "Not counted (no price): NOPE",
        "SAMPLE DATA: synthetic prices for trying the bot, not real quotes.",
    ]
    missing = await console.handle("/balance nosuchkey")
    assert missing.error and "you have no broker key 'nosuchkey'" in missing.text
