"""Orders and the trades they produced.

An ``Order`` row is the intent, committed with its deterministic ``client_order_id`` *before*
the broker is called; its status then follows what the broker said. A retry or a restart
finds the row and looks the order up by that id instead of sending again. ``Trade`` rows are
fills, with the fee and, for a fill that reduces a position, the realised P&L.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Double, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.broker.types import Side
from core.db.base import Base, StrEnumType, UTCDateTime, utcnow


class OrderStatus(StrEnum):
    """Where an order stands; Pending, Sent, Open and Resting are not final yet."""

    PENDING = "Pending"  # recorded, not yet sent
    SENT = "Sent"  # sent, outcome unknown until the exchange answers or is asked
    OPEN = "Open"
    FILLED = "Filled"
    CANCELED = "Canceled"
    REJECTED = "Rejected"
    FAILED = "Failed"
    RESTING = "Resting"  # an exchange-stop waiting on the exchange for its price (core.deployment.stops)


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    deployment_id: Mapped[int | None] = mapped_column(
        ForeignKey("deployments.id", ondelete="SET NULL"), default=None, index=True
    )
    credential_id: Mapped[int | None] = mapped_column(ForeignKey("credentials.id", ondelete="SET NULL"), default=None)
    broker: Mapped[str] = mapped_column(String(16))
    client_order_id: Mapped[str] = mapped_column(String(40), unique=True)
    symbol: Mapped[str] = mapped_column(String(32))  # the broker's symbol: BTC/USDT, BBCA.JK
    side: Mapped[Side] = mapped_column(StrEnumType(Side, 4))
    quantity: Mapped[float] = mapped_column(Double)
    reference_price: Mapped[float | None] = mapped_column(Double, default=None)  # the price the signal saw
    bar_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)  # when it fills in market time
    # signal | stop | target | manual (/close) | exchange-stop (a stop resting on the exchange)
    reason: Mapped[str] = mapped_column(String(16), default="signal")
    status: Mapped[OrderStatus] = mapped_column(
        StrEnumType(OrderStatus, 16), default=OrderStatus.PENDING, index=True
    )
    exchange_order_id: Mapped[str | None] = mapped_column(String(64), default=None)
    filled_qty: Mapped[float] = mapped_column(Double, default=0.0)
    average_price: Mapped[float | None] = mapped_column(Double, default=None)
    fee: Mapped[float] = mapped_column(Double, default=0.0)
    fee_currency: Mapped[str | None] = mapped_column(String(16), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Trade(Base):
    __tablename__ = "trades"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    deployment_id: Mapped[int | None] = mapped_column(
        ForeignKey("deployments.id", ondelete="SET NULL"), default=None, index=True
    )
    label: Mapped[str] = mapped_column(String(64), default="")  # the deployment's model label
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[Side] = mapped_column(StrEnumType(Side, 4))
    quantity: Mapped[float] = mapped_column(Double)
    price: Mapped[float] = mapped_column(Double)
    fee: Mapped[float] = mapped_column(Double, default=0.0)  # in the quote currency
    pnl: Mapped[float | None] = mapped_column(Double, default=None)  # realised, net of both legs' fees
    quote_currency: Mapped[str] = mapped_column(String(16), default="")
    executed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
