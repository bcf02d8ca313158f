"""Retrieve Trades and open positions: what a user's deployments bought, sold, earned and hold.

Read-only over the rows the executor writes (``Trade`` fills, ``Deployment.position_qty``), always
scoped to the asking actor. Prices for unrealised P&L are fetched after the database read, never
inside a transaction, through anything with the ``MarketService.candles`` signature (cached, so
many users holding one ticker cost one fetch).
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol, Self

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.actor import Actor
from core.broker.types import Side
from core.db import Database
from core.deployment.models import Deployment
from core.deployment.status import Status
from core.errors import Invalid, LimitExceeded, NotFound, StoxlifyError
from core.market.types import Candles, Source
from core.paging import Page, check_page, fetch_page
from core.trade.models import Order, Trade

log = logging.getLogger(__name__)

class PriceProvider(Protocol):
    """What positions need from the market service: its ``candles`` call."""

    async def candles(
        self, ticker: str, interval: str = "1d", range_: str | None = None, source: Source = Source.UNKNOWN
    ) -> Candles: ...


@dataclass(frozen=True, slots=True)
class TradeView:
    """One fill as a reply shows it. ``pnl`` is set only on fills that closed (part of) a position."""

    id: int
    time: datetime
    label: str
    symbol: str
    side: Side
    qty: float
    price: float
    fee: float
    pnl: float | None
    quote_currency: str
    deployment_id: int | None = None
    reason: str | None = None  # why its order was sent: signal, stop, target, manual, exchange-stop

    @property
    def exit_reason(self) -> str | None:
        """What closed the position, on a fill that closed one (None on an entry)."""
        return self.reason if self.pnl is not None else None

    @classmethod
    def from_row(cls, t: Trade, reason: str | None = None) -> Self:
        return cls(
            id=t.id,
            time=t.executed_at,
            label=t.label,
            symbol=t.symbol,
            side=t.side,
            qty=t.quantity,
            price=t.price,
            fee=t.fee,
            pnl=t.pnl,
            quote_currency=t.quote_currency,
            deployment_id=t.deployment_id,
            reason=reason,
        )


@dataclass(frozen=True, slots=True)
class PositionView:
    """An open position held by one deployment. ``qty`` < 0 is a short.

    ``last_price``/``unrealised_pnl`` are None when no price provider was given or its fetch failed
    (``price_error`` then says why). Unrealised P&L is ``qty * (last - entry) - entry_fee``: net of
    the fee paid to enter what is held (as realised P&L is net of it once sold), before exit fees.
    """

    deployment_id: int
    label: str
    symbol: str
    interval: str
    qty: float
    entry_price: float | None
    quote_currency: str
    status: Status
    last_price: float | None = None
    unrealised_pnl: float | None = None
    price_error: str | None = None
    sample: bool = False
    entry_fee: float = 0.0  # the share of the entries' fees (quote currency) paid for the held quantity
    opened_at: datetime | None = None  # the fill that opened what is held (None: no fill recorded)

    @classmethod
    def from_row(cls, d: Deployment, currency: str, entry_fee: float = 0.0, opened_at: datetime | None = None) -> Self:
        """The deployment's holding, unvalued; ``currency`` and ``entry_fee`` come from its fills."""
        return cls(
            deployment_id=d.id,
            label=d.label,
            symbol=d.ticker,
            interval=d.interval,
            qty=d.position_qty,
            entry_price=d.entry_price,
            quote_currency=currency,
            status=d.status,
            entry_fee=entry_fee,
            opened_at=opened_at,
        )

    @property
    def entry_value(self) -> float | None:
        return None if self.entry_price is None else abs(self.qty) * self.entry_price

    @property
    def unrealised_pct(self) -> float | None:
        """Unrealised P&L over what the position cost: its entry value plus the entry fee."""
        value = self.entry_value
        if self.unrealised_pnl is None or not value:
            return None
        return self.unrealised_pnl / (value + self.entry_fee) * 100.0


