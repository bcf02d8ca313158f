"""Broker credentials and the built-in paper accounts.

Secrets (client id, secret, passphrase) are stored only as one encrypted token
(``core.broker.crypto``): a database dump alone reveals nothing. ``key_hint`` (the last four
characters of the client id) lets users tell their keys apart without showing them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Double, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, StrEnumType, UTCDateTime, utcnow


class CredentialStatus(StrEnum):
    """Where a broker key stands: usable, refused by its exchange, or removed by its owner (kept,
    hidden, while deployments and orders still point at it)."""

    ACTIVE = "Active"
    REVOKED = "Revoked"
    REMOVED = "Removed"


class Credential(Base):
    __tablename__ = "credentials"
    __table_args__ = (UniqueConstraint("user_id", "label_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    broker: Mapped[str] = mapped_column(String(16))  # core.broker.types.Broker value; "Paper" for paper
    label: Mapped[str] = mapped_column(String(64))
    label_key: Mapped[str] = mapped_column(String(64))
    secret_token: Mapped[str] = mapped_column(Text, default="")  # Fernet token of the key material; "" for paper
    key_hint: Mapped[str] = mapped_column(String(16), default="")
    status: Mapped[CredentialStatus] = mapped_column(
        StrEnumType(CredentialStatus, 16), default=CredentialStatus.ACTIVE
    )
    can_withdraw: Mapped[bool | None] = mapped_column(Boolean, default=None)  # None: the exchange does not tell
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:  # never the secret
        return f"Credential(id={self.id}, user={self.user_id}, {self.broker}, {self.label!r})"


class PaperBalance(Base):
    """One asset of a paper account: cash (IDR, USDT) or a holding (BBCA.JK, BTC)."""

    __tablename__ = "paper_balances"
    __table_args__ = (UniqueConstraint("credential_id", "asset"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credential_id: Mapped[int] = mapped_column(ForeignKey("credentials.id", ondelete="CASCADE"), index=True)
    asset: Mapped[str] = mapped_column(String(32))
    amount: Mapped[float] = mapped_column(Double, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
