"""How long a deployment's market feed has answered "not found" (``deployments.feed_missing_*``), and
an index to expire stored payment webhook events by age (``payment_events.received_at``).

A feed's single "not found" is often a hiccup (Yahoo returns an empty frame now and then; a CSV
file is replaced while the tick reads it). The tick counts consecutive misses and when they began,
and ends a deployment only once the misses span the documented window (``core.deployment.tick``).
Webhook events are kept ``PAYMENT_EVENT_RETENTION_DAYS`` (``core.purchase.settle.expire_events``).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("feed_missing_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("feed_missing_count", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_payment_events_received_at", "payment_events", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_payment_events_received_at", table_name="payment_events")
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("feed_missing_count")
        batch.drop_column("feed_missing_since")
