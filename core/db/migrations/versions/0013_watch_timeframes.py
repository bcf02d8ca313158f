"""Watches on any candle width with an optional expiry (``watches.interval``, ``expires_at``,
``expiry_told_at``), checked once per closed bar (``last_bar_at``, ``alerted_bar_at``).

The same condition may now be watched on several widths, so the uniqueness key gains the interval.
Existing rows were checked on daily bars and stay daily.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_KEY = "uq_watches_user_id_source_ticker_condition"
_NEW_KEY = "uq_watches_user_id_source_ticker_interval_condition"


def upgrade() -> None:
    with op.batch_alter_table("watches") as batch:
        batch.add_column(sa.Column("interval", sa.String(8), nullable=False, server_default="1d"))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("expiry_told_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_bar_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("alerted_bar_at", sa.DateTime(timezone=True), nullable=True))
        batch.drop_constraint(_OLD_KEY, type_="unique")
        batch.create_unique_constraint(_NEW_KEY, ["user_id", "source", "ticker", "interval", "condition"])


def downgrade() -> None:
    with op.batch_alter_table("watches") as batch:
        batch.drop_constraint(_NEW_KEY, type_="unique")
        batch.create_unique_constraint(_OLD_KEY, ["user_id", "source", "ticker", "condition"])
        batch.drop_column("alerted_bar_at")
        batch.drop_column("last_bar_at")
        batch.drop_column("expiry_told_at")
        batch.drop_column("expires_at")
        batch.drop_column("interval")
