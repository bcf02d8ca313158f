"""Products (subscription plans and one-off items), their categories, and discount codes.

Amounts are whole rupiah in integer columns and percentages are basis points (1/100 of a
percent): money is never a float here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, UTCDateTime, utcnow


class ProductCategory(Base):
    __tablename__ = "product_categories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("product_categories.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    price_idr: Mapped[int] = mapped_column(BigInteger)
    duration_days: Mapped[int | None] = mapped_column(Integer, default=None)  # subscriptions only
    features: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {"max_deployments": 20, "live_trading": true}
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DiscountCode(Base):
    __tablename__ = "discount_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # stored upper-case
    kind: Mapped[str] = mapped_column(String(8))  # percent | fixed
    # percent: basis points, 1..10000 (250 = 2.5 %); exact, so the discount is integer arithmetic
    percent_bp: Mapped[int | None] = mapped_column(Integer, default=None)
    amount_idr: Mapped[int | None] = mapped_column(BigInteger, default=None)  # fixed: whole rupiah off
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    max_uses: Mapped[int | None] = mapped_column(Integer, default=None)
    used_count: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
