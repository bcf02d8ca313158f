"""Discount codes: percentages in exact basis points, fixed amounts in their own rupiah column.

``value`` meant two things (a whole percent, or rupiah), so ``2.5`` % could not be stored. Now
``percent_bp`` holds a percent code's basis points (250 = 2.5 %) and ``amount_idr`` (the old
``value``, renamed) a fixed code's rupiah; the other column is NULL. Existing percent codes move
from whole percents to basis points (x 100).

Downgrading turns basis points back into whole percents, rounding down (at least 1 %): a
2.5 % code becomes 2 %, which is all the old column can hold.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("discount_codes") as batch:
        batch.add_column(sa.Column("percent_bp", sa.Integer(), nullable=True))
        batch.alter_column("value", new_column_name="amount_idr", existing_type=sa.BigInteger(),
                           existing_nullable=False, nullable=True)
    op.execute(
        "UPDATE discount_codes SET percent_bp = amount_idr * 100, amount_idr = NULL WHERE kind = 'percent'"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE discount_codes SET amount_idr = CASE WHEN percent_bp < 100 THEN 1 ELSE percent_bp / 100 END "
        "WHERE kind = 'percent'"
    )
    op.execute("UPDATE discount_codes SET amount_idr = 0 WHERE amount_idr IS NULL")
    with op.batch_alter_table("discount_codes") as batch:
        batch.drop_column("percent_bp")
        batch.alter_column("amount_idr", new_column_name="value", existing_type=sa.BigInteger(),
                           existing_nullable=True, nullable=False)
