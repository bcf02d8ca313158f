"""How often a webhook may make us read an invoice back from Mayar.

Mayar's webhooks are unsigned, so anyone who learns the URL can post events about our invoices
(invoice ids travel in payment links). Each such event would cost a read-back: a flood of them
would spend our API quota and Mayar's patience. A moving window bounds read-backs per invoice and
overall (``MAYAR_READBACKS_PER_INVOICE_PER_MINUTE``, ``MAYAR_READBACKS_PER_MINUTE``); an event over
either limit stays stored and unprocessed, and Mayar's retry or the status poll settles it later.
The counts live in the shared state's storage (Redis when ``REDIS_URL`` is set), so replicas share them.
"""

from __future__ import annotations

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from core.config import Settings
from core.logging import get_logger

log = get_logger(__name__)


class ReadBackLimiter:
    def __init__(self, settings: Settings, storage: Storage | None = None) -> None:
        self._limiter = MovingWindowRateLimiter(storage if storage is not None else MemoryStorage())
        self._each = RateLimitItemPerMinute(settings.mayar_readbacks_per_invoice_per_minute, namespace="readback")
        self._all = RateLimitItemPerMinute(settings.mayar_readbacks_per_minute, namespace="readbacks")

    async def allow(self, invoice_id: str) -> bool:
        """Whether a read-back of ``invoice_id`` may go out now (and count it if so)."""
        try:
            return await self._limiter.hit(self._each, invoice_id) and await self._limiter.hit(self._all, "mayar")
        except Exception as exc:  # the shared store is away: a payment must still be confirmed
            log.warning("readback_limit_unavailable", error=repr(exc))
            return True
