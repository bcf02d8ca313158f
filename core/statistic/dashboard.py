"""Dashboard Monitoring: how a user's deployed models did over the last day, week or month.

Windows are rolling and end now (UTC): ``day`` is the last 24 hours, ``week`` the last 7 days,
``month`` the last 30 days, each ``start <= executed_at < end``. The P&L, return, win rate and
model figures count realised P&L only (the ``pnl`` of fills that closed a position, already net of
both legs' fees), so they never move with a price feed. The equity curve beside them adds the open
positions marked to market at each bar, and its drawdown (``core.statistic.equity`` defines both).

Money is never added across quote currencies (IDR and USDT P&L side by side mean nothing summed):
P&L and return are given per currency, and so is the equity curve.

**Return** is realised P&L over the capital those closed positions had committed::

    return = sum(pnl) / sum(basis)   over the fills closing a position in the window, per currency
    basis  = qty * price - pnl       for a closing sell (a long: entry value plus both fees)
    basis  = qty * price + pnl       for a closing buy  (a short: what the short sale raised, net of fees)

so a long bought for 1,000 (fees included) and sold for a P&L of +50 returned exactly 5 %. It
does not divide by an account balance: deployments trade fractions of accounts whose size we may
not know (a real exchange account), and the same model then reads the same on any account.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from core.actor import Actor
from core.broker.types import Side
from core.compute import Compute, Task
from core.db import Database, utcnow
from core.deployment.history import PriceProvider
from core.deployment.models import Deployment
from core.deployment.status import RUNNING
from core.errors import Invalid, StoxlifyError
from core.market.types import Source
from core.statistic.equity import EquityCurve, Fill, Marks, equity_curves, marks_of
from core.trade.models import Trade

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

log = logging.getLogger(__name__)


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


SPANS = {Period.DAY: timedelta(days=1), Period.WEEK: timedelta(days=7), Period.MONTH: timedelta(days=30)}


@dataclass(frozen=True, slots=True)
class Totals:
    """Realised figures of one group of closing fills (a currency, or a model in one currency)."""

    currency: str
    pnl: float
    basis: float
    closed: int
    wins: int

    @property
    def return_pct(self) -> float | None:
        return self.pnl / self.basis * 100.0 if self.basis > 0 else None

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.closed * 100.0 if self.closed else None


@dataclass(frozen=True, slots=True)
class ModelTotals(Totals):
    """A deployed model's figures: by its label, in one quote currency."""

    label: str = ""


@dataclass(frozen=True, slots=True)
class Dashboard:
    """The figures of one window. ``win_rate`` is None (not 0) when nothing closed."""

    period: Period
    start: datetime
    end: datetime
    trade_count: int  # every fill in the window, opening ones included
    closed: int  # fills that closed (part of) a position
    wins: int  # of those, closed with pnl > 0
    currencies: list[Totals]  # by currency name
    models: list[ModelTotals]  # best first
    open_positions: int
    active_deployments: int
    equity: dict[str, EquityCurve] = field(default_factory=dict)  # by currency: realised + unrealised

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.closed * 100.0 if self.closed else None

    @property
    def best(self) -> ModelTotals | None:
        return self.models[0] if self.models else None

    @property
    def worst(self) -> ModelTotals | None:
        """The last-ranked model; None when only one model closed anything (it would be both)."""
        return self.models[-1] if len(self.models) > 1 else None

    @property
    def empty(self) -> bool:
        return self.trade_count == 0


def parse_period(text: str | Period | None) -> Period:
    if isinstance(text, Period):
        return text
    try:
        return Period((text or "week").strip().lower())
    except ValueError:
        raise Invalid(f"unknown period '{text}'", hint="choose day, week or month") from None


@dataclass(frozen=True, slots=True)
class _Closing:
    at: datetime
    label: str
    currency: str
    pnl: float
    basis: float


