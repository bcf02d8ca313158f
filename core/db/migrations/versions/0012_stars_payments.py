"""Telegram Stars payments: the stars invoiced, Telegram's charge id, the payer, and refunds.

``purchases.stars`` is the whole-star amount a Stars invoice asked for (checked again at pre-checkout
and on the successful payment); ``charge_id`` is ``telegram_payment_charge_id``, unique so one charge
never credits two purchases, and kept with ``payer_id`` because ``refundStarPayment`` needs both;
``recurring`` marks a payment Telegram renews every 30 days (a refund cancels the renewals too);
``refunded_at`` records when an admin refunded it (the status becomes ``Refunded``, a plain string
in the existing ``status`` column).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("purchases") as batch:
        batch.add_column(sa.Column("stars", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("charge_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("payer_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("recurring", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_purchases_charge_id", "purchases", ["charge_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_purchases_charge_id", table_name="purchases")
    with op.batch_alter_table("purchases") as batch:
        batch.drop_column("refunded_at")
        batch.drop_column("recurring")
        batch.drop_column("payer_id")
        batch.drop_column("charge_id")
        batch.drop_column("stars")
