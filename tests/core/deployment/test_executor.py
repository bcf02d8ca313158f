"""The order lifecycle under faults: nothing lost, nothing sent twice, the user told why.

Every test runs on SQLite and PostgreSQL (the ``db`` fixture). Failures are injected with our
``BrokerError`` classes at each step (here) and with ccxt's own exceptions through the ccxt
adapter (``test_ccxt_faults.py``).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.broker.pool import BrokerPool
from core.broker.types import AuthFailed, InsufficientFunds, OrderRejected, OutcomeUnknown, Transient
from core.db import utcnow
from core.deployment.executor import Intent, record_intent, send_order
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


async def _setup(db, **deployment):
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id)
    dep = await make_deployment(db, actor.user_id, credential, **deployment)
    return actor, credential, dep


def _intent(actor, credential, dep, side="buy", qty=0.1, price=100.0, bar=BAR) -> Intent:
    return Intent(dep, actor.user_id, credential, "Paper", "BTC/USDT", side, qty, price, bar, "signal", side)


def _pool(db, settings, broker):
    async def factory(_credential_id: int):
        return broker

    return BrokerPool(db, settings, factory)


async def test_a_bar_is_claimed_once_and_the_order_filled_with_its_trade(db):
    settings = make_settings()
    actor, credential, dep = await _setup(db)
    broker = FakeBroker()
    order = await record_intent(db, _intent(actor, credential, dep))
    assert order is not None and order.status == "Pending" and order.client_order_id.isalnum()
    assert await record_intent(db, _intent(actor, credential, dep)) is None  # the bar is taken
    outcome = await send_order(db, settings, broker, order)
    assert outcome.status == "Filled" and outcome.fee == pytest.approx(0.01)
    [row] = await load(db, Order)
    assert (row.status, row.attempts, row.filled_qty, row.exchange_order_id) == ("Filled", 1, 0.1, "x1")
    [trade] = await load(db, Trade)
    assert (trade.side, trade.quantity, trade.price, trade.pnl, trade.quote_currency) == ("buy", 0.1, 100.0, None, "USDT")
    [deployment] = await load(db, Deployment)
    assert (deployment.status, deployment.position_qty, deployment.entry_price) == ("OpenPosition", 0.1, 100.0)
    assert deployment.last_bar_at == BAR

    sell = await record_intent(db, _intent(actor, credential, dep, "sell", 0.1, 110.0, BAR + timedelta(hours=1)))
    outcome = await send_order(db, settings, broker, sell)
    # P&L net of both legs' fees: (110 - 100) * 0.1 - 0.011 - 0.01
    assert outcome.pnl == pytest.approx(1.0 - 0.011 - 0.01)
    [deployment] = await load(db, Deployment)
    assert (deployment.status, deployment.position_qty, deployment.entry_price) == ("NoPosition", 0.0, None)
    assert broker.sent == [order.client_order_id, sell.client_order_id]


async def test_transient_failures_are_retried_then_left_pending_for_reconciliation(db):
    settings = make_settings(order_retries=3)
    actor, credential, dep = await _setup(db)
    broker = FakeBroker(create_errors=[Transient("rate limited"), Transient("timeout before sending")])
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    order = await record_intent(db, _intent(actor, credential, dep))
    outcome = await send_order(db, settings, broker, order, sleep=sleep)
    assert outcome.status == "Filled" and len(sleeps) == 2
    [row] = await load(db, Order)
    assert row.attempts == 3 and broker.sent == [row.client_order_id]

    # all attempts fail: the order stays Pending (it never left), reconciliation sends it once
    actor2 = await make_user(db, "bob")
    cred2 = await make_credential(db, actor2.user_id)
    dep2 = await make_deployment(db, actor2.user_id, cred2)
    broker2 = FakeBroker(create_errors=[Transient("down")] * 3)
    order2 = await record_intent(db, _intent(actor2, cred2, dep2))
    outcome2 = await send_order(db, settings, broker2, order2, sleep=sleep)
    assert outcome2.status == "Pending" and not outcome2.final and broker2.sent == []
    outcomes = await reconcile(db, settings, _pool(db, settings, broker2))
    assert [o.status for o in outcomes] == ["Filled"] and broker2.sent == [order2.client_order_id]
    assert await reconcile(db, settings, _pool(db, settings, broker2)) == []  # nothing left, nothing resent


async def test_a_kill_between_recording_and_sending_is_sent_exactly_once_on_restart(db):
    settings = make_settings()
    actor, credential, dep = await _setup(db)
    broker = FakeBroker()
    order = await record_intent(db, _intent(actor, credential, dep))  # committed Pending, then the process dies
    assert broker.sent == []
    pool = _pool(db, settings, broker)
    # two replicas restart and reconcile at once: one sends, the other finds it moved on
    import asyncio

    first, second = await asyncio.gather(reconcile(db, settings, pool), reconcile(db, settings, pool))
    assert broker.sent == [order.client_order_id]
    assert len(await load(db, Trade)) == 1
    assert sorted(o.status for o in first + second) == ["Filled"]


async def test_an_unknown_outcome_is_looked_up_and_adopted_never_resent(db):
    settings = make_settings()
    actor, credential, dep = await _setup(db)
    # the order reached the exchange, the answer was lost; the first look-up fails too
    broker = FakeBroker(create_errors=[("after", OutcomeUnknown("timed out"))], fetch_errors=[Transient("down")])
    order = await record_intent(db, _intent(actor, credential, dep))
    outcome = await send_order(db, settings, broker, order)
    assert outcome.status == "Sent" and "outcome unknown" in outcome.error
    [row] = await load(db, Order)
    assert row.status == "Sent"
    outcomes = await reconcile(db, settings, _pool(db, settings, broker))
    assert [o.status for o in outcomes] == ["Filled"] and broker.sent == [order.client_order_id]
    assert len(await load(db, Trade)) == 1


async def test_sent_and_not_found_fails_after_the_grace_and_old_pending_orders_are_not_sent_late(db):
    settings = make_settings(order_unknown_grace_s=60, order_max_age_s=300)
    actor, credential, dep = await _setup(db)
    broker = FakeBroker(create_errors=[OutcomeUnknown("timed out")])  # it never arrived
    order = await record_intent(db, _intent(actor, credential, dep))
    await send_order(db, settings, broker, order)
    pool = _pool(db, settings, broker)
    assert await reconcile(db, settings, pool) == []  # within the grace: left alone
    later = utcnow() + timedelta(seconds=61)
    [failed] = await reconcile(db, settings, pool, now=later)
    assert failed.status == "Failed" and "no record" in failed.error and broker.sent == []

    order2 = await record_intent(db, _intent(actor, credential, dep, bar=BAR + timedelta(hours=1)))
    [stale] = await reconcile(db, settings, pool, now=utcnow() + timedelta(seconds=301))
    assert stale.order_id == order2.id and stale.status == "Failed" and broker.sent == []


@pytest.mark.parametrize(
    ("error", "status", "words"),
    [
        (InsufficientFunds("not enough USDT"), "Failed", "insufficient funds"),
        (OrderRejected("below the minimum notional"), "Rejected", "rejected by the exchange"),
    ],
)
async def test_refusals_are_recorded_and_the_deployment_keeps_running(db, error, status, words):
    settings = make_settings()
    actor, credential, dep = await _setup(db)
    broker = FakeBroker(create_errors=[error])
    order = await record_intent(db, _intent(actor, credential, dep))
    outcome = await send_order(db, settings, broker, order)
    assert outcome.status == status and words in outcome.error and not outcome.paused
    [row] = await load(db, Order)
    assert row.status == status and words in row.error
    [deployment] = await load(db, Deployment)
    assert deployment.status == "NoPosition" and words in deployment.status_reason
    assert await load(db, Trade) == []


async def test_a_refused_key_pauses_every_running_deployment_on_the_credential(db):
    settings = make_settings()
    actor, credential, dep = await _setup(db)
    other = await make_deployment(db, actor.user_id, credential, ticker="ETHUSDT")
    stopped = await make_deployment(db, actor.user_id, credential, ticker="BNBUSDT", status="TaskCanceled")
    broker = FakeBroker(create_errors=[AuthFailed("invalid API key")])
    order = await record_intent(db, _intent(actor, credential, dep))
    outcome = await send_order(db, settings, broker, order)
    assert outcome.status == "Failed" and outcome.paused == (dep, other)
    rows = {d.id: d for d in await load(db, Deployment)}
    assert rows[dep].status == rows[other].status == "Paused"
    assert "refused the API key" in rows[dep].status_reason and rows[stopped].status == "TaskCanceled"


async def test_an_unexpected_crash_while_sending_is_treated_as_an_unknown_outcome(db):
    settings = make_settings()
    actor, credential, dep = await _setup(db)
    broker = FakeBroker(create_errors=[("after", RuntimeError("bug in a library"))])
    order = await record_intent(db, _intent(actor, credential, dep))
    outcome = await send_order(db, settings, broker, order)
    assert outcome.status == "Filled"  # looked up at once and found
    assert broker.sent == [order.client_order_id] and len(await load(db, Trade)) == 1


async def test_reconciliation_forgets_a_broker_whose_key_was_refused(db):
    settings = make_settings()
    actor, credential, dep = await _setup(db)
    broker = FakeBroker(create_errors=[AuthFailed("invalid API key")])
    await record_intent(db, _intent(actor, credential, dep))  # left Pending by a crash
    built: list[int] = []

    async def factory(credential_id: int):
        built.append(credential_id)
        return broker

    pool = BrokerPool(db, settings, factory)
    [outcome] = await reconcile(db, settings, pool)
    assert outcome.paused == (dep,)
    assert broker.closed  # the pool dropped it: a reconnected key is built anew
    await pool.get(credential)
    assert built == [credential, credential]
