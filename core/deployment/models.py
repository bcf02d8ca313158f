"""Deployed models: a model's script running on a ticker and interval through a credential.

The script and inputs are copied at deploy time (the model's saved inputs with the overrides
given to /deploy), so editing or removing the model never changes what a running deployment does.
Each entry stakes either ``size`` (a fraction of the free quote balance) or, when set,
``stake_amount`` (a fixed amount in the quote currency); ``max_position_value`` caps either. ``last_bar_at`` is the close time of the last bar
evaluated; advancing it with a compare-and-set is how one worker, and only one, claims a bar.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Double, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, StrEnumType, UTCDateTime, utcnow
from core.deployment.status import Status


class Deployment(Base):
    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="SET NULL"), default=None)
    credential_id: Mapped[int] = mapped_column(ForeignKey("credentials.id", ondelete="RESTRICT"), index=True)
    label: Mapped[str] = mapped_column(String(64))  # the model's label at deploy time
    source: Mapped[str] = mapped_column(Text)  # the script at deploy time
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    market: Mapped[str] = mapped_column(String(16))  # core.market.types.Source value
    ticker: Mapped[str] = mapped_column(String(32))
    interval: Mapped[str] = mapped_column(String(8))
    timing: Mapped[str] = mapped_column(String(8), default="OnTime")  # OnTime | Late
    status: Mapped[Status] = mapped_column(StrEnumType(Status, 16), default=Status.PENDING, index=True)
    size: Mapped[float] = mapped_column(Double, default=1.0)  # fraction of the account's quote balance per entry
    # a fixed stake per entry in the quote currency (USDT, rupiah); when set it applies instead of ``size``
    stake_amount: Mapped[float | None] = mapped_column(Double, default=None)
    max_position_value: Mapped[float | None] = mapped_column(Double, default=None)  # cap in quote currency
    position_qty: Mapped[float] = mapped_column(Double, default=0.0)  # > 0 long, < 0 short, 0 flat
    entry_price: Mapped[float | None] = mapped_column(Double, default=None)
    last_bar_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_signal: Mapped[str | None] = mapped_column(String(8), default=None)
    status_reason: Mapped[str] = mapped_column(String(300), default="")  # why it paused or stopped
    # consecutive fetches that found no such ticker, and since when (a delisting is confirmed only
    # after DELISTED_AFTER_CHECKS of them spanning DELISTED_AFTER_HOURS: core.deployment.tick)
    feed_missing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    feed_missing_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    notify_chat_id: Mapped[int | None] = mapped_column(ForeignKey("chats.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"Deployment(id={self.id}, user={self.user_id}, {self.label} {self.ticker} {self.interval} {self.status})"
