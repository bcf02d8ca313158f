"""The tick: one fetch per series, closed bars only, the latest bar only, one order per bar across workers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core.broker.models import Credential, PaperBalance
from core.broker.pool import BrokerPool
from core.broker.types import AuthFailed, BrokerName, InsufficientFunds
from core.db import Database
from core.deployment.models import Deployment
from core.deployment.service import update_status
from core.deployment.tick import Tick
from core.services import ServiceSet
from core.trade.models import Order, Trade
from jobs.ticks import event_text
from tests.core.deployment.kit import (
    LONG_ONLY,
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


def _tick(db, settings, source, clock, broker=None) -> Tick:
    async def factory(_credential_id: int):
        return broker

    pool = BrokerPool(db, settings, factory if broker is not None else None)
    return Tick(db, settings, make_market(settings, source, clock), pool, sleep=_no_sleep)


async def _no_sleep(_seconds: float) -> None:
    return None


async def test_one_fetch_per_series_and_only_closed_bars_are_evaluated(db):
    settings = make_settings()
    # bar 4 (green, closed) says buy; bar 5 is still forming and red: it must not count
    source = StubSource({"BTCUSDT": frame("rrrrgr"), "ETHUSDT": frame("rrrrgr")})
    clock = Clock(T0 + 5 * HOUR + timedelta(seconds=30))
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id)
    ids = [await make_deployment(db, actor.user_id, credential, ticker=t, last_bar_at=T0 + 4 * HOUR, size=0.1)
           for t in ("BTCUSDT", "BTCUSDT", "BTCUSDT", "ETHUSDT", "ETHUSDT")]  # fmt: skip
    tick = _tick(db, settings, source, clock)  # the real paper broker
    report = await tick.run(clock.now)
    assert (report.series, report.evaluated, report.evaluations, report.orders) == (2, 5, 2, 5)
    assert source.fetches == 2
    orders = await load(db, Order)
    assert [o.status for o in orders] == ["Filled"] * 5 and {o.side for o in orders} == {"buy"}
    assert {o.bar_at for o in orders} == {T0 + 5 * HOUR}
    assert {o.reference_price for o in orders} == {100.0}  # the forming candle's open, as the backtest fills
    rows = await load(db, Deployment)
    assert [r.id for r in rows] == ids and {r.status for r in rows} == {"OpenPosition"}
    assert all(r.last_signal == "buy" and r.last_bar_at == T0 + 5 * HOUR for r in rows)
    assert {e.kind for e in report.events} == {"filled"} and set(report.charts) == {e.series for e in report.events}

    again = await tick.run(clock.now)  # same bar: nothing new, nothing fetched
    assert (again.series, again.orders, source.fetches) == (0, 0, 2)


async def test_sell_signal_and_stop_loss_close_the_long(db):
    settings = make_settings()
    source = StubSource({"BTCUSDT": frame("gggd."), "ETHUSDT": frame("gggr.")})
    clock = Clock(T0 + 4 * HOUR + timedelta(seconds=5))
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id)
    broker = FakeBroker(balances={"USDT": 0.0, "BTC": 1.0, "ETH": 1.0})
    stop = await make_deployment(db, actor.user_id, credential, source=WITH_STOP, position_qty=1.0, entry_price=100.0,
                                 status="OpenPosition", last_bar_at=T0 + 3 * HOUR)  # fmt: skip
    sell = await make_deployment(db, actor.user_id, credential, ticker="ETHUSDT", position_qty=1.0, entry_price=95.0,
                                 status="OpenPosition", last_bar_at=T0 + 3 * HOUR)  # fmt: skip
    report = await _tick(db, settings, source, clock, broker).run(clock.now)
    orders = {o.deployment_id: o for o in await load(db, Order)}
    assert (orders[stop].side, orders[stop].reason, orders[stop].quantity) == ("sell", "stop", 1.0)
    assert (orders[sell].side, orders[sell].reason) == ("sell", "signal")
    trades = {t.deployment_id: t for t in await load(db, Trade)}
    assert trades[stop].price == 95.0  # the stop's level: the candle reached it, it rested there
    assert trades[sell].price == 100.0  # the open after the sell signal
    assert trades[sell].pnl == pytest.approx((100.0 - 95.0) - 0.1)
    assert {r.status for r in await load(db, Deployment)} == {"NoPosition"}
    assert {e.decision.signal for e in report.events} == {"stop", "sell"}


async def test_a_restart_after_missed_candles_acts_on_the_latest_bar_only(db):
    settings = make_settings()
    source = StubSource({"BTCUSDT": frame("gggggggggg.")})  # every missed bar said buy
    clock = Clock(T0 + 10 * HOUR + timedelta(minutes=2))  # down since bar 1 closed
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id)
    await make_deployment(db, actor.user_id, credential, last_bar_at=T0 + HOUR)
    report = await _tick(db, settings, source, clock, FakeBroker()).run(clock.now)
    assert report.orders == 1 and report.missed_bars == 8
    [order] = await load(db, Order)
    assert order.bar_at == T0 + 10 * HOUR


async def test_a_refused_key_pauses_the_deployment_and_is_reported(db):
    settings = make_settings()
    source = StubSource({"BTCUSDT": frame("gg")})
    clock = Clock(T0 + 2 * HOUR)
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id, "Binance", "bin")
    dep = await make_deployment(db, actor.user_id, credential, last_bar_at=T0 + HOUR)
    broker = FakeBroker(create_errors=[AuthFailed("Binance refused the API key (Invalid API-key)")],
                        name=BrokerName.BINANCE, paper=False)
    report = await _tick(db, settings, source, clock, broker).run(clock.now)
    [event] = report.events
    assert event.kind == "paused" and event.deployment_id == dep
    [row] = await load(db, Deployment)
    assert row.status == "Paused" and "Invalid API-key" in row.status_reason
    assert [o.status for o in await load(db, Order)] == ["Failed"]
    [key] = [c for c in await load(db, Credential) if c.id == credential]
    assert key.status == "Revoked"  # the user reconnects the key before resuming
    clock.now += HOUR
    source.frames["BTCUSDT"] = frame("ggg")
    assert (await _tick(db, settings, source, clock, broker).run(clock.now)).series == 0  # paused: not evaluated


async def test_insufficient_funds_and_sizes_below_the_minimum_are_recorded(db):
    settings = make_settings()
    source = StubSource({"BTCUSDT": frame("gg."), "ETHUSDT": frame("gg.")})
    clock = Clock(T0 + 2 * HOUR)
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id)
    poor = await make_credential(db, actor.user_id, label="poor")
    funds = await make_deployment(db, actor.user_id, credential, last_bar_at=T0 + HOUR)
    small = await make_deployment(db, actor.user_id, poor, ticker="ETHUSDT", last_bar_at=T0 + HOUR)
    brokers = {credential: FakeBroker(create_errors=[InsufficientFunds("not enough USDT")]),
               poor: FakeBroker(balances={"USDT": 3.0})}  # fmt: skip

    async def factory(credential_id: int):
        return brokers[credential_id]

    tick = Tick(db, settings, make_market(settings, source, clock), BrokerPool(db, settings, factory), sleep=_no_sleep)
    report = await tick.run(clock.now)
    kinds = {e.deployment_id: e for e in report.events}
    assert kinds[funds].kind == "failed" and "insufficient funds" in kinds[funds].outcome.error
    assert kinds[small].kind == "refused" and "below the minimum" in kinds[small].outcome.error
    orders = {o.deployment_id: o for o in await load(db, Order)}
    assert orders[funds].status == "Failed" and orders[small].status == "Rejected"
    assert brokers[poor].sent == []
    rows = {r.id: r for r in await load(db, Deployment)}
    assert rows[funds].status == rows[small].status == "NoPosition"  # both keep running
    assert "below the minimum" in rows[small].status_reason


async def test_late_timing_waits_for_the_grace_delay(db):
    settings = make_settings(late_grace_s=900)
    source = StubSource({"BTCUSDT": frame("rg.")})
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id)
    await make_deployment(db, actor.user_id, credential, timing="Late", last_bar_at=T0 + HOUR)
    clock = Clock(T0 + 2 * HOUR + timedelta(minutes=10))
    assert (await _tick(db, settings, source, clock, FakeBroker()).run(clock.now)).series == 0
    clock.now = T0 + 2 * HOUR + timedelta(minutes=16)
    report = await _tick(db, settings, source, clock, FakeBroker()).run(clock.now)
    assert report.orders == 1


async def test_one_not_found_from_the_feed_ends_nothing(db):
    """Yahoo answers an empty frame in hiccups, a CSV file may be missing while it is replaced."""
    settings = make_settings()
    source = StubSource({})
    clock = Clock(T0 + 2 * HOUR + timedelta(seconds=5))
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id)
    flat = await make_deployment(db, actor.user_id, credential, last_bar_at=T0 + HOUR)
    held = await make_deployment(db, actor.user_id, credential, position_qty=1, entry_price=100, status="OpenPosition",
                                 last_bar_at=T0 + HOUR)  # fmt: skip
    tick = _tick(db, settings, source, clock, FakeBroker(balances={"USDT": 0.0, "BTC": 1.0}))
    report = await tick.run(clock.now)
    assert report.events == []
    rows = {r.id: r for r in await load(db, Deployment)}
    assert (rows[flat].status, rows[held].status) == ("NoPosition", "OpenPosition")
    assert rows[flat].feed_missing_count == 1 and rows[flat].feed_missing_since == clock.now

    source.frames["BTCUSDT"] = frame("rr.")  # the feed answers again: the bar is traded as usual
    clock.now += timedelta(seconds=20)
    report = await tick.run(clock.now)
    assert {e.deployment_id: e.kind for e in report.events} == {held: "filled"}
    rows = {r.id: r for r in await load(db, Deployment)}
    assert (rows[flat].status, rows[held].status) == ("NoPosition", "NoPosition")
    assert {(r.feed_missing_count, r.feed_missing_since) for r in rows.values()} == {(0, None)}


async def test_a_delisting_ends_only_after_misses_on_every_check_over_the_window(db):
    settings = make_settings(delisted_after_checks=3, delisted_after_hours=2)
    source = StubSource({})
    clock = Clock(T0 + 2 * HOUR + timedelta(seconds=5))
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id)
    flat = await make_deployment(db, actor.user_id, credential, last_bar_at=T0 + HOUR)
    held = await make_deployment(db, actor.user_id, credential, position_qty=1, entry_price=100, status="OpenPosition",
                                 last_bar_at=T0 + HOUR)  # fmt: skip
    tick = _tick(db, settings, source, clock, FakeBroker())
    start = clock.now
    for _ in range(5):  # many misses in a few minutes: still within the window
        assert (await tick.run(clock.now)).events == []
        clock.now += timedelta(seconds=20)
    clock.now = start + 2 * HOUR - timedelta(seconds=1)
    assert (await tick.run(clock.now)).events == []  # six misses, not yet two hours
    assert {r.status for r in await load(db, Deployment)} == {"NoPosition", "OpenPosition"}

    clock.now = start + 2 * HOUR
    report = await tick.run(clock.now)
    events = {e.deployment_id: e for e in report.events}
    assert (events[flat].kind, events[held].kind) == ("done", "paused")
    assert f"/resume {held}" in events[held].text and "Your position is kept" in events[held].text
    assert "since 2026-01-05 02:00 UTC (7 checks" in events[flat].text
    alerts = {d: event_text(e).splitlines()[1] for d, e in events.items()}  # what each owner is sent
    assert alerts[flat].startswith("Ended: the market feed has not known BTCUSDT since 2026-01-05 02:00 UTC")
    assert alerts[held].startswith("Paused: the market feed has not known BTCUSDT")
    assert alerts[held].endswith(f"Your position is kept: check the ticker at your broker, and /resume {held} once "
                                 "the market serves it again")  # fmt: skip
    rows = {r.id: r for r in await load(db, Deployment)}
    assert (rows[flat].status, rows[held].status) == ("TaskDone", "Paused")
    assert rows[held].status_reason == events[held].text

    source.frames["BTCUSDT"] = frame("ggggg.")  # the feed serves it again: the holder resumes
    services = ServiceSet(db, settings, make_market(settings, source, clock))
    view = await update_status(services, actor, held, "resume", now=clock.now)
    assert view.status == "OpenPosition"
    clock.now = T0 + 5 * HOUR + timedelta(seconds=5)
    report = await tick.run(clock.now)
    assert report.series == 1 and report.evaluated == 1


async def test_misses_with_an_answer_in_between_start_the_count_again(db):
    settings = make_settings(delisted_after_checks=2, delisted_after_hours=1)
    source = StubSource({})
    clock = Clock(T0 + 2 * HOUR + timedelta(seconds=5))
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id)
    await make_deployment(db, actor.user_id, credential, last_bar_at=T0 + HOUR)
    tick = _tick(db, settings, source, clock, FakeBroker())
    await tick.run(clock.now)
    source.frames["BTCUSDT"] = frame("...")  # one answer (a doji: nothing to do) between the misses
    clock.now = T0 + 2 * HOUR + timedelta(minutes=30)
    await tick.run(clock.now)
    del source.frames["BTCUSDT"]
    clock.now = T0 + 3 * HOUR + timedelta(minutes=10)
    assert (await tick.run(clock.now)).events == []  # 70 minutes since the first miss, but not in a row
    [row] = await load(db, Deployment)
    assert row.status == "NoPosition" and row.feed_missing_count == 1


async def test_two_workers_firing_the_same_tick_place_one_order(db, db_backend):
    """Two processes (two engines, two market caches, two paper brokers) on one database."""
    settings = make_settings()
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id)
    for _ in range(3):
        await make_deployment(db, actor.user_id, credential, last_bar_at=T0 + HOUR, size=0.2)
    await make_deployment(db, actor.user_id, credential, ticker="ETHUSDT", last_bar_at=T0 + HOUR, size=0.2)
    clock = Clock(T0 + 2 * HOUR + timedelta(seconds=1))
    url, options = db_backend
    other = Database(url, engine_options=options)
    try:
        frames = {"BTCUSDT": frame("gg."), "ETHUSDT": frame("gg.")}
        one = _tick(db, settings, StubSource(frames), clock)
        two = _tick(other, settings, StubSource(frames), clock)
        reports = await asyncio.gather(one.run(clock.now), two.run(clock.now), one.run(clock.now))
    finally:
        await other.dispose()
    orders = await load(db, Order)
    assert len(orders) == 4 and len({o.client_order_id for o in orders}) == 4
    assert sum(r.orders for r in reports) == 4
    assert len(await load(db, Trade)) == 4
    cash = {b.asset: b.amount for b in await load(db, PaperBalance) if not b.asset.startswith("fill:")}
    assert cash["BTC"] == pytest.approx(sum(o.filled_qty for o in orders if o.symbol == "BTC/USDT"))
    assert cash["USDT"] == pytest.approx(10_000 - sum(o.filled_qty * 100.0 * 1.001 for o in orders))


async def test_a_symbol_the_broker_does_not_trade_is_refused_once_not_retried(db):
    settings = make_settings()
    source = StubSource({"BBCA": frame("gg")})
    clock = Clock(T0 + 2 * HOUR)
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id, "Binance", "bin")
    dep = await make_deployment(db, actor.user_id, credential, ticker="BBCA", last_bar_at=T0 + HOUR)
    broker = FakeBroker(name=BrokerName.BINANCE, paper=False)  # lists no IDX stock
    tick = _tick(db, settings, source, clock, broker)
    report = await tick.run(clock.now)
    [event] = report.events
    assert event.kind == "refused" and event.deployment_id == dep and "does not trade BBCA.JK" in event.outcome.error
    [order] = await load(db, Order)
    assert (order.status, order.symbol) == ("Rejected", "BBCA.JK") and broker.sent == []
    [row] = await load(db, Deployment)
    assert row.last_bar_at == T0 + 2 * HOUR and "does not trade" in row.status_reason  # the bar is claimed
    assert (await tick.run(clock.now)).series == 0  # not retried at every tick
    assert len(await load(db, Order)) == 1


async def test_a_refused_key_makes_the_pool_forget_its_broker(db):
    settings = make_settings()
    source = StubSource({"BTCUSDT": frame("gg")})
    clock = Clock(T0 + 2 * HOUR)
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id, "Binance", "bin")
    first = await make_deployment(db, actor.user_id, credential, last_bar_at=T0 + HOUR)
    second = await make_deployment(db, actor.user_id, credential, last_bar_at=T0 + HOUR, label="n")
    broker = FakeBroker(create_errors=[AuthFailed("Binance refused the API key")], name=BrokerName.BINANCE, paper=False)
    built: list[int] = []

    async def factory(credential_id: int):
        built.append(credential_id)
        return broker

    pool = BrokerPool(db, settings, factory)
    tick = Tick(db, settings, make_market(settings, source, clock), pool, sleep=_no_sleep)
    events = (await tick.run(clock.now)).events
    assert [(e.kind, e.deployment_id) for e in events] == [("paused", first), ("paused", second)]
    assert broker.closed and broker.sent == []  # the second order never went through the refused key
    assert len(await load(db, Order)) == 1
    await pool.get(credential)
    assert built == [credential, credential]  # built anew once the user reconnects the key


async def test_late_timing_fetches_again_after_the_grace_instead_of_reading_the_close_fetch(db):
    settings = make_settings(late_grace_s=900)
    source = StubSource({"BTCUSDT": frame("rr.")})  # the bar closing at T0+2h is red at the close...
    clock = Clock(T0 + 2 * HOUR + timedelta(minutes=1))
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id)
    on_time = await make_deployment(db, actor.user_id, credential, last_bar_at=T0 + HOUR, label="a")
    late = await make_deployment(db, actor.user_id, credential, timing="Late", last_bar_at=T0 + HOUR, label="b")
    tick = _tick(db, settings, source, clock, FakeBroker())
    first = await tick.run(clock.now)
    assert first.orders == 0 and source.fetches == 1  # OnTime: red, nothing to do; Late: not due yet
    source.frames["BTCUSDT"] = frame("rg.")  # ...and the delayed feed publishes it green afterwards
    clock.now = T0 + 2 * HOUR + timedelta(minutes=16)
    report = await tick.run(clock.now)
    assert source.fetches == 2  # the fetch made at the close was too early for Late timing
    assert [(o.deployment_id, o.side) for o in await load(db, Order)] == [(late, "buy")]
    rows = {r.id: r for r in await load(db, Deployment)}
    assert rows[on_time].last_bar_at == rows[late].last_bar_at == T0 + 2 * HOUR
    assert report.orders == 1
    clock.now += timedelta(minutes=5)
    assert (await tick.run(clock.now)).series == 0 and source.fetches == 2


async def test_log_records_carry_their_fields(db):
    from structlog.testing import capture_logs

    from core.errors import Unavailable

    class DownSource(StubSource):
        async def fetch(self, instrument, interval, range_, now):
            raise Unavailable("the feed is down")

    settings = make_settings()
    source = DownSource({"BTCUSDT": frame("gg")})
    clock = Clock(T0 + 2 * HOUR)
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id)
    await make_deployment(db, actor.user_id, credential, last_bar_at=T0 + HOUR)
    with capture_logs() as logs:
        await _tick(db, settings, source, clock, FakeBroker()).run(clock.now)
    [record] = [r for r in logs if r["event"] == "tick_fetch_failed"]
    assert record["series"] == "BTCUSDT 1h" and record["error"] == "the feed is down"


async def test_entries_spend_the_stake_fee_included_on_the_real_paper_account(db):
    """A 100 % entry used to need 10,009.99 with 10,000 there; a fixed stake and the plan's cap bound it."""
    from core.backtest.engine import entry_fraction, entry_units

    settings = make_settings()
    source = StubSource({t: frame("rg.") for t in ("BTCUSDT", "ETHUSDT")})
    clock = Clock(T0 + 2 * HOUR + timedelta(seconds=3))
    actor = await make_user(db)
    whole = await make_credential(db, actor.user_id, label="whole")
    staked = await make_credential(db, actor.user_id, label="staked")
    everything = await make_deployment(db, actor.user_id, whole, last_bar_at=T0 + HOUR, size=1.0)
    fixed = await make_deployment(db, actor.user_id, staked, ticker="ETHUSDT", last_bar_at=T0 + HOUR, size=1.0)
    async with db.session() as session:
        (await session.get(Deployment, fixed)).stake_amount = 2_500.0
    report = await _tick(db, settings, source, clock).run(clock.now)
    assert {e.kind for e in report.events} == {"filled"}
    orders = {o.deployment_id: o for o in await load(db, Order)}
    assert orders[everything].filled_qty == entry_units(10_000.0, 100.0, entry_fraction(1.0), 0.001, 0.00001)
    assert orders[everything].filled_qty == 99.90009  # * 100 * 1.001 = 9,999.999 of 10,000
    assert orders[fixed].filled_qty == 24.97502  # 2,500 / 100.1, in steps of 0.00001
    cash = {(b.credential_id, b.asset): b.amount for b in await load(db, PaperBalance)}
    assert cash[(whole, "USDT")] == pytest.approx(10_000 - 99.90009 * 100 * 1.001)
    assert cash[(staked, "USDT")] == pytest.approx(10_000 - 24.97502 * 100 * 1.001)


