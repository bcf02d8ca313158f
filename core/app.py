"""The core's services wired together: what every adapter (chat, jobs, CLI) starts with."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from core.charts.service import ChartService
from core.compute import Compute, InlineCompute, open_compute
from core.config import Settings, get_settings
from core.db import Database
from core.inbound import Receiver
from core.market.service import MarketService
from core.market.shared_candles import shared_candles
from core.notify import Notifier
from core.purchase.limits import compute_budget
from core.purchase.stars_payments import StarsGateway
from core.state import SharedState, memory_state, open_state


@dataclass(slots=True)
class Core:
    settings: Settings
    db: Database
    market: MarketService
    # Set by each chat transport as it starts: how a service posts into another chat (/share).
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    # Where CPU work runs (``COMPUTE``): the market service's, so both hand work to one executor.
    compute: Compute = field(default=None)  # type: ignore[assignment]
    # Buttons, rate limits and the Redis connection the candle cache shares: in memory unless REDIS_URL is set.
    state: SharedState = field(default=None)  # type: ignore[assignment]
    # The charts of market data, drawn on ``compute`` (the market returns data, not pictures).
    charts: ChartService = field(default=None)  # type: ignore[assignment]
    # Set by a chat transport in webhook mode: whom the HTTP server hands that platform's updates to.
    receivers: dict[str, Receiver] = field(default_factory=dict)
    # Set by the Telegram transport as it starts: refundStarPayment for /refund (core.purchase.stars_payments).
    stars: StarsGateway | None = None

    def __post_init__(self) -> None:
        if self.compute is None:
            self.compute = getattr(self.market, "compute", None) or InlineCompute(self.settings)
        if self.state is None:
            self.state = memory_state(self.settings)
        if self.charts is None:
            self.charts = ChartService(self.settings, self.compute)

    @classmethod
    async def start(cls, settings: Settings | None = None, *, migrate: bool = True) -> Core:
        """Open the database (applying migrations) and build the services."""
        settings = settings or get_settings()
        db = Database(settings.database_url, echo=settings.database_echo)
        try:
            await db.check()  # an unreachable database is one clear line, before anything else starts
            if migrate:
                await db.migrate()
        except BaseException:
            await db.dispose()
            raise
        try:
            state = await open_state(settings)
        except Exception:
            await db.dispose()
            raise
        compute = open_compute(settings, budget=partial(compute_budget, db, settings))
        market = MarketService(settings, compute=compute, shared_candles=shared_candles(state, settings))
        return cls(settings=settings, db=db, market=market, compute=compute, state=state)

    async def close(self) -> None:
        await self.market.close()
        await self.compute.close()
        await self.db.dispose()
        await self.state.close()
