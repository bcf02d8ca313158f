"""Reconciliation's edges (issue 16, ``make mutate``): which orders it looks at, what one refused key or one
unreachable exchange does to the others, and what it reports (the stored orders and the outcomes)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from structlog.testing import capture_logs

from core.broker.pool import BrokerPool
from core.broker.types import AuthFailed, BrokerName, Transient
from core.db import utcnow
from core.deployment.executor import Intent, record_intent
from core.deployment.models import Deployment
from core.deployment.reconcile import reconcile
from core.trade.models import Order, Trade
from tests.core.deployment.kit import (
    T0,
    FakeBroker,
    load,
    make_credential,
    make_deployment,
    make_settings,
    make_user,
)

BAR = T0 + timedelta(hours=5)


def _intent(actor, credential, dep, side="buy", bar=BAR, qty=0.1) -> Intent:
    return Intent(dep, actor.user_id, credential, "Binance", "BTC/USDT", side, qty, 100.0, bar, "signal", side)


def _pool(db, settings, brokers: dict[int, FakeBroker], built: list[int] | None = None) -> BrokerPool:
    async def factory(credential_id: int):
        if built is not None:
            built.append(credential_id)
        return brokers[credential_id]

    return BrokerPool(db, settings, factory)


async def _two_users(db):
    """Two users, each with a live key and a running deployment on it."""
    out = []
    for name in ("alice", "bob"):
        actor = await make_user(db, name)
        credential = await make_credential(db, actor.user_id, "Binance", "bin")
        dep = await make_deployment(db, actor.user_id, credential)
        out.append((actor, credential, dep))
    return out


def _live(**kwargs) -> FakeBroker:
    return FakeBroker(name=BrokerName.BINANCE, paper=False, **kwargs)


async def test_only_orders_left_alone_long_enough_are_looked_at(db):
    settings = make_settings(order_max_age_s=86_400 * 2)  # not too late to send
    (actor, credential, dep), _ = await _two_users(db)
    broker = _live()
    order = await record_intent(db, _intent(actor, credential, dep))  # Pending: a crash before sending
    pool = _pool(db, settings, {credential: broker})
    now = utcnow()
    assert await reconcile(db, settings, pool, now=now, min_age_s=3600) == []  # a tick may still be sending it
    assert broker.sent == []
    [row] = await load(db, Order)
    assert await reconcile(db, settings, pool, now=row.updated_at + timedelta(seconds=3599), min_age_s=3600) == []
    [outcome] = await reconcile(db, settings, pool, now=row.updated_at + timedelta(seconds=3600), min_age_s=3600)
    assert (outcome.order_id, outcome.status) == (order.id, "Filled") and broker.sent == [order.client_order_id]


async def _mark_sent(db, *orders) -> None:
    for order in orders:  # sent, the answer lost: each is looked up
        async with db.session() as session:
            await session.execute(update(Order).where(Order.id == order.id).values(status="Sent"))


async def test_a_refused_key_is_asked_once_per_pass_and_the_other_users_orders_still_settle(db):
    settings = make_settings()
    (alice, alice_key, alice_dep), (bob, bob_key, bob_dep) = await _two_users(db)
    second = await make_deployment(db, alice.user_id, alice_key, ticker="ETHUSDT", label="n")
    refusing = _live(fetch_errors=[AuthFailed("invalid API key")] * 5)
    fine = _live()
    first_order = await record_intent(db, _intent(alice, alice_key, alice_dep))
    second_order = await record_intent(db, _intent(alice, alice_key, second))
    await _mark_sent(db, first_order, second_order)
    bob_order = await record_intent(db, _intent(bob, bob_key, bob_dep))  # Pending: sent now
    built: list[int] = []
    pool = _pool(db, settings, {alice_key: refusing, bob_key: fine}, built)
    outcomes = await reconcile(db, settings, pool)
    # alice's key was refused on her first order: her deployments paused once, her second order not asked
    assert [(o.order_id, o.status, o.paused) for o in outcomes] == [
        (first_order.id, "Sent", (alice_dep, second)), (bob_order.id, "Filled", ())]
    assert "refused the API key" in outcomes[0].error
    assert len(refusing.fetch_errors) == 4  # one look-up only
    assert refusing.closed and built == [alice_key, bob_key] and not fine.closed  # the working key's broker is kept
    paused_rows = {d.id: d.status_reason for d in await load(db, Deployment)}
    assert paused_rows[alice_dep] == f"paused: {outcomes[0].error}"[:300]
    rows = {o.id: o.status for o in await load(db, Order)}
    assert rows == {first_order.id: "Sent", second_order.id: "Sent", bob_order.id: "Filled"}  # settled once the key works
    statuses = {d.id: d.status for d in await load(db, Deployment)}
    assert statuses[alice_dep] == statuses[second] == "Paused" and statuses[bob_dep] == "OpenPosition"
    # the next pass asks the key again (built anew: the refused one was dropped)
    await reconcile(db, settings, pool)
    assert len(refusing.fetch_errors) == 3 and built == [alice_key, bob_key, alice_key]


async def test_a_refused_key_with_nothing_running_reports_nothing_and_leaves_the_order(db):
    settings = make_settings()
    (alice, alice_key, alice_dep), _ = await _two_users(db)
    order = await record_intent(db, _intent(alice, alice_key, alice_dep))
    await _mark_sent(db, order)
    async with db.session() as session:
        await session.execute(update(Deployment).where(Deployment.id == alice_dep).values(status="Paused"))
    refusing = _live(fetch_errors=[AuthFailed("invalid API key")])
    assert await reconcile(db, settings, _pool(db, settings, {alice_key: refusing})) == []
    assert [o.status for o in await load(db, Order)] == ["Sent"]


async def test_an_exchange_that_cannot_answer_leaves_its_order_for_the_next_pass_and_the_rest_settle(db):
    settings = make_settings(order_max_age_s=86_400 * 2)
    (alice, alice_key, alice_dep), (bob, bob_key, bob_dep) = await _two_users(db)
    down = _live(fetch_errors=[Transient("exchange down")])
    alice_order = await record_intent(db, _intent(alice, alice_key, alice_dep))
    await _mark_sent(db, alice_order)
    bob_order = await record_intent(db, _intent(bob, bob_key, bob_dep))
    pool = _pool(db, settings, {alice_key: down, bob_key: _live()})
    with capture_logs() as logs:
        [outcome] = await reconcile(db, settings, pool, now=utcnow() + timedelta(days=1))
    assert (outcome.order_id, outcome.status) == (bob_order.id, "Filled")
    [entry] = [e for e in logs if e["event"] == "reconcile_lookup_failed"]
    assert (entry["log_level"], entry["order"], entry["error"]) == ("warning", alice_order.id, "exchange down")
    rows = {o.id: o.status for o in await load(db, Order)}
    assert rows[alice_order.id] == "Sent"  # not given up while the exchange could not be asked
    assert not down.closed


async def test_an_order_the_exchange_still_has_open_is_not_reported_again(db):
    settings = make_settings()
    (alice, alice_key, alice_dep), _ = await _two_users(db)
    broker = _live(answers=["open"])
    order = await record_intent(db, _intent(alice, alice_key, alice_dep))
    pool = _pool(db, settings, {alice_key: broker})
    [first] = await reconcile(db, settings, pool)  # sent now: still open at the exchange
    assert (first.order_id, first.status) == (order.id, "Open")
    assert await reconcile(db, settings, pool) == []  # found, still open: nothing new to say
    broker.exchange[order.client_order_id] = broker.exchange[order.client_order_id].__class__(
        order.client_order_id, "x1", "closed", 0.1, 100.0, 0.01, "USDT")  # it filled meanwhile
    [filled] = await reconcile(db, settings, pool)
    assert (filled.order_id, filled.status, filled.quantity) == (order.id, "Filled", 0.1)
    assert len(await load(db, Trade)) == 1


async def test_orders_without_a_key_are_skipped(db):
    settings = make_settings()
    (alice, alice_key, alice_dep), _ = await _two_users(db)
    order = await record_intent(db, _intent(alice, alice_key, alice_dep))
    async with db.session() as session:
        await session.execute(update(Order).where(Order.id == order.id).values(credential_id=None))
    built: list[int] = []
    assert await reconcile(db, settings, _pool(db, settings, {}, built)) == []
    assert built == [] and [o.status for o in await load(db, Order)] == ["Pending"]


async def test_a_pending_order_is_sent_up_to_its_age_limit_and_given_up_after(db):
    settings = make_settings(order_max_age_s=300)
    (alice, alice_key, alice_dep), (bob, bob_key, bob_dep) = await _two_users(db)
    young = await record_intent(db, _intent(alice, alice_key, alice_dep))
    old = await record_intent(db, _intent(bob, bob_key, bob_dep))
    async with db.session() as session:
        await session.execute(update(Order).where(Order.id == old.id).values(created_at=young.created_at - timedelta(seconds=1)))
    brokers = {alice_key: _live(), bob_key: _live()}
    outcomes = await reconcile(db, settings, _pool(db, settings, brokers), now=young.created_at + timedelta(seconds=300))
    assert [(o.order_id, o.status) for o in outcomes] == [(young.id, "Filled"), (old.id, "Failed")]
    assert outcomes[1].error == "not sent in time (the exchange was unreachable); no order placed"
    rows = {o.id: (o.status, o.error) for o in await load(db, Order)}
    assert rows[old.id] == ("Failed", "not sent in time (the exchange was unreachable); no order placed")
    assert brokers[bob_key].sent == []


async def test_a_sent_order_unknown_to_the_exchange_waits_out_the_grace_exactly(db):
    settings = make_settings(order_unknown_grace_s=60)
    (alice, alice_key, alice_dep), _ = await _two_users(db)
    order = await record_intent(db, _intent(alice, alice_key, alice_dep))
    await _mark_sent(db, order)
    [row] = await load(db, Order)
    pool = _pool(db, settings, {alice_key: _live()})
    assert await reconcile(db, settings, pool, now=row.updated_at + timedelta(seconds=60)) == []
    with capture_logs() as logs:
        [failed] = await reconcile(db, settings, pool, now=row.updated_at + timedelta(seconds=61))
    [entry] = [e for e in logs if e["event"] == "order_given_up"]
    assert (entry["log_level"], entry["order"], entry["why"]) == ("warning", order.id, failed.error)
    assert (failed.status, failed.error) == ("Failed", "the exchange has no record of this order; nothing was traded")
    [row] = await load(db, Order)
    assert (row.status, row.error) == ("Failed", "the exchange has no record of this order; nothing was traded")


async def test_a_pending_order_another_replica_sends_meanwhile_is_not_reported_here(db):
    """Between this pass's look-up (not found: never sent) and its send, another replica flips the order
    to Sent: this pass sends nothing and reports nothing (the other one reports the fill)."""
    settings = make_settings()
    (alice, alice_key, alice_dep), _ = await _two_users(db)
    order = await record_intent(db, _intent(alice, alice_key, alice_dep))

    class Racing(FakeBroker):
        async def fetch_order(self, client_order_id, symbol):
            await _mark_sent(db, order)  # the other replica won the Pending -> Sent flip
            return None

    broker = Racing(name=BrokerName.BINANCE, paper=False)
    assert await reconcile(db, settings, _pool(db, settings, {alice_key: broker})) == []
    assert broker.sent == []
    [row] = await load(db, Order)
    assert row.status == "Sent"


async def test_a_key_refused_while_sending_skips_its_other_orders_in_that_pass(db):
    settings = make_settings()
    (alice, alice_key, alice_dep), _ = await _two_users(db)
    second = await make_deployment(db, alice.user_id, alice_key, ticker="ETHUSDT", label="n")
    first_order = await record_intent(db, _intent(alice, alice_key, alice_dep))
    second_order = await record_intent(db, _intent(alice, alice_key, second))
    broker = _live(create_errors=[AuthFailed("invalid API key")])
    [outcome] = await reconcile(db, settings, _pool(db, settings, {alice_key: broker}))
    assert (outcome.order_id, outcome.status, outcome.paused) == (first_order.id, "Failed", (alice_dep, second))
    assert broker.sent == [] and broker.closed
    rows = {o.id: o.status for o in await load(db, Order)}
    assert rows == {first_order.id: "Failed", second_order.id: "Pending"}  # not sent through a refused key


async def _resting_stop(db, actor, credential, dep, bar=BAR):
    """A stop resting on the exchange for the deployment's position (as an entry leaves one)."""
    order = await record_intent(db, _intent(actor, credential, dep, "sell", bar=bar))
    async with db.session() as session:
        await session.execute(update(Order).where(Order.id == order.id).values(status="Resting", reason="exchange-stop"))
    return order


