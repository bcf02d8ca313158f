"""One tick: every running deployment whose latest closed bar it has not seen yet, evaluated once.

Deployments are grouped by series (market, ticker, interval); each due series is fetched once
through ``MarketService`` (its cache makes that one provider call however many deployments, users
or replicas want it) and every deployment on it is evaluated on *closed* bars only, over the same
history ``/run`` evaluates on for the interval's default range (``MarketService.history``), so its
indicators and ``bar_index`` are the ones ``/run`` shows. Identical scripts with identical inputs
on one series are evaluated once.

Orders are placed as the backtest places them (``core.deployment.signals``): a signal fills at the
next candle's open, a stop or target at its level (or the gapping open). A paper order is filled
exactly there, so it waits, unclaimed, until the feed shows the candle after the signal; a live
order goes to the exchange as a market order at once.

Only the latest closed bar is ever acted on: after a restart or a missed tick the bars in between
are counted (``missed_bars``) and logged, not traded, so no burst of stale orders goes out.
A deployment acting on nothing just advances ``last_bar_at`` (a compare-and-set per row); one
acting claims its bar and records the order in one transaction (``core.deployment.executor``), so two
workers firing the same tick produce one order. A deployment with an order still unresolved is
skipped until reconciliation settles it: its position is not known until then.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import and_, or_, select, update

from core.broker.pool import BrokerPool
from core.broker.types import AuthFailed, Broker, MarketRules, OrderRejected, Side
from core.compute import Task
from core.config import Settings
from core.db import Database, rowcount, utcnow
from core.deployment.bars import LATE, TIMINGS, bar_close, bar_closes, closed_bars, expected_close
from core.deployment.executor import (
    UNRESOLVED,
    Intent,
    Outcome,
    Sleep,
    claim_bars,
    pause_credential,
    record_intent,
    send_order,
    why,
)
from core.deployment.models import Deployment
from core.deployment.service import broker_symbol
from core.deployment.signals import BarSignals, Decision, Failure, decide, failure, signals_of_scripts
from core.deployment.sizing import size_buy, size_sell
from core.deployment.status import RUNNING, Status
from core.deployment.stops import lift_stop, rest_stop, resting_deployments
from core.errors import NotFound, StoxlifyError, TooLong
from core.events import EventKind
from core.logging import get_logger
from core.market.service import MarketService
from core.market.symbols import is_idx_symbol
from core.market.types import INTERVALS, Candles, Interval, Source, default_range, parse_interval
from core.script.limits import TIME_LIMIT
from core.trade.models import Order, OrderStatus

log = get_logger(__name__)

OVER_TIME = "over its time limit: "  # status_reason of a bar whose script ran too long (twice in a row pauses)
SERIES_AT_ONCE = 8  # series fetched and evaluated concurrently (network-bound fetches overlap)


@dataclass(frozen=True, slots=True)
class SeriesKey:
    market: str
    ticker: str
    interval: str

    def __str__(self) -> str:
        return f"{self.ticker} {self.interval}"


@dataclass(frozen=True, slots=True)
class Event:
    """Something a deployment's owner (and its group) should hear about."""

    kind: EventKind
    deployment_id: int
    user_id: int
    label: str
    series: SeriesKey
    notify_chat_id: int | None
    bar_open: pd.Timestamp | None = None
    decision: Decision | None = None
    outcome: Outcome | None = None
    text: str = ""


@dataclass(slots=True)
class TickReport:
    at: datetime
    series: int = 0  # due series looked at
    evaluated: int = 0  # deployments whose script ran on a new bar
    evaluations: int = 0  # script runs (shared by identical scripts on one series)
    claimed: int = 0  # bars claimed by this worker
    orders: int = 0  # orders recorded by this worker
    missed_bars: int = 0  # closed bars skipped because a newer one had closed (restart, outage)
    events: list[Event] = field(default_factory=list)
    charts: dict[SeriesKey, Candles] = field(default_factory=dict)  # closed bars of series with events


