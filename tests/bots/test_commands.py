"""Market commands end to end through the registry: the reply a user reads, the rows stored."""

from __future__ import annotations

import io

import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from core.market.models import Watch


async def test_market_reply_has_quote_indicators_chart_and_interval_buttons(console):
    reply = await console.handle("/market BBCA 1d 1y rsi macd ema:50")
    assert not reply.error, reply.text
    lines = reply.text.splitlines()
    assert lines[0].startswith("BBCA")
    assert any(line.startswith("Price") for line in lines)
    assert any(line.startswith("RSI") for line in lines)
    assert any(line.startswith("MACD") and "signal" in line for line in lines)
    assert any(line.startswith("EMA") for line in lines)
    assert "SAMPLE DATA" in reply.text
    assert len(reply.images) == 1
    image = PILImage.open(io.BytesIO(reply.images[0].data))
    assert image.format == "PNG" and image.width + image.height <= 10_000
    assert len(reply.images[0].data) < 10 * 1024 * 1024
    commands = [b.command for row in reply.buttons for b in row]
    assert "/market BBCA 1w rsi macd ema:50" in commands
    assert all("1d" not in c.split()[2] for c in commands)


async def test_market_bad_indicator_names_it_and_suggests(console):
    reply = await console.handle("/market BBCA 1d rsii")
    assert reply.error
    assert "rsii" in reply.text and "rsi" in reply.text
    assert "Usage: /market" in reply.text


async def test_market_unsupported_interval_lists_choices(console):
    reply = await console.handle("/market BBCA 7m")
    assert reply.error and "unknown interval '7m'" in reply.text and "1h" in reply.text


@pytest.mark.parametrize(("typed", "shown"), [("1D", "1d"), ("1H", "1h"), ("4H", "4h"), ("1W", "1w"), ("1MO", "1mo"),
                                              ("Daily", "1d")])
async def test_market_intervals_read_in_any_case(console, typed, shown):
    """"1W" is weekly candles, not a daily chart of the last five days (a range) as it silently was."""
    reply = await console.handle(f"/market BBCA {typed}")
    assert not reply.error, reply.text
    assert f" · {shown} · " in reply.text.splitlines()[1] and reply.images[0].filename == f"BBCA_{typed}.png"


async def test_market_capital_m_is_months_of_daily_candles(console):
    reply = await console.handle("/market BBCA 3M")
    assert not reply.error and " · 1d · " in reply.text.splitlines()[1]


async def test_a_range_too_short_for_the_interval_says_so_and_suggests_the_usual_one(console):
    reply = await console.handle("/market BBCA 1d 1d")
    assert reply.error
    assert "that range holds 1 candle of 1d" in reply.text and "6mo is the usual for 1d candles" in reply.text
    assert "Usage: /market" in reply.text


async def test_search_finds_by_name(console):
    reply = await console.handle("/search bank central")
    assert not reply.error
    assert "1. BBCA" in reply.text and "Bank Central Asia" in reply.text


async def test_watch_list_unwatch_round_trip(console):
    added = await console.handle("/watch BBCA price > 1000")
    assert not added.error, added.text
    assert added.text.startswith("Watching BBCA when")
    async with console.core.db.session() as session:
        rows = (await session.scalars(select(Watch))).all()
    assert [(w.ticker, w.user_id) for w in rows] == [("BBCA", console.actor.user_id)]

    listed = await console.handle("/watchlist")
    assert "BBCA" in listed.text and "MET" in listed.text

    duplicate = await console.handle("/watch BBCA price > 1000")
    assert duplicate.error

    removed = await console.handle("/unwatch BBCA")
    assert removed.text == "Removed 1 watch on BBCA."
    empty = await console.handle("/watchlist")
    assert "empty" in empty.text


async def test_watch_bad_condition_is_explained(console):
    reply = await console.handle("/watch BBCA price >> 9")
    assert reply.error and "Usage: /watch" in reply.text


async def test_help_and_dict(console):
    help_reply = await console.handle("/help")
    assert "/market TICKER [INTERVAL] [RANGE] [INDICATORS...]" in help_reply.text
    one = await console.handle("/help market")
    assert "Examples:" in one.text
    indicators = await console.handle("/dict indicator")
    assert "rsi" in indicators.text and "macd" in indicators.text
    rsi = await console.handle("/dict indicator rsi")
    assert "parameters" in rsi.text and "length" in rsi.text
    bad = await console.handle("/dict colours")
    assert bad.error and "indicator" in bad.text


