"""Products (plans and one-off items) and discount codes: list for everyone, change for admins.

Removing a product asks whether anyone bought it, which is the purchases' to tell, so it lives
with them (``core.purchase.retire``).

Product features are what ``core.purchase.limits`` reads (``FEATURES``); an unknown feature
name is refused so that a typo cannot sell a plan that raises nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.account.admin import require_admin
from core.actor import Actor
from core.config import Settings
from core.db import Database, insert_ignoring_conflicts, parse_id, session_dialect
from core.errors import Conflict, Invalid, NotFound
from core.format import percent_text, rupiah
from core.labels import did_you_mean
from core.paging import Page, fetch_page
from core.product.models import DiscountCode, Product, ProductCategory

SUBSCRIPTION = "Subscription"
MAX_PRICE = 1_000_000_000  # Rp 1 billion: anything above is a typo
MAX_DAYS = 3660
MAX_BP = 10_000  # 100 % in basis points
# feature name -> the kind of value it takes (see core.purchase.limits)
FEATURES: dict[str, type] = {
    "max_deployments": int, "live_trading": bool, "max_position_value": float,
    "max_media_files": int, "max_media_bytes": int, "compute_cpu_s_per_minute": float,
}  # fmt: skip
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{2,31}$")

# The plans /product seed creates (prices in rupiah, before tax).
DEFAULT_PLANS: tuple[dict[str, Any], ...] = (
    {"name": "Basic", "price_idr": 49_000, "duration_days": 30, "description": "More deployments",
     "features": {"max_deployments": 10}},
    {"name": "Pro", "price_idr": 149_000, "duration_days": 30, "description": "Live trading and 20 deployments",
     "features": {"max_deployments": 20, "live_trading": True}},
    {"name": "Elite", "price_idr": 399_000, "duration_days": 30, "description": "Live trading and 50 deployments",
     "features": {"max_deployments": 50, "live_trading": True}},
)


@dataclass(frozen=True, slots=True)
class ProductView:
    id: int
    category: str
    category_id: int
    name: str
    description: str
    price_idr: int
    duration_days: int | None
    features: dict[str, Any]
    active: bool

    @property
    def is_subscription(self) -> bool:
        return self.duration_days is not None


@dataclass(frozen=True, slots=True)
class DiscountView:
    id: int
    code: str
    kind: str  # percent | fixed
    percent_bp: int | None  # percent: basis points (250 = 2.5 %)
    amount_idr: int | None  # fixed: whole rupiah
    valid_from: datetime | None
    valid_until: datetime | None
    max_uses: int | None
    used_count: int
    active: bool

    @property
    def off(self) -> str:
        """What the code takes off: ``2.5 %`` or ``Rp 25,000``."""
        return percent_text(self.percent_bp or 0) if self.kind == "percent" else rupiah(self.amount_idr or 0)


def check_money(value: object, field: str, *, low: int = 1, high: int = MAX_PRICE) -> int:
    """A rupiah amount entering the service: an ``int`` (not a float, not a bool) within [low, high].

    Invalid names the field; a float is refused even when whole, so that no caller can hand
    the service a rounded or truncated amount.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{field} is a whole number of rupiah (an integer), not {type(value).__name__} {value!r}")
    if not low <= value <= high:
        raise Invalid(f"{field} is a whole number of rupiah from {low:,} to {high:,}, not {value:,}")
    return value


def product_view(row: Product, category: str) -> ProductView:
    return ProductView(
        id=row.id, category=category, category_id=row.category_id, name=row.name, description=row.description,
        price_idr=row.price_idr, duration_days=row.duration_days, features=dict(row.features or {}),
        active=row.active,
    )


def _discount_view(row: DiscountCode) -> DiscountView:
    return DiscountView(
        id=row.id, code=row.code, kind=row.kind, percent_bp=row.percent_bp, amount_idr=row.amount_idr,
        valid_from=row.valid_from,
        valid_until=row.valid_until, max_uses=row.max_uses, used_count=row.used_count, active=row.active,
    )


def _filtered[*Row](
    query: Select[*Row],
    categories: Sequence[str] | None,
    ids: Sequence[int] | None,
    category_ids: Sequence[int] | None,
    text: str | None,
    active_only: bool,
    subscriptions_only: bool,
) -> Select[*Row]:
    if categories:
        query = query.where(func.lower(ProductCategory.name).in_([c.strip().lower() for c in categories]))
    if ids:
        query = query.where(Product.id.in_(list(ids)))
    if category_ids:
        query = query.where(Product.category_id.in_(list(category_ids)))
    if text and text.strip():
        needle = text.strip().lower()
        query = query.where(
            or_(
                func.lower(Product.name).contains(needle, autoescape=True),
                func.lower(Product.description).contains(needle, autoescape=True),
            )
        )
    if active_only:
        query = query.where(Product.active.is_(True))
    if subscriptions_only:
        query = query.where(Product.duration_days.is_not(None))
    return query


