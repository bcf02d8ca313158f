"""The order lifecycle, built so that no order is lost and none is sent twice.

1. ``record_intent``: in one transaction, claim the deployment's bar with a compare-and-set on
   ``deployments.last_bar_at`` and insert the ``Order`` (``Pending``) with a deterministic client
   order id. A worker that loses the claim inserts nothing. A second order on a bar already
   claimed (an entry right after a stop's exit on the same candle) is guarded by its client id,
   unique in ``orders``.
2. ``send_order``: flip ``Pending`` -> ``Sent`` with a compare-and-set (only the winner calls the
   broker), commit, *then* call ``create_order``. A crash before the flip leaves ``Pending``: it
   never left, so reconciliation sends it. A crash after leaves ``Sent``: reconciliation looks it
   up by client id and never sends it again.
3. ``apply_result``: move the order from the status it was seen in to its result with a
   compare-and-set, and in the same transaction insert the ``Trade`` (unique per order) and move
   the deployment's position. Applying one result twice is therefore impossible.

Faults: ``Transient`` goes back to ``Pending`` and is retried with back-off, then left to
reconciliation; ``OutcomeUnknown`` (and any unexpected exception while sending) stays ``Sent``
and is looked up; ``InsufficientFunds`` fails the order and the deployment keeps running (the
next signal may fit); ``OrderRejected`` rejects it and the deployment keeps running (the next
size may meet the minimum); ``AuthFailed`` fails it and pauses every running deployment on the
credential, since no order through that key can succeed until the user fixes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.broker.models import Credential, CredentialStatus
from core.broker.symbols import split_symbol
from core.broker.types import (
    AuthFailed,
    Broker,
    BrokerError,
    BrokerName,
    BrokerOrderStatus,
    InsufficientFunds,
    OrderRejected,
    OrderRequest,
    OrderResult,
    OutcomeUnknown,
    Side,
    Transient,
)
from core.config import Settings
from core.db import Database, rowcount, utcnow
from core.deployment.models import Deployment
from core.deployment.status import RUNNING, Status
from core.logging import get_logger
from core.trade.models import Order, OrderStatus, Trade

log = get_logger(__name__)

# order statuses whose outcome is not final yet
UNRESOLVED: tuple[OrderStatus, ...] = (OrderStatus.PENDING, OrderStatus.SENT, OrderStatus.OPEN)
Sleep = Callable[[float], Awaitable[None]]


def client_order_id(deployment_id: int, bar_at: datetime, kind: str, prefix: str = "sx") -> str:
    """Deterministic per (deployment, bar, kind), at most 32 characters of [A-Za-z0-9] so that every
    exchange's client-id parameter accepts it: ``<prefix><deployment>t<bar close epoch><b|s|p|c>``; the
    kind is a ``Side`` for a signal's order, ``protect`` for an exchange stop, ``close`` for a manual close.
    ``prefix`` (settings ``ORDER_ID_PREFIX``) keeps two installations trading one account apart."""
    cid = f"{prefix}{deployment_id}t{int(bar_at.timestamp())}{kind[0]}"
    if len(cid) > 32 or not cid.isalnum():  # cannot happen for real ids and times; never send a bad id
        raise ValueError(f"client order id {cid!r} is not 1-32 letters and digits")
    return cid


def quote_of(symbol: str) -> str:
    """The quote currency of a broker symbol: ``BTC/USDT`` -> USDT, ``BBCA.JK`` -> IDR."""
    return split_symbol(symbol)[1]


@dataclass(frozen=True, slots=True)
class Intent:
    """The order a deployment's bar calls for, before it exists."""

    deployment_id: int
    user_id: int
    credential_id: int
    broker: str
    symbol: str
    side: Side
    quantity: float
    reference_price: float
    bar_at: datetime  # when it fills in market time: the open of the candle after the signal, or the stop's candle
    reason: str  # signal | stop | target
    signal: str  # deployments.last_signal
    id_prefix: str = "sx"
    claim_at: datetime | None = None  # the bar close the order claims (``last_bar_at``); ``bar_at`` when None

    @property
    def claims(self) -> datetime:
        return self.claim_at or self.bar_at

    @property
    def client_order_id(self) -> str:
        return client_order_id(self.deployment_id, self.bar_at, self.side, self.id_prefix)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one order, for the tick's report and the user's alert."""

    order_id: int
    deployment_id: int | None
    user_id: int
    status: OrderStatus  # the order's status afterwards
    side: Side
    symbol: str
    quantity: float  # filled when Filled, else asked
    price: float | None = None
    fee: float = 0.0
    pnl: float | None = None
    error: str = ""  # why it failed, fit for the user
    paused: tuple[int, ...] = ()  # deployments paused because of it (AuthFailed)
    applied: bool = True  # False: another worker already moved this order on

    @property
    def final(self) -> bool:
        return self.status not in UNRESOLVED


# --- 1. record ---------------------------------------------------------------------------------


async def claim_bars(db: Database, bar_at: datetime, ids: Iterable[int], signals: dict[int, str | None]) -> set[int]:
    """Advance ``last_bar_at`` to ``bar_at`` for the deployments (acting on nothing) that have not
    seen it yet; the ids this worker claimed. One compare-and-set per row, one transaction per call."""
    ids = list(ids)
    if not ids:
        return set()
    won: set[int] = set()
    now = utcnow()
    first_bar = case((Deployment.status == Status.PENDING, Status.FLAT.value), else_=Deployment.status)
    by_signal: dict[str | None, list[int]] = {}
    for i in ids:
        by_signal.setdefault(signals.get(i), []).append(i)
    async with db.session() as session:
        for signal, group in by_signal.items():
            for start in range(0, len(group), 500):
                rows = await session.execute(
                    update(Deployment)
                    .where(Deployment.id.in_(group[start : start + 500]), _unclaimed(bar_at))
                    .values(last_bar_at=bar_at, last_signal=signal, updated_at=now, status=first_bar)
                    .returning(Deployment.id)
                    .execution_options(synchronize_session=False)
                )
                won.update(rows.scalars())
    return won


def _unclaimed(bar_at: datetime) -> ColumnElement[bool]:
    return or_(Deployment.last_bar_at.is_(None), Deployment.last_bar_at < bar_at)


async def record_intent(
    db: Database, intent: Intent, *, refusal: str | None = None, claim: bool = True
) -> Order | None:
    """Claim the bar and commit the order intent together; None when another worker claimed it.

    With ``refusal`` (below the market's minimum, nothing to sell) the order is recorded as
    ``Rejected`` with that reason and never sent: the user sees why nothing was traded. With
    ``claim=False`` the bar must already be this deployment's (claimed by the order before it in
    the same tick) and the unique client id alone keeps the order single.
    """
    now = utcnow()
    async with db.session() as session:
        if claim:
            claimed = await session.execute(
                update(Deployment)
                .where(Deployment.id == intent.deployment_id, _unclaimed(intent.claims))
                .values(last_bar_at=intent.claims, last_signal=intent.signal, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        else:
            claimed = await session.execute(
                update(Deployment)
                .where(Deployment.id == intent.deployment_id, Deployment.last_bar_at == intent.claims)
                .values(last_signal=intent.signal, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            taken = await session.scalar(select(Order.id).where(Order.client_order_id == intent.client_order_id))
            if taken is not None:
                return None
        if rowcount(claimed) != 1:
            return None
        busy = await session.scalar(
            select(Order.id).where(Order.deployment_id == intent.deployment_id, Order.status.in_(UNRESOLVED)).limit(1)
        )
        if busy is not None:  # a /close recorded a moment ago (it locked the row first): its exit stands
            return None
        order = Order(
            user_id=intent.user_id,
            deployment_id=intent.deployment_id,
            credential_id=intent.credential_id,
            broker=intent.broker,
            client_order_id=intent.client_order_id,
            symbol=intent.symbol,
            side=intent.side,
            quantity=intent.quantity,
            reference_price=intent.reference_price,
            bar_at=intent.bar_at,
            reason=intent.reason,
            status=OrderStatus.REJECTED if refusal else OrderStatus.PENDING,
            error=refusal or "",
            created_at=now,
            updated_at=now,
        )
        session.add(order)
        if refusal:
            await session.execute(
                update(Deployment)
                .where(Deployment.id == intent.deployment_id)
                .values(status_reason=f"{intent.side} not placed: {refusal}"[:300])
                .execution_options(synchronize_session=False)
            )
        await session.flush()
        return order


# --- 2. send -----------------------------------------------------------------------------------


async def _move(db: Database, order_id: int, from_: Iterable[OrderStatus], to: OrderStatus, **values: object) -> bool:
    """Compare-and-set on the order's status; True when this caller moved it."""
    async with db.session() as session:
        moved = await session.execute(
            update(Order)
            .where(Order.id == order_id, Order.status.in_(list(from_)))
            .values(status=to, updated_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        )
        return rowcount(moved) == 1


async def send_order(
    db: Database, settings: Settings, broker: Broker, order: Order, *, sleep: Sleep = asyncio.sleep
) -> Outcome:
    """Send a ``Pending`` order, retrying transient failures; see the module docstring for faults."""
    request = OrderRequest(order.client_order_id, order.symbol, order.side, order.quantity, order.reference_price or 0.0)
    attempts = max(1, settings.order_retries)
    for attempt in range(attempts):
        if not await _move(db, order.id, (OrderStatus.PENDING,), OrderStatus.SENT, attempts=Order.attempts + 1):
            return _outcome(order, OrderStatus.SENT, applied=False)  # another worker is sending it
        try:
            result = await broker.create_order(request)
        except Transient as exc:
            await _move(db, order.id, (OrderStatus.SENT,), OrderStatus.PENDING, error=str(exc)[:500])
            if attempt + 1 < attempts:
                await sleep(settings.order_retry_base_s * 2**attempt)
                continue
            log.warning("order_left_pending", order=order.id, error=str(exc))
            return _outcome(order, OrderStatus.PENDING, error=f"the exchange is not answering ({exc}); will retry")
        except OutcomeUnknown as exc:
            return await _look_up(db, broker, order, str(exc))
        except BrokerError as exc:
            return await fail_order(db, order, exc, from_=(OrderStatus.SENT,))
        except Exception as exc:  # a bug or an unmapped library error: it may have gone through
            log.exception("order_send_crashed", order=order.id)
            return await _look_up(db, broker, order, f"unexpected error: {type(exc).__name__}")
        return await apply_result(db, order.id, result, from_=(OrderStatus.SENT,))
    return _outcome(order, OrderStatus.PENDING)  # pragma: no cover - the loop always returns


async def _look_up(db: Database, broker: Broker, order: Order, error: str) -> Outcome:
    """After an unknown outcome: adopt what the broker has, or leave ``Sent`` for reconciliation."""
    await _move(db, order.id, (OrderStatus.SENT,), OrderStatus.SENT, error=error[:500])
    try:
        found = await broker.fetch_order(order.client_order_id, order.symbol)
    except BrokerError as exc:
        log.warning("order_lookup_failed", order=order.id, error=str(exc))
        found = None
    if found is None:
        return _outcome(order, OrderStatus.SENT, error=f"outcome unknown ({error}); will check with the exchange")
    return await apply_result(db, order.id, found, from_=(OrderStatus.SENT,))


async def fail_order(db: Database, order: Order, exc: BrokerError, *, from_: Iterable[OrderStatus]) -> Outcome:
    """Record a broker refusal; on ``AuthFailed`` pause every running deployment on the credential."""
    status = OrderStatus.REJECTED if isinstance(exc, OrderRejected) else OrderStatus.FAILED
    message = why(exc)
    if not await _move(db, order.id, from_, status, error=message[:500]):
        return _outcome(order, status, applied=False)
    if isinstance(exc, AuthFailed) and order.credential_id is not None:
        paused = await pause_credential(db, order.credential_id, message)
        return _outcome(order, status, error=message, paused=paused)
    async with db.session() as session:
        if order.deployment_id is not None:
            await session.execute(
                update(Deployment)
                .where(Deployment.id == order.deployment_id)
                .values(status_reason=f"{order.side} failed: {message}"[:300], updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
    return _outcome(order, status, error=message)


async def pause_credential(db: Database, credential_id: int, message: str) -> tuple[int, ...]:
    """Pause every running deployment on a credential whose key was refused, and mark the key
    Revoked (a live one: the user reconnects it before /resume); the ids paused."""
    async with db.session() as session:
        await session.execute(
            update(Credential)
            .where(Credential.id == credential_id, Credential.broker != BrokerName.PAPER.value,
                   Credential.status == CredentialStatus.ACTIVE)
            .values(status=CredentialStatus.REVOKED)
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        rows = await session.execute(
            update(Deployment)
            .where(Deployment.credential_id == credential_id, Deployment.status.in_(RUNNING))
            .values(status=Status.PAUSED, status_reason=f"paused: {message}"[:300], updated_at=utcnow())
            .returning(Deployment.id)
            .execution_options(synchronize_session=False)
        )
        return tuple(sorted(rows.scalars()))


def why(exc: BrokerError) -> str:
    """A broker failure as the user reads it."""
    if isinstance(exc, InsufficientFunds):
        return f"insufficient funds: {exc}"
    if isinstance(exc, OrderRejected):
        return f"rejected by the exchange: {exc}"
    if isinstance(exc, AuthFailed):
        return f"the exchange refused the API key: {exc}. Reconnect the key, then /resume"
    return str(exc)


# --- 3. apply ----------------------------------------------------------------------------------

# what the broker reports (OrderResult.status) as the stored order status
_BROKER_STATUS: dict[BrokerOrderStatus, OrderStatus] = {
    BrokerOrderStatus.CLOSED: OrderStatus.FILLED, BrokerOrderStatus.OPEN: OrderStatus.OPEN,
    BrokerOrderStatus.CANCELED: OrderStatus.CANCELED, BrokerOrderStatus.REJECTED: OrderStatus.REJECTED,
}


async def apply_result(
    db: Database, order_id: int, result: OrderResult, *, from_: Iterable[OrderStatus], open_as: OrderStatus = OrderStatus.OPEN
) -> Outcome:
    """Move the order to the broker's result, and on a fill record the trade and the position, once.
    ``open_as``: the status an order the broker still has open gets (``Resting`` for a resting stop)."""
    status = _BROKER_STATUS.get(result.status, OrderStatus.OPEN)
    if status == OrderStatus.OPEN:
        status = open_as
    now = utcnow()
    async with db.session() as session:
        moved = await session.execute(
            update(Order)
            .where(Order.id == order_id, Order.status.in_(list(from_)))
            .values(
                status=status,
                exchange_order_id=result.exchange_order_id,
                filled_qty=result.filled,
                average_price=result.average,
                fee=result.fee,
                fee_currency=result.fee_currency,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        order = await session.get(Order, order_id, populate_existing=True)
        assert order is not None
        if rowcount(moved) != 1:
            return _outcome(order, order.status, applied=False)
        if status == open_as or result.filled <= 0:
            return _outcome(order, status, error="" if status == open_as else f"the exchange says {result.status}")
        trade = await _record_fill(session, order, result, now)
        return _outcome(order, status, quantity=trade.quantity, price=trade.price, fee=trade.fee, pnl=trade.pnl)


async def _record_fill(session: AsyncSession, order: Order, result: OrderResult, now: datetime) -> Trade:
    """The trade row, and the deployment's position after it (quantities in base units)."""
    price = result.average or order.reference_price or 0.0
    base, quote = split_symbol(order.symbol)
    fee_currency = (result.fee_currency or quote).upper()
    fee_in_base = fee_currency == base and base != quote
    fee = result.fee * price if fee_in_base else result.fee
    deployment = await session.get(Deployment, order.deployment_id) if order.deployment_id else None
    pnl: float | None = None
    if order.side == Side.SELL and deployment is not None and deployment.entry_price:
        entry_fee = await _entry_fee_share(session, deployment.id, result.filled)
        pnl = (price - deployment.entry_price) * result.filled - fee - entry_fee
    trade = Trade(
        user_id=order.user_id,
        order_id=order.id,
        deployment_id=order.deployment_id,
        label=deployment.label if deployment is not None else "",
        symbol=order.symbol,
        side=order.side,
        quantity=result.filled,
        price=price,
        fee=fee,
        pnl=pnl,
        quote_currency=quote,
        executed_at=now,
    )
    session.add(trade)
    if deployment is not None:
        if order.side == Side.BUY:
            held = result.filled - (result.fee if fee_in_base else 0.0)
            previous = max(deployment.position_qty, 0.0)
            total = previous + held
            entry = deployment.entry_price or price
            # a new position's entry is its fill price exactly (the stop and target levels derive from it)
            average = price if previous <= 0 else (entry * previous + price * held) / total
            deployment.entry_price = average if total > 0 else None
            deployment.position_qty = total
        else:
            whole = result.filled >= order.quantity * 0.999  # a complete exit leaves no dust behind
            deployment.position_qty = 0.0 if whole else max(deployment.position_qty - result.filled, 0.0)
            if deployment.position_qty <= 0:
                deployment.entry_price = None
        if deployment.status in RUNNING:
            deployment.status = Status.LONG if deployment.position_qty > 0 else Status.FLAT
        deployment.status_reason = ""
        deployment.updated_at = now
    await session.flush()
    return trade


async def _entry_fee_share(session: AsyncSession, deployment_id: int, sold: float) -> float:
    """The entry's fee in proportion to what this exit sold, so P&L is net of both legs."""
    entry = await session.scalar(
        select(Trade)
        .where(Trade.deployment_id == deployment_id, Trade.side == Side.BUY)
        .order_by(Trade.executed_at.desc(), Trade.id.desc())
        .limit(1)
    )
    if entry is None or entry.quantity <= 0:
        return 0.0
    return entry.fee * min(sold / entry.quantity, 1.0)


def _outcome(
    order: Order,
    status: OrderStatus,
    *,
    quantity: float | None = None,
    price: float | None = None,
    fee: float = 0.0,
    pnl: float | None = None,
    error: str = "",
    paused: tuple[int, ...] = (),
    applied: bool = True,
) -> Outcome:
    """``order`` in ``status``: asked quantity and reference price unless a fill's figures are given."""
    return Outcome(
        order_id=order.id,
        deployment_id=order.deployment_id,
        user_id=order.user_id,
        status=status,
        side=order.side,
        symbol=order.symbol,
        quantity=order.quantity if quantity is None else quantity,
        price=order.reference_price if price is None else price,
        fee=fee,
        pnl=pnl,
        error=error,
        paused=paused,
        applied=applied,
    )
