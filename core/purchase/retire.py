"""Taking a product off sale: deleted outright when never bought, deactivated when it was.

A product that appears in any purchase is *deactivated* (``active=False``), not deleted, so it
leaves the catalogue while old purchases, pending invoices and subscription renewals keep pointing
at it. Whether it was bought is a question about purchases, which is why this lives here and not
with the catalogue (``core.product``), which purchases build on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from core.account.admin import require_admin
from core.actor import Actor
from core.config import Settings
from core.db import Database
from core.errors import NotFound
from core.product.models import Product, ProductCategory
from core.product.service import ProductView, product_view
from core.purchase.models import PurchaseItem


@dataclass(frozen=True, slots=True)
class Removed:
    product: ProductView
    deactivated: bool  # True: it had purchases, so it was hidden instead of deleted


async def delete_product(db: Database, settings: Settings, actor: Actor, product_id: int) -> Removed:
    """Delete a never-bought product, or deactivate one that has purchases (admins only)."""
    [removed] = await delete_products(db, settings, actor, [product_id])
    return removed


async def delete_products(db: Database, settings: Settings, actor: Actor, product_ids: Sequence[int]) -> list[Removed]:
    """``delete_product`` of each id, all or none (admins only): an unknown id removes nothing."""
    require_admin(settings, actor)
    done: list[Removed] = []
    async with db.session() as session:
        for product_id in dict.fromkeys(product_ids):
            found = (
                await session.execute(
                    select(Product, ProductCategory.name)
                    .join(ProductCategory, Product.category_id == ProductCategory.id)
                    .where(Product.id == product_id)
                )
            ).first()
            if found is None:
                raise NotFound(f"there is no product with id {product_id}", hint="see /plans")
            row, category = found
            bought = await session.scalar(
                select(func.count()).select_from(PurchaseItem).where(PurchaseItem.product_id == product_id)
            )
            if bought:
                row.active = False
                await session.flush()
                done.append(Removed(product_view(row, category), deactivated=True))
                continue
            done.append(Removed(product_view(row, category), deactivated=False))
            await session.delete(row)
            await session.flush()
    return done
