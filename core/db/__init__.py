"""Persistence: SQLAlchemy 2 async over SQLite (embedded) or PostgreSQL (at scale), Alembic migrations."""

from core.db.base import (
    ID_MAX,
    Base,
    UTCDateTime,
    insert_ignoring_conflicts,
    parse_id,
    rowcount,
    session_dialect,
    utcnow,
)
from core.db.engine import Database

__all__ = [
    "ID_MAX",
    "Base",
    "Database",
    "UTCDateTime",
    "insert_ignoring_conflicts",
    "parse_id",
    "rowcount",
    "session_dialect",
    "utcnow",
]