async def dashboard(
    db: Database,
    actor: Actor,
    period: str | Period = Period.WEEK,
    now: datetime | None = None,
    *,
    prices: PriceProvider | None = None,
    compute: Compute | None = None,
) -> Dashboard:
    """The actor's Dashboard Monitoring for the window of ``period`` ending at ``now``.

    With ``prices`` (the market service) the equity curve marks open positions to market on their
    deployments' bars, fetched after the database is read (no transaction waits on a provider) and
    through the candle cache; the curve is worked out on ``compute`` (in this thread when None).
    Without it, open positions are marked at their entry price.
    """
    chosen = parse_period(period)
    end = now or utcnow()
    start = end - SPANS[chosen]
    window = (Trade.user_id == actor.user_id, Trade.executed_at >= start, Trade.executed_at < end)
    async with db.session() as session:
        fills = await session.scalar(select(func.count()).select_from(Trade).where(*window)) or 0
        rows = await session.execute(
            select(Trade.executed_at, Trade.label, Trade.quote_currency, Trade.side, Trade.quantity,
                   Trade.price, Trade.pnl)
            .where(*window, Trade.pnl.is_not(None))
            .order_by(Trade.executed_at, Trade.id)
        )  # fmt: skip
        closing = [_closing(*row) for row in rows]
        history = await _history(session, actor, end)
        mine = Deployment.user_id == actor.user_id
        open_positions = await session.scalar(
            select(func.count()).select_from(Deployment).where(mine, Deployment.position_qty != 0)
        ) or 0
        active = await session.scalar(
            select(func.count()).select_from(Deployment).where(mine, Deployment.status.in_(RUNNING))
        ) or 0
        where = await _deployments(session, {f.book for f in history})
    marks = await _marks(prices, where, _books_in_window(history, start), end) if prices is not None else {}
    if compute is None:
        curves = equity_curves(history, marks, start, end)
    else:
        curves = await compute.run(equity_curves, history, marks, start, end,
                                   task=Task(actor.user_id, label="the equity curve"))  # fmt: skip
    currencies = [_totals(Totals, currency, group) for currency, group in _grouped(closing, _currency)]
    models = [
        _totals(ModelTotals, currency, group, label=label)
        for (label, currency), group in _grouped(closing, _model)
    ]
    return Dashboard(
        period=chosen,
        start=start,
        end=end,
        trade_count=fills,
        closed=len(closing),
        wins=sum(1 for c in closing if c.pnl > 0),
        currencies=currencies,
        models=_ranked(models),
        open_positions=open_positions,
        active_deployments=active,
        equity=curves,
    )


async def _history(session: Any, actor: Actor, end: datetime) -> list[Fill]:
    """Every fill of the actor before ``end``, oldest first: positions opened before the window
    are still held in it. A fill's book is its deployment (or its label and symbol without one)."""
    rows = await session.execute(
        select(Trade.executed_at, Trade.deployment_id, Trade.label, Trade.symbol, Trade.quote_currency,
               Trade.side, Trade.quantity, Trade.price, Trade.fee, Trade.pnl)
        .where(Trade.user_id == actor.user_id, Trade.executed_at < end)
        .order_by(Trade.executed_at, Trade.id)
    )  # fmt: skip
    return [
        Fill(_utc(at), _book(deployment_id, label, symbol), currency or "", Side(side), float(qty), float(price),
             float(fee or 0.0), None if pnl is None else float(pnl))
        for at, deployment_id, label, symbol, currency, side, qty, price, fee, pnl in rows
    ]  # fmt: skip


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def _book(deployment_id: int | None, label: str | None, symbol: str) -> str:
    return f"deployment:{deployment_id}" if deployment_id is not None else f"fills:{label or ''}:{symbol}"


async def _deployments(session: Any, books: set[str]) -> dict[str, tuple[str, str, str]]:
    """Where each deployment's book is priced: its (market, ticker, interval)."""
    ids = sorted(int(b.partition(":")[2]) for b in books if b.startswith("deployment:"))
    if not ids:
        return {}
    rows = await session.execute(
        select(Deployment.id, Deployment.market, Deployment.ticker, Deployment.interval).where(Deployment.id.in_(ids))
    )
    return {f"deployment:{i}": (market, ticker, interval) for i, market, ticker, interval in rows}


def _books_in_window(history: list[Fill], start: datetime) -> set[str]:
    """The books that held something in the window: a fill inside it, or a position open at its start."""
    net: dict[str, float] = defaultdict(float)
    inside: set[str] = set()
    for f in history:
        if f.at >= start:
            inside.add(f.book)
        else:
            net[f.book] += f.qty if f.side == Side.BUY else -f.qty
    return inside | {book for book, qty in net.items() if abs(qty) > 1e-12}


