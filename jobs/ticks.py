"""Telling users what their deployments did: a tick's (or reconciliation's) events as alerts.

Each event goes to the owner's private chats (if they keep trade alerts on) and to the group the
deployment was made in (if that group keeps alerts on), with a chart of the signal bar marked.
One chart serves every deployment that acted on the same bar and side of a series. The owner's
alert is also published to their live stream (``core.state.alert_stream``, ``GET /v1/alerts/stream``)
with the same text and its numbers, when they keep trade alerts on.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import pandas as pd
from sqlalchemy import select

from core import format as fmt
from core.alerts import chat_target, user_targets
from core.app import Core
from core.broker.symbols import split_symbol
from core.broker.types import OrderRejected, Side
from core.compute import Task
from core.deployment.executor import Outcome
from core.deployment.models import Deployment
from core.deployment.tick import Event, SeriesKey, TickReport, event_kind
from core.events import EventKind
from core.logging import get_logger
from core.market.types import Candles
from core.message import Image, Message
from core.notify import ChatTarget
from core.outbox import enqueue
from core.state.alert_stream import LiveAlert

log = get_logger(__name__)

CHART_CANDLES = 120


def _money(value: float, symbol: str) -> str:
    """An amount in the symbol's quote currency, as charts show prices: ``7,125`` for IDR."""
    try:
        quote: str | None = split_symbol(symbol)[1]
    except OrderRejected:
        quote = None
    return fmt.price(value, quote, symbol=symbol)


def event_text(event: Event) -> str:
    """The alert's text: what happened, on which deployment and bar, and why when it did not trade."""
    head = f"{event.label} #{event.deployment_id} · {event.series}"
    outcome, decision = event.outcome, event.decision
    why = f" ({decision.signal})" if decision is not None and decision.reason != "signal" else ""
    if event.kind == EventKind.FILLED and outcome is not None:
        verb = "Bought" if outcome.side == Side.BUY else "Sold"
        money = outcome.symbol
        line = f"{verb} {outcome.quantity:g} {outcome.symbol} at {_money(outcome.price or 0, money)}{why}, fee {_money(outcome.fee, money)}"
        if outcome.pnl is not None:
            line += f"\nP&L {'+' if outcome.pnl >= 0 else ''}{_money(outcome.pnl, money)}"
        return f"{head}\n{line}"
    if event.kind == EventKind.REFUSED and outcome is not None:
        return f"{head}\n{outcome.side} signal{why}: no order placed: {outcome.error}"
    if event.kind in (EventKind.FAILED, EventKind.REJECTED) and outcome is not None:
        return f"{head}\n{outcome.side} order {event.kind}: {outcome.error}\nThe deployment keeps running."
    if event.kind == EventKind.UNKNOWN and outcome is not None:
        return f"{head}\n{outcome.side} order sent; {outcome.error or 'awaiting the exchange'}"
    if event.kind == EventKind.PAUSED:
        return f"{head}\nPaused: {event.text or (outcome.error if outcome else '')}"
    if event.kind == EventKind.DONE:
        return f"{head}\nEnded: {event.text}"
    return f"{head}\n{event.text}"


async def _targets(core: Core, event: Event) -> tuple[list[ChatTarget], list[ChatTarget]]:
    """The owner's private chats (none when they turned this kind off), and the group's, if any."""
    owner = await user_targets(core.db, event.user_id, EventKind(event.kind).preference)
    group = await chat_target(core.db, event.notify_chat_id) if event.notify_chat_id is not None else None
    return owner, [group] if group is not None else []


def live_alert(event: Event, text: str) -> LiveAlert:
    """The event as the owner's live stream sends it: the chat's text and the order's numbers."""
    outcome = event.outcome
    numbers: dict[str, object] = {"series": str(event.series), "interval": event.series.interval}
    if outcome is not None:
        numbers |= {"side": str(outcome.side), "symbol": outcome.symbol, "quantity": outcome.quantity,
                    "price": outcome.price, "fee": outcome.fee, "pnl": outcome.pnl}  # fmt: skip
    return LiveAlert(kind=EventKind(event.kind), user_id=event.user_id, text=text, deployment_id=event.deployment_id,
                     ticker=event.series.ticker, numbers=numbers)  # fmt: skip


async def queue_events(core: Core, events: Sequence[Event], charts: dict[SeriesKey, Candles] | None = None) -> int:
    """Queue each event's alert for its targets (``core.outbox``; the delivery job sends them); the
    number of messages queued. Never raises."""
    rendered: dict[tuple[SeriesKey, pd.Timestamp, str], bytes] = {}
    queued = 0
    for event in events:
        try:
            owner, group = await _targets(core, event)
            targets = owner + group
            if not targets:
                continue
            text = event_text(event)
            images: tuple[Image, ...] = ()
            candles = (charts or {}).get(event.series)
            if candles is not None and event.bar_open is not None:
                side = event.decision.side if event.decision is not None else Side.SELL
                key = (event.series, event.bar_open, side)
                if key not in rendered:
                    rendered[key] = await _chart(core, candles, event, side)
                images = (Image(rendered[key], "signal.png"),)
            buttons = (("Resume", f"/resume {event.deployment_id}"),) if event.kind == EventKind.PAUSED else (
                ("Deployments", "/deployments"),
            )
            message = Message.with_commands(text, images=images, commands=buttons)
            queued += await enqueue(core.db, targets, message)
            if owner:  # queued for the owner's chats: their live stream has it too
                await core.state.alerts.publish(live_alert(event, text))
        except Exception:  # an alert failing must not stop the others
            log.exception("alert_failed", deployment=event.deployment_id)
    return queued


async def _chart(core: Core, candles: Candles, event: Event, side: Side) -> bytes:
    from core.charts.candles import ChartMarker, render_candles

    settings = core.settings
    job = partial(
        render_candles,
        candles,
        (),
        title=f"{event.label} · {event.series}",
        width_px=settings.chart_width_px,
        height_px=settings.chart_height_px,
        max_candles=min(CHART_CANDLES, settings.chart_max_candles),
        markers=(ChartMarker(event.bar_open, "buy" if side == Side.BUY else "sell"),),  # the chart's own spelling
    )
    return await core.compute.run(job, task=Task(label="the alert's chart"))


async def report_events(core: Core, report: TickReport) -> int:
    return await queue_events(core, report.events, report.charts)


async def outcome_events(core: Core, outcomes: Sequence[Outcome]) -> list[Event]:
    """Reconciliation's outcomes as events (no chart: the signal bar may be long gone)."""
    ids = {o.deployment_id for o in outcomes if o.deployment_id is not None}
    if not ids:
        return []
    async with core.db.session() as session:
        rows = {d.id: d for d in await session.scalars(select(Deployment).where(Deployment.id.in_(ids)))}
    events: list[Event] = []
    for outcome in outcomes:
        row = rows.get(outcome.deployment_id or -1)
        if row is None:
            continue
        kind = event_kind(outcome)
        if kind == EventKind.UNKNOWN:  # not settled yet: reconciliation reports it once it is
            continue
        series = SeriesKey(row.market, row.ticker, row.interval)
        events.append(Event(kind, row.id, row.user_id, row.label, series, row.notify_chat_id, outcome=outcome,
                            text=outcome.error))  # fmt: skip
    return events
