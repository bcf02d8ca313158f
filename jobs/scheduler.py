"""The deployment scheduler: ticks at candle closes and order reconciliation, in the bot process.

One APScheduler 3 ``AsyncIOScheduler`` with an in-memory job store (a job store must never be
shared between schedulers). Rather than one cron job per interval, a single job runs every
``tick_every_s`` and asks the database which series have a newly closed bar; that handles every
interval, ``Late`` timing and deployments added or paused at any moment without rescheduling.
``coalesce`` and ``max_instances=1`` keep a slow tick from piling up runs; a missed run is simply
the next one, which acts on the latest closed bar only. Every replica may run this: the bar
claims in the database decide which replica places each order.

Alerts are queued (``core.outbox``) and sent by their own task right after, and by the ``alerts``
job every ``ALERTS_EVERY_S`` (retries, alerts queued before a restart), so a slow chat never delays
the next tick's orders and a restart loses none.

Reconciliation runs shortly after start (orders left by a crash or a restart; a job, so start-up
never waits on an exchange and its alerts find the transports ready) and then every
``reconcile_every_s`` for orders untouched that long.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from core.app import Core
from core.broker.pool import BrokerFactory, BrokerPool
from core.db import utcnow
from core.deployment.executor import Outcome
from core.deployment.reconcile import reconcile
from core.deployment.tick import Tick, TickReport
from core.logging import get_logger
from core.outbox import deliver_due, prune
from jobs.ticks import outcome_events, queue_events, report_events

log = get_logger(__name__)

FIRST_RECONCILE_AFTER_S = 5.0  # start-up reconciliation, once the chat transports can deliver its alerts
ALERTS_EVERY_S = 5  # queued alerts not sent right after their tick (a retry, a restart) go out this often


async def _logged[T](event: str, work: Callable[[], Awaitable[T]], failed: T) -> T:
    """``work``'s result, or ``failed`` once its exception is logged as ``event``: a job's pass never
    raises (the scheduler would only log it, and the next pass is the retry)."""
    try:
        return await work()
    except Exception:
        log.exception(event)
        return failed


class DeploymentScheduler:
    def __init__(
        self,
        core: Core,
        broker_factory: BrokerFactory | None = None,
        clock: Callable[[], datetime] = utcnow,
        *,
        first_reconcile_after_s: float = FIRST_RECONCILE_AFTER_S,
    ) -> None:
        self.core = core
        self.first_reconcile_after_s = first_reconcile_after_s
        self.clock = clock
        self.brokers = BrokerPool(core.db, core.settings, broker_factory)
        self.tick_runner = Tick(core.db, core.settings, core.market, self.brokers, clock=clock)
        self._scheduler = None
        self._lock = asyncio.Lock()  # a tick and a reconciliation never overlap in one process
        self._sending = asyncio.Lock()  # one delivery pass at a time in one process
        self._delivery: asyncio.Task[int] | None = None

    async def start(self) -> None:
        """Schedule the jobs and return at once: nothing here waits on an exchange. The start-up
        reconciliation is a job run ``first_reconcile_after_s`` later, once the transports that
        deliver its alerts have registered their notifiers."""
        from apscheduler.schedulers.asyncio import AsyncIOScheduler
        from apscheduler.triggers.date import DateTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        settings = self.core.settings
        scheduler = AsyncIOScheduler(
            event_loop=asyncio.get_running_loop(),
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": max(1, settings.tick_every_s)},
        )
        scheduler.add_job(self.tick, IntervalTrigger(seconds=settings.tick_every_s), id="deployments.tick")
        scheduler.add_job(
            self.reconcile, IntervalTrigger(seconds=settings.reconcile_every_s), id="deployments.reconcile"
        )
        first = datetime.now(UTC) + timedelta(seconds=self.first_reconcile_after_s)
        scheduler.add_job(  # orders left by a crash or a restart, whatever their age
            self.reconcile, DateTrigger(run_date=first), kwargs={"min_age_s": 0}, id="deployments.reconcile_start"
        )
        scheduler.add_job(self.check_watches, IntervalTrigger(seconds=settings.watch_check_every_s), id="watches")
        scheduler.add_job(self.deliver_alerts, IntervalTrigger(seconds=ALERTS_EVERY_S), id="alerts")
        scheduler.add_job(
            self.refresh_payments, IntervalTrigger(seconds=settings.payments_poll_every_s), id="payments"
        )
        scheduler.start()
        self._scheduler = scheduler
        log.info("deployment_scheduler_started")

    async def tick(self) -> TickReport | None:
        """One tick and its alerts; never raises (the scheduler would only log it)."""
        async with self._lock:
            report = await _logged("tick_failed", self.tick_runner.run, None)
        if report is None:
            return None
        if report.orders or report.missed_bars:
            log.info("tick_done", series=report.series, orders=report.orders, missed_bars=report.missed_bars)
        if await report_events(self.core, report):
            self._deliver_soon()  # its own task: the next tick never waits on a chat
        return report

    async def reconcile(self, min_age_s: float | None = None) -> list[Outcome]:
        age = self.core.settings.reconcile_every_s if min_age_s is None else min_age_s
        none: list[Outcome] = []
        async with self._lock:
            outcomes = await _logged("reconcile_failed", lambda: reconcile(
                self.core.db, self.core.settings, self.brokers, now=self.clock(), min_age_s=age
            ), none)  # fmt: skip
        if outcomes and await queue_events(self.core, await outcome_events(self.core, outcomes)):
            self._deliver_soon()
        return outcomes

    def _deliver_soon(self) -> None:
        if self._delivery is None or self._delivery.done():
            self._delivery = asyncio.get_running_loop().create_task(self.deliver_alerts())

    async def deliver_alerts(self) -> int:
        """Send the queued alerts that are due (after waiting out a pass already running); never raises."""

        async def deliver() -> int:
            sent = await deliver_due(self.core.db, self.core.notifiers)  # wall-clock time, as queued
            await prune(self.core.db)
            return sent

        async with self._sending:
            return await _logged("alert_delivery_failed", deliver, 0)

    async def check_watches(self) -> int:
        """Watchlist conditions, alerting once per crossing; never raises."""
        from jobs.monitoring import check_watches

        return await _logged("watch_check_failed", lambda: check_watches(self.core), 0)

    async def refresh_payments(self) -> int:
        """Pending purchases refreshed from their provider (a missed webhook still settles); never raises."""
        from jobs.payments import refresh_pending

        return await _logged("payments_refresh_failed", lambda: refresh_pending(self.core), 0)

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        if self._delivery is not None and not self._delivery.done():
            # a few seconds to finish sending; what is left stays queued for the next start
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._delivery, 5)
        await self.brokers.close()


async def start_scheduler(core: Core) -> DeploymentScheduler:
    scheduler = DeploymentScheduler(core)
    await scheduler.start()
    return scheduler
