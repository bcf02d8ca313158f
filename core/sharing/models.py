"""Results shared into groups.

A share keeps a snapshot of what was shared (the model's script, or the strategy's rules)
so members can ``/copy`` it even after the author edits or removes the original.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, UTCDateTime, utcnow


class Share(Base):
    __tablename__ = "shares"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # model | strategy
    label: Mapped[str] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(String(128), default="")
    ticker: Mapped[str] = mapped_column(String(32))
    interval: Mapped[str] = mapped_column(String(8))
    range: Mapped[str] = mapped_column(String(8))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # what /copy recreates
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the card's key figures
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