async def test_link_issues_a_code_privately(console):
    reply = await console.handle("/link")
    assert not reply.error and reply.ephemeral
    assert reply.text.startswith("Your link code: ") and "/link " in reply.text
    bad = await console.handle("/link NOPE")
    assert bad.error and "8 letters" in bad.text


async def test_unwatch_of_several_asks_first_and_the_button_confirms(console):
    for condition in ("price>1000", "rsi<30"):
        assert not (await console.handle(f"/watch BBCA {condition}")).error
    ask = await console.handle("/unwatch BBCA")
    assert ask.text == "This removes all 2 watches on BBCA. Remove them?"
    assert [b.command for b in ask.buttons[0]] == ["/unwatch BBCA --yes", "/watchlist"]
    async with console.core.db.session() as session:
        assert len((await session.scalars(select(Watch))).all()) == 2  # nothing removed yet
    done = await console.handle("1")  # the console presses the first button
    assert done.text == "Removed 2 watches on BBCA."


async def test_watchlist_pages_of_ten_with_navigation(console):
    for threshold in range(12):
        assert not (await console.handle(f"/watch BBCA price>{1000 + threshold}")).error
    first = await console.handle("/watchlist")
    assert first.text.startswith("Your watchlist (page 1 of 2):")
    assert first.text.count("• BBCA") == 10
    assert [b.command for b in first.buttons[0]] == ["/watchlist 2"]
    second = await console.handle("/watchlist 2")
    assert second.text.count("• BBCA") == 2 and [b.command for b in second.buttons[0]] == ["/watchlist 1"]
    beyond = await console.handle("/watchlist 3")
    assert beyond.error and "2 pages, not 3" in beyond.text


async def test_group_command_is_for_group_admins(console):
    import dataclasses

    from bots.registry import Context

    group_member = dataclasses.replace(console.actor, is_group=True, chat_id="-100", is_admin=False)
    refused = await console.registry.dispatch(Context(console.core, group_member), "/group alerts off")
    assert refused.error and refused.text == "only this group's admins can use /group."
    private = await console.handle("/group")
    assert private.error and "use this command in the group" in private.text


async def test_help_fits_one_message_and_groups_explain_their_commands(console):
    overview = await console.handle("/help")
    assert len(overview.text) < 4096 and "/run NAME TICKER" in overview.text
    assert overview.text.index("General") < overview.text.index("Market") < overview.text.index("Models")
    group = await console.handle("/help sharing")
    assert group.text.startswith("Sharing commands:") and "Copy a model or strategy shared" in group.text
    command = await console.handle("/help models")  # a command before a group of the same name
    assert command.text.startswith("/models [PAGE]") and "Also in Models: /model /run" in command.text
    unknown = await console.handle("/help nothing")
    assert unknown.error and "groups: general, market" in unknown.text


async def test_market_reply_shows_only_the_running_trends_supertrend_band(console):
    reply = await console.handle("/market BBCA 1d 1y supertrend")
    assert not reply.error, reply.text
    line = next(ln for ln in reply.text.splitlines() if ln.startswith("SUPERTREND"))
    assert ("long" in line) != ("short" in line), line


async def test_watchlist_prices_print_with_the_instruments_precision(console):
    """An IDX stock in whole rupiah (it showed 9,050.00), a crypto pair with cents."""
    import re

    await console.handle("/watch BBCA")
    await console.handle("/watch BTCUSDT")
    lines = {line.split()[1]: line for line in (await console.handle("/watchlist")).text.splitlines() if line.startswith("•")}
    assert re.match(r"• BBCA \d{1,3}(,\d{3})* \(", lines["BBCA"]), lines["BBCA"]
    assert re.match(r"• BTCUSDT \d{1,3}(,\d{3})*\.\d{2} \(", lines["BTCUSDT"]), lines["BTCUSDT"]


async def test_the_link_reply_carries_a_copy_button_for_the_command_to_send(console):
    reply = await console.handle("/link")
    assert [b.copies for row in reply.buttons for b in row] == [f"/link {reply.text.split()[3]}"]
