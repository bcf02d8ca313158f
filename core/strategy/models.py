"""Strategies and their rules.

A strategy's ``analytic`` says what its rules read: ``Technical`` rules are conditions in
the script language with an action (``buy`` / ``sell``); ``Fundamental`` rules screen a
ticker's fundamentals (action ``screen``); ``Bandarmology`` rules read broker-summary metrics.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, UTCDateTime, utcnow


class Strategy(Base):
    __tablename__ = "strategies"
    __table_args__ = (UniqueConstraint("user_id", "label_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(64))
    label_key: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(500), default="")
    analytic: Mapped[str] = mapped_column(String(16), default="Technical")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"Strategy(id={self.id}, user={self.user_id}, {self.label!r}, {self.analytic})"


class Rule(Base):
    __tablename__ = "strategy_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    strategy_id: Mapped[int] = mapped_column(ForeignKey("strategies.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(8))  # buy | sell | screen
    condition: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"Rule(id={self.id}, strategy={self.strategy_id}, {self.action}: {self.condition})"
