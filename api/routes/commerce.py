"""Product: Get Products, Create Products, Delete Products (as ``/plans`` and the admins'
``/product``); Purchase: Get Purchases, Purchase, Precalculate Purchase (as ``/purchases`` and
``/buy``).

Creating and deleting products needs an ``admin`` token whose owner is still an administrator.
Amounts are whole rupiah. ``provider`` may be left UnknownPaymentProvider (the configured one);
naming another provider than the configured one is refused. Deleting a product that was bought
deactivates it instead (old purchases keep pointing at it). Creating and deleting several
products is all or none.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.common import Admin, Limit, Paged, PageNumber, Reader, Trader, core_of
from api.problems import PROBLEMS
from core.config import Settings
from core.db.base import ID_MAX
from core.errors import Invalid
from core.product import service as products
from core.product.service import ProductView
from core.purchase import retire
from core.purchase import service as purchases
from core.purchase.models import PurchaseStatus
from core.purchase.pricing import Quote
from core.purchase.service import PurchaseView

router = APIRouter(prefix="/v1", responses=PROBLEMS)
Ids = Annotated[list[Annotated[int, Field(ge=1, le=ID_MAX)]] | None, Query(max_length=100)]


class PaymentProvider(StrEnum):
    """The specification's ``purchasePaymentProvider``; UnknownPaymentProvider means the configured one."""

    UNKNOWN = "UnknownPaymentProvider"
    MOCK = "Mock"
    MAYAR = "Mayar"


class ProductOut(BaseModel):
    product_id: int
    category: str
    category_id: int
    name: str
    description: str
    price: int = Field(description="whole rupiah")
    duration_days: int | None = Field(description="a subscription's length; none for a one-off product")
    features: dict[str, Any]
    active: bool

    @staticmethod
    def of(view: ProductView) -> ProductOut:
        return ProductOut(product_id=view.id, category=view.category, category_id=view.category_id, name=view.name,
                          description=view.description, price=view.price_idr, duration_days=view.duration_days,
                          features=view.features, active=view.active)  # fmt: skip



class NewProduct(BaseModel):
    category: str = Field(min_length=1, max_length=64, examples=["Subscription"])
    name: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=500)
    price: int = Field(description="whole rupiah")
    duration_days: int | None = Field(default=None, description="a subscription's length in days")
    features: dict[str, Any] = Field(default_factory=dict, max_length=32)


class CreateProducts(BaseModel):
    products: list[NewProduct] = Field(min_length=1, max_length=20)


class RemovedProduct(BaseModel):
    product: ProductOut
    deactivated: bool = Field(description="true: it had purchases, so it left the catalogue instead")


class PurchaseProduct(BaseModel):
    product_id: int = Field(ge=1, le=ID_MAX)
    quantity: int = Field(default=1, ge=1, le=purchases.MAX_QUANTITY)


class PurchaseDiscount(BaseModel):
    code: str = Field(default="", max_length=40)


class PurchaseBody(BaseModel):
    provider: PaymentProvider = PaymentProvider.UNKNOWN
    products: list[PurchaseProduct] = Field(min_length=1, max_length=purchases.MAX_LINES)
    discount: PurchaseDiscount | None = None

    def items(self) -> list[purchases.Item]:
        return [purchases.Item(p.product_id, p.quantity) for p in self.products]

    def code(self) -> str | None:
        return self.discount.code if self.discount and self.discount.code.strip() else None


class LineOut(BaseModel):
    product_id: int | None
    name: str
    quantity: int
    unit_price: int
    amount: int


class QuoteOut(BaseModel):
    lines: list[LineOut]
    subtotal: int
    discount: int
    discount_code: str | None
    tax: int
    tax_percent: int
    tax_included: bool
    total: int

    @staticmethod
    def of(quote: Quote) -> QuoteOut:
        return QuoteOut(lines=[LineOut(product_id=line.product_id, name=line.name, quantity=line.quantity,
                                       unit_price=line.unit_price, amount=line.amount) for line in quote.lines],
                        subtotal=quote.subtotal, discount=quote.discount, discount_code=quote.discount_code,
                        tax=quote.tax, tax_percent=quote.tax_percent, tax_included=quote.tax_included,
                        total=quote.total)  # fmt: skip


