"""Retrieve Trades (pages, from/to, tenancy) and open positions with unrealised P&L."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from core.account.service import actor_for
from core.deployment.history import TradeQuery, all_trades, list_trades, positions
from core.errors import Invalid, NotFound, Unavailable
from core.market.types import INTERVALS, Candles, Instrument, Source
from tests.core.statistic.trade_rows import add_deployment, add_trade

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def ana(db):
    return await actor_for(db, platform="telegram", external_id="1", display_name="Ana")


@pytest.fixture
async def budi(db):
    return await actor_for(db, platform="discord", external_id="2", display_name="Budi")


async def _trades_daily(db, actor, days: int, deployment_id: int | None = None) -> list[int]:
    """One fill a day from T0; every second one closes with P&L equal to its day number."""
    ids = []
    for day in range(days):
        closing = day % 2 == 1
        ids.append(
            await add_trade(
                db, actor.user_id, at=T0 + timedelta(days=day), side="sell" if closing else "buy",
                qty=100, price=9000 + day, fee=9.0, pnl=float(day) if closing else None,
                deployment_id=deployment_id,
            )
        )  # fmt: skip
    return ids


async def test_newest_first_in_pages(db, ana):
    ids = await _trades_daily(db, ana, 12)
    first = await list_trades(db, ana, page=1, page_size=5)
    assert (first.total, first.pages, first.has_next) == (12, 3, True)
    assert [t.id for t in first.items] == ids[::-1][:5]
    last = await list_trades(db, ana, page=3, page_size=5)
    assert [t.id for t in last.items] == ids[1::-1] and not last.has_next
    newest = first.items[0]
    assert (newest.side, newest.qty, newest.price, newest.fee, newest.pnl) == ("sell", 100, 9011, 9.0, 11.0)
    assert (newest.symbol, newest.label, newest.quote_currency) == ("BBCA.JK", "ema_cross", "IDR")
    assert newest.time == T0 + timedelta(days=11)
    assert first.items[1].pnl is None  # an opening fill has no P&L


async def test_from_is_inclusive_and_to_exclusive(db, ana):
    ids = await _trades_daily(db, ana, 10)
    page = await list_trades(db, ana, TradeQuery(since=T0 + timedelta(days=2), until=T0 + timedelta(days=5)))
    assert [t.id for t in page.items] == [ids[4], ids[3], ids[2]] and page.total == 3
    since_only = await list_trades(db, ana, TradeQuery(since=T0 + timedelta(days=8)))
    assert [t.id for t in since_only.items] == [ids[9], ids[8]]
    until_only = await list_trades(db, ana, TradeQuery(until=T0 + timedelta(days=1)))
    assert [t.id for t in until_only.items] == [ids[0]]
    # A bound in another zone means the same instant.
    wib = datetime(2026, 1, 9, 23, 0, tzinfo=ZoneInfo("Asia/Jakarta"))  # 16:00 UTC
    assert (await list_trades(db, ana, TradeQuery(since=wib))).total == 1


async def test_bad_bounds_and_pages_are_refused(db, ana):
    with pytest.raises(Invalid, match="must be before"):
        await list_trades(db, ana, TradeQuery(since=T0, until=T0))
    with pytest.raises(Invalid, match="time zone"):
        await list_trades(db, ana, TradeQuery(since=datetime(2026, 1, 1)))
    with pytest.raises(Invalid, match="page numbers start at 1"):
        await list_trades(db, ana, page=0)
    with pytest.raises(Invalid, match="page size"):
        await list_trades(db, ana, page_size=101)


async def test_only_the_actors_trades_and_deployments(db, ana, budi):
    mine = await add_deployment(db, ana.user_id, "ema_cross")
    other = await add_deployment(db, ana.user_id, "rsi")
    theirs = await add_deployment(db, budi.user_id, "ema_cross")
    ids = await _trades_daily(db, ana, 3, deployment_id=mine)
    await _trades_daily(db, ana, 2, deployment_id=other)
    await _trades_daily(db, budi, 4, deployment_id=theirs)
    assert (await list_trades(db, ana)).total == 5
    assert (await list_trades(db, budi)).total == 4
    narrowed = await list_trades(db, ana, TradeQuery(deployment_id=mine))
    assert [t.id for t in narrowed.items] == ids[::-1]
    assert all(t.deployment_id == mine for t in narrowed.items)
    with pytest.raises(NotFound, match=f"no deployment #{theirs} of yours"):
        await list_trades(db, ana, TradeQuery(deployment_id=theirs))
    with pytest.raises(NotFound):
        await list_trades(db, ana, TradeQuery(deployment_id=9999))
    exported = await all_trades(db, ana, TradeQuery(deployment_id=mine))  # an export narrows the same way
    assert [t.id for t in exported] == ids
    with pytest.raises(NotFound, match=f"no deployment #{theirs} of yours"):
        await all_trades(db, ana, TradeQuery(deployment_id=theirs))


def test_a_trade_query_is_checked_and_kept_in_utc_where_it_is_built():
    wib = datetime(2026, 1, 9, 23, 0, tzinfo=ZoneInfo("Asia/Jakarta"))
    assert TradeQuery(since=wib).since == datetime(2026, 1, 9, 16, 0, tzinfo=UTC)
    with pytest.raises(Invalid) as refused:
        TradeQuery(since=datetime(2026, 1, 2, tzinfo=UTC), until=datetime(2026, 1, 1, tzinfo=UTC))
    assert refused.value.message == "'from' (2026-01-02) must be before 'to' (2026-01-01)"
    with pytest.raises(Invalid) as refused:
        TradeQuery(until=datetime(2026, 1, 1))
    assert refused.value.message == "to must carry a time zone (UTC)"


class Prices:
    """The ``candles`` call over fixed last closes; counts fetches per ticker."""

    def __init__(self, closes: dict[str, float], currency: str = "IDR") -> None:
        self.closes = closes
        self.currency = currency
        self.calls: list[tuple[str, str, Source]] = []

    async def candles(self, ticker, interval="1d", range_=None, source=Source.UNKNOWN) -> Candles:
        self.calls.append((ticker, interval, source))
        if ticker not in self.closes:
            raise Unavailable(f"{ticker}: data feed down")
        index = pd.date_range("2026-01-01", periods=3, freq="D", tz="UTC")
        close = self.closes[ticker]
        frame = pd.DataFrame(
            {"open": close, "high": close, "low": close, "close": [close - 2, close - 1, close], "volume": 1.0},
            index=index,
        )
        instrument = Instrument(source, ticker, ticker, currency=self.currency)
        return Candles(instrument=instrument, interval=INTERVALS[interval], frame=frame, provider="test")


async def test_positions_list_open_deployments_only(db, ana, budi):
    long_ = await add_deployment(
        db, ana.user_id, "ema_cross", ticker="BBCA", status="OpenPosition", position_qty=100, entry_price=9000
    )
    short = await add_deployment(
        db, ana.user_id, "mean_rev", ticker="TLKM", status="OpenPosition", position_qty=-50, entry_price=3000
    )
    await add_deployment(db, ana.user_id, "flat", status="NoPosition")
    await add_deployment(db, budi.user_id, "theirs", status="OpenPosition", position_qty=1, entry_price=1)
    await add_trade(db, ana.user_id, at=T0, side="buy", qty=100, price=9000, deployment_id=long_, currency="IDR")

    held = await positions(db, ana)
    assert [(p.label, p.symbol, p.qty, p.entry_price) for p in held] == [
        ("ema_cross", "BBCA", 100, 9000),
        ("mean_rev", "TLKM", -50, 3000),
    ]
    assert held[0].deployment_id == long_ and held[1].deployment_id == short
    assert held[0].quote_currency == "IDR" and held[1].quote_currency == ""  # no fill yet to tell
    assert all(p.last_price is None and p.unrealised_pnl is None for p in held)


async def test_unrealised_pnl_from_the_last_close(db, ana):
    await add_deployment(db, ana.user_id, "a", ticker="BBCA", position_qty=100, entry_price=9000)
    await add_deployment(db, ana.user_id, "b", ticker="BBCA", position_qty=10, entry_price=9500)
    await add_deployment(db, ana.user_id, "c", ticker="TLKM", position_qty=-50, entry_price=3000)
    await add_deployment(db, ana.user_id, "d", ticker="GONE", position_qty=5, entry_price=10)
    prices = Prices({"BBCA": 9150.0, "TLKM": 2900.0})
    held = {p.label: p for p in await positions(db, ana, prices)}
    assert held["a"].last_price == 9150 and held["a"].unrealised_pnl == pytest.approx(15_000)
    assert held["a"].unrealised_pct == pytest.approx(15_000 / 900_000 * 100)
    assert held["b"].unrealised_pnl == pytest.approx(-3_500)
    assert held["c"].unrealised_pnl == pytest.approx(5_000)  # a short gains as the price falls
    assert held["c"].quote_currency == "IDR"  # from the instrument when no fill says
    assert held["d"].unrealised_pnl is None and held["d"].price_error == "GONE: data feed down"
    # One fetch per distinct (source, ticker, interval), whatever the number of deployments on it.
    assert sorted(prices.calls) == [
        ("BBCA", "1d", Source.YFINANCE),
        ("GONE", "1d", Source.YFINANCE),
        ("TLKM", "1d", Source.YFINANCE),
    ]


async def test_unrealised_pnl_is_net_of_the_entry_fee_paid_for_what_is_held(db, ana):
    # one buy of 100 with a 900 fee: all of it is the held position's
    whole = await add_deployment(db, ana.user_id, "whole", ticker="BBCA", status="OpenPosition",
                                 position_qty=100, entry_price=9000)  # fmt: skip
    await add_trade(db, ana.user_id, at=T0, side="buy", qty=100, price=9000, fee=900.0, deployment_id=whole)
    # an earlier round trip (its fees are realised already), then 200 bought in two fills, 50 sold:
    # the 150 held carry three quarters of the two entries' fees
    part = await add_deployment(db, ana.user_id, "part", ticker="BBCA", status="OpenPosition",
                                position_qty=150, entry_price=9000)  # fmt: skip
    fills = [("buy", 100, 8000, 800.0, None), ("sell", 100, 8500, 850.0, 48_350.0), ("buy", 100, 9000, 90.0, None),
             ("buy", 100, 9000, 30.0, None), ("sell", 50, 9100, 4.55, 0.0)]  # fmt: skip
    for day, (side, qty, price, fee, pnl) in enumerate(fills):
        await add_trade(db, ana.user_id, at=T0 + timedelta(days=day), side=side, qty=qty, price=price, fee=fee,
                        pnl=pnl, deployment_id=part)  # fmt: skip
    held = {p.label: p for p in await positions(db, ana, Prices({"BBCA": 9150.0}))}
    assert held["whole"].entry_fee == pytest.approx(900)
    assert held["whole"].unrealised_pnl == pytest.approx(100 * 150 - 900)
    assert held["whole"].unrealised_pct == pytest.approx((15_000 - 900) / (900_000 + 900) * 100)
    assert held["part"].entry_fee == pytest.approx(120 * 150 / 200)
    assert held["part"].unrealised_pnl == pytest.approx(150 * 150 - 90)
