"""Broker credentials, paper balances, deployments, orders, trades and users' alert choices.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("alerts_trades", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch.add_column(sa.Column("alerts_watch", sa.Boolean(), server_default=sa.true(), nullable=False))

    op.create_table(
        "credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("broker", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("label_key", sa.String(length=64), nullable=False),
        sa.Column("secret_token", sa.Text(), nullable=False),
        sa.Column("key_hint", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("can_withdraw", sa.Boolean(), nullable=True),
        _ts("verified_at", nullable=True),
        _ts("created_at"),
        _fk("credentials", "user_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credentials")),
        sa.UniqueConstraint("user_id", "label_key", name=op.f("uq_credentials_user_id_label_key")),
    )
    op.create_index(op.f("ix_credentials_user_id"), "credentials", ["user_id"], unique=False)

    op.create_table(
        "paper_balances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.Integer(), nullable=False),
        sa.Column("asset", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.Double(), nullable=False),
        _ts("updated_at"),
        _fk("paper_balances", "credential_id", "credentials"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_balances")),
        sa.UniqueConstraint("credential_id", "asset", name=op.f("uq_paper_balances_credential_id_asset")),
    )
    op.create_index(op.f("ix_paper_balances_credential_id"), "paper_balances", ["credential_id"], unique=False)

    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("credential_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("market", sa.String(length=16), nullable=False),
        sa.Column("ticker", sa.String(length=32), nullable=False),
        sa.Column("interval", sa.String(length=8), nullable=False),
        sa.Column("timing", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("size", sa.Double(), nullable=False),
        sa.Column("max_position_value", sa.Double(), nullable=True),
        sa.Column("position_qty", sa.Double(), nullable=False),
        sa.Column("entry_price", sa.Double(), nullable=True),
        _ts("last_bar_at", nullable=True),
        sa.Column("last_signal", sa.String(length=8), nullable=True),
        sa.Column("status_reason", sa.String(length=300), nullable=False),
        sa.Column("notify_chat_id", sa.Integer(), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        _fk("deployments", "user_id", "users"),
        _fk("deployments", "model_id", "models", "SET NULL"),
        _fk("deployments", "credential_id", "credentials", "RESTRICT"),
        _fk("deployments", "notify_chat_id", "chats", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
    )
    op.create_index(op.f("ix_deployments_user_id"), "deployments", ["user_id"], unique=False)
    op.create_index(op.f("ix_deployments_credential_id"), "deployments", ["credential_id"], unique=False)
    op.create_index(op.f("ix_deployments_status"), "deployments", ["status"], unique=False)

    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=True),
        sa.Column("credential_id", sa.Integer(), nullable=True),
        sa.Column("broker", sa.String(length=16), nullable=False),
        sa.Column("client_order_id", sa.String(length=40), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", sa.Double(), nullable=False),
        sa.Column("reference_price", sa.Double(), nullable=True),
        _ts("bar_at", nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("exchange_order_id", sa.String(length=64), nullable=True),
        sa.Column("filled_qty", sa.Double(), nullable=False),
        sa.Column("average_price", sa.Double(), nullable=True),
        sa.Column("fee", sa.Double(), nullable=False),
        sa.Column("fee_currency", sa.String(length=16), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        _fk("orders", "user_id", "users"),
        _fk("orders", "deployment_id", "deployments", "SET NULL"),
        _fk("orders", "credential_id", "credentials", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_orders_client_order_id")),
    )
    op.create_index(op.f("ix_orders_user_id"), "orders", ["user_id"], unique=False)
    op.create_index(op.f("ix_orders_deployment_id"), "orders", ["deployment_id"], unique=False)
    op.create_index(op.f("ix_orders_status"), "orders", ["status"], unique=False)

    op.create_table(
        "trades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", sa.Double(), nullable=False),
        sa.Column("price", sa.Double(), nullable=False),
        sa.Column("fee", sa.Double(), nullable=False),
        sa.Column("pnl", sa.Double(), nullable=True),
        sa.Column("quote_currency", sa.String(length=16), nullable=False),
        _ts("executed_at"),
        _fk("trades", "user_id", "users"),
        _fk("trades", "order_id", "orders"),
        _fk("trades", "deployment_id", "deployments", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trades")),
        sa.UniqueConstraint("order_id", name=op.f("uq_trades_order_id")),
    )
    op.create_index(op.f("ix_trades_user_id"), "trades", ["user_id"], unique=False)
    op.create_index(op.f("ix_trades_deployment_id"), "trades", ["deployment_id"], unique=False)
    op.create_index(op.f("ix_trades_executed_at"), "trades", ["executed_at"], unique=False)


def downgrade() -> None:
    for table in ("trades", "orders", "deployments", "paper_balances", "credentials"):
        op.drop_table(table)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("alerts_watch")
        batch.drop_column("alerts_trades")
