"""A deployment's stake as a fixed amount in the quote currency (``deployments.stake_amount``).

``size`` stays the fraction of the free quote balance each entry uses; when ``stake_amount`` is
set it applies instead (exactly one of the two does). Both are capped by ``max_position_value``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("stake_amount", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("stake_amount")