def _utc(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise Invalid(f"{name} must carry a time zone (UTC)")
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class TradeQuery:
    """Which fills: ``since <= executed_at < until`` (either bound optional), of one deployment or all.

    ``until`` is exclusive so that consecutive windows never count a fill twice; a caller that
    means "up to and including 31 Jan" passes 1 Feb. Construction refuses a bound without a time
    zone and an empty window, and keeps both bounds in UTC. ``deployment_id`` must be one of the
    asking actor's deployments (checked when the fills are read: it needs the database).
    """

    since: datetime | None = None
    until: datetime | None = None
    deployment_id: int | None = None

    def __post_init__(self) -> None:
        # frozen: the UTC bounds replace the given ones once, before anything reads them
        since, until = _utc(self.since, "from"), _utc(self.until, "to")
        if since is not None and until is not None and since >= until:
            raise Invalid(f"'from' ({since:%Y-%m-%d}) must be before 'to' ({until:%Y-%m-%d})")
        object.__setattr__(self, "since", since)
        object.__setattr__(self, "until", until)


ALL_TRADES = TradeQuery()


async def list_trades(
    db: Database, actor: Actor, query: TradeQuery = ALL_TRADES, page: int = 1, page_size: int = 10
) -> Page[TradeView]:
    """The actor's fills that ``query`` selects, newest first. A ``deployment_id`` of anyone else's
    is ``NotFound``, not told apart from a missing one."""
    check_page(page, page_size)  # before the deployment is looked up
    async with db.session() as session:
        where = await _where(session, actor, query)
        newest = (
            select(Trade, Order.reason)
            .join(Order, Order.id == Trade.order_id)
            .where(*where)
            .order_by(Trade.executed_at.desc(), Trade.id.desc())
        )
        rows, total = await fetch_page(session, newest, page, page_size)
        items = [TradeView.from_row(t, reason) for t, reason in rows]
    return Page(items=items, page=page, page_size=page_size, total=total)


async def _where(session: AsyncSession, actor: Actor, query: TradeQuery) -> list[ColumnElement[bool]]:
    """The actor's fills that ``query`` selects, as conditions (NotFound for another's deployment)."""
    where = [Trade.user_id == actor.user_id]
    if query.since is not None:
        where.append(Trade.executed_at >= query.since)
    if query.until is not None:
        where.append(Trade.executed_at < query.until)
    if query.deployment_id is not None:
        owner = await session.scalar(select(Deployment.user_id).where(Deployment.id == query.deployment_id))
        if not actor.owns(owner):
            raise NotFound(f"no deployment #{query.deployment_id} of yours", hint="see your trades with /trades")
        where.append(Trade.deployment_id == query.deployment_id)
    return where


EXPORT_MAX_TRADES = 100_000


async def all_trades(db: Database, actor: Actor, query: TradeQuery = ALL_TRADES) -> list[TradeView]:
    """Every fill of the actor's that ``query`` selects, oldest first, in one read (an export: no
    page can shift under it). At most ``EXPORT_MAX_TRADES``; ``LimitExceeded`` beyond."""
    async with db.session() as session:
        where = await _where(session, actor, query)
        rows = list(
            await session.execute(
                select(Trade, Order.reason)
                .join(Order, Order.id == Trade.order_id)
                .where(*where)
                .order_by(Trade.executed_at, Trade.id)
                .limit(EXPORT_MAX_TRADES + 1)
            )
        )
    if len(rows) > EXPORT_MAX_TRADES:
        raise LimitExceeded(
            f"more than {EXPORT_MAX_TRADES:,} trades to export", hint="narrow it: from=YYYY-MM-DD to=YYYY-MM-DD"
        )
    return [TradeView.from_row(t, reason) for t, reason in rows]


async def positions(db: Database, actor: Actor, prices: PriceProvider | None = None) -> list[PositionView]:
    """The actor's open positions (deployments holding a non-zero quantity), by label then id.

    With ``prices`` each distinct (source, ticker, interval) is fetched once, concurrently, and the
    last close values the position; a ticker that fails shows its error without failing the list.
    """
    async with db.session() as session:
        deployments = list(
            await session.scalars(
                select(Deployment)
                .where(Deployment.user_id == actor.user_id, Deployment.position_qty != 0)
                .order_by(Deployment.label, Deployment.id)
            )
        )
        currencies = await _quote_currencies(session, [d.id for d in deployments])
        fees, opened = await _entry_fees(session, deployments)
    views = [
        PositionView.from_row(d, currencies.get(d.id, ""), fees.get(d.id, 0.0), opened.get(d.id))
        for d in deployments
    ]
    if prices is None or not views:
        return views
    keys = sorted({(d.market, d.ticker, d.interval) for d in deployments})
    fetched = await asyncio.gather(*(last_close(prices, *key) for key in keys))
    closes = dict(zip(keys, fetched, strict=True))
    return [_valued(v, closes[d.market, d.ticker, d.interval]) for v, d in zip(views, deployments, strict=True)]


async def _quote_currencies(session, deployment_ids: list[int]) -> dict[int, str]:
    """Each deployment's quote currency, as its latest fill recorded it."""
    if not deployment_ids:
        return {}
    latest = (
        select(Trade.deployment_id, func.max(Trade.id).label("last_id"))
        .where(Trade.deployment_id.in_(deployment_ids))
        .group_by(Trade.deployment_id)
        .subquery()
    )
    rows = await session.execute(
        select(Trade.deployment_id, Trade.quote_currency).join(latest, Trade.id == latest.c.last_id)
    )
    return {deployment_id: currency for deployment_id, currency in rows}


async def _entry_fees(
    session, deployments: list[Deployment]
) -> tuple[dict[int, float], dict[int, datetime]]:
    """The entry fees each position carries: the fees of the fills that built what is held now,
    and when the first of those fills opened it.

    Walking a deployment's fills in order, a buy adds its quantity and fee, a sell takes away the
    sold share of both (that share is realised, in the sell's P&L), and a return to flat starts
    afresh; what is left is the position's entry fee. A short's entries are its sells, the same
    way round.
    """
    holding = {d.id: d for d in deployments if d.position_qty}
    if not holding:
        return {}, {}
    rows = await session.execute(
        select(Trade.deployment_id, Trade.side, Trade.quantity, Trade.fee, Trade.executed_at)
        .where(Trade.deployment_id.in_(list(holding)))
        .order_by(Trade.deployment_id, Trade.executed_at, Trade.id)
    )
    books: dict[int, list[float]] = {}  # deployment -> [quantity held, fee carried]
    opened: dict[int, datetime] = {}
    for deployment_id, side, quantity, fee, at in rows:
        long_ = holding[deployment_id].position_qty > 0
        book = books.setdefault(deployment_id, [0.0, 0.0])
        if (side == Side.BUY) == long_:
            if book[0] == 0.0:
                opened[deployment_id] = at
            book[0] += quantity
            book[1] += fee or 0.0
        elif book[0] > 0:
            left = max(book[0] - quantity, 0.0)
            book[1] *= left / book[0]
            book[0] = left if left > 1e-12 * max(quantity, 1.0) else 0.0
            if book[0] == 0.0:
                book[1] = 0.0
    # the whole carried fee, even when a fee paid in the base asset left a little less held than bought
    fees = {deployment_id: fee for deployment_id, (quantity, fee) in books.items() if quantity > 0 and fee}
    return fees, {d: at for d, at in opened.items() if books[d][0] > 0}


@dataclass(frozen=True, slots=True)
class _Close:
    price: float | None
    currency: str = ""
    sample: bool = False
    error: str | None = None


async def last_close(prices: PriceProvider, market: str, ticker: str, interval: str) -> _Close:
    try:
        source = Source(market)
    except ValueError:
        source = Source.UNKNOWN
    try:
        candles = await prices.candles(ticker, interval, None, source)
    except StoxlifyError as exc:
        return _Close(None, error=exc.message)
    except Exception:
        log.exception("position price fetch failed for %s:%s %s", market, ticker, interval)
        return _Close(None, error="price unavailable right now")
    frame = candles.frame
    closes = frame["close"].dropna() if "close" in frame else frame
    if closes.empty:
        return _Close(None, error=f"no recent bars for {ticker}")
    last = float(closes.iloc[-1])
    if not math.isfinite(last):
        return _Close(None, error=f"no recent price for {ticker}")
    return _Close(last, candles.instrument.currency or "", candles.sample)


def _valued(view: PositionView, close: _Close) -> PositionView:
    currency = view.quote_currency or close.currency
    if close.price is None:
        return replace(view, quote_currency=currency, price_error=close.error)
    pnl = None if view.entry_price is None else view.qty * (close.price - view.entry_price) - view.entry_fee
    return replace(
        view, quote_currency=currency, last_price=close.price, unrealised_pnl=pnl, sample=close.sample
    )


FILLS_CSV_COLUMNS = (
    "time_utc", "model", "deployment", "symbol", "side", "quantity", "price", "fee", "pnl", "currency", "trade_id",
    "exit_reason",
)  # fmt: skip


def fills_csv(fills: list[TradeView]) -> bytes:
    """Fills as CSV (UTF-8, a header row): ISO 8601 UTC times, unrounded figures, ``pnl`` and
    ``exit_reason`` (signal, stop, target, manual, exchange-stop) empty on fills that closed nothing."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FILLS_CSV_COLUMNS)
    for t in fills:
        time = t.time if t.time.tzinfo is not None else t.time.replace(tzinfo=UTC)
        writer.writerow([
            time.astimezone(UTC).isoformat(), t.label, t.deployment_id or "", t.symbol, t.side,
            repr(float(t.qty)), repr(float(t.price)), repr(float(t.fee)),
            "" if t.pnl is None else repr(float(t.pnl)), t.quote_currency, t.id, t.exit_reason or "",
        ])  # fmt: skip
    return out.getvalue().encode("utf-8")
