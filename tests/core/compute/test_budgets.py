"""Compute budgets come from the user's plan: the free tier's setting, raised by a subscription."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest

from core.compute import ComputeLimit, InlineCompute, Task
from core.config import Settings
from core.db import utcnow
from core.purchase.limits import compute_budget, limits_for
from core.purchase.models import Purchase, Subscription
from tests import compute_probe as probe
from tests.core.deployment.kit import make_user


async def _subscribe(db, user_id: int, features: dict) -> None:
    now = utcnow()
    async with db.session() as session:
        purchase = Purchase(user_id=user_id, provider="Mock", subtotal=1, total=1, status="Paid")
        session.add(purchase)
        await session.flush()
        session.add(Subscription(user_id=user_id, purchase_id=purchase.id, name="Quant", starts_at=now - timedelta(days=1),
                                 ends_at=now + timedelta(days=30), features=features))  # fmt: skip


async def test_a_plan_raises_the_compute_budget_and_the_free_tier_keeps_the_setting(db):
    settings = Settings(_env_file=None, compute_cpu_s_per_minute=0.2)
    free = await make_user(db, "free")
    paying = await make_user(db, "paying")
    unbounded = await make_user(db, "unbounded")
    await _subscribe(db, paying.user_id, {"compute_cpu_s_per_minute": 300})
    await _subscribe(db, unbounded.user_id, {"compute_cpu_s_per_minute": 0})
    assert (await limits_for(db, settings, free.user_id)).cpu_s_per_minute == 0.2
    assert (await limits_for(db, settings, paying.user_id)).cpu_s_per_minute == 300
    assert (await limits_for(db, settings, unbounded.user_id)).cpu_s_per_minute == 0  # 0: no bound

    compute = InlineCompute(settings, budget=partial(compute_budget, db, settings))
    for actor in (free, paying):
        await compute.run(probe.spin, 0.3, task=Task(user_id=actor.user_id))
    with pytest.raises(ComputeLimit, match=r"your 0\.2 s of computing"):
        await compute.run(probe.square, 2, task=Task(user_id=free.user_id))
    assert await compute.run(probe.square, 2, task=Task(user_id=paying.user_id)) == 4
