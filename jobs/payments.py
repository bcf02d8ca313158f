"""The payment status poll: pending Mayar purchases settled or expired without waiting for a webhook.

Webhooks can be lost (the bot was down, the proxy refused), so the scheduler calls
``refresh_pending`` every few minutes. It reads each pending invoice back from Mayar and lets
core.purchase.settle decide: paid ones settle (exactly once, even if a webhook races it), closed
ones are canceled and overdue unpaid ones expire. A purchase whose invoice cannot be read now is
left pending: never expire what may have been paid. Stored webhook events older than
``PAYMENT_EVENT_RETENTION_DAYS`` are deleted on the same round.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from core.logging import get_logger
from core.purchase.settle import expire_events, refresh

if TYPE_CHECKING:
    from core.app import Core

log = get_logger(__name__)


async def refresh_pending(core: Core, now: datetime | None = None) -> int:
    """Settle, cancel or expire every pending purchase the provider has news of; returns how many changed."""
    changed = await refresh(core.db, core.settings, now=now)
    expired = await expire_events(core.db, core.settings, now)  # webhook events past their retention
    if expired:
        log.info("payment_events_expired", count=expired)
    if changed:
        log.info("payments_refreshed", changed=changed)
    return changed
