"""A user's personal access tokens, stored only as a hash of the token."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, UTCDateTime, utcnow


class AccessToken(Base):
    __tablename__ = "access_tokens"
    __table_args__ = (UniqueConstraint("user_id", "label_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(64))
    label_key: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(8))  # core.tokens.service.Scope
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the whole token, hex
    hint: Mapped[str] = mapped_column(String(16))  # "stx_…9f3A": enough to recognise it in a list
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)  # None: never
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
