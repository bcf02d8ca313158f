"""Purchases, their items, settled subscriptions, and payment provider events.

``PaymentEvent.event_key`` is unique: a provider's duplicate or replayed webhook is stored
once and processed once. Amounts are whole rupiah (integers).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, StrEnumType, UTCDateTime, utcnow


class PurchaseStatus(StrEnum):
    """A purchase waits for payment (Pending), is settled once (Paid), or is closed unpaid; a paid
    Telegram Stars purchase an admin gave back is Refunded (its subscriptions revoked)."""

    PENDING = "Pending"
    PAID = "Paid"
    EXPIRED = "Expired"
    FAILED = "Failed"
    CANCELED = "Canceled"
    REFUNDED = "Refunded"


class Purchase(Base):
    __tablename__ = "purchases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[PurchaseStatus] = mapped_column(
        StrEnumType(PurchaseStatus, 16), default=PurchaseStatus.PENDING, index=True
    )
    provider: Mapped[str] = mapped_column(String(16))  # Mock | Mayar | Stars | Free
    subtotal: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[int] = mapped_column(BigInteger, default=0)
    tax: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger)
    discount_code_id: Mapped[int | None] = mapped_column(
        ForeignKey("discount_codes.id", ondelete="SET NULL"), default=None
    )
    invoice_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)  # the provider's id
    transaction_id: Mapped[str | None] = mapped_column(String(64), default=None)
    payment_link: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Telegram Stars (core.purchase.stars): the whole stars invoiced, Telegram's charge id (unique: one
    # charge credits one purchase; refundStarPayment needs it) and the Telegram user who paid
    stars: Mapped[int | None] = mapped_column(Integer, default=None)
    charge_id: Mapped[str | None] = mapped_column(String(255), default=None, unique=True, index=True)
    payer_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # paid as a Stars subscription (Telegram charges it again every 30 days): a refund also cancels it
    recurring: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class PurchaseItem(Base):
    __tablename__ = "purchase_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"), default=None)
    name: Mapped[str] = mapped_column(String(128))  # the product's name when bought
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)


class Subscription(Base):
    """A settled subscription product: its features apply to the user from ``starts_at`` to ``ends_at``."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"), default=None)
    name: Mapped[str] = mapped_column(String(128))
    features: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class PaymentEvent(Base):
    __tablename__ = "payment_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    event_key: Mapped[str] = mapped_column(String(128), unique=True)  # provider + transaction id + event
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outcome: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)  # expired by age
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
