"""/watch with an interval, a script expression and an expiry, end to end through the registry (issue 15):
the reply, the stored row, /watchlist's words, /unwatch by interval, and bad input answered with usage."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.market.models import Watch


async def _rows(console) -> list[Watch]:
    async with console.core.db.session() as session:
        return list(await session.scalars(select(Watch).order_by(Watch.id)))


async def test_watch_on_an_interval_with_an_expiry_is_stored_and_listed(db_console):
    reply = await db_console.handle("/watch BTCUSDT 1H rsi<30 for 7d")
    assert not reply.error, reply.text
    assert reply.text.startswith("Watching BTCUSDT when rsi:14<30, checked at each hourly close, until ")
    [row] = await _rows(db_console)
    assert (row.ticker, row.interval, row.condition) == ("BTCUSDT", "1h", "rsi:14<30")
    assert row.expires_at - row.created_at == timedelta(days=7)

    listed = await db_console.handle("/watchlist")
    [line] = [ln for ln in listed.text.splitlines() if ln.startswith("• BTCUSDT")]
    assert " · hourly rsi:14<30: " in line and f"· until {row.expires_at:%d %b %Y %H:%M} UTC" in line


async def test_a_script_expression_is_a_condition(db_console):
    reply = await db_console.handle('/watch BBCA 1d "crossover(ema(close, 9), ema(close, 21))" until 2099-01-01')
    assert reply.error, "an expiry over two years away is refused"
    assert "at most two years" in reply.text and "Usage: /watch" in reply.text

    reply = await db_console.handle('/watch BBCA "crossover(ema(close, 9), ema(close, 21))"')
    assert not reply.error, reply.text
    assert reply.text == "Watching BBCA when crossover(ema(close, 9), ema(close, 21)). See /watchlist for the latest status."
    [row] = await _rows(db_console)
    assert (row.interval, row.condition, row.expires_at) == ("1d", "crossover(ema(close, 9), ema(close, 21))", None)
    listed = await db_console.handle("/watchlist")
    assert "daily crossover(ema(close, 9), ema(close, 21)): " in listed.text


async def test_unwatch_one_interval_keeps_the_others(db_console):
    for command in ("/watch BTCUSDT 1h rsi<30", "/watch BTCUSDT 4h rsi<30", "/watch BTCUSDT rsi<30"):
        assert not (await db_console.handle(command)).error
    removed = await db_console.handle("/unwatch BTCUSDT 1h")
    assert removed.text == "Removed 1 watch on BTCUSDT."
    assert sorted(w.interval for w in await _rows(db_console)) == ["1d", "4h"]
    removed = await db_console.handle("/unwatch BTCUSDT 4h rsi<30")
    assert removed.text == "Removed 1 watch on BTCUSDT."
    assert [w.interval for w in await _rows(db_console)] == ["1d"]

    for command in ("/watch BTCUSDT 1h rsi<30", "/watch BTCUSDT 1h rsi>70"):
        assert not (await db_console.handle(command)).error
    ask = await db_console.handle("/unwatch BTCUSDT 1h")  # several on that interval: asks first
    assert ask.text == "This removes all 2 watches on BTCUSDT 1h. Remove them?"
    assert [b.command for b in ask.buttons[0]] == ["/unwatch BTCUSDT 1h --yes", "/watchlist"]
    done = await db_console.handle("/unwatch BTCUSDT 1h --yes")
    assert done.text == "Removed 2 watches on BTCUSDT."
    assert [w.interval for w in await _rows(db_console)] == ["1d"]


async def test_bad_input_names_what_is_wrong_with_the_usage(console):
    cases = {
        "/watch BTCUSDT 2d rsi<30": "unknown interval '2d'",
        "/watch BBCA emaa(close, 9) > 3": "unknown function 'emaa'",
        "/watch BBCA ema(close, 9)": "a rule must be a condition (true/false)",
        "/watch BBCA rsi<30 until 2020-01-01": "2020-01-01 has passed already",
        "/watch BBCA rsi<30 for 0d": "'0d' is not a duration",
        "/watch BBCA rsi<30 until tomorrow": "'tomorrow' is not a date like 2026-12-31",
        "/watch BBCA price >> 9": "more than one comparison",
    }
    for command, reason in cases.items():
        reply = await console.handle(command)
        assert reply.error, command
        assert reason in reply.text, (command, reply.text)
        assert "Usage: /watch" in reply.text, (command, reply.text)
        assert "Traceback" not in reply.text
    assert await _rows(console) == []
