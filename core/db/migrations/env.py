"""Alembic environment for both SQLite and PostgreSQL, through the async drivers.

Two ways in:
- ``Database.migrate()`` passes an open connection in ``config.attributes["connection"]``
  (already inside ``run_sync``), which is used directly;
- the command line (``python -m core.db.migrate ...``) has none, so an async engine is
  built from ``-x url=...``, the config's ``sqlalchemy.url`` or the settings, and the
  migrations run through ``run_sync`` on it.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, text
from sqlalchemy.pool import NullPool

from core.db.base import UTCDateTime
from core.db.migrate import VERSION_TABLE, import_models

config = context.config
target_metadata = import_models()

# Any constant works; replicas starting together take it so only one migrates at a time.
_PG_MIGRATION_LOCK = 0x5704_0001


def _render_item(type_: str, obj: object, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write our UTCDateTime as the plain column type it is, so migrations never import app code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
        render_item=_render_item,
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from core.config import get_settings

    return get_settings().database_url


async def _run_async() -> None:
    from core.db.engine import Database

    database = Database(_url(), engine_options={"poolclass": NullPool})
    try:
        async with database.engine.connect() as connection:
            await connection.run_sync(_configure_and_run)
            await connection.commit()
    finally:
        await database.dispose()


def _run_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
elif (given := config.attributes.get("connection")) is not None:
    _configure_and_run(given)
else:
    asyncio.run(_run_async())