async def _marks(
    prices: PriceProvider, where: dict[str, tuple[str, str, str]], books: set[str], end: datetime
) -> dict[str, Marks]:
    """Each book's bar closes, one fetch per distinct (market, ticker, interval), concurrently; a
    ticker that fails leaves its books unpriced (marked at entry) rather than failing the dashboard."""
    keys = sorted({where[b] for b in books if b in where})
    fetched = await asyncio.gather(*(_bars(prices, *key, end) for key in keys))
    found = dict(zip(keys, fetched, strict=True))
    return {b: marks for b in books if b in where and (marks := found[where[b]]) is not None}


async def _bars(prices: PriceProvider, market: str, ticker: str, interval: str, end: datetime) -> Marks | None:
    try:
        source = Source(market)
    except ValueError:
        source = Source.UNKNOWN
    try:
        candles = await prices.candles(ticker, interval, None, source)
    except StoxlifyError as exc:
        log.info("dashboard: no prices for %s:%s %s: %s", market, ticker, interval, exc.message)
        return None
    except Exception:
        log.exception("dashboard price fetch failed for %s:%s %s", market, ticker, interval)
        return None
    frame = candles.frame
    if not len(frame):
        return None
    opened = frame.index.as_unit("ns").asi8 / 1e9
    return marks_of(opened, frame["close"].to_numpy(dtype="float64"), candles.interval.delta.total_seconds(), end)


def _closing(
    at: datetime, label: str, currency: str, side: Side, qty: float, price: float, pnl: float | None
) -> _Closing:
    assert pnl is not None  # only closing fills are read
    notional = abs(qty) * price
    basis = notional - pnl if side == Side.SELL else notional + pnl
    return _Closing(at, label or "(unnamed)", currency or "", pnl, basis)


def _currency(c: _Closing) -> str:
    return c.currency


def _model(c: _Closing) -> tuple[str, str]:
    return c.label, c.currency


def _grouped[K: SupportsRichComparison](
    closing: Iterable[_Closing], key: Callable[[_Closing], K]
) -> list[tuple[K, list[_Closing]]]:
    groups: dict[K, list[_Closing]] = defaultdict(list)
    for c in closing:
        groups[key(c)].append(c)
    return sorted(groups.items(), key=lambda item: item[0])


def _totals[T: Totals](kind: type[T], currency: str, group: list[_Closing], **extra: str) -> T:
    return kind(
        currency=currency,
        pnl=sum(c.pnl for c in group),
        basis=sum(c.basis for c in group),
        closed=len(group),
        wins=sum(1 for c in group if c.pnl > 0),
        **extra,
    )


def _ranked(models: list[ModelTotals]) -> list[ModelTotals]:
    """Best first: by P&L when every model trades in one currency, else by return (P&L in IDR and in
    USDT cannot be compared, percentages can). Ties go by label, so the order is stable."""
    if len({m.currency for m in models}) <= 1:
        return sorted(models, key=lambda m: (-m.pnl, m.label))
    return sorted(
        models, key=lambda m: (m.return_pct is None, -(m.return_pct or 0.0), -m.pnl, m.label)
    )


async def dashboard_chart(
    dash: Dashboard, *, width_px: int = 1200, height_px: int = 800, compute: Compute | None = None,
    user_id: int | None = None,
) -> bytes | None:
    """The equity chart PNG of ``dash`` (per currency: equity with unrealised P&L, and its drawdown
    below), drawn on ``compute`` (threads when None); None when nothing traded or was held in the window."""
    if not dash.equity:
        return None
    from core.statistic.equity_chart import render_equity

    closed = f"{dash.closed} closing fill{'s' * (dash.closed != 1)}"
    job = partial(
        render_equity,
        dash.equity,
        title=f"Equity: realised + unrealised P&L · last {dash.period.value}",
        subtitle=f"{dash.start:%d %b %H:%M} – {dash.end:%d %b %Y %H:%M} UTC · {closed}",
        width_px=width_px,
        height_px=height_px,
    )
    if compute is None:
        return await asyncio.to_thread(job)
    return await compute.run(job, task=Task(user_id, label="the chart"))
