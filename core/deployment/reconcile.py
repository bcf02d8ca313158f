"""Restart reconciliation: settle every order intent whose outcome is not final.

Each ``Pending``, ``Sent`` or ``Open`` order is looked up at its broker by client order id:

- found: adopt the broker's result (fill, trade and position recorded once, see the executor);
- not found and ``Pending``: it never left (the status flips to ``Sent`` before any send), so
  send it now, unless it is older than ``order_max_age_s``: a market order sent late would
  trade at a price the signal never saw, so it is marked ``Failed`` instead;
- not found and ``Sent``/``Open``: the exchange has no record; after ``order_unknown_grace_s``
  (exchanges index new orders with a delay) it is marked ``Failed``. It is never sent again.

Runs at start-up and every ``reconcile_every_s``; several replicas may run it at once, because
every transition is a compare-and-set on the order's status.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from core.broker.pool import BrokerPool
from core.broker.types import AuthFailed, Broker, BrokerError
from core.config import Settings
from core.db import Database, utcnow
from core.deployment.executor import (
    UNRESOLVED,
    Outcome,
    _move,
    _outcome,
    apply_result,
    pause_credential,
    send_order,
    why,
)
from core.deployment.stops import RESTING, settle_resting
from core.logging import get_logger
from core.trade.models import Order, OrderStatus

log = get_logger(__name__)


async def reconcile(
    db: Database,
    settings: Settings,
    brokers: BrokerPool,
    *,
    now: datetime | None = None,
    min_age_s: float = 0.0,
) -> list[Outcome]:
    """Settle unresolved orders last touched at least ``min_age_s`` ago; what happened to each."""
    now = now or utcnow()
    async with db.session() as session:
        orders = list(
            await session.scalars(
                select(Order)
                .where(Order.status.in_(UNRESOLVED), Order.updated_at <= now - timedelta(seconds=min_age_s))
                .order_by(Order.id)
            )
        )
    outcomes: list[Outcome] = []
    refused: set[int] = set()  # credentials whose key was refused in this pass
    for order in orders:
        if order.credential_id is None or order.credential_id in refused:
            continue
        try:
            outcome = await _settle(db, settings, await brokers.get(order.credential_id), order, now)
        except AuthFailed as exc:  # the order stays unresolved: it is settled once the key works again
            refused.add(order.credential_id)
            await brokers.forget(order.credential_id)
            paused = await pause_credential(db, order.credential_id, why(exc))
            outcome = _outcome(order, order.status, error=why(exc), paused=paused) if paused else None
        except BrokerError as exc:  # exchange down: try again next pass
            log.warning("reconcile_lookup_failed", order=order.id, error=str(exc))
            continue
        if outcome is not None and outcome.paused and order.credential_id not in refused:
            refused.add(order.credential_id)  # sending a Pending order found the key refused
            await brokers.forget(order.credential_id)
        if outcome is not None:
            outcomes.append(outcome)
    outcomes += await _resting(db, brokers, refused)
    return outcomes


async def _resting(db: Database, brokers: BrokerPool, refused: set[int]) -> list[Outcome]:
    """Stops resting on exchanges: each one that filled (or was dropped) since the last pass."""
    async with db.session() as session:
        stops = list(await session.scalars(select(Order).where(Order.status == RESTING).order_by(Order.id)))
    outcomes: list[Outcome] = []
    for stop in stops:
        if stop.credential_id is None or stop.credential_id in refused:
            continue
        try:
            outcome = await settle_resting(db, await brokers.get(stop.credential_id), stop)
        except BrokerError as exc:  # AuthFailed included: the stop still rests; looked at again next pass
            log.warning("reconcile_stop_lookup_failed", order=stop.id, error=str(exc))
            continue
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


async def _settle(db: Database, settings: Settings, broker: Broker, order: Order, now: datetime) -> Outcome | None:
    found = await broker.fetch_order(order.client_order_id, order.symbol)
    if found is not None:
        outcome = await apply_result(db, order.id, found, from_=(order.status,))
        return outcome if outcome.applied and outcome.status != order.status else None
    if order.status == OrderStatus.PENDING:
        if now - order.created_at > timedelta(seconds=settings.order_max_age_s):
            reason = "not sent in time (the exchange was unreachable); no order placed"
            return await _give_up(db, order, OrderStatus.PENDING, reason)
        outcome = await send_order(db, settings, broker, order)
        return outcome if outcome.applied else None
    if now - order.updated_at > timedelta(seconds=settings.order_unknown_grace_s):
        return await _give_up(db, order, order.status, "the exchange has no record of this order; nothing was traded")
    return None


async def _give_up(db: Database, order: Order, from_: OrderStatus, why: str) -> Outcome | None:
    if not await _move(db, order.id, (from_,), OrderStatus.FAILED, error=why):
        return None
    log.warning("order_given_up", order=order.id, why=why)
    return _outcome(order, OrderStatus.FAILED, error=why)
