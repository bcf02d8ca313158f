"""Declarative base, UTC timestamps and the constraint naming convention.

Every constraint gets a name derived from its table and columns, so the migration
written against PostgreSQL produces the same names on SQLite and Alembic's batch mode
(which rebuilds SQLite tables) can find constraints by name.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import CursorResult, DateTime, Dialect, Insert, MetaData, Result, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Row ids are ``integer`` columns (PostgreSQL int4): a larger number cannot name a row, and passing
# it to the driver fails ("value out of int32 range") instead of matching nothing.
ID_MAX = 2**31 - 1


def parse_id(text: str) -> int | None:
    """The row id ``text`` writes ("12"), or None when it cannot be one: ASCII digits only
    (``str.isdigit`` is also true for "²", which ``int`` refuses) and within ``ID_MAX``."""
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits) > len(str(ID_MAX)):
        return None
    value = int(digits)
    return value if value <= ID_MAX else None


def utcnow() -> datetime:
    """The current instant, timezone-aware in UTC: the only kind of time we store."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that goes in and comes out timezone-aware in UTC on every dialect.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones and would hand back naive
    values, so they are read as UTC. Naive values are refused on the way in: a naive
    ``datetime.now()`` is local time and would be stored hours off without anyone noticing.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware value (core.db.utcnow())")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class StrEnumType[E: StrEnum](TypeDecorator[E]):
    """A ``String`` column whose Python values are members of a ``StrEnum``.

    The database keeps the plain strings it always had (the enum's values: no migration, and the
    column compares equal to a ``String`` of the same length); rows read back as members, so code
    compares them against the enum and the type checker knows their values. Writes take a member
    or its string, stored as the plain string either way.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else str(value)  # a member's str is its value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)


class Base(DeclarativeBase):
    """Base of every table; its ``metadata`` is what migrations are compared against."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def insert_ignoring_conflicts(dialect_name: str, model: type[Base], *unique_columns: str) -> Insert:
    """``INSERT ... ON CONFLICT (cols) DO NOTHING`` for SQLite or PostgreSQL.

    The race-safe way to create a row that another request may be creating at the same
    moment: the loser's insert silently does nothing (``RETURNING`` yields no row) instead
    of raising and, on PostgreSQL, aborting the whole transaction.
    """
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(model).on_conflict_do_nothing(index_elements=list(unique_columns))
    if dialect_name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(model).on_conflict_do_nothing(index_elements=list(unique_columns))
    raise NotImplementedError(f"no ON CONFLICT support written for {dialect_name}")


def session_dialect(session: AsyncSession) -> str:
    """The dialect name ("sqlite", "postgresql") a session's statements run on.

    ``session.bind`` is typed optional (a session may route by mapper); ours are always made
    bound to one engine, and ``get_bind`` returns that engine, typed as present.
    """
    return session.get_bind().dialect.name


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE touched.

    ``AsyncSession.execute`` is typed as returning a plain ``Result`` for every statement, but a
    DML statement without RETURNING runs on a cursor and returns a ``CursorResult``, which
    carries ``rowcount``: the cast states what the stubs cannot tell apart.
    """
    return cast(CursorResult[Any], result).rowcount
