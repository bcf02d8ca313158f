"""A live position's stop rests on the exchange, so it protects the position while the bot is down."""

from __future__ import annotations

from datetime import timedelta

from core.broker.pool import BrokerPool
from core.broker.types import BrokerName
from core.deployment.models import Deployment
from core.deployment.reconcile import reconcile
from core.deployment.tick import Tick
from core.trade.models import Order, Trade
from tests.core.deployment.kit import (
    T0,
    WITH_STOP,
    Clock,
    FakeBroker,
    StubSource,
    frame,
    load,
    make_credential,
    make_deployment,
    make_market,
    make_settings,
    make_user,
)

HOUR = timedelta(hours=1)


def _dipping(colours: str, dip_at: int):
    """Bars as ``frame`` makes them, one of which dips 10 % under its open without being a sell signal."""
    bars = frame(colours)
    bars.iloc[dip_at, bars.columns.get_loc("low")] = 90.0
    return bars


async def _setup(db, bars, *, rests: bool = True):
    settings = make_settings()
    source = StubSource({"BTCUSDT": bars})
    clock = Clock(T0 + 2 * HOUR + timedelta(seconds=3))
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id, "Binance", "bin")
    dep = await make_deployment(db, actor.user_id, credential, source=WITH_STOP, last_bar_at=T0 + HOUR, size=1.0)
    broker = FakeBroker(name=BrokerName.BINANCE, paper=False, rests_stops=rests, balances={"USDT": 10_000.0})

    async def factory(_credential_id: int):
        return broker

    pool = BrokerPool(db, settings, factory)
    tick = Tick(db, settings, make_market(settings, source, clock), pool, sleep=_no_sleep)
    return settings, clock, dep, broker, pool, tick


async def _no_sleep(_seconds: float) -> None:
    return None


async def test_an_entry_rests_its_stop_on_the_exchange_and_the_exchange_fills_it(db):
    settings, clock, dep, broker, pool, tick = await _setup(db, _dipping("rgg.", 2))
    await tick.run(clock.now)  # bar 1 is green: buy at the next open, 100
    [buy, stop] = await load(db, Order)
    assert (buy.side, buy.status, buy.reference_price) == ("buy", "Filled", 100.0)
    assert (stop.reason, stop.status, stop.side, stop.quantity) == ("exchange-stop", "Resting", "sell", buy.filled_qty)
    assert stop.reference_price == 95.0 and stop.client_order_id.endswith("p")  # 5 % under the entry
    assert list(broker.resting) == [stop.client_order_id]

    clock.now += HOUR  # bar 2 dipped through 95: the exchange's stop, not the bot, sells
    report = await tick.run(clock.now)
    assert report.orders == 0 and broker.sent == [buy.client_order_id]
    broker.trigger(stop.client_order_id, 95.0)
    [outcome] = await reconcile(db, settings, pool)
    assert (outcome.status, outcome.side, outcome.price) == ("Filled", "sell", 95.0)
    sold = [t for t in await load(db, Trade) if t.side == "sell"]
    assert [(t.price, t.quantity) for t in sold] == [(95.0, buy.filled_qty)]
    [row] = await load(db, Deployment, id=dep)
    assert (row.position_qty, row.status) == (0.0, "NoPosition")
    assert await reconcile(db, settings, pool) == []  # adopted once


async def test_a_sell_signal_lifts_the_resting_stop_before_selling(db):
    _, clock, dep, broker, _, tick = await _setup(db, frame("rgr."))
    await tick.run(clock.now)
    stop_id = next(o.client_order_id for o in await load(db, Order) if o.reason == "exchange-stop")
    clock.now += HOUR  # bar 2 is red: sell at the next open
    report = await tick.run(clock.now)
    assert broker.canceled == [stop_id] and broker.resting == {}
    orders = {o.client_order_id: o for o in await load(db, Order)}
    assert orders[stop_id].status == "Canceled"
    [sell] = [o for o in orders.values() if o.side == "sell" and o.reason == "signal"]
    assert sell.status == "Filled" and [e.decision.signal for e in report.events] == ["sell"]
    [row] = await load(db, Deployment, id=dep)
    assert row.position_qty == 0.0


async def test_a_stop_that_filled_while_the_bot_was_away_is_the_exit_and_nothing_is_sold_twice(db):
    _, clock, dep, broker, _, tick = await _setup(db, frame("rgr."))
    await tick.run(clock.now)
    stop_id = next(o.client_order_id for o in await load(db, Order) if o.reason == "exchange-stop")
    broker.trigger(stop_id, 95.0)  # filled at the exchange; no reconciliation ran since
    clock.now += HOUR
    report = await tick.run(clock.now)  # the sell signal finds the position already sold
    assert broker.sent == [next(o.client_order_id for o in await load(db, Order) if o.side == "buy"), stop_id]
    assert [(e.kind, e.decision.signal) for e in report.events] == [("filled", "stop")]
    assert [t.price for t in await load(db, Trade) if t.side == "sell"] == [95.0]
    [row] = await load(db, Deployment, id=dep)
    assert (row.position_qty, row.status) == (0.0, "NoPosition")


async def test_without_resting_stops_the_bot_checks_the_stop_at_each_candle(db):
    _, clock, _, broker, _, tick = await _setup(db, _dipping("rgg.", 2), rests=False)
    await tick.run(clock.now)
    assert [o.reason for o in await load(db, Order)] == ["signal"]
    clock.now += HOUR
    await tick.run(clock.now)
    orders = await load(db, Order)
    # the stop sells at the candle that reached it; that candle's buy signal enters again, as /run does
    assert [(o.side, o.reason, o.status) for o in orders] == [
        ("buy", "signal", "Filled"), ("sell", "stop", "Filled"), ("buy", "signal", "Filled"),
    ]
    assert orders[1].reference_price == 95.0 and broker.resting == {}
