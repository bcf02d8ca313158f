"""Precalculate, Mock purchases, subscriptions and limits, Get Purchases (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.errors import Invalid
from core.product import service as products
from core.product.models import DiscountCode
from core.purchase import service as purchases
from core.purchase.limits import limits_for
from core.purchase.models import Purchase, PurchaseItem, Subscription
from tests.core.purchase.helpers import settings, shop

NOW = datetime(2025, 6, 1, 9, tzinfo=UTC)
MOCK = settings()


async def test_precalculate_prices_codes_and_tax(db):
    s = await shop(db, MOCK)
    pro = s.plans["Pro"]
    plain = await purchases.precalculate(db, MOCK, s.buyer, [purchases.Item(pro.id, 2)], now=NOW)
    assert (plain.subtotal, plain.discount, plain.tax, plain.total) == (298_000, 0, 32_780, 330_780)
    assert plain.lines[0].amount == 298_000 and plain.lines[0].duration_days == 30

    await products.create_discount(db, MOCK, s.admin, code="HEMAT10", percent_bp=1_000)
    await products.create_discount(db, MOCK, s.admin, code="GRATIS", percent_bp=10_000)
    await products.create_discount(db, MOCK, s.admin, code="BESAR", amount_idr=1_000_000)
    await products.create_discount(db, MOCK, s.admin, code="LAMA", amount_idr=5_000,
                                   valid_until=NOW - timedelta(seconds=1))
    await products.create_discount(db, MOCK, s.admin, code="HABIS", amount_idr=5_000, max_uses=1)
    async with db.session() as session:
        (await session.scalar(select(DiscountCode).where(DiscountCode.code == "HABIS"))).used_count = 1

    item = [purchases.Item(pro.id)]
    ten = await purchases.precalculate(db, MOCK, s.buyer, item, "hemat10", now=NOW)
    assert (ten.discount, ten.tax, ten.total, ten.discount_code) == (14_900, 14_751, 148_851, "HEMAT10")
    for code in ("GRATIS", "BESAR"):
        free = await purchases.precalculate(db, MOCK, s.buyer, item, code, now=NOW)
        assert (free.discount, free.tax, free.total) == (149_000, 0, 0)
    for code, message in [("LAMA", "has expired"), ("HABIS", "has been used up"), ("HEMAT11", "is not valid"),
                          ("x", "is not valid")]:
        with pytest.raises(Invalid) as caught:
            await purchases.precalculate(db, MOCK, s.buyer, item, code, now=NOW)
        assert message in caught.value.message
        assert "did you mean" not in caught.value.message  # HEMAT11 must not reveal HEMAT10

    included = settings(prices_include_tax=True)
    inside = await purchases.precalculate(db, included, s.buyer, item, now=NOW)
    assert (inside.tax, inside.total, inside.tax_included) == (14_766, 149_000, True)


async def test_precalculate_refuses_bad_items(db):
    s = await shop(db, MOCK)
    for items, message in [([], "nothing to buy"), ([purchases.Item(s.plans["Pro"].id, 0)], "a quantity is 1 to 100"),
                           ([purchases.Item(9999)], "no product with id 9999")]:
        with pytest.raises(Invalid) as caught:
            await purchases.precalculate(db, MOCK, s.buyer, items)
        assert message in caught.value.message


async def test_mock_purchase_settles_and_raises_limits_until_expiry(db):
    s = await shop(db, MOCK)
    before = await limits_for(db, MOCK, s.buyer.user_id, now=NOW)
    assert (before.plan, before.max_deployments, before.live_trading) == ("Free", 3, False)

    done = await purchases.purchase(db, MOCK, s.buyer, [purchases.Item(s.plans["Pro"].id)], now=NOW)
    assert done.settled and done.payment_link is None
    assert (done.purchase.status, done.purchase.provider, done.purchase.total) == ("Paid", "Mock", 165_390)
    assert done.purchase.paid_at == NOW
    [sub] = done.subscriptions
    assert (sub.name, sub.starts_at, sub.ends_at) == ("Pro", NOW, NOW + timedelta(days=30))

    during = await limits_for(db, MOCK, s.buyer.user_id, now=NOW + timedelta(days=29))
    assert (during.plan, during.max_deployments, during.live_trading) == ("Pro", 20, True)
    after = await limits_for(db, MOCK, s.buyer.user_id, now=NOW + timedelta(days=30))
    assert (after.plan, after.max_deployments, after.live_trading) == ("Free", 3, False)

    async with db.session() as session:
        [row] = await session.scalars(select(Purchase))
        [item] = await session.scalars(select(PurchaseItem))
        assert (row.user_id, row.subtotal, row.discount, row.tax, row.invoice_id) == (
            s.buyer.user_id, 149_000, 0, 16_390, f"MOCK-{row.id}")
        assert (item.product_id, item.name, item.quantity, item.unit_price, item.amount) == (
            s.plans["Pro"].id, "Pro", 1, 149_000, 149_000)


async def test_a_second_period_of_the_same_plan_starts_when_the_first_ends(db):
    s = await shop(db, MOCK)
    pro = s.plans["Pro"].id
    await purchases.purchase(db, MOCK, s.buyer, [purchases.Item(pro)], now=NOW)
    later = NOW + timedelta(days=10)
    again = await purchases.purchase(db, MOCK, s.buyer, [purchases.Item(pro, 2)], now=later)
    assert [(x.starts_at, x.ends_at) for x in again.subscriptions] == [
        (NOW, NOW + timedelta(days=30)), (NOW + timedelta(days=30), NOW + timedelta(days=90))]
    basic = await purchases.purchase(db, MOCK, s.buyer, [purchases.Item(s.plans["Basic"].id)], now=later)
    assert ("Basic", later) in [(x.name, x.starts_at) for x in basic.subscriptions]  # another plan: starts now
    assert (await limits_for(db, MOCK, s.buyer.user_id, now=NOW + timedelta(days=60))).plan == "Pro"
    assert (await limits_for(db, MOCK, s.buyer.user_id, now=NOW + timedelta(days=90))).plan == "Free"


async def test_free_order_settles_and_the_usage_cap_holds(db):
    s = await shop(db, settings(payment_provider="Mayar"))  # no Mayar call for Rp 0
    config = settings(payment_provider="Mayar")
    await products.create_discount(db, config, s.admin, code="GRATIS", percent_bp=10_000, max_uses=1)
    done = await purchases.purchase(db, config, s.buyer, [purchases.Item(s.plans["Basic"].id)], "gratis", now=NOW)
    assert (done.settled, done.purchase.provider, done.purchase.total, done.purchase.discount) == (
        True, "Free", 0, 49_000)
    with pytest.raises(Invalid, match="used up"):
        await purchases.purchase(db, config, s.buyer, [purchases.Item(s.plans["Basic"].id)], "GRATIS", now=NOW)
    async with db.session() as session:
        assert await session.scalar(select(DiscountCode.used_count)) == 1
        assert await session.scalar(select(func.count()).select_from(Purchase)) == 1
        assert await session.scalar(select(func.count()).select_from(Subscription)) == 1


async def test_get_purchases_by_ids_and_status_paginated_and_private(db):
    s = await shop(db, MOCK)
    made = [
        (await purchases.purchase(db, MOCK, s.buyer, [purchases.Item(s.plans["Basic"].id)],
                                  now=NOW + timedelta(minutes=3 * i))).purchase
        for i in range(3)
    ]
    async with db.session() as session:  # one left unpaid and overdue
        session.add(Purchase(user_id=s.buyer.user_id, status="Pending", provider="Mock", subtotal=1, total=1,
                             created_at=NOW + timedelta(minutes=10), expires_at=NOW + timedelta(hours=1)))
    page = await purchases.list_purchases(db, MOCK, s.buyer, page=1, page_size=2, now=NOW)
    assert (page.total, page.pages, [p.status for p in page.items]) == (4, 2, ["Pending", "Paid"])
    paid = await purchases.list_purchases(db, MOCK, s.buyer, statuses=["paid"])
    assert [p.id for p in paid.items] == [m.id for m in reversed(made)]
    assert [p.items[0].name for p in paid.items] == ["Basic"] * 3
    picked = await purchases.list_purchases(db, MOCK, s.buyer, ids=[made[0].id])
    assert [p.id for p in picked.items] == [made[0].id]
    assert (await purchases.list_purchases(db, MOCK, s.admin)).total == 0  # only one's own
    with pytest.raises(Invalid, match="a purchase status is one of"):
        await purchases.list_purchases(db, MOCK, s.buyer, statuses=["done"])

    refreshed = await purchases.list_purchases(db, MOCK, s.buyer, statuses=["Expired"], latest=True,
                                               now=NOW + timedelta(hours=2))
    assert refreshed.total == 1  # the overdue pending one expired on the latest refresh


async def test_pressing_pay_twice_buys_once(db):
    s = await shop(db, MOCK)
    basic = [purchases.Item(s.plans["Basic"].id)]
    first = await purchases.purchase(db, MOCK, s.buyer, basic, now=NOW)
    assert first.settled
    from core.errors import Conflict

    with pytest.raises(Conflict, match=f"you bought this 5 s ago \\(order #{first.purchase.id}, Paid\\)"):
        await purchases.purchase(db, MOCK, s.buyer, basic, now=NOW + timedelta(seconds=5))
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Purchase)) == 1
        assert await session.scalar(select(func.count()).select_from(Subscription)) == 1
    later = await purchases.purchase(db, MOCK, s.buyer, basic, now=NOW + purchases.DUPLICATE_WINDOW)
    assert later.settled and later.purchase.id != first.purchase.id  # a deliberate second period
