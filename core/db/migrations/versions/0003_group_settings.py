"""Group settings on chats: which alerts a group receives, whether results are shared there.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chats") as batch:
        batch.add_column(sa.Column("alerts_enabled", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch.add_column(sa.Column("share_results", sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("chats") as batch:
        batch.drop_column("share_results")
        batch.drop_column("alerts_enabled")