async def list_products(
    db: Database,
    *,
    categories: Sequence[str] | None = None,
    ids: Sequence[int] | None = None,
    category_ids: Sequence[int] | None = None,
    text: str | None = None,
    active_only: bool = True,
    subscriptions_only: bool = False,
    page: int = 1,
    page_size: int = 10,
) -> Page[ProductView]:
    """Products matching every filter given, cheapest first. ``text`` is a case-insensitive
    "contains" on name and description (the same on SQLite and PostgreSQL)."""
    base = select(Product, ProductCategory.name).join(ProductCategory, Product.category_id == ProductCategory.id)
    base = _filtered(base, categories, ids, category_ids, text, active_only, subscriptions_only)
    async with db.session() as session:
        rows, total = await fetch_page(session, base.order_by(Product.price_idr, Product.id), page, page_size)
        items = [product_view(row, category) for row, category in rows]
    return Page(items, page, page_size, total)


async def get_product(db: Database, product: int | str, *, active_only: bool = True) -> ProductView:
    """A product by id or by name (case-insensitive); NotFound suggests the closest active name."""
    async with db.session() as session:
        query = select(Product, ProductCategory.name).join(ProductCategory, Product.category_id == ProductCategory.id)
        key = str(product).strip()
        ident = parse_id(key)  # a name is never all digits (``check_name``), so no digits look one up
        if ident is not None:
            query = query.where(Product.id == ident)
        else:
            query = query.where(func.lower(Product.name) == key.lower())
        if active_only:
            query = query.where(Product.active.is_(True))
        found = (await session.execute(query.order_by(Product.id))).first()
        if found is None:
            names = list(await session.scalars(select(Product.name).where(Product.active.is_(True))))
            raise NotFound(f"there is no plan or product '{key}'{_suggest(key, names)}", hint="see /plans")
        return product_view(found[0], found[1])


def _suggest(key: str, names: Sequence[str]) -> str:
    """The closest name, or the one name that contains what was typed ("pro" -> "Pro Trader")."""
    close = did_you_mean(key, names)
    if close:
        return close
    containing = [n for n in names if key.lower() in n.lower()]
    return f" — did you mean '{containing[0]}'?" if len(containing) == 1 else ""


def check_features(features: dict[str, Any] | None) -> dict[str, Any]:
    """Feature values checked against ``FEATURES`` (name and kind); Invalid names the bad one."""
    out: dict[str, Any] = {}
    for name, value in (features or {}).items():
        kind = FEATURES.get(name)
        if kind is None:
            raise Invalid(f"unknown feature '{name}'{did_you_mean(name, FEATURES)}", hint="features: " + ", ".join(FEATURES))
        if kind is bool:
            if not isinstance(value, bool):
                raise Invalid(f"feature {name} is true or false, not {value!r}")
        elif name == "max_position_value" and value is None:
            pass  # no cap
        elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise Invalid(f"feature {name} needs a finite number of 0 or more, not {value!r}")
        elif kind is int and not float(value).is_integer():
            raise Invalid(f"feature {name} needs a whole number, not {value!r}")
        out[name] = int(value) if kind is int else value
    return out


async def _category_id(session: AsyncSession, name: str) -> int:
    existing = await session.scalar(select(ProductCategory.id).where(func.lower(ProductCategory.name) == name.lower()))
    if existing is not None:
        return existing
    dialect = session_dialect(session)
    await session.execute(insert_ignoring_conflicts(dialect, ProductCategory, "name").values(name=name))
    return (await session.execute(select(ProductCategory.id).where(ProductCategory.name == name))).scalar_one()


@dataclass(frozen=True, slots=True)
class NewProduct:
    """A product to create, as ``create_product`` takes it."""

    category: str
    name: str
    price_idr: int
    duration_days: int | None = None
    features: dict[str, Any] | None = None
    description: str = ""


def _checked(new: NewProduct) -> NewProduct:
    category, name = (new.category or "").strip(), (new.name or "").strip()
    if not category or len(category) > 64:
        raise Invalid("a category is 1 to 64 characters, e.g. Subscription")
    if not name or len(name) > 128 or name.isdigit():
        raise Invalid("a product name is 1 to 128 characters and not only digits")
    check_money(new.price_idr, "the price")
    if new.duration_days is not None and not 1 <= new.duration_days <= MAX_DAYS:
        raise Invalid(f"a subscription lasts 1 to {MAX_DAYS} days")
    features = check_features(new.features)
    if len(new.description) > 500:
        raise Invalid("a description has at most 500 characters")
    return NewProduct(category, name, new.price_idr, new.duration_days, features, new.description)


async def create_product(
    db: Database,
    settings: Settings,
    actor: Actor,
    *,
    category: str,
    name: str,
    price_idr: int,
    duration_days: int | None = None,
    features: dict[str, Any] | None = None,
    description: str = "",
) -> ProductView:
    """A new product (admins only). Its category is created on first use; an active product of
    the same name is a Conflict, so ``/buy NAME`` always means one product."""
    [made] = await create_products(
        db, settings, actor, [NewProduct(category, name, price_idr, duration_days, features, description)]
    )
    return made


