"""Shared set-up for purchase tests: settings, an admin, a buyer and the default plans."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update

from core.account.models import User
from core.account.service import actor_for
from core.actor import Actor
from core.config import Settings
from core.product import service as products
from core.product.service import ProductView


def settings(**overrides: Any) -> Settings:
    return Settings(_env_file=None, admin_ids=["console:admin"], **overrides)


@dataclass
class Shop:
    admin: Actor
    buyer: Actor
    plans: dict[str, ProductView]


async def shop(db, config: Settings) -> Shop:
    admin = await actor_for(db, platform="console", external_id="admin")
    buyer = await actor_for(db, platform="telegram", external_id="4242", display_name="Budi")
    async with db.session() as session:
        await session.execute(
            update(User).where(User.id == buyer.user_id)
            .values(name="Budi Santoso", email="budi@example.com", phone="+6281234567890")
        )
    plans = {p.name: p for p in await products.seed_default_plans(db, config, admin)}
    return Shop(admin, buyer, plans)