class PurchaseOut(BaseModel):
    purchase_id: int
    status: PurchaseStatus
    provider: str
    items: list[LineOut]
    subtotal: int
    discount: int
    tax: int
    total: int
    payment_link: str | None
    created_at: datetime
    expires_at: datetime | None
    paid_at: datetime | None

    @staticmethod
    def of(view: PurchaseView) -> PurchaseOut:
        return PurchaseOut(purchase_id=view.id, status=view.status, provider=view.provider,
                           items=[LineOut(product_id=i.product_id, name=i.name, quantity=i.quantity,
                                          unit_price=i.unit_price, amount=i.amount) for i in view.items],
                           subtotal=view.subtotal, discount=view.discount, tax=view.tax, total=view.total,
                           payment_link=view.payment_link, created_at=view.created_at, expires_at=view.expires_at,
                           paid_at=view.paid_at)  # fmt: skip



class PurchasedOut(BaseModel):
    purchase: PurchaseOut
    settled: bool = Field(description="paid already (Mock, or nothing to pay); else pay at payment_link")
    payment_link: str | None


@router.get("/products", summary="Get Products", tags=["Product"], response_model=Paged[ProductOut])
async def get_products(
    request: Request, _caller: Reader, page: PageNumber = 1, limit: Limit = 10,
    categories: Annotated[list[Annotated[str, Field(max_length=64)]] | None, Query(max_length=20)] = None,
    product_ids: Ids = None, category_ids: Ids = None,
    name: Annotated[str | None, Query(max_length=128, description="contained in the name or description")] = None,
) -> Paged[ProductOut]:  # fmt: skip
    found = await products.list_products(core_of(request).db, categories=categories, ids=product_ids,
                                         category_ids=category_ids, text=name, page=page, page_size=limit)  # fmt: skip
    return Paged[ProductOut].of(found, ProductOut.of)


@router.post("/products", summary="Create Products", tags=["Product"], response_model=list[ProductOut])
async def create_products(body: CreateProducts, request: Request, caller: Admin) -> list[ProductOut]:
    core = core_of(request)
    made = await products.create_products(core.db, core.settings, caller.actor, [products.NewProduct(
        p.category, p.name, p.price, p.duration_days, p.features, p.description) for p in body.products])  # fmt: skip
    return [ProductOut.of(p) for p in made]


@router.delete("/products", summary="Delete Products", tags=["Product"], response_model=list[RemovedProduct])
async def delete_products(
    request: Request, caller: Admin, product_ids: Annotated[list[Annotated[int, Field(ge=1, le=ID_MAX)]],
                                                            Query(min_length=1, max_length=100)],
) -> list[RemovedProduct]:  # fmt: skip
    core = core_of(request)
    removed = await retire.delete_products(core.db, core.settings, caller.actor, product_ids)
    return [RemovedProduct(product=ProductOut.of(r.product), deactivated=r.deactivated) for r in removed]


@router.get("/purchases", summary="Get Purchases", tags=["Purchase"], response_model=Paged[PurchaseOut])
async def get_purchases(
    request: Request, caller: Reader, page: PageNumber = 1, limit: Limit = 10, purchase_ids: Ids = None,
    status: Annotated[list[Annotated[str, Field(max_length=20)]] | None, Query(max_length=10)] = None,
    latest: Annotated[bool, Query(description="ask the payment provider about pending ones first")] = False,
) -> Paged[PurchaseOut]:  # fmt: skip
    core = core_of(request)
    found = await purchases.list_purchases(core.db, core.settings, caller.actor, ids=purchase_ids, statuses=status,
                                           page=page, page_size=limit, latest=latest)  # fmt: skip
    return Paged[PurchaseOut].of(found, PurchaseOut.of)


@router.post("/purchases", summary="Purchase", tags=["Purchase"], response_model=PurchasedOut)
async def purchase(body: PurchaseBody, request: Request, caller: Trader) -> PurchasedOut:
    core = core_of(request)
    _check_provider(core.settings, body.provider)
    done = await purchases.purchase(core.db, core.settings, caller.actor, body.items(), body.code())
    return PurchasedOut(purchase=PurchaseOut.of(done.purchase), settled=done.settled, payment_link=done.payment_link)


@router.post("/purchases/precalculate", summary="Precalculate Purchase", tags=["Purchase"], response_model=QuoteOut)
async def precalculate(body: PurchaseBody, request: Request, caller: Reader) -> QuoteOut:
    core = core_of(request)
    _check_provider(core.settings, body.provider)
    return QuoteOut.of(await purchases.precalculate(core.db, core.settings, caller.actor, body.items(), body.code()))


def _check_provider(settings: Settings, provider: PaymentProvider) -> None:
    if provider is not PaymentProvider.UNKNOWN and provider.value != settings.payment_provider:
        raise Invalid(f"payments here go through {settings.payment_provider}, not {provider.value}",
                      hint="leave provider out (UnknownPaymentProvider) to use it")  # fmt: skip

