"""Users, platform identities and chats.

A user is a person; an identity is how one platform knows them (a Telegram or Discord
user id, or the console). One user may link several identities. Chats (groups,
channels, private chats) are recorded so results can be shared and alerts routed there.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db.base import Base, UTCDateTime, utcnow

PLATFORMS = ("console", "telegram", "discord")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    image: Mapped[str | None] = mapped_column(String(500), default=None)  # a media reference (media:ID) or URL
    country_code: Mapped[str | None] = mapped_column(String(2), default=None)  # ISO 3166-1 alpha-2
    phone: Mapped[str | None] = mapped_column(String(16), default=None)  # E.164
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # which pushed alerts the user receives in private: trades of their deployments, watch crossings
    alerts_trades: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    alerts_watch: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    identities: Mapped[list[Identity]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True, lazy="raise"
    )

    def __repr__(self) -> str:
        return f"User(id={self.id}, name={self.name!r})"


class Identity(Base):
    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(128), default="")
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="identities", lazy="raise")

    def __repr__(self) -> str:
        return f"Identity({self.platform}:{self.external_id} -> user {self.user_id})"


class Chat(Base):
    __tablename__ = "chats"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(256), default="")
    is_group: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Group settings, changed only by the group's admins.
    alerts_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    share_results: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    def __repr__(self) -> str:
        return f"Chat({self.platform}:{self.external_id} {self.title!r})"


class LinkCode(Base):
    """A one-time code that joins another platform identity to this user (``/link``).

    Only a hash is stored: a database dump does not let anyone claim a pending link.
    """

    __tablename__ = "link_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    platform: Mapped[str] = mapped_column(String(16))  # where the code was issued
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChatMember(Base):
    """A user seen writing in a group chat: where ``/share`` may post on their behalf."""

    __tablename__ = "chat_members"
    __table_args__ = (UniqueConstraint("chat_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
