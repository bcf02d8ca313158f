"""What a plan grants: the free tier from settings, raised (never lowered) by the subscriptions active now.

Written against the mutants ``make mutate`` left alive in ``core/purchase/limits.py``: each assertion is
the whole ``Limits`` a user gets, so a wrong maximum, a dropped feature, the wrong plan name or end date,
or a subscription counted outside its window shows as a different value.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.config import Settings
from core.db import utcnow
from core.purchase.limits import Limits, compute_budget, limits_for
from core.purchase.models import Purchase, Subscription
from tests.core.deployment.kit import make_user

FREE = dict(free_max_deployments=3, free_live_trading=False, free_max_position_value=1000.0,
            compute_cpu_s_per_minute=60.0, free_max_media_files=20, free_max_media_bytes=1000)  # fmt: skip


def _settings(**overrides) -> Settings:
    return Settings(_env_file=None, **{**FREE, **overrides})


async def _subscribe(db, user_id: int, name: str, features: dict | None, starts_at: datetime, ends_at: datetime) -> None:
    async with db.session() as session:
        purchase = Purchase(user_id=user_id, provider="Mock", subtotal=1, total=1, status="Paid")
        session.add(purchase)
        await session.flush()
        session.add(Subscription(user_id=user_id, purchase_id=purchase.id, name=name, starts_at=starts_at,
                                 ends_at=ends_at, features=features))  # fmt: skip


def _free(settings: Settings) -> Limits:
    return Limits(max_deployments=3, live_trading=False, max_position_value=1000.0, plan="Free", ends_at=None,
                  cpu_s_per_minute=settings.compute_cpu_s_per_minute, media_files=20, media_bytes=1000)  # fmt: skip


async def test_without_a_subscription_the_free_tier_is_the_settings(db):
    settings = _settings()
    user = await make_user(db, "free")
    assert await limits_for(db, settings, user.user_id) == _free(settings)
    assert await compute_budget(db, settings, user.user_id) == 60.0


async def test_a_subscription_raises_every_limit_it_names_and_gives_its_name_and_end(db):
    settings = _settings()
    now = utcnow()
    user = await make_user(db, "pro")
    other = await make_user(db, "other")
    ends = now + timedelta(days=30)
    await _subscribe(db, user.user_id, "Pro", {"max_deployments": 20, "live_trading": True, "max_position_value": 50000,
                     "compute_cpu_s_per_minute": 300, "max_media_files": 200, "max_media_bytes": 5000},
                     now - timedelta(days=1), ends)  # fmt: skip
    got = await limits_for(db, settings, user.user_id, now=now)
    assert got == Limits(max_deployments=20, live_trading=True, max_position_value=50000, plan="Pro", ends_at=ends,
                         cpu_s_per_minute=300.0, media_files=200, media_bytes=5000)  # fmt: skip
    assert isinstance(got.media_files, int) and isinstance(got.media_bytes, int)
    assert await compute_budget(db, settings, user.user_id) == 300.0
    # someone else's subscription grants nothing
    assert await limits_for(db, settings, other.user_id, now=now) == _free(settings)


async def test_a_subscription_never_lowers_the_free_tier_and_features_it_lacks_stay_free(db):
    settings = _settings(free_live_trading=True)
    now = utcnow()
    user = await make_user(db, "meagre")
    ends = now + timedelta(days=7)
    await _subscribe(db, user.user_id, "Lite", {"max_deployments": 1, "live_trading": False, "max_position_value": 10,
                     "compute_cpu_s_per_minute": 5, "max_media_files": 2, "max_media_bytes": 10},
                     now - timedelta(days=1), ends)  # fmt: skip
    got = await limits_for(db, settings, user.user_id, now=now)
    assert got == Limits(max_deployments=3, live_trading=True, max_position_value=1000.0, plan="Lite", ends_at=ends,
                         cpu_s_per_minute=60.0, media_files=20, media_bytes=1000)  # fmt: skip

    bare = await make_user(db, "bare")
    await _subscribe(db, bare.user_id, "Bare", None, now - timedelta(days=1), ends)
    got = await limits_for(db, settings, bare.user_id, now=now)
    assert got == Limits(max_deployments=3, live_trading=True, max_position_value=1000.0, plan="Bare", ends_at=ends,
                         cpu_s_per_minute=60.0, media_files=20, media_bytes=1000)  # fmt: skip


async def test_zero_compute_or_media_means_unbounded_and_beats_any_number(db):
    settings = _settings()
    now = utcnow()
    user = await make_user(db, "quant")
    ends = now + timedelta(days=7)
    await _subscribe(db, user.user_id, "Quant", {"compute_cpu_s_per_minute": 0, "max_media_files": "0",
                     "max_media_bytes": "4000"}, now - timedelta(days=1), ends)  # fmt: skip
    got = await limits_for(db, settings, user.user_id, now=now)
    assert (got.cpu_s_per_minute, got.media_files, got.media_bytes) == (0.0, 0, 4000)

    # an unbounded free tier stays unbounded whatever a plan names
    unbounded = _settings(compute_cpu_s_per_minute=0.0, free_max_media_files=0)
    user2 = await make_user(db, "quant2")
    await _subscribe(db, user2.user_id, "Quant", {"compute_cpu_s_per_minute": 300, "max_media_files": 5},
                     now - timedelta(days=1), ends)  # fmt: skip
    got = await limits_for(db, unbounded, user2.user_id, now=now)
    assert (got.cpu_s_per_minute, got.media_files) == (0.0, 0)


async def test_no_position_cap_on_either_side_means_no_cap(db):
    now = utcnow()
    ends = now + timedelta(days=7)
    capped_free = _settings()
    user = await make_user(db, "whale")
    await _subscribe(db, user.user_id, "Whale", {"max_position_value": None}, now - timedelta(days=1), ends)
    assert (await limits_for(db, capped_free, user.user_id, now=now)).max_position_value is None

    uncapped_free = _settings(free_max_position_value=None)
    user2 = await make_user(db, "whale2")
    await _subscribe(db, user2.user_id, "Pro", {"max_position_value": 50000}, now - timedelta(days=1), ends)
    assert (await limits_for(db, uncapped_free, user2.user_id, now=now)).max_position_value is None


async def test_two_subscriptions_give_the_most_generous_of_each_and_the_later_end(db):
    settings = _settings()
    now = utcnow()
    user = await make_user(db, "both")
    early, late = now + timedelta(days=5), now + timedelta(days=40)
    await _subscribe(db, user.user_id, "Deploy", {"max_deployments": 20, "max_position_value": 9000,
                     "max_media_files": 50}, now - timedelta(days=2), early)  # fmt: skip
    await _subscribe(db, user.user_id, "Live", {"max_deployments": 5, "live_trading": True, "max_position_value": 2000,
                     "compute_cpu_s_per_minute": 120}, now - timedelta(days=1), late)  # fmt: skip
    got = await limits_for(db, settings, user.user_id, now=now)
    # the plan shown is the subscription that lasts longest; its end is the latest end
    assert got == Limits(max_deployments=20, live_trading=True, max_position_value=9000, plan="Live", ends_at=late,
                         cpu_s_per_minute=120.0, media_files=50, media_bytes=1000)  # fmt: skip


async def test_only_subscriptions_active_now_count(db):
    settings = _settings()
    now = utcnow().replace(microsecond=0)
    user = await make_user(db, "windows")
    pro = {"max_deployments": 20, "live_trading": True}
    await _subscribe(db, user.user_id, "Expired", pro, now - timedelta(days=30), now - timedelta(seconds=1))
    await _subscribe(db, user.user_id, "Ends now", pro, now - timedelta(days=30), now)  # ends_at is exclusive
    await _subscribe(db, user.user_id, "Future", pro, now + timedelta(seconds=1), now + timedelta(days=30))
    assert await limits_for(db, settings, user.user_id, now=now) == _free(settings)

    await _subscribe(db, user.user_id, "Starts now", pro, now, now + timedelta(days=30))  # starts_at is inclusive
    got = await limits_for(db, settings, user.user_id, now=now)
    assert (got.plan, got.max_deployments, got.live_trading, got.ends_at) == ("Starts now", 20, True, now + timedelta(days=30))
    # and without ``now`` it is the current time: the one that started a moment ago is active
    assert (await limits_for(db, settings, user.user_id)).plan == "Starts now"


async def test_a_feature_a_subscription_does_not_name_is_not_granted(db):
    settings = _settings(free_max_deployments=0)
    now = utcnow()
    user = await make_user(db, "partial")
    ends = now + timedelta(days=7)
    await _subscribe(db, user.user_id, "Media", {"max_media_files": 50}, now - timedelta(days=1), ends)
    got = await limits_for(db, settings, user.user_id, now=now)
    assert (got.max_deployments, got.live_trading, got.media_files) == (0, False, 50)  # no live trading, no deployments