async def create_products(db: Database, settings: Settings, actor: Actor, new: Sequence[NewProduct]) -> list[ProductView]:
    """Several products as ``create_product`` makes one, all or none (admins only): each is checked,
    then all are stored in one transaction; two of one name in ``new`` are a Conflict too."""
    require_admin(settings, actor)
    checked = [_checked(n) for n in new]
    made: list[ProductView] = []
    async with db.session() as session:
        for item in checked:
            clash = await session.scalar(
                select(Product.id).where(func.lower(Product.name) == item.name.lower(), Product.active.is_(True))
            )
            if clash is not None:
                raise Conflict(f"an active product named '{item.name}' exists (id {clash})",
                               hint="remove it first or pick another name")  # fmt: skip
            category_id = await _category_id(session, item.category)
            row = Product(
                category_id=category_id, name=item.name, description=item.description, price_idr=item.price_idr,
                duration_days=item.duration_days, features=item.features, active=True,
            )
            session.add(row)
            await session.flush()
            category_name = await session.scalar(select(ProductCategory.name).where(ProductCategory.id == category_id))
            made.append(product_view(row, category_name or item.category))
    return made


async def seed_default_plans(db: Database, settings: Settings, actor: Actor) -> list[ProductView]:
    """Create the ``DEFAULT_PLANS`` that do not exist yet (by active name); returns those created."""
    require_admin(settings, actor)
    async with db.session() as session:
        existing = {
            n.lower() for n in await session.scalars(select(Product.name).where(Product.active.is_(True)))
        }
    created = []
    for plan in DEFAULT_PLANS:
        if plan["name"].lower() not in existing:
            created.append(await create_product(db, settings, actor, category=SUBSCRIPTION, **plan))
    return created


def check_code(code: str) -> str:
    """A discount code as stored: upper-case letters, digits, _ and -, 3 to 32 characters."""
    text = (code or "").strip().upper()
    if not _CODE.match(text):
        raise Invalid(f"'{(code or '')[:40]}' is not a valid discount code", hint="3-32 letters, digits, _ or -")
    return text


async def create_discount(
    db: Database,
    settings: Settings,
    actor: Actor,
    *,
    code: str,
    percent_bp: int | None = None,
    amount_idr: int | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    max_uses: int | None = None,
) -> DiscountView:
    """A new discount code (admins only), exactly one of: ``percent_bp`` basis points off the
    subtotal (1..10000, 250 = 2.5 %) or ``amount_idr`` whole rupiah off (capped at the subtotal)."""
    require_admin(settings, actor)
    code = check_code(code)
    if (percent_bp is None) == (amount_idr is None):
        raise Invalid("a discount is either a percentage (percent_bp) or an amount of rupiah (amount_idr)")
    if percent_bp is not None:
        if isinstance(percent_bp, bool) or not isinstance(percent_bp, int):
            raise Invalid(f"percent_bp is an integer number of basis points, not {type(percent_bp).__name__} {percent_bp!r}")
        if not 1 <= percent_bp <= MAX_BP:
            raise Invalid(f"a percent discount is more than 0 % and at most 100 %, not {percent_text(percent_bp)}")
        kind = "percent"
    else:
        check_money(amount_idr, "a fixed discount")
        kind = "fixed"
    if valid_from and valid_until and valid_until <= valid_from:
        raise Invalid("the code must end after it starts")
    if max_uses is not None and max_uses < 1:
        raise Invalid("uses must be 1 or more")
    async with db.session() as session:
        if await session.scalar(select(DiscountCode.id).where(DiscountCode.code == code)) is not None:
            raise Conflict(f"discount code {code} exists already")
        row = DiscountCode(
            code=code, kind=kind, percent_bp=percent_bp, amount_idr=amount_idr, valid_from=valid_from, valid_until=valid_until,
            max_uses=max_uses, used_count=0, active=True,
        )
        session.add(row)
        await session.flush()
        return _discount_view(row)


async def deactivate_discount(db: Database, settings: Settings, actor: Actor, code: str) -> DiscountView:
    """Stop a code from being used (admins only); kept for the purchases that used it."""
    require_admin(settings, actor)
    code = check_code(code)
    async with db.session() as session:
        row = await session.scalar(select(DiscountCode).where(DiscountCode.code == code))
        if row is None:
            raise NotFound(f"there is no discount code {code}")
        row.active = False
        await session.flush()
        return _discount_view(row)


async def list_discounts(db: Database, settings: Settings, actor: Actor) -> list[DiscountView]:
    require_admin(settings, actor)
    async with db.session() as session:
        return [_discount_view(r) for r in await session.scalars(select(DiscountCode).order_by(DiscountCode.code))]
