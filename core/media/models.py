"""Uploaded media: the bytes live in object storage under a random key; this row says whose they are."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, UTCDateTime, utcnow


class Media(Base):
    __tablename__ = "media"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # random; never derived from user input
    content_type: Mapped[str] = mapped_column(String(64))  # sniffed from the bytes
    size: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(128), default="")  # display only, never a path
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
