"""Monitoring: the watchlist's conditions checked on schedule, alerting once per crossing.

A crossing is a condition turning from not met to met. Each watch is *armed* while
``last_triggered_at`` is NULL: a check that finds it met claims it (sets ``last_triggered_at``
with a compare-and-set, so two replicas checking at once alert once) and alerts; it stays quiet
while the condition holds, and is re-armed (``last_triggered_at`` cleared) the first time it is
seen false, by this job or by the user's own ``/watchlist``. A watch that already holds when it is
added alerts at the first check: the user asked to be told when it holds. An unknown result (too
few bars, a failed fetch) changes nothing; a plain watch without a condition never alerts.

Each alert queued for a user's chats is also published to their live stream
(``core.state.alert_stream``, ``GET /v1/alerts/stream``), with the same text and the values that met
the condition.

Users who turned watch alerts off (``/alerts watch off``) are not checked at all, which also saves
their fetches. Candles are fetched once per distinct ticker per run, through the market service's
cache; the chart of each (ticker, condition) is rendered once however many users it alerts.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Literal

from sqlalchemy import select, update

from core import alerts, outbox
from core import format as fmt
from core.account.models import User
from core.charts.candles import ChartMarker, render_candles
from core.compute import Task
from core.db import Database, utcnow
from core.events import EventKind
from core.logging import get_logger
from core.market import watchlist
from core.market.conditions import Condition
from core.market.models import Watch
from core.market.types import Candles
from core.message import Image, Message
from core.state.alert_stream import LiveAlert

if TYPE_CHECKING:
    from core.app import Core
    from core.market.watchlist import WatchView

log = get_logger(__name__)

CHART_CANDLES = 120  # about six months of daily bars around the crossing
MAX_CONCURRENT_SENDS = 32  # the transports' own rate limiters pace the actual sending
_UPWARD = frozenset({">", ">=", "crosses above", "==", "!="})


@dataclass(frozen=True, slots=True)
class Crossing:
    """One watch that turned met in this run, with what its alert shows."""

    watch_id: int
    user_id: int
    view: WatchView
    candles: Candles
    condition: Condition


async def check_watches(core: Core) -> int:
    """Check every watch with a condition (of users taking watch alerts); alert the ones that crossed.

    Returns the number of crossings alerted in this run (each once, whatever the number of
    chats it reached: a user with no chat the bot can reach still counts, and is logged).
    """
    now = utcnow()
    async with core.db.session() as session:
        watches = list(
            await session.scalars(
                select(Watch)
                .join(User, User.id == Watch.user_id)
                .where(Watch.condition != "", User.alerts_watch.is_(True))
                .order_by(Watch.source, Watch.ticker, Watch.id)
            )
        )
    if not watches:
        return 0
    checked = await watchlist.evaluate_watches(core.market, watches, now, compute=core.compute)
    await watchlist.store_checks(core.db, checked.views.values(), now)
    met = [w for w in watches if checked.views[w.id].met is True and checked.views[w.id].error is None]
    claimed = await _claim(core.db, [w.id for w in met], now)
    crossings = []
    for w in met:
        candles, condition = checked.candles.get((w.source, w.ticker)), checked.conditions.get(w.id)
        if w.id in claimed and isinstance(candles, Candles) and isinstance(condition, Condition):
            crossings.append(Crossing(w.id, w.user_id, checked.views[w.id], candles, condition))
    if crossings:
        await _alert_all(core, crossings, now)
    log.info("watches_checked", watches=len(watches), met=len(met), alerted=len(crossings))
    return len(crossings)


async def _claim(db: Database, ids: list[int], now: datetime) -> set[int]:
    """Arm-and-fire in one statement: only watches still armed are claimed, by one checker only."""
    claimed: set[int] = set()
    for start in range(0, len(ids), watchlist.ID_BATCH):
        stmt = (
            update(Watch)
            .where(Watch.id.in_(sorted(ids[start : start + watchlist.ID_BATCH])), Watch.last_triggered_at.is_(None))
            .values(last_triggered_at=now)
            .returning(Watch.id)
        )
        async with db.session() as session:
            claimed.update((await session.scalars(stmt)).all())
    return claimed


async def _alert_all(core: Core, crossings: list[Crossing], now: datetime) -> None:
    charts: dict[tuple[str, str, str], bytes | None] = {}
    for crossing in crossings:  # one chart per distinct watch, drawn on the compute plane
        key = (crossing.view.source.value, crossing.view.ticker, crossing.view.condition)
        if key not in charts:
            charts[key] = await _chart(core, crossing)
    gate = asyncio.Semaphore(MAX_CONCURRENT_SENDS)

    async def send(crossing: Crossing) -> None:
        key = (crossing.view.source.value, crossing.view.ticker, crossing.view.condition)
        chart = charts[key]
        text = alert_text(crossing.view, crossing.condition, crossing.candles, now)
        message = Message.with_commands(
            text,
            images=(Image(chart, f"{crossing.view.ticker}_alert.png"),) if chart else (),
            commands=(("Chart", f"/market {crossing.view.ticker}"), ("Watchlist", "/watchlist")),
        )
        async with gate:
            try:
                targets = await alerts.user_targets(core.db, crossing.user_id, EventKind.CROSSED.preference)
                queued = await outbox.enqueue(core.db, targets, message)
                if targets:
                    await core.state.alerts.publish(live_alert(crossing, text))
            except Exception:
                log.exception("watch_alert_failed", watch=crossing.watch_id)
                return
        if not queued:
            log.info("watch_alert_undelivered", watch=crossing.watch_id, targets=len(targets))

    await asyncio.gather(*(send(c) for c in crossings))
    # queued first (a restart or a failing chat loses none), then sent at once; what fails is retried
    # by the alerts job
    await outbox.deliver_due(core.db, core.notifiers)


async def _chart(core: Core, crossing: Crossing) -> bytes | None:
    """The ticker's candles with the condition's indicators and a mark on the crossing bar."""
    frame = crossing.candles.frame
    if len(frame) < 2:
        return None
    try:
        from core.market.indicator_compute import compute_many

        specs = {spec.text: spec for spec in crossing.condition.indicator_specs()}
        task = Task(label="the alert's chart")
        results = await core.compute.run(compute_many, frame, list(specs.values()), task=task) if specs else []
        job = partial(
            render_candles,
            crossing.candles,
            tuple(results),
            title=f"{crossing.candles.instrument.display} · {crossing.view.condition}",
            width_px=core.settings.chart_width_px,
            height_px=core.settings.chart_height_px,
            max_candles=min(CHART_CANDLES, core.settings.chart_max_candles),
            markers=(ChartMarker(frame.index[-1], marker_side(crossing.condition)),),
        )
        return await core.compute.run(job, task=task)
    except Exception:  # the alert still goes, as text
        log.exception("watch_alert_chart_failed", watch=crossing.watch_id)
        return None


def live_alert(crossing: Crossing, text: str) -> LiveAlert:
    """The crossing as the owner's live stream sends it: the chat's text and the values that met it."""
    view = crossing.view
    numbers = {"watch_id": crossing.watch_id, "condition": view.condition, "value": view.lhs_value,
               "compared_to": view.rhs_value, "price": view.price, "change_pct": view.change_pct}  # fmt: skip
    return LiveAlert(kind=EventKind.CROSSED, user_id=crossing.user_id, text=text, ticker=view.ticker, numbers=numbers)


def marker_side(condition: Condition) -> Literal["buy", "sell"]:
    """▲ for a condition that looks up (``>``, crosses above), ▼ for one that looks down."""
    return "buy" if condition.op in _UPWARD else "sell"


def alert_text(view: WatchView, condition: Condition, candles: Candles, now: datetime) -> str:
    """What the alert says: the condition, the values that met it, the price, and the bar."""
    currency = candles.instrument.currency or ""
    lines = [f"🔔 {view.ticker}: {view.condition} is met"]
    if view.lhs_value is not None and condition.lhs.text not in ("price", "close"):  # the price line says it
        compared = f" (vs {fmt.number(view.rhs_value)})" if view.rhs_value is not None else ""
        lines.append(f"{condition.lhs.text} now {fmt.number(view.lhs_value)}{compared}")
    if view.price is not None:
        price = f"Price {fmt.price(view.price, instrument=candles.instrument)} {currency}".rstrip()
        if view.change_pct is not None and math.isfinite(view.change_pct):
            price += f" ({fmt.change(view.change_pct)})"
        lines.append(price)
    bar = candles.frame.index[-1] if len(candles.frame) else None
    when = f"{bar:%d %b %Y}" if bar is not None else ""
    lines.append(f"{candles.provider} · {candles.interval} bar of {when} · checked {now:%H:%M} UTC")
    if candles.sample:
        lines.append(fmt.SAMPLE_NOTE)
    return "\n".join(lines)
