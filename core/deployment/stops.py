"""Stops that rest on the exchange: a live position stays protected while the bot is down.

Where the broker can (``Broker.rests_stops``: Binance spot), a filled entry is followed by a
STOP_LOSS sell order for the whole position at the script's ``stop_loss`` below the entry price,
with its own deterministic client id (``...p``). It goes through the executor's lifecycle
(``Pending`` -> ``Sent`` -> ``Resting``) and then waits at the exchange; nothing in the bot
watches it except reconciliation, which adopts its fill (the trade and the flat position,
once) whenever the exchange reports it, even hours after a crash.

Before the bot sells the position any other way (a sell signal, a target, ``/close``) it lifts
the stop (``lift_stop``): a stop that filled first is adopted and the other sell is not placed;
otherwise it is cancelled, which also frees the coins the exchange held for it. Where no stop can
rest, or placing one failed, the tick checks the stop at every candle instead.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from core.broker.types import (
    Broker,
    BrokerError,
    BrokerOrderStatus,
    MarketRules,
    OrderRequest,
    OutcomeUnknown,
    Side,
)
from core.config import Settings
from core.db import Database, utcnow
from core.deployment.executor import Outcome, _move, _outcome, apply_result, client_order_id, why
from core.deployment.models import Deployment
from core.deployment.sizing import round_down
from core.logging import get_logger
from core.trade.models import Order, OrderStatus

log = get_logger(__name__)

RESTING = OrderStatus.RESTING  # the name this module's callers import
EXCHANGE_STOP = "exchange-stop"  # orders.reason


async def resting_stop(db: Database, deployment_id: int) -> Order | None:
    """The deployment's stop resting on the exchange, if any."""
    async with db.session() as session:
        return await session.scalar(
            select(Order).where(Order.deployment_id == deployment_id, Order.status == RESTING).limit(1)
        )


async def resting_deployments(db: Database, deployment_ids: list[int]) -> set[int]:
    """Which of these deployments have a stop resting on the exchange (the tick leaves those stops to it)."""
    if not deployment_ids:
        return set()
    async with db.session() as session:
        rows = await session.scalars(
            select(Order.deployment_id).where(Order.status == RESTING, Order.deployment_id.in_(deployment_ids))
        )
        return {i for i in rows if i is not None}


async def rest_stop(
    db: Database, settings: Settings, broker: Broker, rules: MarketRules, deployment_id: int, stop_loss: float,
    bar_at: datetime,
) -> Outcome | None:
    """Place the position's stop on the exchange after its entry filled; None when it cannot rest there
    (the tick then checks it at each candle). A failure is noted on the deployment, never raised."""
    if not broker.rests_stops:
        return None
    async with db.session() as session:
        row = await session.get(Deployment, deployment_id)
        if row is None or row.position_qty <= 0 or not row.entry_price:
            return None
        now = utcnow()
        order = Order(
            user_id=row.user_id, deployment_id=row.id, credential_id=row.credential_id,
            broker=broker.name.value, client_order_id=client_order_id(row.id, bar_at, "protect",
                                                                        settings.order_id_prefix),
            symbol=rules.symbol, side=Side.SELL, quantity=round_down(row.position_qty, rules),
            reference_price=row.entry_price * (1 - stop_loss), bar_at=bar_at, reason=EXCHANGE_STOP,
            status=OrderStatus.SENT, attempts=1, created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(order)
        await session.flush()
    request = OrderRequest(order.client_order_id, order.symbol, Side.SELL, order.quantity, order.reference_price or 0.0)
    try:
        result = await broker.place_stop(request)
    except OutcomeUnknown as exc:  # reconciliation finds it by client id and adopts it as Resting
        log.warning("stop_outcome_unknown", order=order.id, error=str(exc))
        return _outcome(order, OrderStatus.SENT, error=str(exc))
    except BrokerError as exc:
        await _move(db, order.id, (OrderStatus.SENT,), OrderStatus.FAILED, error=why(exc)[:500])
        await _note(db, deployment_id, f"the stop is checked by the bot at each candle: {why(exc)}")
        log.warning("stop_not_rested", order=order.id, error=str(exc))
        return _outcome(order, OrderStatus.FAILED, error=why(exc))
    return await apply_result(db, order.id, result, from_=(OrderStatus.SENT,), open_as=RESTING)


async def lift_stop(db: Database, broker: Broker, deployment_id: int) -> Outcome | None:
    """Before another sell: cancel the deployment's resting stop; the stop's fill when it filled
    first (the position is then closed already), else None. Raises ``BrokerError`` when the exchange
    cannot be asked (the other sell waits: its coins may still be held for the stop)."""
    stop = await resting_stop(db, deployment_id)
    if stop is None:
        return None
    found = await broker.cancel_order(stop.client_order_id, stop.symbol)
    if found is None or found.status in (BrokerOrderStatus.CANCELED, BrokerOrderStatus.REJECTED):
        await _move(db, stop.id, (RESTING,), OrderStatus.CANCELED, error="lifted before another sell")
        return None
    outcome = await apply_result(db, stop.id, found, from_=(RESTING,), open_as=RESTING)
    if outcome.status == RESTING:
        raise BrokerError("the exchange did not cancel the resting stop yet; the sell waits for it")
    return outcome if outcome.status == OrderStatus.FILLED else None


async def settle_resting(db: Database, broker: Broker, order: Order) -> Outcome | None:
    """Reconciliation's look at a resting stop: adopt its fill, or note that the exchange dropped it."""
    found = await broker.fetch_order(order.client_order_id, order.symbol)
    if found is None or found.status == BrokerOrderStatus.OPEN:
        return None
    outcome = await apply_result(db, order.id, found, from_=(RESTING,), open_as=RESTING)
    return outcome if outcome.applied and outcome.status != RESTING else None


async def _note(db: Database, deployment_id: int, reason: str) -> None:
    async with db.session() as session:
        await session.execute(
            update(Deployment)
            .where(Deployment.id == deployment_id)
            .values(status_reason=reason[:300])
            .execution_options(synchronize_session=False)
        )