@dataclass(frozen=True, slots=True)
class _Acting:
    row: Deployment
    frame: pd.DataFrame  # its closed bars
    decisions: tuple[Decision, ...]  # in order: a resting exit, then the latest bar's signal
    key: SeriesKey
    symbol: str  # the broker's symbol
    bar_at: datetime  # the close of its latest closed bar: what placing the first order claims
    stop_loss: float | None = None  # the script's, for a stop resting on the exchange after an entry
    resting: bool = False  # its stop rests on the exchange now: lifted before any other sell

    @property
    def decision(self) -> Decision:
        return self.decisions[0]


@dataclass(frozen=True, slots=True)
class _Work:
    row: Deployment
    frame: pd.DataFrame  # its closed bars, on /run's history
    new: pd.DataFrame  # the closed bars it has not seen yet (resting stops are checked on each)
    next_open: tuple[pd.Timestamp, float | None]  # the candle after them: when it opens, its open if known


def _closes(frame: pd.DataFrame, interval: Interval) -> np.ndarray:
    """Each bar's close, epoch nanoseconds."""
    if not len(frame):
        return np.empty(0, "int64")
    return bar_closes(frame.index, interval).as_unit("ns").asi8


@dataclass(slots=True)
class _Plan:
    """What the read phase decided, for the write phases."""

    quiet: defaultdict[datetime, dict[int, str | None]] = field(default_factory=lambda: defaultdict(dict))
    failed: dict[int, str] = field(default_factory=dict)
    slow: list[tuple[Deployment, SeriesKey, str]] = field(default_factory=list)  # past the time limit twice
    acting: list[_Acting] = field(default_factory=list)
    gone: list[tuple[SeriesKey, list[Deployment], str]] = field(default_factory=list)
    charts: dict[SeriesKey, Candles] = field(default_factory=dict)
    resting: set[int] = field(default_factory=set)  # deployments whose stop rests on the exchange


