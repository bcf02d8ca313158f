"""Monitoring: the watchlist's conditions checked on schedule, alerting once per crossing, per bar close.

Each watch is judged on the closed bars of its own interval (``watchlist.closed_frame``), so a
condition that a forming bar meets for a moment never alerts; the job runs every minute or so
(``watch_check_every_s``) so an hourly watch hears of a bar within about a minute of its close,
and fetches each distinct (ticker, interval) once per run, through the market's cache. A watch
fires at most once per bar: the claim also records the bar (``alerted_bar_at``) and refuses the
bar that already fired, so a listing that re-arms the watch on the same bar cannot repeat it.
An expired watch is no longer checked; its owner is told once (``expiry_told_at``).

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
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Literal

from sqlalchemy import or_, select, update

from core import alerts, outbox
from core import format as fmt
from core.account.models import User
from core.charts.candles import ChartLine, ChartMarker, ChartThreshold, render_candles
from core.compute import Task
from core.db import Database, utcnow
from core.events import EventKind
from core.logging import get_logger
from core.market import watchlist
from core.market.conditions import Condition, Field, Indicator, Number
from core.market.models import Watch
from core.market.types import Candles
from core.message import Image, Message
from core.script.watch import ExpressionCondition, parse_watch_condition, show
from core.state.alert_stream import LiveAlert

if TYPE_CHECKING:
    import pandas as pd

    from core.app import Core
    from core.market.indicator_compute import IndicatorResult
    from core.market.watchlist import Rule, WatchView

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
    candles: Candles  # the closed bars it was judged on
    condition: Rule


async def check_watches(core: Core, now: datetime | None = None) -> int:
    """Check every watch with a condition that has not expired (of users taking watch alerts) on its
    interval's closed bars; alert the ones that crossed on a bar that has not fired yet. Owners of
    watches that expired since the last run are told, once.

    Returns the number of crossings alerted in this run (each once, whatever the number of
    chats it reached: a user with no chat the bot can reach still counts, and is logged).
    """
    now = now or utcnow()
    try:
        await tell_expired(core, now)
    except Exception:  # what was not claimed yet is tried next run; the alerts must not wait on it
        log.exception("watch_expiry_notices_failed")
    async with core.db.session() as session:
        watches = list(
            await session.scalars(
                select(Watch)
                .join(User, User.id == Watch.user_id)
                .where(Watch.condition != "", User.alerts_watch.is_(True))
                .where(or_(Watch.expires_at.is_(None), Watch.expires_at > now))
                .order_by(Watch.source, Watch.ticker, Watch.interval, Watch.id)
            )
        )
    if not watches:
        return 0
    checked = await watchlist.evaluate_watches(
        core.market, watches, now, compute=core.compute, rules=parse_watch_condition, reuse_checks=True
    )
    await watchlist.store_checks(core.db, checked.views.values(), now)
    met = [w for w in watches if checked.views[w.id].met is True and checked.views[w.id].error is None]
    claimed = await _claim(core.db, [(w.id, checked.views[w.id].bar_at) for w in met], now)
    crossings = []
    for w in met:
        candles = checked.candles.get((w.source, w.ticker, w.interval))
        condition = checked.conditions.get(w.id)
        if w.id in claimed and isinstance(candles, Candles) and condition is not None and not isinstance(condition, Exception):
            closed = replace(candles, frame=watchlist.closed_frame(candles, now))
            crossings.append(Crossing(w.id, w.user_id, checked.views[w.id], closed, condition))
    if crossings:
        await _alert_all(core, crossings, now)
    log.info("watches_checked", watches=len(watches), met=len(met), alerted=len(crossings))
    return len(crossings)


async def _claim(db: Database, met: list[tuple[int, datetime | None]], now: datetime) -> set[int]:
    """Arm-and-fire in one statement per bar: only watches still armed, and not fired on that bar
    already, are claimed, by one checker only."""
    by_bar: dict[datetime | None, list[int]] = {}
    for watch_id, bar in met:
        by_bar.setdefault(bar, []).append(watch_id)
    claimed: set[int] = set()
    for bar, ids in by_bar.items():
        if bar is None:  # met without a closed bar cannot happen; never alert on one
            continue
        for start in range(0, len(ids), watchlist.ID_BATCH):
            stmt = (
                update(Watch)
                .where(
                    Watch.id.in_(sorted(ids[start : start + watchlist.ID_BATCH])),
                    Watch.last_triggered_at.is_(None),
                    or_(Watch.alerted_bar_at.is_(None), Watch.alerted_bar_at != bar),
                )
                .values(last_triggered_at=now, alerted_bar_at=bar)
                .returning(Watch.id)
            )
            async with db.session() as session:
                claimed.update((await session.scalars(stmt)).all())
    return claimed


async def tell_expired(core: Core, now: datetime) -> int:
    """Tell each owner, once, that a watch has expired (claimed like an alert: one replica tells)."""
    async with core.db.session() as session:
        ids = list(
            await session.scalars(
                select(Watch.id).where(Watch.expires_at <= now, Watch.expiry_told_at.is_(None)).order_by(Watch.id)
            )
        )
    if not ids:
        return 0
    told: list[Watch] = []
    for start in range(0, len(ids), watchlist.ID_BATCH):
        stmt = (
            update(Watch)
            .where(Watch.id.in_(ids[start : start + watchlist.ID_BATCH]), Watch.expiry_told_at.is_(None))
            .values(expiry_told_at=now)
            .returning(Watch)
        )
        async with core.db.session() as session:
            told.extend((await session.scalars(stmt)).all())
    for watch in told:
        try:
            targets = await alerts.user_targets(core.db, watch.user_id, EventKind.CROSSED.preference)
            message = Message.with_commands(
                expired_text(watch),
                commands=(("Watchlist", "/watchlist"), ("Remove", f"/unwatch {watch.ticker}")),
            )
            await outbox.enqueue(core.db, targets, message)
        except Exception:
            log.exception("watch_expiry_notice_failed", watch=watch.id)
    if told:  # queued first, sent now; what fails is retried by the alerts job
        await outbox.deliver_due(core.db, core.notifiers)
    return len(told)


def expired_text(watch: Watch) -> str:
    """The one notice an expired watch sends."""
    what = f"{watch.ticker} {watch.interval}" + (f" {watch.condition}" if watch.condition else "")
    when = f"{watch.expires_at:%d %b %Y %H:%M} UTC" if watch.expires_at else "now"
    return (f"⏰ Your watch on {what} expired on {when}: it no longer alerts. "
            f"Watch it again with /watch to renew it, or remove it with /unwatch {watch.ticker}.")  # fmt: skip


def _chart_key(crossing: Crossing) -> tuple[str, str, str, str]:
    view = crossing.view
    return view.source.value, view.ticker, view.interval, view.condition


async def _alert_all(core: Core, crossings: list[Crossing], now: datetime) -> None:
    charts: dict[tuple[str, str, str, str], bytes | None] = {}
    for crossing in crossings:  # one chart per distinct watch, drawn on the compute plane
        key = _chart_key(crossing)
        if key not in charts:
            charts[key] = await _chart(core, crossing)
    gate = asyncio.Semaphore(MAX_CONCURRENT_SENDS)

    async def send(crossing: Crossing) -> None:
        key = _chart_key(crossing)
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


def thresholds_of(condition: Condition) -> tuple[ChartThreshold, ...]:
    """The level a short-grammar condition compares against, on the panel of what it compares:
    ``rsi<30`` at 30 on the RSI's panel, ``price>9500`` on the price panel (none for ``change``)."""
    if not isinstance(condition.rhs, Number):
        return ()
    lhs = condition.lhs
    if isinstance(lhs, Indicator):
        follows: str | None = lhs.spec_text
    elif isinstance(lhs, Field) and lhs.name == "volume":
        follows = "volume"
    elif isinstance(lhs, Field) and lhs.name != "change":
        follows = None
    else:
        return ()
    return (ChartThreshold(condition.rhs.value, condition.text, follows),)


