"""Watchlist rows (Monitoring Status): what each user watches and its latest checked state.

Kept free of pandas and the market types so importing the models (as migrations do at
every start-up) stays cheap; ``source`` holds a ``core.market.types.Source`` value.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Double, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, UTCDateTime, utcnow


class Watch(Base):
    """One watched ticker on one candle width, optionally with a condition (``''`` when none).

    The ``last_*`` columns hold the latest check, made on the interval's closed bars only;
    ``last_triggered_at`` is for the alert job, which alerts once per crossing (condition turning
    from not met to met) and at most once per bar (``alerted_bar_at``, the open time of the bar
    that fired). ``expires_at`` ends the alerts; ``expiry_told_at`` records that the owner was told.
    """

    __tablename__ = "watches"
    __table_args__ = (UniqueConstraint("user_id", "source", "ticker", "interval", "condition"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))
    ticker: Mapped[str] = mapped_column(String(32))
    condition: Mapped[str] = mapped_column(String(200), default="")
    # a canonical ``core.market.types.INTERVALS`` code; rows from before timeframes are daily
    interval: Mapped[str] = mapped_column(String(8), default="1d", server_default="1d")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    expiry_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    last_price: Mapped[float | None] = mapped_column(Double, default=None)
    last_change_pct: Mapped[float | None] = mapped_column(Double, default=None)
    last_value: Mapped[float | None] = mapped_column(Double, default=None)
    condition_met: Mapped[bool | None] = mapped_column(Boolean, default=None)
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_triggered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_bar_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)  # newest closed bar checked
    alerted_bar_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)  # the bar that last fired

    def __repr__(self) -> str:
        cond = f" {self.condition}" if self.condition else ""
        return f"Watch(id={self.id}, user={self.user_id}, {self.source}:{self.ticker} {self.interval}{cond})"
