"""ccxt's own exceptions, raised by a stubbed exchange behind the real ccxt adapter, through the executor.

The adapter (``core.broker.exchanges.ExchangeBroker``) maps each ccxt exception to a
``BrokerError``; these tests check the executor then does the right thing with the order: retry,
look it up, record it, or pause the deployment, and that no order ever reaches the exchange twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import ccxt
import pytest

from core.broker.exchanges import ExchangeBroker
from core.broker.pool import BrokerPool
from core.broker.types import BrokerName
from core.deployment.executor import Intent, record_intent, send_order
from core.deployment.models import Deployment
from core.deployment.reconcile import reconcile
from core.trade.models import Order, Trade
from tests.core.deployment.kit import T0, load, make_credential, make_deployment, make_settings, make_user

BAR = T0 + timedelta(hours=3)


class StubExchange:
    """The slice of a ccxt Binance instance the adapter uses, with injectable failures."""

    precisionMode = ccxt.TICK_SIZE

    def __init__(self, create_errors: list[Any] | None = None, fetch_errors: list[Exception] | None = None) -> None:
        self.markets: dict[str, Any] = {"BTC/USDT": {}}
        self.has: dict[str, Any] = {}
        self.create_errors = list(create_errors or [])
        self.fetch_errors = list(fetch_errors or [])
        self.orders: dict[str, dict[str, Any]] = {}
        self.creates = 0

    def market(self, symbol: str) -> dict[str, Any]:
        return {"symbol": symbol, "base": "BTC", "quote": "USDT", "precision": {"amount": 0.0001},
                "limits": {"amount": {"min": 0.0001}, "cost": {"min": 5.0}}}  # fmt: skip

    async def create_order(self, symbol, type_, side, amount, price=None, params=None):
        self.creates += 1
        wire = params["newClientOrderId"]
        error = self.create_errors.pop(0) if self.create_errors else None
        if error is not None and not isinstance(error, tuple):
            raise error
        assert wire not in self.orders, "the same order reached the exchange twice"
        order = {"id": str(len(self.orders) + 1), "clientOrderId": wire, "status": "closed", "filled": amount,
                 "average": 100.0, "cost": amount * 100.0, "fee": {"cost": 0.01, "currency": "USDT"}}  # fmt: skip
        self.orders[wire] = order
        if error is not None:
            raise error[1]  # it went through; the answer is lost
        return order

    async def fetch_order(self, id_, symbol, params=None):
        if self.fetch_errors:
            raise self.fetch_errors.pop(0)
        wire = params["origClientOrderId"]
        if wire not in self.orders:
            raise ccxt.OrderNotFound('binance {"code":-2013,"msg":"Order does not exist."}')
        return self.orders[wire]

    async def fetch_balance(self) -> dict[str, Any]:
        return {"free": {"USDT": 1_000.0, "BTC": 0.0}}

    async def close(self) -> None:
        return None


async def _order(db, exchange: StubExchange):
    actor = await make_user(db)
    credential = await make_credential(db, actor.user_id, "Binance", "bin")
    dep = await make_deployment(db, actor.user_id, credential)
    intent = Intent(dep, actor.user_id, credential, "Binance", "BTC/USDT", "buy", 0.5, 100.0, BAR, "signal", "buy")
    order = await record_intent(db, intent)
    broker = ExchangeBroker(BrokerName.BINANCE, exchange)

    async def factory(_credential_id: int):
        return broker

    return order, broker, BrokerPool(db, make_settings(), factory), dep


@pytest.mark.parametrize(
    "error",
    [ccxt.RateLimitExceeded("binance 429"), ccxt.DDoSProtection("binance 418"), ccxt.OnMaintenance("binance")],
)
async def test_refusals_before_processing_are_retried(db, error):
    exchange = StubExchange(create_errors=[error])
    order, broker, _, _ = await _order(db, exchange)
    outcome = await send_order(db, make_settings(), broker, order)
    assert outcome.status == "Filled" and exchange.creates == 2 and len(exchange.orders) == 1


@pytest.mark.parametrize(
    "error",
    [ccxt.RequestTimeout("binance timed out"), ccxt.ExchangeNotAvailable("binance 503"), ccxt.NetworkError("reset")],
)
async def test_a_lost_answer_is_looked_up_not_resent(db, error):
    exchange = StubExchange(create_errors=[("after", error)])
    order, broker, _, _ = await _order(db, exchange)
    outcome = await send_order(db, make_settings(), broker, order)
    assert outcome.status == "Filled" and exchange.creates == 1  # found by client id at once
    assert [t.quantity for t in await load(db, Trade)] == [0.5]


async def test_a_timeout_that_never_arrived_stays_sent_then_fails_without_a_resend(db):
    exchange = StubExchange(create_errors=[ccxt.RequestTimeout("binance timed out")], fetch_errors=[ccxt.RequestTimeout("again")])
    order, broker, pool, _ = await _order(db, exchange)
    settings = make_settings(order_unknown_grace_s=30)
    outcome = await send_order(db, settings, broker, order)
    assert outcome.status == "Sent"
    assert await reconcile(db, settings, pool) == []  # not found yet, within the grace
    from core.db import utcnow

    [failed] = await reconcile(db, settings, pool, now=utcnow() + timedelta(seconds=31))
    assert failed.status == "Failed" and exchange.creates == 1 and exchange.orders == {}


@pytest.mark.parametrize(
    ("error", "status", "paused"),
    [
        (ccxt.InsufficientFunds('binance {"code":-2010,"msg":"Account has insufficient balance"}'), "Failed", False),
        (ccxt.InvalidOrder('binance {"code":-1013,"msg":"Filter failure: NOTIONAL"}'), "Rejected", False),
        (ccxt.BadSymbol("binance does not have market symbol"), "Rejected", False),
        (ccxt.AuthenticationError('binance {"code":-2015,"msg":"Invalid API-key, IP, or permissions"}'), "Failed", True),
        (ccxt.PermissionDenied("binance permission denied"), "Failed", True),
    ],
)
async def test_exchange_refusals_are_recorded_with_the_reason(db, error, status, paused):
    exchange = StubExchange(create_errors=[error])
    order, broker, _, _ = await _order(db, exchange)
    outcome = await send_order(db, make_settings(), broker, order)
    assert outcome.status == status and bool(outcome.paused) is paused and exchange.creates == 1
    [row] = await load(db, Order)
    assert row.status == status and row.error
    [deployment] = await load(db, Deployment)
    assert deployment.status == ("Paused" if paused else "NoPosition")
