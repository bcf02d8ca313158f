"""Telegram Stars payments: the pre-checkout answer, crediting a successful payment, refunds.

The transport hands over the fields of Telegram's updates (plain values: no Telegram types here):

- **pre-checkout** (``check_pre_checkout``): Telegram waits at most 10 s for the answer, so this is
  one short read. The purchase the payload names must be a pending Stars purchase of the payer,
  not expired, invoiced in ``XTR`` for exactly its stored stars; otherwise the reason is returned
  and the transport answers ``ok=False`` with it. Nothing is credited here: the payment may still fail.
- **successful payment** (``credit``): the only thing that credits. One transaction stores the event
  under ``stars:paid:<telegram_payment_charge_id>`` (a repeated update is recognised and credits
  nothing), keeps the charge id and the payer (a refund needs both), and settles through
  core.purchase.settle like every other provider (the guarded Pending -> Paid update that starts the
  subscriptions). A renewal of a Stars subscription (``is_recurring`` and not the first) becomes a
  new paid purchase of the same lines, so the plan's period extends by another 30 days.
  A payment for a purchase that closed meanwhile, or with another amount, is kept with its charge
  id and flagged for an admin (credit or ``/refund``), as Mayar's are.
- **refund** (``refund``): admins only; ``refundStarPayment`` through the transport's ``StarsGateway``
  first, then the purchase becomes ``Refunded`` and the subscriptions it granted end now (those not
  started yet are removed). Telegram's ``refunded_payment`` message lands in ``mark_refunded`` too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.account.admin import require_admin
from core.account.models import Identity
from core.actor import Actor
from core.config import Settings
from core.db import Database, rowcount, utcnow
from core.errors import Conflict, Invalid, NotFound, Unavailable
from core.logging import get_logger
from core.purchase import settle as settlement
from core.purchase.models import Purchase, PurchaseItem, PurchaseStatus, Subscription
from core.purchase.stars import CURRENCY, PROVIDER, purchase_of

log = get_logger(__name__)

PLATFORM = "telegram"


class Credit(StrEnum):
    """What a successful payment did."""

    SETTLED = "settled"  # the purchase is paid and its plans started
    RENEWED = "renewed"  # a subscription renewal: a new paid purchase extends the plan
    DUPLICATE = "duplicate"  # this charge was credited already: nothing more
    FLAGGED = "flagged"  # paid, but not creditable (closed meanwhile, another amount): an admin decides
    UNKNOWN = "unknown"  # the payload names no Stars purchase of ours


@dataclass(frozen=True, slots=True)
class Credited:
    outcome: Credit
    purchase_id: int | None
    user_id: int | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Refunded:
    purchase_id: int
    stars: int
    revoked: tuple[str, ...]  # names of the subscriptions ended or removed
    already: bool = False  # Telegram had refunded this charge before (a retried /refund)
    canceled: bool | None = None  # a Stars subscription: whether its renewals were stopped; None: not one


class StarsGateway(Protocol):
    """What the core needs from the Telegram bot: ``refundStarPayment`` (and, for a subscription,
    ``editUserStarSubscription`` to stop the renewals). The Telegram transport registers one on
    ``Core.stars`` when it starts; ``refund`` raises ``Unavailable`` when Telegram refuses and returns
    False when the charge had been refunded already; ``cancel`` returns whether Telegram agreed."""

    async def refund(self, user_id: int, charge_id: str) -> bool: ...

    async def cancel(self, user_id: int, charge_id: str) -> bool: ...


async def _payer_user(session: AsyncSession, payer: str) -> int | None:
    return await session.scalar(
        select(Identity.user_id).where(Identity.platform == PLATFORM, Identity.external_id == payer)
    )


async def check_pre_checkout(
    db: Database, *, payload: str, currency: str, amount: int, payer: str, now: datetime | None = None
) -> str | None:
    """None when the invoice may be paid now; otherwise the reason, shown to the payer by Telegram."""
    now = now or utcnow()
    purchase_id = purchase_of(payload)
    if purchase_id is None:
        return "This invoice is not one of ours: start again with /buy."
    async with db.session() as session:
        row = await session.scalar(select(Purchase).where(Purchase.id == purchase_id, Purchase.provider == PROVIDER))
        if row is None:
            return f"Order #{purchase_id} does not exist: start again with /buy."
        if await _payer_user(session, payer) != row.user_id:
            return f"Order #{purchase_id} belongs to someone else: buy your own with /buy."
        if row.status != PurchaseStatus.PENDING:
            return f"Order #{purchase_id} is {row.status.lower()}: nothing to pay. See /purchases."
        if row.expires_at is not None and now >= row.expires_at:
            await settlement.close(session, purchase_id, settlement.EXPIRED)
            return f"Order #{purchase_id} expired: start again with /buy."
        if currency != CURRENCY or amount != row.stars:
            log.warning("stars_precheckout_mismatch", purchase=purchase_id, amount=amount, currency=currency[:8],
                        stars=row.stars)  # fmt: skip
            return f"Order #{purchase_id} costs {row.stars} stars, not {amount} {currency}: start again with /buy."
    return None


async def credit(
    db: Database,
    *,
    payload: str,
    currency: str,
    amount: int,
    charge_id: str,
    payer: str,
    recurring: bool = False,
    first_recurring: bool = False,
    raw: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Credited:
    """Credit one ``successful_payment`` exactly once (see the module's notes)."""
    now = now or utcnow()
    if not charge_id:
        raise Invalid("a Stars payment without a telegram_payment_charge_id")
    purchase_id = purchase_of(payload)
    async with db.session() as session:
        event_id, processed = await settlement.record_event(
            session, PROVIDER, f"stars:paid:{charge_id}", "successful_payment", raw or {}
        )
        if processed:
            return Credited(Credit.DUPLICATE, purchase_id)
        row = None
        if purchase_id is not None:
            row = await session.scalar(
                select(Purchase).where(Purchase.id == purchase_id, Purchase.provider == PROVIDER)
            )
        if row is None:
            result = Credited(Credit.UNKNOWN, purchase_id, detail="no Stars purchase of ours: refund it")
            log.warning("stars_payment_without_purchase", purchase=purchase_id, payer=payer)
        elif row.charge_id == charge_id:
            result = Credited(Credit.DUPLICATE, row.id, row.user_id)
        elif currency != CURRENCY or amount != row.stars:
            result = await _flag(session, row, charge_id, payer, f"amount mismatch: paid {amount} {currency[:8]}, "
                                 f"invoiced {row.stars} {CURRENCY}; not credited")  # fmt: skip
        elif row.status == PurchaseStatus.PENDING:
            await _keep_charge(session, row.id, charge_id, payer, recurring)
            settled = await settlement.settle(session, row.id, now)
            result = Credited(Credit.SETTLED if settled else Credit.DUPLICATE, row.id, row.user_id)
        elif row.status == PurchaseStatus.PAID and recurring and not first_recurring:
            result = Credited(Credit.RENEWED, await _renew(session, row, charge_id, payer, now), row.user_id)
        else:
            result = await _flag(session, row, charge_id, payer,
                                 f"paid while {row.status}: an admin must credit or refund it")  # fmt: skip
        await settlement.finish(session, event_id, f"{result.outcome}: {result.detail}".rstrip(": "), now)
    return result


async def _keep_charge(
    session: AsyncSession, purchase_id: int, charge_id: str, payer: str, recurring: bool = False
) -> None:
    await session.execute(
        update(Purchase).where(Purchase.id == purchase_id)
        .values(charge_id=charge_id[:255], payer_id=payer[:64], recurring=recurring)
        .execution_options(synchronize_session=False)
    )


async def _flag(session: AsyncSession, row: Purchase, charge_id: str, payer: str, why: str) -> Credited:
    """Telegram took the stars but nothing is credited: keep the charge (for /refund) and say so."""
    if row.status == PurchaseStatus.PENDING:
        await settlement.close(session, row.id, settlement.FAILED)
    if row.charge_id is None:
        await _keep_charge(session, row.id, charge_id, payer)
    log.warning("stars_payment_flagged", purchase=row.id, reason=why)
    return Credited(Credit.FLAGGED, row.id, row.user_id, why)


async def _renew(session: AsyncSession, first: Purchase, charge_id: str, payer: str, now: datetime) -> int:
    """A subscription's next period: a paid purchase of the first one's lines, settled like it."""
    renewal = Purchase(
        user_id=first.user_id, status=PurchaseStatus.PENDING, provider=PROVIDER, subtotal=first.subtotal,
        discount=first.discount, tax=first.tax, total=first.total, created_at=now, stars=first.stars,
        invoice_id=first.invoice_id, charge_id=charge_id[:255], payer_id=payer[:64], recurring=True,
    )
    session.add(renewal)
    await session.flush()
    items = await session.scalars(select(PurchaseItem).where(PurchaseItem.purchase_id == first.id))
    session.add_all(
        PurchaseItem(purchase_id=renewal.id, product_id=i.product_id, name=i.name, quantity=i.quantity,
                     unit_price=i.unit_price, amount=i.amount)
        for i in list(items)
    )
    await session.flush()
    await settlement.settle(session, renewal.id, now)
    log.info("stars_subscription_renewed", purchase=first.id, renewal=renewal.id)
    return renewal.id


async def refund(
    db: Database, settings: Settings, actor: Actor, purchase_id: int, gateway: StarsGateway | None,
    now: datetime | None = None,
) -> Refunded:
    """Refund a Stars purchase through Telegram, then mark it Refunded and revoke its plans (admins)."""
    require_admin(settings, actor)
    async with db.session() as session:
        row = await session.scalar(select(Purchase).where(Purchase.id == purchase_id))
    if row is None:
        raise NotFound(f"there is no purchase #{purchase_id}")
    if row.provider != PROVIDER:
        raise Invalid(
            f"purchase #{purchase_id} was paid through {row.provider}, not Telegram Stars: only Stars purchases "
            "are refunded here", hint="a Mayar payment is refunded in Mayar's dashboard",
        )
    if row.status == PurchaseStatus.REFUNDED:
        raise Conflict(f"purchase #{purchase_id} was refunded already")
    if not row.charge_id or not row.payer_id or not row.payer_id.isdigit():
        raise Invalid(f"purchase #{purchase_id} has no Stars payment to refund (it is {row.status})")
    if gateway is None:
        raise Unavailable("Telegram is not connected to this bot process: refund from one running Telegram")
    fresh = await gateway.refund(int(row.payer_id), row.charge_id)
    revoked = await mark_refunded(db, row.charge_id, now)
    # a refunded subscription must not be charged again in 30 days
    canceled = await gateway.cancel(int(row.payer_id), row.charge_id) if row.recurring else None
    log.info("stars_refunded", purchase=purchase_id, by=actor.user_id, already=not fresh, canceled=canceled)
    return Refunded(purchase_id, row.stars or 0, revoked or (), already=not fresh, canceled=canceled)


async def mark_refunded(db: Database, charge_id: str, now: datetime | None = None) -> tuple[str, ...] | None:
    """The purchase paid by ``charge_id`` becomes Refunded and its subscriptions are revoked: those
    running end now, those queued after another are removed; the names of those revoked. Idempotent:
    None when nothing changed (refunded before, or no purchase has that charge). Also what
    Telegram's ``refunded_payment`` message leads to."""
    now = now or utcnow()
    async with db.session() as session:
        purchase_id = await session.scalar(select(Purchase.id).where(Purchase.charge_id == charge_id))
        if purchase_id is None:
            return None
        changed = await session.execute(
            update(Purchase)
            .where(Purchase.id == purchase_id, Purchase.status != PurchaseStatus.REFUNDED)
            .values(status=PurchaseStatus.REFUNDED, refunded_at=now)
            .execution_options(synchronize_session=False)
        )
        if rowcount(changed) != 1:
            return None
        subs = list(await session.scalars(
            select(Subscription).where(Subscription.purchase_id == purchase_id, Subscription.ends_at > now)
        ))
        names = tuple(s.name for s in subs)
        await session.execute(
            delete(Subscription)
            .where(Subscription.purchase_id == purchase_id, Subscription.starts_at >= now)
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            update(Subscription)
            .where(Subscription.purchase_id == purchase_id, Subscription.starts_at < now, Subscription.ends_at > now)
            .values(ends_at=now)
            .execution_options(synchronize_session=False)
        )
    log.info("stars_purchase_refunded", purchase=purchase_id, revoked=len(names))
    return names


async def refunded_by_telegram(
    db: Database, *, charge_id: str, raw: dict[str, Any] | None = None, now: datetime | None = None
) -> tuple[str, ...] | None:
    """Telegram's ``refunded_payment`` message: stored once, then ``mark_refunded`` (None: nothing changed)."""
    now = now or utcnow()
    async with db.session() as session:
        event_id, processed = await settlement.record_event(
            session, PROVIDER, f"stars:refunded:{charge_id}", "refunded_payment", raw or {}
        )
    if processed:
        return None
    revoked = await mark_refunded(db, charge_id, now)
    outcome = "already refunded or not ours" if revoked is None else f"refunded, {len(revoked)} revoked"
    async with db.session() as session:
        await settlement.finish(session, event_id, outcome, now)
    return revoked
