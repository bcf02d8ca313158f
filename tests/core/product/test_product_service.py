"""Products and discount codes through the service, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.account.service import actor_for
from core.config import Settings
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.product import service as products
from core.product.models import DiscountCode, Product, ProductCategory
from core.purchase import retire
from core.purchase.models import Purchase, PurchaseItem

SETTINGS = Settings(_env_file=None, admin_ids=["console:admin"])


async def _actors(db):
    admin = await actor_for(db, platform="console", external_id="admin")
    user = await actor_for(db, platform="console", external_id="bob")
    return admin, user


async def _catalogue(db, admin):
    made = {}
    for category, name, price, days, features, about in [
        ("Subscription", "Basic", 49_000, 30, {"max_deployments": 10}, "More deployments"),
        ("Subscription", "Pro", 149_000, 30, {"max_deployments": 20, "live_trading": True}, "Live trading"),
        ("Data", "IDX Broker Pack", 99_000, None, {}, "One-off bandarmology export"),
    ]:
        made[name] = await products.create_product(
            db, SETTINGS, admin, category=category, name=name, price_idr=price, duration_days=days,
            features=features, description=about,
        )
    return made


async def test_list_filters_and_pages(db):
    admin, _ = await _actors(db)
    made = await _catalogue(db, admin)
    everything = await products.list_products(db)
    assert [p.name for p in everything.items] == ["Basic", "IDX Broker Pack", "Pro"]  # cheapest first
    assert everything.total == 3

    subs = await products.list_products(db, categories=["subscription"])  # category names case-insensitive
    assert [p.name for p in subs.items] == ["Basic", "Pro"]
    assert {p.category for p in subs.items} == {"Subscription"}
    by_id = await products.list_products(db, ids=[made["Pro"].id])
    assert [p.name for p in by_id.items] == ["Pro"]
    by_category = await products.list_products(db, category_ids=[made["IDX Broker Pack"].category_id])
    assert [p.name for p in by_category.items] == ["IDX Broker Pack"]
    assert [p.name for p in (await products.list_products(db, text="BROKER")).items] == ["IDX Broker Pack"]
    assert [p.name for p in (await products.list_products(db, text="live TRAD")).items] == ["Pro"]  # description
    assert (await products.list_products(db, text="100%")).total == 0  # % is literal, not a wildcard
    only_plans = await products.list_products(db, subscriptions_only=True)
    assert [p.name for p in only_plans.items] == ["Basic", "Pro"]

    first = await products.list_products(db, page=1, page_size=2)
    second = await products.list_products(db, page=2, page_size=2)
    assert (first.total, first.pages, first.has_next, len(first.items)) == (3, 2, True, 2)
    assert [p.name for p in second.items] == ["Pro"] and not second.has_next
    with pytest.raises(Invalid):
        await products.list_products(db, page=0)

    pro = await products.get_product(db, "pro")
    assert pro.features == {"max_deployments": 20, "live_trading": True} and pro.is_subscription
    with pytest.raises(NotFound) as missing:
        await products.get_product(db, "Prp")
    assert "did you mean 'Pro'" in missing.value.message


async def test_only_admins_change_the_catalogue(db):
    admin, user = await _actors(db)
    with pytest.raises(Forbidden):
        await products.create_product(db, SETTINGS, user, category="Subscription", name="Hack", price_idr=1)
    made = await _catalogue(db, admin)
    with pytest.raises(Forbidden):
        await retire.delete_product(db, SETTINGS, user, made["Pro"].id)
    with pytest.raises(Forbidden):
        await products.create_discount(db, SETTINGS, user, code="FREE", percent_bp=10_000)


async def test_create_validates_and_refuses_duplicates(db):
    admin, _ = await _actors(db)
    await _catalogue(db, admin)
    with pytest.raises(Conflict):
        await products.create_product(db, SETTINGS, admin, category="Subscription", name="PRO", price_idr=1)
    with pytest.raises(Invalid) as typo:
        await products.create_product(db, SETTINGS, admin, category="Subscription", name="Max", price_idr=1,
                                      features={"max_deployment": 5})
    assert "did you mean 'max_deployments'" in typo.value.message
    for bad in ({"price_idr": 0}, {"price_idr": 1.5}, {"duration_days": 0}, {"name": "123"}):
        with pytest.raises(Invalid):
            await products.create_product(db, SETTINGS, admin, **{"category": "X", "name": "Y", "price_idr": 10, **bad})
    with pytest.raises(Invalid):
        await products.create_product(db, SETTINGS, admin, category="X", name="Y", price_idr=10,
                                      features={"live_trading": "yes"})
    async with db.session() as session:  # one category row per name, created on first use
        assert sorted(await session.scalars(select(ProductCategory.name))) == ["Data", "Subscription"]


async def test_delete_removes_unbought_and_deactivates_bought(db):
    admin, user = await _actors(db)
    made = await _catalogue(db, admin)
    gone = await retire.delete_product(db, SETTINGS, admin, made["Basic"].id)
    assert not gone.deactivated
    async with db.session() as session:
        assert await session.get(Product, made["Basic"].id) is None
        purchase = Purchase(user_id=user.user_id, provider="Mock", subtotal=149_000, total=149_000, status="Paid")
        session.add(purchase)
        await session.flush()
        session.add(PurchaseItem(purchase_id=purchase.id, product_id=made["Pro"].id, name="Pro", quantity=1,
                                 unit_price=149_000, amount=149_000))
    kept = await retire.delete_product(db, SETTINGS, admin, made["Pro"].id)
    assert kept.deactivated
    async with db.session() as session:
        assert (await session.get(Product, made["Pro"].id)).active is False
    assert [p.name for p in (await products.list_products(db)).items] == ["IDX Broker Pack"]
    assert (await products.list_products(db, active_only=False)).total == 2
    with pytest.raises(NotFound):
        await products.get_product(db, "Pro")
    with pytest.raises(NotFound):
        await retire.delete_product(db, SETTINGS, admin, 9999)
    # a new active "Pro" may now be created
    await products.create_product(db, SETTINGS, admin, category="Subscription", name="Pro", price_idr=159_000,
                                  duration_days=30)


async def test_several_products_are_created_or_deleted_all_or_none(db):
    admin, user = await _actors(db)
    New = products.NewProduct
    with pytest.raises(Invalid):
        await products.create_products(db, SETTINGS, admin, [New("Subscription", "Basic", 49_000, 30),
                                                              New("Subscription", "Bad", 0)])  # fmt: skip
    with pytest.raises(Conflict):
        await products.create_products(db, SETTINGS, admin, [New("Subscription", "Twin", 1_000),
                                                              New("Data", "twin", 2_000)])  # fmt: skip
    with pytest.raises(Forbidden):
        await products.create_products(db, SETTINGS, user, [New("Subscription", "Mine", 1_000)])
    assert (await products.list_products(db, active_only=False)).total == 0  # nothing of a refused batch
    made = await products.create_products(db, SETTINGS, admin, [New("Subscription", "Basic", 49_000, 30),
                                                                 New("Data", "Pack", 99_000)])  # fmt: skip
    assert [(p.name, p.category, p.price_idr) for p in made] == [("Basic", "Subscription", 49_000),
                                                                 ("Pack", "Data", 99_000)]  # fmt: skip
    with pytest.raises(NotFound):
        await retire.delete_products(db, SETTINGS, admin, [made[0].id, 9999])
    assert (await products.list_products(db)).total == 2  # the known one was kept too
    gone = await retire.delete_products(db, SETTINGS, admin, [made[0].id, made[1].id, made[0].id])
    assert [(r.product.name, r.deactivated) for r in gone] == [("Basic", False), ("Pack", False)]
    assert (await products.list_products(db, active_only=False)).total == 0


async def test_seed_is_idempotent(db):
    admin, _ = await _actors(db)
    first = await products.seed_default_plans(db, SETTINGS, admin)
    assert [p.name for p in first] == ["Basic", "Pro", "Elite"]
    assert await products.seed_default_plans(db, SETTINGS, admin) == []
    assert (await products.list_products(db, subscriptions_only=True)).total == 3


async def test_discount_codes(db):
    admin, _ = await _actors(db)
    made = await products.create_discount(db, SETTINGS, admin, code="hemat10", percent_bp=1_000, max_uses=5)
    assert (made.code, made.kind, made.percent_bp, made.amount_idr, made.max_uses, made.used_count) == (
        "HEMAT10", "percent", 1_000, None, 5, 0)
    assert made.off == "10 %"
    with pytest.raises(Conflict):
        await products.create_discount(db, SETTINGS, admin, code="HEMAT10", amount_idr=1)
    for bad in ({"percent_bp": 10_001}, {"percent_bp": 0}, {}, {"percent_bp": 100, "amount_idr": 5},
                {"code": "a b", "amount_idr": 5}, {"amount_idr": 5, "max_uses": 0}):
        with pytest.raises(Invalid):
            await products.create_discount(db, SETTINGS, admin, **{"code": "OTHER", **bad})
    off = await products.deactivate_discount(db, SETTINGS, admin, "hemat10")
    assert off.active is False
    async with db.session() as session:
        assert (await session.scalar(select(DiscountCode.active).where(DiscountCode.code == "HEMAT10"))) is False
    assert [c.code for c in await products.list_discounts(db, SETTINGS, admin)] == ["HEMAT10"]


async def test_percent_codes_are_stored_exactly_in_basis_points(db):
    admin, _ = await _actors(db)
    half = await products.create_discount(db, SETTINGS, admin, code="HALF", percent_bp=250)
    quarter = await products.create_discount(db, SETTINGS, admin, code="QUARTER", percent_bp=1_225)
    assert (half.off, quarter.off) == ("2.5 %", "12.25 %")
    async with db.session() as session:
        rows = {r.code: (r.kind, r.percent_bp, r.amount_idr) for r in await session.scalars(select(DiscountCode))}
    assert rows == {"HALF": ("percent", 250, None), "QUARTER": ("percent", 1_225, None)}
    with pytest.raises(Invalid) as over:
        await products.create_discount(db, SETTINGS, admin, code="OVER", percent_bp=10_050)
    assert over.value.message == "a percent discount is more than 0 % and at most 100 %, not 100.5 %"


@pytest.mark.parametrize(
    ("field", "call"),
    [
        ("the price", lambda db, admin: products.create_product(
            db, SETTINGS, admin, category="Subscription", name="Float", price_idr=49_000.0)),
        ("the price", lambda db, admin: products.create_product(
            db, SETTINGS, admin, category="Subscription", name="Bool", price_idr=True)),
        ("a fixed discount", lambda db, admin: products.create_discount(db, SETTINGS, admin, code="FLOAT1", amount_idr=25_000.0)),
        ("a fixed discount", lambda db, admin: products.create_discount(db, SETTINGS, admin, code="FLOAT2", amount_idr=2.5)),
        ("percent_bp", lambda db, admin: products.create_discount(db, SETTINGS, admin, code="FLOAT3", percent_bp=2.5)),
    ],
)
async def test_money_entering_the_service_must_be_an_int(db, field, call):
    admin, _ = await _actors(db)
    with pytest.raises(Invalid) as refused:
        await call(db, admin)
    assert refused.value.message.startswith(f"{field} is a")
    assert "integer" in refused.value.message
    async with db.session() as session:
        assert (await session.scalars(select(Product))).all() == []
        assert (await session.scalars(select(DiscountCode))).all() == []


def test_percent_text_shows_only_the_decimals_it_needs():
    assert [products.percent_text(bp) for bp in (1_000, 250, 1_225, 5, 10_000)] == [
        "10 %", "2.5 %", "12.25 %", "0.05 %", "100 %"]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("name", ["max_deployments", "max_position_value"])
def test_features_must_be_finite_numbers(name, value):
    with pytest.raises(Invalid, match=f"feature {name} needs a finite number"):
        products.check_features({name: value})
    assert products.check_features({"max_position_value": 1.5, "max_deployments": 3.0}) == {
        "max_position_value": 1.5, "max_deployments": 3}
