"""Hand-made deployments, orders and fills for the trade and dashboard tests (no broker involved)."""

from __future__ import annotations

import itertools
from datetime import datetime

from sqlalchemy import select

from core.broker.models import Credential
from core.db import Database
from core.deployment.models import Deployment
from core.trade.models import Order, Trade

_order_ids = itertools.count(1)


async def paper_credential(db: Database, user_id: int) -> int:
    async with db.session() as session:
        found = await session.scalar(
            select(Credential.id).where(Credential.user_id == user_id, Credential.label_key == "paper")
        )
        if found is not None:
            return found
        credential = Credential(user_id=user_id, broker="Paper", label="Paper", label_key="paper")
        session.add(credential)
        await session.flush()
        return credential.id


async def add_deployment(
    db: Database,
    user_id: int,
    label: str,
    *,
    ticker: str = "BBCA",
    market: str = "YFinance",
    interval: str = "1d",
    status: str = "NoPosition",
    position_qty: float = 0.0,
    entry_price: float | None = None,
) -> int:
    credential_id = await paper_credential(db, user_id)
    async with db.session() as session:
        deployment = Deployment(
            user_id=user_id,
            credential_id=credential_id,
            label=label,
            source="buy = close > open",
            market=market,
            ticker=ticker,
            interval=interval,
            status=status,
            position_qty=position_qty,
            entry_price=entry_price,
        )
        session.add(deployment)
        await session.flush()
        return deployment.id


async def add_trade(
    db: Database,
    user_id: int,
    *,
    at: datetime,
    side: str,
    qty: float,
    price: float,
    fee: float = 0.0,
    pnl: float | None = None,
    label: str = "ema_cross",
    symbol: str = "BBCA.JK",
    currency: str = "IDR",
    deployment_id: int | None = None,
) -> int:
    """One filled order and its trade row; the trade's id."""
    async with db.session() as session:
        order = Order(
            user_id=user_id,
            deployment_id=deployment_id,
            broker="Paper",
            client_order_id=f"test-{next(_order_ids)}",
            symbol=symbol,
            side=side,
            quantity=qty,
            status="Filled",
            filled_qty=qty,
            average_price=price,
            fee=fee,
        )
        session.add(order)
        await session.flush()
        trade = Trade(
            user_id=user_id,
            order_id=order.id,
            deployment_id=deployment_id,
            label=label,
            symbol=symbol,
            side=side,
            quantity=qty,
            price=price,
            fee=fee,
            pnl=pnl,
            quote_currency=currency,
            executed_at=at,
        )
        session.add(trade)
        await session.flush()
        return trade.id
