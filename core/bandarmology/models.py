"""Imported per-ticker broker summaries (a user's own IDX broker data, by CSV)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Double, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, UTCDateTime, utcnow


class BrokerActivity(Base):
    """One broker's buying and selling of one ticker on one day."""

    __tablename__ = "broker_activity"
    __table_args__ = (UniqueConstraint("user_id", "ticker", "day", "broker", "investor"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    ticker: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    broker: Mapped[str] = mapped_column(String(8))  # broker code: YP, CC, AK...
    investor: Mapped[str] = mapped_column(String(1), default="")  # F foreign, D domestic, "" unknown
    buy_lot: Mapped[int] = mapped_column(BigInteger, default=0)
    buy_value: Mapped[float] = mapped_column(Double, default=0.0)
    sell_lot: Mapped[int] = mapped_column(BigInteger, default=0)
    sell_value: Mapped[float] = mapped_column(Double, default=0.0)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
