"""Persistence: SQLAlchemy 2 async over SQLite (embedded) or PostgreSQL (at scale), Alembic migrations."""

from core.db.base import Base, UTCDateTime, insert_ignoring_conflicts, utcnow
from core.db.engine import Database

__all__ = ["Base", "Database", "UTCDateTime", "insert_ignoring_conflicts", "utcnow"]