async def chart_parts(
    core: Core, condition: Rule, frame: pd.DataFrame, task: Task
) -> tuple[list[IndicatorResult], tuple[ChartLine, ...], tuple[ChartThreshold, ...]]:
    """What the alert chart draws for ``condition``: the indicators it reads (both sides when it
    compares two), and the level it compares against, if any."""
    if isinstance(condition, ExpressionCondition):
        lines, levels = await core.compute.run(condition.series, frame, task=task)
        return (
            [],
            tuple(ChartLine(title, values) for title, values in lines),
            tuple(ChartThreshold(value, f"{follows or 'price'} level {fmt.number(value)}", follows)
                  for value, follows in levels),
        )  # fmt: skip
    if not isinstance(condition, Condition):
        return [], (), ()
    from core.market.indicator_compute import compute_many

    specs = {spec.text: spec for spec in condition.indicator_specs()}
    results = await core.compute.run(compute_many, frame, list(specs.values()), task=task) if specs else []
    return list(results), (), thresholds_of(condition)


async def _chart(core: Core, crossing: Crossing) -> bytes | None:
    """The ticker's closed candles with what the condition compares (its indicators, or an expression's
    series), the level it compares against, and a mark on the crossing bar."""
    frame = crossing.candles.frame
    if len(frame) < 2:
        return None
    try:
        task = Task(label="the alert's chart")
        results, lines, levels = await chart_parts(core, crossing.condition, frame, task)
        interval = "" if crossing.view.interval == watchlist.INTERVAL else f" {crossing.view.interval}"
        job = partial(
            render_candles,
            crossing.candles,
            tuple(results),
            title=f"{crossing.candles.instrument.display}{interval} · {crossing.view.condition}",
            width_px=core.settings.chart_width_px,
            height_px=core.settings.chart_height_px,
            max_candles=min(CHART_CANDLES, core.settings.chart_max_candles),
            markers=(ChartMarker(frame.index[-1], marker_side(crossing.condition)),),
            lines=lines,
            thresholds=levels,
        )
        return await core.compute.run(job, task=task)
    except Exception:  # the alert still goes, as text
        log.exception("watch_alert_chart_failed", watch=crossing.watch_id)
        return None


