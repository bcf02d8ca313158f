"""What a user may do: the free tier from settings, raised by active subscriptions.

A settled subscription product carries ``features`` such as ``{"max_deployments": 20,
"live_trading": true, "max_position_value": 50000000, "compute_cpu_s_per_minute": 300,
"max_media_files": 200, "max_media_bytes": 524288000}``; while ``starts_at <= now < ends_at`` the
most generous value of each feature applies. Expiry needs no job: limits are computed per call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from core.config import Settings
from core.db import Database, utcnow
from core.purchase.models import Subscription


@dataclass(frozen=True, slots=True)
class Limits:
    max_deployments: int
    live_trading: bool
    max_position_value: float | None  # in the quote currency; None: no cap beyond the account's balance
    plan: str  # "Free" or the subscription's name
    ends_at: datetime | None = None  # when the last active subscription ends; None on the free tier
    cpu_s_per_minute: float = 0.0  # the compute plane's budget (core.compute); 0: unbounded
    media_files: int = 0  # files a user may keep in media storage (core.media); 0: unbounded
    media_bytes: int = 0  # their total size in bytes; 0: unbounded


async def limits_for(db: Database, settings: Settings, user_id: int, now: datetime | None = None) -> Limits:
    now = now or utcnow()
    free = Limits(
        max_deployments=settings.free_max_deployments,
        live_trading=settings.free_live_trading,
        max_position_value=settings.free_max_position_value,
        plan="Free",
        cpu_s_per_minute=settings.compute_cpu_s_per_minute,
        media_files=settings.free_max_media_files,
        media_bytes=settings.free_max_media_bytes,
    )
    async with db.session() as session:
        active = list(
            await session.scalars(
                select(Subscription)
                .where(Subscription.user_id == user_id, Subscription.starts_at <= now, Subscription.ends_at > now)
                .order_by(Subscription.ends_at.desc())
            )
        )
    if not active:
        return free
    best = free
    for sub in active:
        features = sub.features or {}
        cap = features.get("max_position_value", best.max_position_value)
        best = Limits(
            max_deployments=max(best.max_deployments, int(features.get("max_deployments", 0))),
            live_trading=best.live_trading or bool(features.get("live_trading", False)),
            max_position_value=None if cap is None or best.max_position_value is None else max(cap, best.max_position_value),
            plan=sub.name if best.plan == "Free" else best.plan,
            ends_at=max(best.ends_at, sub.ends_at) if best.ends_at is not None else sub.ends_at,
            cpu_s_per_minute=_more_compute(best.cpu_s_per_minute, features.get("compute_cpu_s_per_minute")),
            media_files=int(_more_compute(best.media_files, features.get("max_media_files"))),
            media_bytes=int(_more_compute(best.media_bytes, features.get("max_media_bytes"))),
        )
    return best


def _more_compute(current: float, offered: float | str | None) -> float:
    """The larger budget (or quota), 0 meaning unbounded (so it beats any number); ``offered`` is a
    product feature's JSON value."""
    if offered is None:
        return current
    value = float(offered)
    return 0.0 if current == 0 or value == 0 else max(current, value)


async def compute_budget(db: Database, settings: Settings, user_id: int) -> float:
    """CPU seconds a minute ``user_id``'s plan allows on the compute plane (0: unbounded)."""
    return (await limits_for(db, settings, user_id)).cpu_s_per_minute