async def test_resting_stops_each_settle_and_one_exchange_down_is_logged_not_fatal(db):
    from core.broker.types import OrderResult

    settings = make_settings()
    (alice, alice_key, alice_dep), (bob, bob_key, bob_dep) = await _two_users(db)
    keyless = await _resting_stop(db, bob, bob_key, bob_dep)  # first: skipped, and the others still looked at
    alice_stop = await _resting_stop(db, alice, alice_key, alice_dep)
    bob_stop = await _resting_stop(db, bob, bob_key, bob_dep, bar=BAR + timedelta(hours=1))
    async with db.session() as session:
        await session.execute(update(Order).where(Order.id == keyless.id).values(credential_id=None))
    down = _live(fetch_errors=[Transient("exchange down")])
    filled = _live()
    filled.exchange[bob_stop.client_order_id] = OrderResult(bob_stop.client_order_id, "s1", "closed", 0.1, 95.0, 0.0095, "USDT")
    built: list[int] = []
    with capture_logs() as logs:
        outcomes = await reconcile(db, settings, _pool(db, settings, {alice_key: down, bob_key: filled}, built))
    assert [(o.order_id, o.status) for o in outcomes] == [(bob_stop.id, "Filled")]
    [entry] = [e for e in logs if e["event"] == "reconcile_stop_lookup_failed"]
    assert (entry["log_level"], entry["order"], entry["error"]) == ("warning", alice_stop.id, "exchange down")
    rows = {o.id: o.status for o in await load(db, Order)}
    assert rows == {alice_stop.id: "Resting", bob_stop.id: "Filled", keyless.id: "Resting"}
    assert sorted(built) == sorted([alice_key, bob_key])


async def test_a_stop_on_a_key_refused_in_this_pass_is_not_looked_at(db):
    settings = make_settings()
    (alice, alice_key, alice_dep), _ = await _two_users(db)
    second = await make_deployment(db, alice.user_id, alice_key, ticker="ETHUSDT", label="n")
    order = await record_intent(db, _intent(alice, alice_key, alice_dep))
    await _mark_sent(db, order)
    await _resting_stop(db, alice, alice_key, second)
    refusing = _live(fetch_errors=[AuthFailed("invalid API key")] * 3)
    await reconcile(db, settings, _pool(db, settings, {alice_key: refusing}))
    assert len(refusing.fetch_errors) == 2  # the order's look-up only; the stop waits for the next pass
