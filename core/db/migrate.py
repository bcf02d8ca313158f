"""Alembic, driven from code: no ``alembic.ini`` to ship or keep in step.

``Database.migrate()`` runs at every start-up. When the database already stands at the
newest revision it answers from one query, without importing Alembic (whose import alone
costs about 110 ms); otherwise :func:`upgrade_sync` runs Alembic on the open connection.

For authoring migrations the Alembic command line is available as
``python -m core.db.migrate <alembic command>``, e.g.::

    python -m core.db.migrate revision --autogenerate -m "add trades"
    python -m core.db.migrate upgrade head
    python -m core.db.migrate current

It uses ``DATABASE_URL`` from the settings (or ``-x url=...``).
"""

from __future__ import annotations

import importlib
import re
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, MetaData, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"

# Every module that declares tables. Alembic compares the models against the database
# only through Base.metadata, which knows a table once its module has been imported:
# a domain adding tables appends its models module here.
MODEL_MODULES: tuple[str, ...] = (
    "core.account.models",
    "core.market.models",
    "core.model.models",
    "core.strategy.models",
    "core.sharing.models",
    "core.broker.models",
    "core.deployment.models",
    "core.trade.models",
    "core.product.models",
    "core.purchase.models",
    "core.media.models",
    "core.contact.models",
    "core.bandarmology.models",
    "core.outbox",
    "core.tokens.models",
)

_REVISION = re.compile(r"""^revision(?:\s*:[^=\n]+)?\s*=\s*["']([^"']+)["']""", re.M)
_DOWN_REVISION = re.compile(r"""^down_revision(?:\s*:[^=\n]+)?\s*=\s*(.+)$""", re.M)
_QUOTED = re.compile(r"""["']([^"']+)["']""")


def import_models() -> MetaData:
    """Import every models module and return the complete ``Base.metadata``."""
    from core.db.base import Base

    for name in MODEL_MODULES:
        importlib.import_module(name)
    return Base.metadata


@cache
def script_heads() -> frozenset[str] | None:
    """Head revisions read straight from the version files; None when a file is not understood.

    The start-up fast path only: anything unusual returns None and Alembic decides.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        parents.update(_QUOTED.findall(down.group(1)))
    heads = revisions - parents
    return frozenset(heads) if heads and parents <= revisions else None


def current_revisions(connection: Connection) -> frozenset[str]:
    """Revisions the database stands at (empty for a new database)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return frozenset()
    return frozenset(connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())


def is_up_to_date(connection: Connection) -> bool:
    heads = script_heads()
    return heads is not None and current_revisions(connection) == heads


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic config pointing at ``core/db/migrations``; ``connection`` is used as it is when given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_sync(connection: Connection, revision: str = "head") -> None:
    """Upgrade through an open (sync-facing) connection: used inside ``AsyncConnection.run_sync``."""
    from alembic import command

    command.upgrade(alembic_config(connection), revision)


def main(argv: list[str] | None = None) -> None:
    """The Alembic command line with this project's configuration built in."""
    from alembic.config import CommandLine

    cli = CommandLine(prog="python -m core.db.migrate")
    options = cli.parser.parse_args(argv if argv is not None else sys.argv[1:])
    if not hasattr(options, "cmd"):
        cli.parser.error("too few arguments")
    config = alembic_config()
    config.cmd_opts = options
    cli.run_cmd(config, options)


if __name__ == "__main__":
    main()
