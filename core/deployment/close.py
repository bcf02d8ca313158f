"""Close a deployment's position now (``/close``): one market exit, exactly once.

The exit goes through the executor like any order (recorded with a deterministic client id before
it is sent, then applied with a compare-and-set), and is recorded only while the deployment holds
something and no other order of it is unresolved: the recording transaction updates the
deployment's row first, so a tick placing the deployment's own exit at the same moment and a
second press of the button wait on that row and then see the order already there.

A paper exit fills at the latest price the feed shows (the forming candle's last trade), with the
market's fee; a live one is a market order at the exchange. Afterwards the deployment goes on
(flat, it may enter again on its next buy signal) or stops, as the user chose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from core.actor import Actor
from core.broker.service import open_broker
from core.broker.types import AuthFailed, BrokerError, OrderRejected, Side
from core.config import Settings
from core.db import Database, rowcount, utcnow
from core.deployment.executor import UNRESOLVED, Outcome, client_order_id, send_order, why
from core.deployment.models import Deployment
from core.deployment.service import DeploymentView, broker_symbol, get_deployment
from core.deployment.sizing import size_sell
from core.deployment.status import ENDED, Status
from core.deployment.stops import lift_stop
from core.errors import Conflict, Invalid, NotFound
from core.market.types import Source
from core.services import Services
from core.trade.models import Order, OrderStatus


@dataclass(frozen=True, slots=True)
class Closed:
    """What ``/close`` did for one deployment."""

    deployment: DeploymentView  # as it is afterwards
    outcome: Outcome
    stopped: bool


async def close_position(services: Services, actor: Actor, deployment_id: int, *, stop: bool) -> Closed:
    """Sell what the deployment holds at market now; then stop it when ``stop``."""
    db, settings, market = services.db, services.settings, services.market
    view = await get_deployment(services, actor, deployment_id)
    if view.position_qty <= 0:
        raise Invalid(f"deployment #{view.id} holds nothing to close", hint="see /positions")
    try:
        source = Source(view.market)
    except ValueError:
        source = Source.UNKNOWN
    candles = await market.candles(view.ticker, view.interval, source=source)
    price = candles.last_close  # the latest trade the feed shows
    symbol = broker_symbol(candles.instrument)
    try:
        async with open_broker(db, settings, view.credential_id) as broker:
            rules = await broker.market_rules(symbol)
            # a stop resting on the exchange is lifted first; if it sold already, that was the exit
            outcome = await lift_stop(db, broker, view.id)
            if outcome is None:
                balance = await broker.fetch_balance()
                sized = size_sell(view.position_qty, balance.get(rules.base), price, rules)
                if sized.refusal:
                    raise Invalid(f"#{view.id} cannot be closed: {sized.refusal}")
                order = await _record_exit(db, settings, actor.user_id, view, symbol, broker.name.value,
                                           sized.quantity, price)  # fmt: skip
                outcome = await send_order(db, settings, broker, order)
    except (AuthFailed, OrderRejected) as exc:
        raise Invalid(f"#{view.id} cannot be closed: {why(exc)}") from None
    except BrokerError as exc:
        raise Invalid(f"#{view.id} cannot be closed now: {why(exc)}") from None
    if stop:
        await _stop(db, view.id)
    return Closed(await get_deployment(services, actor, view.id), outcome, stop)


async def holding(services: Services, actor: Actor) -> list[int]:
    """The actor's deployments holding a position, oldest first (``/close all``)."""
    async with services.db.session() as session:
        rows = await session.scalars(
            select(Deployment.id)
            .where(Deployment.user_id == actor.user_id, Deployment.position_qty > 0)
            .order_by(Deployment.id)
        )
        return list(rows)


async def _record_exit(
    db: Database, settings: Settings, user_id: int, view: DeploymentView, symbol: str, broker: str, quantity: float,
    price: float,
) -> Order:
    now = utcnow()
    at = now.replace(microsecond=0)
    async with db.session() as session:
        # the row lock (PostgreSQL) or the write lock (SQLite) orders this against the tick and a second press
        held = await session.execute(
            update(Deployment)
            .where(Deployment.id == view.id, Deployment.position_qty > 0)
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if rowcount(held) != 1:
            raise Conflict(f"deployment #{view.id} no longer holds anything")
        busy = await session.scalar(
            select(func.count()).select_from(Order).where(Order.deployment_id == view.id, Order.status.in_(UNRESOLVED))
        )
        if busy:
            raise Conflict(f"an order of #{view.id} is still being settled: try again in a minute")
        order = Order(
            user_id=user_id,
            deployment_id=view.id,
            credential_id=view.credential_id,
            broker=broker,
            client_order_id=_close_id(view.id, at, settings.order_id_prefix),
            symbol=symbol,
            side=Side.SELL,
            quantity=quantity,
            reference_price=price,
            bar_at=at,
            reason="manual",
            status=OrderStatus.PENDING,
            created_at=now,
            updated_at=now,
        )
        session.add(order)
        await session.flush()
        return order


def _close_id(deployment_id: int, at: datetime, prefix: str) -> str:
    """``...c``: a manual close, never equal to a signal's ``b``/``s`` id for the same second."""
    return client_order_id(deployment_id, at, "close", prefix)


async def _stop(db: Database, deployment_id: int) -> None:
    async with db.session() as session:
        row = await session.get(Deployment, deployment_id)
        if row is None:
            raise NotFound(f"deployment #{deployment_id} is gone")
        if row.status not in ENDED:
            row.status = Status.CANCELED
            row.status_reason = "stopped by you after closing its position"
            row.updated_at = utcnow()


__all__ = ["Closed", "close_position", "holding"]
