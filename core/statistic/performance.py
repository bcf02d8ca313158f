"""The freqtrade day: profit, performance per ticker and daily/weekly/monthly tables of a user's fills.

Read-only over the ``Trade`` fills the executor writes (and their orders' ``reason``), scoped to the
asking actor. A **closed trade** is a fill with a realised ``pnl`` (it closed all or part of a
position; its P&L is net of both legs' fees, as in ``core.statistic.dashboard``); its **basis** is
the capital it had committed (``dashboard._closing``), so ``pnl / basis`` is its return. A closed
trade's **duration** runs from the fill that opened the position (the first entry after flat, per
deployment, or per model and symbol for fills without one) to the closing fill.

Money is never added across quote currencies: every figure is per currency (IDR and USDT side by
side). Period tables count in UTC days, ISO weeks (from Monday) and calendar months.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select

from core.actor import Actor
from core.broker.types import Side
from core.db import Database, utcnow
from core.deployment.history import PositionView, PriceProvider, positions
from core.errors import Invalid
from core.trade.models import Order, Trade

_EPSILON = 1e-12


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    at: datetime
    label: str
    symbol: str
    currency: str
    pnl: float
    basis: float
    opened_at: datetime | None
    reason: str

    @property
    def held(self) -> timedelta | None:
        return None if self.opened_at is None else self.at - self.opened_at


async def closed_trades(db: Database, actor: Actor, since: datetime | None = None) -> list[ClosedTrade]:
    """The actor's closing fills, oldest first. With ``since`` only the fills from then on are read (a
    table of recent periods need not walk the whole history): a position opened before it has no
    ``opened_at``, so its ``held`` is None."""
    async with db.session() as session:
        rows = await session.execute(
            select(Trade.deployment_id, Trade.label, Trade.symbol, Trade.quote_currency, Trade.side, Trade.quantity,
                   Trade.price, Trade.pnl, Trade.executed_at, Order.reason)
            .join(Order, Order.id == Trade.order_id)
            .where(Trade.user_id == actor.user_id, *([Trade.executed_at >= since] if since is not None else []))
            .order_by(Trade.executed_at, Trade.id)
        )  # fmt: skip
        fills = list(rows)
    held: dict[tuple[object, ...], list[float]] = defaultdict(lambda: [0.0])
    opened: dict[tuple[object, ...], datetime | None] = {}
    closed: list[ClosedTrade] = []
    for deployment_id, label, symbol, currency, side, qty, price, pnl, at, reason in fills:
        key = (deployment_id,) if deployment_id is not None else (None, label, symbol)
        book = held[key]
        if pnl is None:  # an entry: opens a position when flat
            if book[0] <= _EPSILON:
                opened[key] = at
                book[0] = 0.0
            book[0] += abs(qty)
            continue
        notional = abs(qty) * price
        basis = notional - pnl if side == Side.SELL else notional + pnl
        closed.append(ClosedTrade(at, label or "(unnamed)", symbol, currency or "", pnl, basis,
                                  opened.get(key), reason or "signal"))  # fmt: skip
        book[0] = max(book[0] - abs(qty), 0.0)
        if book[0] <= _EPSILON * max(abs(qty), 1.0):
            opened[key] = None
    return closed


# -- /profit -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TickerTotals:
    symbol: str
    currency: str
    trades: int
    pnl: float
    basis: float

    @property
    def return_pct(self) -> float | None:
        return self.pnl / self.basis * 100.0 if self.basis > 0 else None


@dataclass(frozen=True, slots=True)
class Profit:
    """One quote currency's figures. ``unrealised`` is None when nothing is held in it (or unpriced)."""

    currency: str
    realised: float
    unrealised: float | None
    open_positions: int
    closed: int
    wins: int
    average_held: timedelta | None
    best: TickerTotals | None
    worst: TickerTotals | None  # None when only one ticker closed anything (it would be both)
    max_drawdown: float  # the deepest fall of cumulative realised P&L from its peak (>= 0)
    first_at: datetime | None = None
    last_at: datetime | None = None

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.closed * 100.0 if self.closed else None


