"""Monitoring Status: add, list, remove; one fetch per ticker; tenancy, limits, conflicts."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select

from core.account.service import actor_for
from core.errors import Conflict, Invalid, LimitExceeded, NotFound, Unavailable
from core.market import watchlist
from core.market.models import Watch
from core.market.types import INTERVALS, Candles, Instrument, Source
from core.market.watchlist import WatchView, add_watch, list_watches, remove_watch
from tests.sample_bars import sample_bars


def _load(name: str) -> pd.DataFrame:
    return sample_bars(name, "1d")


class FakeMarket:
    """The ``MarketService.candles`` signature over the shipped sample files; records every call."""

    def __init__(self) -> None:
        self.frames = {name: _load(name) for name in ("BBCA", "TLKM", "BTCUSDT")}
        self.failures: dict[str, Exception] = {}
        self.calls: list[tuple[str, str, str | None, Source]] = []
        self.during_fetch = None  # an async callable run inside every fetch

    async def candles(self, ticker, interval="1d", range_=None, source=Source.UNKNOWN) -> Candles:
        self.calls.append((ticker, interval, range_, source))
        if self.during_fetch is not None:
            await self.during_fetch()
        if ticker in self.failures:
            raise self.failures[ticker]
        if ticker not in self.frames:
            raise NotFound(f"no market data for {ticker}")
        resolved = (
            source
            if source is not Source.UNKNOWN
            else (Source.BINANCE if ticker.endswith("USDT") else Source.YFINANCE)
        )
        return Candles(
            instrument=Instrument(resolved, ticker, ticker),
            interval=INTERVALS[interval],
            frame=self.frames[ticker],
            provider="CSV (sample)",
            sample=True,
        )


@pytest.fixture
def market() -> FakeMarket:
    return FakeMarket()


@pytest.fixture
async def ana(db):
    return await actor_for(db, platform="telegram", external_id="1", display_name="Ana")


@pytest.fixture
async def budi(db):
    return await actor_for(db, platform="discord", external_id="2", display_name="Budi")


async def _rows(db, actor=None) -> list[Watch]:
    async with db.session() as s:
        query = select(Watch).order_by(Watch.id)
        if actor is not None:
            query = query.where(Watch.user_id == actor.user_id)
        return list(await s.scalars(query))


async def test_add_without_condition_shows_price_and_change(db, ana, market):
    view = await add_watch(db, ana, market, " bbca ")
    frame = market.frames["BBCA"]
    assert isinstance(view, WatchView)
    assert (view.ticker, view.source, view.condition) == ("BBCA", Source.YFINANCE, "")
    assert view.price == frame.close.iloc[-1]
    assert view.change_pct == pytest.approx((frame.close.iloc[-1] / frame.close.iloc[-2] - 1) * 100)
    assert view.met is None and view.lhs_value is None and view.error is None
    assert view.sample and view.checked_at is not None and view.id > 0
    [row] = await _rows(db)
    assert (row.user_id, row.ticker, row.source, row.condition) == (ana.user_id, "BBCA", "YFinance", "")
    assert row.last_price == view.price and row.last_checked_at == view.checked_at


async def test_add_with_condition_stores_canonical_text_and_status(db, ana, market):
    view = await add_watch(db, ana, market, "BBCA", "RSI < 30")
    assert view.condition == "rsi:14<30"
    assert view.lhs_value == pytest.approx(44.97, abs=0.01) and view.rhs_value == 30.0 and view.met is False
    [row] = await _rows(db)
    assert (row.condition, row.condition_met) == ("rsi:14<30", False)
    assert row.last_value == pytest.approx(view.lhs_value)


async def test_pairs_are_normalised_and_resolved_to_their_source(db, ana, market):
    view = await add_watch(db, ana, market, "btc/usdt", "change>5")
    assert (view.ticker, view.source) == ("BTCUSDT", Source.BINANCE)
    assert market.calls[-1][0] == "BTCUSDT"


async def test_history_fetched_follows_the_condition(db, ana, market):
    await add_watch(db, ana, market, "BBCA", "price>1")
    await add_watch(db, ana, market, "BBCA", "close>ema:200")
    assert [call[2] for call in market.calls] == ["6mo", "2y"]


async def test_same_watch_twice_is_a_conflict_without_a_fetch(db, ana, market):
    await add_watch(db, ana, market, "BBCA", "rsi<30")
    await add_watch(db, ana, market, "BBCA")  # another condition (none) is another watch
    calls = len(market.calls)
    with pytest.raises(Conflict, match="already watching BBCA with rsi:14<30"):
        await add_watch(db, ana, market, "bbca", "rsi:14 < 30")
    with pytest.raises(Conflict):
        await add_watch(db, ana, market, "BBCA", source=Source.YFINANCE)
    assert len(market.calls) == calls
    assert len(await _rows(db)) == 2


async def test_bad_ticker_or_condition_stores_nothing(db, ana, market):
    with pytest.raises(Invalid):
        await add_watch(db, ana, market, "BBCA", "rsi<<30")
    with pytest.raises(Invalid, match="does not look like a ticker"):
        await add_watch(db, ana, market, "BB CA!")
    assert market.calls == []
    with pytest.raises(NotFound, match="no market data for NOPE"):
        await add_watch(db, ana, market, "NOPE")
    with pytest.raises(Invalid, match="needs more bars"):  # checked against real data before storing
        await add_watch(db, ana, market, "BBCA", "ema:5000>1")
    assert await _rows(db) == []


async def test_fifty_watches_at_most_per_user(db, ana, budi, market):
    async with db.session() as s:
        s.add_all(
            Watch(user_id=ana.user_id, source="YFinance", ticker="BBCA", condition=f"price>{i}")
            for i in range(watchlist.MAX_WATCHES)
        )
    with pytest.raises(LimitExceeded, match="50"):
        await add_watch(db, ana, market, "TLKM")
    assert (await add_watch(db, budi, market, "TLKM")).ticker == "TLKM"  # the limit is per user


async def test_list_fetches_each_ticker_once_and_stores_the_check(db, ana, market):
    for condition in (None, "rsi<30", "price>1", "close>=ema:50"):
        await add_watch(db, ana, market, "BBCA", condition)
    await add_watch(db, ana, market, "TLKM")
    market.calls.clear()
    views = await list_watches(db, ana, market)
    assert sorted(call[0] for call in market.calls) == ["BBCA", "TLKM"]
    assert [(v.ticker, v.condition) for v in views] == [
        ("BBCA", ""),
        ("BBCA", "close>=ema:50"),
        ("BBCA", "price>1"),
        ("BBCA", "rsi:14<30"),
        ("TLKM", ""),
    ]
    by_condition = {v.condition: v for v in views if v.ticker == "BBCA"}
    assert by_condition["price>1"].met is True and by_condition[""].met is None
    assert all(v.error is None and v.sample for v in views)
    rows = {(r.ticker, r.condition): r for r in await _rows(db)}
    assert rows["BBCA", "price>1"].condition_met is True
    assert rows["BBCA", "price>1"].last_checked_at == views[0].checked_at


async def test_list_without_refresh_reads_the_stored_check(db, ana, market):
    added = await add_watch(db, ana, market, "BBCA", "price>1")
    market.calls.clear()
    [view] = await list_watches(db, ana, market, refresh=False)
    assert market.calls == []
    assert (view.price, view.met, view.checked_at, view.id) == (added.price, True, added.checked_at, added.id)


async def test_a_failing_ticker_shows_its_error_and_the_rest_still_list(db, ana, market):
    await add_watch(db, ana, market, "BBCA")
    stale = await add_watch(db, ana, market, "TLKM", "price>1")
    market.failures["TLKM"] = Unavailable("Yahoo Finance did not answer in time")
    views = {v.ticker: v for v in await list_watches(db, ana, market)}
    assert views["BBCA"].error is None and views["BBCA"].price is not None
    assert views["TLKM"].error == "Yahoo Finance did not answer in time"
    assert views["TLKM"].price == stale.price  # the last good check is still shown
    market.failures["TLKM"] = RuntimeError("socket exploded")
    views = {v.ticker: v for v in await list_watches(db, ana, market)}
    assert views["TLKM"].error == "data unavailable right now"
    assert "socket" not in views["TLKM"].error


async def test_empty_watchlist(db, ana, market):
    assert await list_watches(db, ana, market) == []
    assert market.calls == []


async def test_remove_a_condition_or_the_whole_ticker(db, ana, market):
    for condition in (None, "rsi<30", "price>1"):
        await add_watch(db, ana, market, "BBCA", condition)
    await add_watch(db, ana, market, "TLKM")
    assert await remove_watch(db, ana, "bbca", "rsi:14 < 30") == 1
    assert sorted(r.condition for r in await _rows(db) if r.ticker == "BBCA") == ["", "price>1"]
    assert await remove_watch(db, ana, "BBCA") == 2
    assert [r.ticker for r in await _rows(db)] == ["TLKM"]
    with pytest.raises(NotFound, match="not watching BBCA"):
        await remove_watch(db, ana, "BBCA")
    with pytest.raises(NotFound, match="not watching TLKM with rsi<30"):
        await remove_watch(db, ana, "TLKM", "rsi<30")


async def test_users_only_see_and_remove_their_own_watches(db, ana, budi, market):
    await add_watch(db, ana, market, "BBCA", "rsi<30")
    await add_watch(db, budi, market, "BBCA", "rsi<30")  # the same watch for another user is no conflict
    await add_watch(db, budi, market, "TLKM")
    assert [v.ticker for v in await list_watches(db, ana, market)] == ["BBCA"]
    assert [v.ticker for v in await list_watches(db, budi, market, refresh=False)] == ["BBCA", "TLKM"]
    with pytest.raises(NotFound):
        await remove_watch(db, ana, "TLKM")
    assert await remove_watch(db, budi, "BBCA") == 1
    assert [r.ticker for r in await _rows(db, ana)] == ["BBCA"]
    assert [r.ticker for r in await _rows(db, budi)] == ["TLKM"]


async def test_a_watch_removed_while_listing_is_no_error(db, ana, market):
    await add_watch(db, ana, market, "BBCA")
    await add_watch(db, ana, market, "TLKM")

    async def remove_tlkm():
        market.during_fetch = None
        await remove_watch(db, ana, "TLKM")

    market.during_fetch = remove_tlkm
    views = await list_watches(db, ana, market)
    assert {v.ticker for v in views} == {"BBCA", "TLKM"}  # as read when the list started
    assert [r.ticker for r in await _rows(db)] == ["BBCA"]


async def test_removing_by_a_condition_that_no_longer_parses(db, ana, market):
    async with db.session() as s:
        s.add(Watch(user_id=ana.user_id, source="YFinance", ticker="BBCA", condition="oldind<3"))
    [view] = await list_watches(db, ana, market)
    assert view.error.startswith("condition no longer valid: unknown indicator 'oldind'")
    assert await remove_watch(db, ana, "BBCA", "oldind<3") == 1