async def test_a_live_entry_counts_the_exchanges_own_fee(db):
    from core.broker.types import MarketRules

    settings = make_settings()
    source = StubSource({"BTCUSDT": frame("rg.")})
    clock = Clock(T0 + 2 * HOUR + timedelta(seconds=3))
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id, "Binance", "bin")
    await make_deployment(db, actor.user_id, credential, last_bar_at=T0 + HOUR, size=1.0)
    rules = MarketRules("BTC/USDT", "BTC", "USDT", amount_step=0.0001, min_amount=0.0001, fee=0.0075)
    broker = FakeBroker(name=BrokerName.BINANCE, paper=False, rules=rules, balances={"USDT": 1_000.0})
    await _tick(db, settings, source, clock, broker).run(clock.now)
    [order] = await load(db, Order)
    assert order.quantity == 9.9255  # 1,000 / (100 * 1.0075), not the 1,000 / 100.1 of the default fee


class _Batches:
    """The compute plane, recording each task's scripts; a batch holding a script with ``# slow``
    in it is stopped as a whole, as the executor stops a task past its limit."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    async def run(self, fn, *args, task=None):
        from core.deployment.signals import signals_of_scripts
        from core.errors import TooLong

        if fn is signals_of_scripts:
            sources = [source for source, _inputs in args[1]]
            self.batches.append(sources)
            if any("# slow" in source for source in sources):
                raise TooLong("the script ran past its 6 s limit and was stopped")
        return fn(*args)

    async def close(self) -> None:
        return None


async def test_one_owners_scripts_on_one_series_go_to_the_compute_plane_as_one_task(db):
    settings = make_settings()
    source = StubSource({"BTCUSDT": frame("gg.")})
    clock = Clock(T0 + 2 * HOUR + timedelta(seconds=3))
    alice, bob = await make_user(db, "alice"), await make_user(db, "bob")
    credentials = {alice: await make_credential(db, alice.user_id), bob: await make_credential(db, bob.user_id)}
    deps = {}
    bobs = LONG_ONLY + "# bob's own\n"
    for owner, label, script in [(alice, "a1", LONG_ONLY), (alice, "a2", "buy = close < open\nsell = close > open\n"),
                                 (alice, "a3", LONG_ONLY), (bob, "b1", LONG_ONLY), (bob, "b2", bobs)]:  # fmt: skip
        credential = credentials[owner]
        deps[label] = await make_deployment(db, owner.user_id, credential, source=script, label=label,
                                            last_bar_at=T0)  # fmt: skip
    market = make_market(settings, source, clock)
    market.compute = compute = _Batches()
    report = await Tick(db, settings, market, BrokerPool(db, settings), sleep=_no_sleep).run(clock.now)
    # alice's two distinct scripts in one task (a3 and bob's b1 share a1's: it runs once, on alice's
    # budget, as the first to deploy it); bob's own script in his own task
    assert sorted(compute.batches, key=len) == [[bobs], [LONG_ONLY, "buy = close < open\nsell = close > open\n"]]
    assert report.evaluations == 3 and report.evaluated == 5
    rows = {row.label: row for row in await load(db, Deployment)}
    assert {label: row.last_signal for label, row in rows.items()} == {
        "a1": "buy", "a2": "sell", "a3": "buy", "b1": "buy", "b2": "buy"}  # fmt: skip
    assert {o.deployment_id for o in await load(db, Order)} == {deps["a1"], deps["a3"], deps["b1"], deps["b2"]}


async def test_a_runaway_script_in_a_batch_is_the_only_one_charged_with_it(db):
    """The task stopped as a whole, each script runs alone: the others still trade this bar."""
    settings = make_settings()
    source = StubSource({"BTCUSDT": frame("gg.")})
    clock = Clock(T0 + 2 * HOUR + timedelta(seconds=3))
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id)
    fine = await make_deployment(db, actor.user_id, credential, label="fine", last_bar_at=T0)
    slow = await make_deployment(db, actor.user_id, credential, label="slow", source=LONG_ONLY + "# slow\n",
                                 last_bar_at=T0)  # fmt: skip
    market = make_market(settings, source, clock)
    market.compute = compute = _Batches()
    await Tick(db, settings, market, BrokerPool(db, settings), sleep=_no_sleep).run(clock.now)
    assert sorted(map(len, compute.batches)) == [1, 1, 2]  # the batch, then each alone
    rows = {row.id: row for row in await load(db, Deployment)}
    assert rows[slow].status_reason.startswith("over its time limit: ") and rows[slow].last_signal == "error"
    assert rows[fine].status_reason == "" and rows[fine].last_signal == "buy"
    assert [o.deployment_id for o in await load(db, Order)] == [fine]


async def test_a_script_past_its_time_limit_on_two_bars_in_a_row_is_paused_and_its_owner_told(db):
    """It would otherwise burn its whole limit on every bar and never trade."""
    from core.deployment.signals import signals_of_scripts
    from core.errors import TooLong

    class SlowScripts:  # the compute plane, reporting every script evaluation past its limit
        async def run(self, fn, *args, task=None):
            if fn is signals_of_scripts:
                raise TooLong("the script ran past its 6 s limit and was stopped")
            return fn(*args)

        async def close(self) -> None:
            return None

    settings = make_settings()
    source = StubSource({"BTCUSDT": frame("gggg.")})
    clock = Clock(T0 + 2 * HOUR + timedelta(seconds=3))
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id)
    dep = await make_deployment(db, actor.user_id, credential, last_bar_at=T0 + HOUR)
    market = make_market(settings, source, clock)
    market.compute = SlowScripts()
    tick = Tick(db, settings, market, BrokerPool(db, settings), sleep=_no_sleep)
    first = await tick.run(clock.now)
    [row] = await load(db, Deployment)
    assert row.status == "NoPosition" and row.status_reason.startswith("over its time limit: ")
    assert first.events == []  # once is told in /deployments, not pushed
    clock.now += HOUR
    second = await tick.run(clock.now)
    [row] = await load(db, Deployment)
    assert row.status == "Paused" and "two bars in a row" in row.status_reason and f"/resume {dep}" in row.status_reason
    [event] = second.events
    assert event.kind == "paused" and event.deployment_id == dep and "time limit" in event.text
    clock.now += HOUR
    assert (await tick.run(clock.now)).series == 0  # no longer evaluated


async def test_a_corrupt_csv_is_a_passing_fault_not_a_delisting(db, tmp_path):
    from core.market.service import MarketService
    from core.market.sources.csv import CsvSource
    from core.market.types import Source

    (tmp_path / "BTCUSDT_1h.csv").write_bytes(b"\x00\xff" * 100)  # being rewritten by the operator's import
    csv = CsvSource(tmp_path)
    settings = make_settings(delisted_after_checks=1, delisted_after_hours=0)  # the first miss would end it
    clock = Clock(T0 + 2 * HOUR + timedelta(seconds=5))
    market = MarketService(settings, sources={Source.BINANCE: csv, Source.YFINANCE: csv}, clock=clock)
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id)
    await make_deployment(db, actor.user_id, credential, last_bar_at=T0 + HOUR)
    tick = Tick(db, settings, market, BrokerPool(db, settings, None), sleep=_no_sleep)
    assert (await tick.run(clock.now)).events == []
    [row] = await load(db, Deployment)
    assert (row.status, row.feed_missing_count) == ("NoPosition", 0)
