"""Products, discounts, purchases, subscriptions, payment events, media, contact messages,
imported broker activity, and the profile fields of users.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def _pk(table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}"))


def _index(table: str, column: str) -> None:
    op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("image", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("country_code", sa.String(length=2), nullable=True))
        batch.add_column(sa.Column("phone", sa.String(length=16), nullable=True))

    op.create_table(
        "product_categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        _pk("product_categories"),
        sa.UniqueConstraint("name", name=op.f("uq_product_categories_name")),
    )
    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("price_idr", sa.BigInteger(), nullable=False),
        sa.Column("duration_days", sa.Integer(), nullable=True),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _ts("created_at"),
        _fk("products", "category_id", "product_categories", "RESTRICT"),
        _pk("products"),
    )
    _index("products", "category_id")
    op.create_table(
        "discount_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        _ts("valid_from", nullable=True),
        _ts("valid_until", nullable=True),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("used_count", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _pk("discount_codes"),
        sa.UniqueConstraint("code", name=op.f("uq_discount_codes_code")),
    )
    op.create_table(
        "purchases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("subtotal", sa.BigInteger(), nullable=False),
        sa.Column("discount", sa.BigInteger(), nullable=False),
        sa.Column("tax", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("discount_code_id", sa.Integer(), nullable=True),
        sa.Column("invoice_id", sa.String(length=64), nullable=True),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.Column("payment_link", sa.String(length=500), nullable=True),
        _ts("created_at"),
        _ts("expires_at", nullable=True),
        _ts("paid_at", nullable=True),
        _fk("purchases", "user_id", "users"),
        _fk("purchases", "discount_code_id", "discount_codes", "SET NULL"),
        _pk("purchases"),
    )
    _index("purchases", "user_id")
    _index("purchases", "status")
    _index("purchases", "invoice_id")
    op.create_table(
        "purchase_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purchase_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        _fk("purchase_items", "purchase_id", "purchases"),
        _fk("purchase_items", "product_id", "products", "SET NULL"),
        _pk("purchase_items"),
    )
    _index("purchase_items", "purchase_id")
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("purchase_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        _ts("starts_at"),
        _ts("ends_at"),
        _fk("subscriptions", "user_id", "users"),
        _fk("subscriptions", "purchase_id", "purchases"),
        _fk("subscriptions", "product_id", "products", "SET NULL"),
        _pk("subscriptions"),
    )
    _index("subscriptions", "user_id")
    _index("subscriptions", "purchase_id")
    _index("subscriptions", "ends_at")
    op.create_table(
        "payment_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("event_key", sa.String(length=128), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        _ts("received_at"),
        _ts("processed_at", nullable=True),
        _pk("payment_events"),
        sa.UniqueConstraint("event_key", name=op.f("uq_payment_events_event_key")),
    )
    op.create_table(
        "media",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        _ts("created_at"),
        _fk("media", "user_id", "users"),
        _pk("media"),
        sa.UniqueConstraint("key", name=op.f("uq_media_key")),
    )
    _index("media", "user_id")
    op.create_table(
        "contact_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _ts("forwarded_at", nullable=True),
        _ts("created_at"),
        _fk("contact_messages", "user_id", "users", "SET NULL"),
        _pk("contact_messages"),
    )
    _index("contact_messages", "user_id")
    op.create_table(
        "broker_activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("ticker", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("broker", sa.String(length=8), nullable=False),
        sa.Column("investor", sa.String(length=1), nullable=False),
        sa.Column("buy_lot", sa.BigInteger(), nullable=False),
        sa.Column("buy_value", sa.Double(), nullable=False),
        sa.Column("sell_lot", sa.BigInteger(), nullable=False),
        sa.Column("sell_value", sa.Double(), nullable=False),
        _ts("imported_at"),
        _fk("broker_activity", "user_id", "users"),
        _pk("broker_activity"),
        sa.UniqueConstraint(
            "user_id", "ticker", "day", "broker", "investor",
            name=op.f("uq_broker_activity_user_id_ticker_day_broker_investor"),
        ),
    )  # fmt: skip
    _index("broker_activity", "user_id")


def downgrade() -> None:
    for table in (
        "broker_activity", "contact_messages", "media", "payment_events", "subscriptions", "purchase_items",
        "purchases", "discount_codes", "products", "product_categories",
    ):  # fmt: skip
        op.drop_table(table)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("phone")
        batch.drop_column("country_code")
        batch.drop_column("image")