def live_alert(crossing: Crossing, text: str) -> LiveAlert:
    """The crossing as the owner's live stream sends it: the chat's text and the values that met it."""
    view = crossing.view
    numbers = {"watch_id": crossing.watch_id, "condition": view.condition, "value": view.lhs_value,
               "compared_to": view.rhs_value, "price": view.price, "change_pct": view.change_pct, "interval": view.interval,
               "bar_at": view.bar_at.isoformat() if view.bar_at else None}  # fmt: skip
    return LiveAlert(kind=EventKind.CROSSED, user_id=crossing.user_id, text=text, ticker=view.ticker, numbers=numbers)


def marker_side(condition: Rule) -> Literal["buy", "sell"]:
    """▲ for a condition that looks up (``>``, crosses above), ▼ for one that looks down."""
    return "buy" if getattr(condition, "op", ">") in _UPWARD else "sell"


def _lhs_text(condition: Rule) -> str:
    if isinstance(condition, Condition):
        return condition.lhs.text
    if isinstance(condition, ExpressionCondition) and (sides := condition.sides()) is not None:
        return show(sides[0])
    return ""


def alert_text(view: WatchView, condition: Rule, candles: Candles, now: datetime) -> str:
    """What the alert says: the condition, the values that met it, the price, and the bar."""
    currency = candles.instrument.currency or ""
    interval = "" if view.interval == watchlist.INTERVAL else f" {view.interval}"
    lines = [f"🔔 {view.ticker}{interval}: {view.condition} is met"]
    lhs = _lhs_text(condition)
    if view.lhs_value is not None and lhs and lhs not in ("price", "close"):  # the price line says it
        compared = f" (vs {fmt.number(view.rhs_value)})" if view.rhs_value is not None else ""
        lines.append(f"{lhs} now {fmt.number(view.lhs_value)}{compared}")
    if view.price is not None:
        price = f"Price {fmt.price(view.price, instrument=candles.instrument)} {currency}".rstrip()
        if view.change_pct is not None and math.isfinite(view.change_pct):
            price += f" ({fmt.change(view.change_pct)})"
        lines.append(price)
    bar = candles.frame.index[-1] if len(candles.frame) else None
    when = (f"{bar:%d %b %Y %H:%M} UTC" if candles.interval.intraday else f"{bar:%d %b %Y}") if bar is not None else ""
    lines.append(f"{candles.provider} · {candles.interval} bar of {when} · checked {now:%H:%M} UTC")
    if candles.sample:
        lines.append(fmt.SAMPLE_NOTE)
    return "\n".join(lines)