class Tick:
    """Runs ticks for one process; ``run`` is safe to call from several processes at once."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        market: MarketService,
        brokers: BrokerPool,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.clock = clock
        self.db = db
        self.settings = settings
        self.market = market
        self.brokers = brokers
        self.sleep = sleep

    async def run(self, now: datetime | None = None) -> TickReport:
        """Read phase (fetch, evaluate, decide; concurrent, no writes), then the claims in a few
        large transactions, then the orders, one credential at a time per task."""
        now = now or self.clock()
        report = TickReport(at=now)
        due = await self.due(now)
        report.series = len(due)
        plan = _Plan(resting=await resting_deployments(self.db, [r.id for rows in due.values() for r in rows]))
        gate = asyncio.Semaphore(SERIES_AT_ONCE)

        async def read(key: SeriesKey, rows: list[Deployment]) -> None:
            async with gate:
                try:
                    await self._read_series(key, rows, now, report, plan)
                except Exception:  # one series' bug must not stop the others
                    log.exception("tick_series_failed", series=str(key))

        await asyncio.gather(*(read(k, rows) for k, rows in due.items()))
        for key, rows, error in plan.gone:
            await self._gone(key, rows, error, report)
        for bar_at, names in plan.quiet.items():
            report.claimed += len(await claim_bars(self.db, bar_at, names, names))
        if plan.failed:
            await self._note(plan.failed)
        if plan.slow:
            await self._pause_slow(plan.slow, report)
        by_credential: dict[int, list[_Acting]] = defaultdict(list)
        # an account's orders go out oldest deployment first, whichever series was read first: when
        # the balance covers only some of them, which ones get it must not depend on fetch timing
        for acting in sorted(plan.acting, key=lambda a: a.row.id):
            by_credential[acting.row.credential_id].append(acting)
        # SQLite has one writer: concurrent order transactions would only wait on each other's locks.
        writers = asyncio.Semaphore(1 if self.db.is_sqlite else SERIES_AT_ONCE)

        async def act(items: list[_Acting]) -> None:
            async with writers:
                try:
                    await self._act(items, report)
                except Exception:
                    log.exception("tick_orders_failed", credential=items[0].row.credential_id)

        await asyncio.gather(*(act(items) for items in by_credential.values()))
        shown = {e.series for e in report.events if e.bar_open is not None}
        report.charts = {key: candles for key, candles in plan.charts.items() if key in shown}
        return report

    async def due(self, now: datetime) -> dict[SeriesKey, list[Deployment]]:
        """Running deployments that have not seen the bar that should have closed by now, by series."""
        late = self.settings.late_grace_s
        behind = or_(*(
            and_(
                Deployment.interval == code,
                Deployment.timing == timing,
                or_(Deployment.last_bar_at.is_(None),
                    Deployment.last_bar_at < expected_close(now, interval, timing, late)),
            )
            for code, interval in INTERVALS.items()
            for timing in TIMINGS
        ))  # fmt: skip
        in_flight = select(Order.deployment_id).where(Order.status.in_(UNRESOLVED), Order.deployment_id.is_not(None))
        async with self.db.session() as session:
            rows = await session.scalars(
                select(Deployment)
                .where(Deployment.status.in_(RUNNING), behind, Deployment.id.not_in(in_flight))
                .order_by(Deployment.id)
            )
            grouped: dict[SeriesKey, list[Deployment]] = defaultdict(list)
            for row in rows:
                grouped[SeriesKey(row.market, row.ticker, row.interval)].append(row)
        return dict(grouped)

    # --- one series ------------------------------------------------------------------------

    async def _read_series(
        self, key: SeriesKey, rows: list[Deployment], now: datetime, report: TickReport, plan: _Plan
    ) -> None:
        interval = parse_interval(key.interval)
        try:
            source = Source(key.market)
        except ValueError:
            source = Source.UNKNOWN
        fresh_after = None
        if any(row.timing == LATE for row in rows):
            # A Late deployment trades the bar as published a grace after its close: the cached
            # fetch an OnTime deployment made at the close may hold a bar the feed revised since.
            grace = self.settings.late_grace_s
            fresh_after = expected_close(now, interval, LATE, grace) + timedelta(seconds=grace)
        try:
            candles = await self.market.history(key.ticker, interval, default_range(interval), source,
                                                fresh_after=fresh_after)  # fmt: skip
        except NotFound as exc:
            plan.gone.append((key, rows, str(exc)))
            return
        except StoxlifyError as exc:  # feed down: the series stays due and is tried next tick
            log.warning("tick_fetch_failed", series=str(key), error=str(exc))
            return
        await self._found(rows)
        work = self._new_bars(candles, rows, now, report)
        if not work:
            return
        signals = await self._evaluate_all(work, report)
        symbol: str | None = None
        closes: dict[int, datetime] = {}  # by frame (one per timing): its latest bar's close
        for item in work:
            row, frame = item.row, item.frame
            bar_at = closes.get(id(frame)) or closes.setdefault(id(frame), bar_close(frame.index[-1], interval))
            result = signals.get(row.id)
            if isinstance(result, Failure):  # the script failed on this data: recorded, bar consumed
                plan.quiet[bar_at][row.id] = "error"
                if result.too_long and row.status_reason.startswith(OVER_TIME):
                    plan.slow.append((row, key, result.text))  # twice in a row: it would burn every bar
                else:
                    plan.failed[row.id] = (OVER_TIME if result.too_long else "") + result.text
                continue
            assert result is not None
            # a stop resting on the exchange is the exchange's to fill: the bot checks only the target
            seen = replace(result, stop_loss=None) if row.id in plan.resting else result
            decisions = decide(seen, row.position_qty, row.entry_price, item.new, item.next_open)
            if not decisions:
                plan.quiet[bar_at][row.id] = result.name
                continue
            symbol = symbol or broker_symbol(candles.instrument)
            plan.acting.append(_Acting(row, frame, tuple(decisions), key, symbol, bar_at, result.stop_loss,
                                       row.id in plan.resting))  # fmt: skip
            plan.charts[key] = Candles(candles.instrument, interval, frame, candles.provider, candles.sample)

    def _new_bars(self, candles: Candles, rows: list[Deployment], now: datetime, report: TickReport) -> list[_Work]:
        """What each deployment whose latest closed bar is new to it works on (per timing: its
        closed bars, and where each deployment's unseen ones start, found for all rows at once)."""
        by_timing: dict[str, list[Deployment]] = defaultdict(list)
        for row in rows:
            by_timing[row.timing].append(row)
        work: list[_Work] = []
        for timing, group in by_timing.items():
            frame = closed_bars(candles.frame, candles.interval, now, timing, self.settings.late_grace_s)
            bars = len(frame)
            if not bars:
                continue
            closes = _closes(frame, candles.interval)
            if len(candles.frame) > bars:  # the forming candle (or, for Late, one in its grace)
                after = candles.frame.iloc[bars]
                next_open: tuple[pd.Timestamp, float | None] = (pd.Timestamp(after.name), float(after["open"]))
            else:
                next_open = (pd.Timestamp(closes[-1], tz="UTC"), None)
            last_seen = np.array([pd.Timestamp(r.last_bar_at).value if r.last_bar_at is not None else closes[-2]
                                  if bars > 1 else closes[0] - 1 for r in group], dtype="int64")  # fmt: skip
            unseen: dict[int, pd.DataFrame] = {}  # one slice per first new bar
            for row, seen in zip(group, np.searchsorted(closes, last_seen, side="right").tolist(), strict=True):
                if seen >= bars:
                    continue
                missed = bars - seen - 1
                if missed > 0 and row.last_bar_at is not None:
                    report.missed_bars += missed
                    log.info("deployment_missed_bars", deployment=row.id, missed=missed)
                new = unseen.get(seen)
                if new is None:
                    new = unseen[seen] = frame.iloc[seen:]
                work.append(_Work(row, frame, new, next_open))
        return work

    async def _evaluate_all(self, work: Sequence[_Work], report: TickReport) -> dict[int, BarSignals | Failure]:
        """Each distinct (script, inputs) once per bars, all at once on the compute plane. A script
        several users deploy runs once, on the budget of its first owner (in deployment order); each
        owner's scripts on a series go as one task (the bars cross once for all of them). A failure
        is the error text for its deployments."""
        shared: dict[tuple[int, str, str], list[_Work]] = defaultdict(list)  # (bars, script, inputs): who runs it
        for item in work:
            shared[(id(item.frame), item.row.source, json.dumps(item.row.inputs or {}, sort_keys=True))].append(item)
        batches: dict[tuple[int, int], list[list[_Work]]] = defaultdict(list)  # (bars, owner): their scripts
        for items in shared.values():
            batches[(id(items[0].frame), items[0].row.user_id)].append(items)
        report.evaluations += len(shared)
        report.evaluated += len(work)
        results = await asyncio.gather(*(self._evaluate_batch(groups) for groups in batches.values()))
        return {item.row.id: result
                for groups, batch in zip(batches.values(), results, strict=True)
                for items, result in zip(groups, batch, strict=True)
                for item in items}  # fmt: skip

    async def _evaluate_batch(self, groups: list[list[_Work]]) -> list[BarSignals | Failure]:
        """One owner's scripts on one series' bars, in one task. Should the task as a whole be
        stopped (past the sum of its scripts' limits, which only a call that cannot be interrupted
        makes), each script runs alone, so only the one that overran is charged with it."""
        first = groups[0][0]
        scripts = [(items[0].row.source, dict(items[0].row.inputs or {})) for items in groups]

        async def run(batch: list[tuple[str, dict]]) -> list[BarSignals | Failure]:
            task = Task(first.row.user_id, limit_s=TIME_LIMIT * len(batch) + 1, label="the script")
            return await self.market.compute.run(signals_of_scripts, first.frame, batch, task=task)

        async def alone(script: tuple[str, dict]) -> BarSignals | Failure:
            try:
                return (await run([script]))[0]
            except StoxlifyError as exc:
                return failure(exc)

        if len(scripts) == 1:
            return [await alone(scripts[0])]
        try:
            return await run(scripts)
        except TooLong:
            return list(await asyncio.gather(*(alone(script) for script in scripts)))
        except StoxlifyError as exc:  # over its owner's budget, no worker answered
            return [failure(exc)] * len(scripts)

    # --- orders ------------------------------------------------------------------------------

    async def _act(self, items: list[_Acting], report: TickReport) -> None:
        """One credential's orders, one at a time, each sized on the balance the previous one left."""
        credential_id = items[0].row.credential_id
        try:
            broker = await self.brokers.get(credential_id)
        except AuthFailed as exc:
            await self._refused_key(credential_id, why(exc), items, report)
            return
        except NotFound as exc:  # the credential is gone
            await self._refused_key(credential_id, str(exc), items, report)
            return
        except StoxlifyError as exc:  # not claimed: the next tick tries these bars again
            log.warning("tick_broker_unavailable", credential=credential_id, error=str(exc))
            return
        rules: dict[str, MarketRules | OrderRejected] = {}
        for index, item in enumerate(items):
            try:
                if item.symbol not in rules:
                    try:
                        rules[item.symbol] = await broker.market_rules(item.symbol)
                    except OrderRejected as exc:  # the broker does not trade it: retrying cannot help
                        rules[item.symbol] = exc
                found = rules[item.symbol]
                if isinstance(found, OrderRejected):
                    await self._refuse(broker, item, why(found), report)
                    continue
                outcome = await self._order(broker, found, item, report)
                if outcome is not None and outcome.paused:  # the key was refused: build it anew next time
                    await self.brokers.forget(credential_id)
                    for rest in items[index + 1 :]:  # paused with it: told, never sent through the dead key
                        if rest.row.id in outcome.paused:
                            report.events.append(self._event(EventKind.PAUSED, rest.row, rest.key, rest.frame,
                                                             rest.decision, text=outcome.error))  # fmt: skip
                    return
            except AuthFailed as exc:
                await self._refused_key(credential_id, why(exc), items, report)
                return
            except StoxlifyError as exc:  # balance or rules unavailable: not claimed, retried next tick
                log.warning("tick_order_skipped", deployment=item.row.id, error=str(exc))

    async def _order(self, broker: Broker, rules: MarketRules, item: _Acting, report: TickReport) -> Outcome | None:
        """Size, record and send the item's orders in turn (a resting exit, then a new entry, each on
        the balance the one before left); the last outcome (None when another worker claimed the bar,
        or a paper order waits for the next candle's open)."""
        if broker.paper and any(d.price is None for d in item.decisions):
            return None  # a paper fill is the next open, not yet published: the bar stays due
        outcome: Outcome | None = None
        for number, decision in enumerate(item.decisions):
            outcome = await self._place(broker, rules, item, decision, report, claim=number == 0)
            if outcome is None or outcome.status != OrderStatus.FILLED:
                break  # the entry after an exit needs the exit done
        return outcome

    async def _place(
        self, broker: Broker, rules: MarketRules, item: _Acting, decision: Decision, report: TickReport, *, claim: bool
    ) -> Outcome | None:
        row, frame = item.row, item.frame
        # paper fills where the backtest does; a live market order sizes on the freshest price seen
        price = decision.price if decision.price is not None else float(frame.iloc[-1]["close"])
        if decision.side == Side.SELL and item.resting:
            stopped = await lift_stop(self.db, broker, row.id)
            if stopped is not None:  # the exchange's stop sold first: that is this position's exit
                hit = Decision(Side.SELL, "stop", "stop", decision.at, stopped.price)
                report.events.append(self._event(EventKind.FILLED, row, item.key, frame, hit, stopped))
                return stopped
        balance = await broker.fetch_balance()
        if decision.side == Side.BUY:
            fee = rules.fee if rules.fee is not None else self.settings.commission(crypto=not is_idx_symbol(rules.symbol))
            sized = size_buy(balance.get(rules.quote, 0.0), price, rules, fee=fee, fraction=row.size, stake=row.stake_amount,
                             cap=row.max_position_value)  # fmt: skip
        else:
            sized = size_sell(row.position_qty, balance.get(rules.base), price, rules)
        if sized.refusal:
            return await self._refuse(broker, item, sized.refusal, report, decision=decision, quantity=sized.quantity,
                                      claim=claim)  # fmt: skip
        order = await record_intent(self.db, self._intent(broker, item, decision, sized.quantity, price), claim=claim)
        if order is None:
            return None  # another worker claimed this bar
        report.claimed += claim
        report.orders += 1
        outcome = await send_order(self.db, self.settings, broker, order, sleep=self.sleep)
        report.events.append(self._event(event_kind(outcome), row, item.key, frame, decision, outcome))
        if decision.side == Side.BUY and outcome.status == OrderStatus.FILLED and item.stop_loss and broker.rests_stops:
            await rest_stop(self.db, self.settings, broker, rules, row.id, item.stop_loss, order.bar_at or item.bar_at)
        return outcome

    async def _refuse(
        self, broker: Broker, item: _Acting, refusal: str, report: TickReport, *,
        decision: Decision | None = None, quantity: float = 0.0, claim: bool = True,
    ) -> Outcome | None:
        """Record the bar's order as refused (never sent), claiming the bar, and tell the user why."""
        row, frame = item.row, item.frame
        decision = decision or item.decision
        price = decision.price if decision.price is not None else float(frame.iloc[-1]["close"])
        order = await record_intent(self.db, self._intent(broker, item, decision, quantity, price), refusal=refusal,
                                    claim=claim)  # fmt: skip
        if order is None:
            return None  # another worker claimed this bar
        report.claimed += claim
        report.orders += 1
        outcome = Outcome(order.id, row.id, row.user_id, OrderStatus.REJECTED, decision.side, order.symbol,
                          quantity, price, error=refusal)  # fmt: skip
        report.events.append(self._event(EventKind.REFUSED, row, item.key, frame, decision, outcome))
        return outcome

    def _intent(self, broker: Broker, item: _Acting, decision: Decision, quantity: float, price: float) -> Intent:
        row = item.row
        return Intent(
            deployment_id=row.id,
            user_id=row.user_id,
            credential_id=row.credential_id,
            broker=broker.name.value if hasattr(broker.name, "value") else str(broker.name),
            symbol=item.symbol,
            side=decision.side,
            quantity=quantity,
            reference_price=price,
            bar_at=decision.at.to_pydatetime(),
            claim_at=item.bar_at,
            reason=decision.reason,
            signal=decision.signal,
            id_prefix=self.settings.order_id_prefix,
        )

    async def _refused_key(self, credential_id: int, message: str, items: list[_Acting], report: TickReport) -> None:
        await self.brokers.forget(credential_id)
        paused = set(await pause_credential(self.db, credential_id, message))
        for item in items:
            if item.row.id in paused:
                report.events.append(self._event(EventKind.PAUSED, item.row, item.key, item.frame, item.decision, text=message))

    async def _pause_slow(self, rows: list[tuple[Deployment, SeriesKey, str]], report: TickReport) -> None:
        """Pause deployments whose script ran past its time limit on two bars in a row, and tell their
        owners: it would otherwise burn its limit on every bar and never trade."""
        async with self.db.session() as session:
            for row, key, text in rows:
                why = (f"paused: its script ran past its time limit on two bars in a row ({text}); make it "
                       f"lighter, then /resume {row.id}")  # fmt: skip
                paused = await session.execute(
                    update(Deployment)
                    .where(Deployment.id == row.id, Deployment.status.in_(RUNNING))
                    .values(status=Status.PAUSED, status_reason=why[:300], updated_at=utcnow())
                    .execution_options(synchronize_session=False)
                )
                if rowcount(paused) == 1:
                    report.events.append(self._event(EventKind.PAUSED, row, key, text=why))

    async def _note(self, reasons: dict[int, str]) -> None:
        """Why a deployment did nothing on its bar (its script failed): shown in /deployments, not pushed
        (a script that fails on every bar would otherwise alert at every candle)."""
        async with self.db.session() as session:
            for deployment_id, reason in reasons.items():
                await session.execute(
                    update(Deployment)
                    .where(Deployment.id == deployment_id)
                    .values(status_reason=reason[:300])
                    .execution_options(synchronize_session=False)
                )

    async def _gone(self, key: SeriesKey, rows: list[Deployment], error: str, report: TickReport) -> None:
        """The feed said it does not know the ticker. Feeds say so in hiccups (Yahoo's empty frame, a CSV
        file being replaced), so one miss only counts; a delisting is confirmed once every fetch missed for
        ``delisted_after_checks`` ticks spanning ``delisted_after_hours``. Then a flat deployment is done
        and a holding one paused, never ended: its owner is told and ``/resume`` works once the feed answers."""
        now = report.at
        async with self.db.session() as session:
            for row in rows:
                since = row.feed_missing_since or now
                misses = row.feed_missing_count + 1
                if misses < self.settings.delisted_after_checks or now - since < self._delisting_window:
                    await session.execute(
                        update(Deployment)
                        .where(Deployment.id == row.id, Deployment.status.in_(RUNNING))
                        .values(feed_missing_since=since, feed_missing_count=misses)
                        .execution_options(synchronize_session=False)
                    )
                    log.warning("tick_ticker_missing", deployment=row.id, series=str(key), misses=misses,
                                since=since.isoformat(), error=error)  # fmt: skip
                    continue
                status, text = self._delisted(row, since, misses, error)
                ended = await session.execute(
                    update(Deployment)
                    .where(Deployment.id == row.id, Deployment.status.in_(RUNNING))
                    # the count starts again: a resumed deployment gets a whole window before it is paused anew
                    .values(
                        status=status, status_reason=text[:300], updated_at=utcnow(),
                        feed_missing_since=None, feed_missing_count=0,
                    )
                    .execution_options(synchronize_session=False)
                )
                if rowcount(ended) == 1:
                    log.warning("tick_ticker_delisted", deployment=row.id, series=str(key), status=status.value)
                    kind = EventKind.DONE if status == Status.DONE else EventKind.PAUSED
                    report.events.append(self._event(kind, row, key, text=text))

    @property
    def _delisting_window(self) -> timedelta:
        return timedelta(hours=self.settings.delisted_after_hours)

    @staticmethod
    def _delisted(row: Deployment, since: datetime, misses: int, error: str) -> tuple[Status, str]:
        """What a confirmed delisting does to ``row``, and why, in words for its owner."""
        seen = f"the market feed has not known {row.ticker} since {since:%Y-%m-%d %H:%M} UTC ({misses} checks: {error})"
        if row.position_qty <= 0:
            return Status.DONE, seen
        return Status.PAUSED, (f"{seen}. Your position is kept: check the ticker at your broker, and /resume {row.id} "
                               "once the market serves it again")  # fmt: skip

    async def _found(self, rows: list[Deployment]) -> None:
        """The feed answered: misses counted before were a hiccup, the count starts again."""
        missed = [row.id for row in rows if row.feed_missing_count]
        if not missed:
            return  # the usual case: no write in the read phase
        async with self.db.session() as session:
            await session.execute(
                update(Deployment)
                .where(Deployment.id.in_(missed))
                .values(feed_missing_since=None, feed_missing_count=0)
                .execution_options(synchronize_session=False)
            )

    @staticmethod
    def _event(
        kind: EventKind,
        row: Deployment,
        key: SeriesKey,
        frame: pd.DataFrame | None = None,
        decision: Decision | None = None,
        outcome: Outcome | None = None,
        text: str = "",
    ) -> Event:
        bar_open = frame.index[-1] if frame is not None and len(frame) else None
        return Event(kind, row.id, row.user_id, row.label, key, row.notify_chat_id, bar_open, decision, outcome, text)


def event_kind(outcome: Outcome) -> EventKind:
    """The alert kind of an order's outcome: paused, filled, rejected, failed, or unknown (not final yet)."""
    if outcome.paused:
        return EventKind.PAUSED
    kinds = {
        OrderStatus.FILLED: EventKind.FILLED, OrderStatus.REJECTED: EventKind.REJECTED,
        OrderStatus.FAILED: EventKind.FAILED, OrderStatus.CANCELED: EventKind.FAILED,
    }  # fmt: skip
    return kinds.get(outcome.status, EventKind.UNKNOWN)