async def profit(db: Database, actor: Actor, prices: PriceProvider | None = None) -> list[Profit]:
    """Realised and unrealised P&L per quote currency, by currency name."""
    closed = await closed_trades(db, actor)
    held = await positions(db, actor, prices)
    by_currency: dict[str, list[ClosedTrade]] = defaultdict(list)
    for c in closed:
        by_currency[c.currency].append(c)
    open_by: dict[str, list[PositionView]] = defaultdict(list)
    for p in held:
        open_by[p.quote_currency].append(p)
    out = []
    for currency in sorted(set(by_currency) | set(open_by)):
        group = by_currency.get(currency, [])
        tickers = sorted(tickers_of(group), key=lambda t: (-t.pnl, t.symbol))
        valued = [p.unrealised_pnl for p in open_by.get(currency, []) if p.unrealised_pnl is not None]
        durations = [c.held for c in group if c.held is not None]
        out.append(Profit(
            currency=currency,
            realised=sum(c.pnl for c in group),
            unrealised=sum(valued) if valued else None,
            open_positions=len(open_by.get(currency, [])),
            closed=len(group),
            wins=sum(1 for c in group if c.pnl > 0),
            average_held=sum(durations, timedelta()) / len(durations) if durations else None,
            best=tickers[0] if tickers else None,
            worst=tickers[-1] if len(tickers) > 1 else None,
            max_drawdown=max_drawdown([c.pnl for c in group]),
            first_at=group[0].at if group else None,
            last_at=group[-1].at if group else None,
        ))  # fmt: skip
    return out


def max_drawdown(pnls: list[float]) -> float:
    """The largest fall of the cumulative sum of ``pnls`` (from 0) below its running peak."""
    equity = peak = deepest = 0.0
    for pnl in pnls:
        equity += pnl
        peak = max(peak, equity)
        deepest = max(deepest, peak - equity)
    return deepest


def tickers_of(closed: list[ClosedTrade]) -> list[TickerTotals]:
    groups: dict[tuple[str, str], list[ClosedTrade]] = defaultdict(list)
    for c in closed:
        groups[c.symbol, c.currency].append(c)
    return [
        TickerTotals(symbol, currency, len(g), sum(c.pnl for c in g), sum(c.basis for c in g))
        for (symbol, currency), g in groups.items()
    ]


# -- /performance --------------------------------------------------------------------------------


async def performance(db: Database, actor: Actor) -> list[TickerTotals]:
    """Realised P&L per ticker, best first: by P&L when all trade in one currency, else by return
    (IDR and USDT amounts cannot be compared, percentages can); ties by symbol."""
    tickers = tickers_of(await closed_trades(db, actor))
    if len({t.currency for t in tickers}) <= 1:
        return sorted(tickers, key=lambda t: (-t.pnl, t.symbol))
    return sorted(tickers, key=lambda t: (t.return_pct is None, -(t.return_pct or 0.0), -t.pnl, t.symbol))


# -- /daily /weekly /monthly ---------------------------------------------------------------------


class Unit(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


DEFAULT_PERIODS = {Unit.DAY: 7, Unit.WEEK: 4, Unit.MONTH: 6}
MAX_PERIODS = {Unit.DAY: 92, Unit.WEEK: 52, Unit.MONTH: 36}  # a table that still reads in a chat


@dataclass(frozen=True, slots=True)
class PeriodRow:
    start: date
    pnl: dict[str, float] = field(default_factory=dict)  # by currency
    trades: dict[str, int] = field(default_factory=dict)  # closed trades, by currency

    @property
    def count(self) -> int:
        return sum(self.trades.values())


@dataclass(frozen=True, slots=True)
class PeriodTable:
    unit: Unit
    rows: list[PeriodRow]  # newest first
    currencies: list[str]  # those any row closed a trade in


def _start_of(day: date, unit: Unit) -> date:
    if unit is Unit.DAY:
        return day
    if unit is Unit.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _back(start: date, unit: Unit, n: int) -> date:
    if unit is Unit.DAY:
        return start - timedelta(days=n)
    if unit is Unit.WEEK:
        return start - timedelta(weeks=n)
    months = start.year * 12 + start.month - 1 - n
    return date(months // 12, months % 12 + 1, 1)


async def periods(db: Database, actor: Actor, unit: Unit, count: int, now: datetime | None = None) -> PeriodTable:
    """Realised P&L and closed trades per UTC day, ISO week or calendar month, the last ``count`` of
    them (the current one included), newest first."""
    if not 1 <= count <= MAX_PERIODS[unit]:
        raise Invalid(f"choose 1 to {MAX_PERIODS[unit]} {unit.value}s, not {count}")
    today = (now or utcnow()).astimezone(UTC).date()
    starts = [_back(_start_of(today, unit), unit, i) for i in range(count)]
    first = starts[-1]
    since = datetime(first.year, first.month, first.day, tzinfo=UTC)
    rows = {s: PeriodRow(s) for s in starts}
    currencies: set[str] = set()
    for c in await closed_trades(db, actor, since):
        row = rows.get(_start_of(c.at.astimezone(UTC).date(), unit))
        if row is None:  # after ``now``
            continue
        row.pnl[c.currency] = row.pnl.get(c.currency, 0.0) + c.pnl
        row.trades[c.currency] = row.trades.get(c.currency, 0) + 1
        currencies.add(c.currency)
    return PeriodTable(unit, [rows[s] for s in starts], sorted(currencies))
