"""Saved trading models: a label, a script in the model language and its chosen inputs.

Labels are unique per owner, compared without case (``label_key``), so ``/run ema`` finds
``EMA``. Kept free of pandas and the script package so migrations import it cheaply.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, UTCDateTime, utcnow


class Model(Base):
    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("user_id", "label_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(64))
    label_key: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(500), default="")
    overlay: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(Text)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    copied_from: Mapped[int | None] = mapped_column(Integer, default=None)  # a share id, for /copy
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"Model(id={self.id}, user={self.user_id}, {self.label!r})"
