"""Precalculate, Purchase and Get Purchases.

``purchase`` prices the order exactly as ``precalculate`` does (core.purchase.pricing), stores it
as a ``Pending`` purchase with its lines, reserves one use of the discount code, then hands it to
the provider named by ``PAYMENT_PROVIDER``:

- ``Mock`` settles at once (development: nothing is charged);
- ``Mayar`` creates an invoice and returns its payment link; a webhook or the status poll
  settles it later (core.purchase.settle);
- ``Stars`` (asked for by the Telegram transport when ``STARS_ENABLED``, whatever ``PAYMENT_PROVIDER``
  says) stores the total in whole stars and returns the invoice for the transport to send; Telegram's
  ``successful_payment`` settles it later (core.purchase.stars);
- a total of Rp 0 (a 100 % code) settles at once whatever the provider, recorded as ``Free``.

A discount use is reserved when the purchase is created (a guarded ``used_count + 1`` that fails
once the cap is reached, so two buyers cannot both take the last use) and given back when the
purchase expires, fails or is canceled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.account.models import User
from core.account.service import lock_user
from core.actor import Actor
from core.config import Settings
from core.db import Database, rowcount, utcnow
from core.errors import Conflict, Invalid, Unavailable
from core.paging import Page, check_page, fetch_page
from core.product.models import DiscountCode, Product
from core.product.service import check_code
from core.purchase import settle as settlement
from core.purchase import stars
from core.purchase.mayar import MayarClient
from core.purchase.models import Purchase, PurchaseItem, PurchaseStatus, Subscription
from core.purchase.pricing import Quote, QuoteLine, check_discount, quote
from core.purchase.stars import StarsInvoice

MAX_QUANTITY = 100
# A second identical order this soon after the first is a double press, not a second purchase.
DUPLICATE_WINDOW = timedelta(minutes=2)
MAX_LINES = 20


@dataclass(frozen=True, slots=True)
class Item:
    product_id: int
    quantity: int = 1


@dataclass(frozen=True, slots=True)
class ItemView:
    product_id: int | None
    name: str
    quantity: int
    unit_price: int
    amount: int


@dataclass(frozen=True, slots=True)
class PurchaseView:
    id: int
    status: PurchaseStatus
    provider: str
    items: tuple[ItemView, ...]
    subtotal: int
    discount: int
    tax: int
    total: int
    payment_link: str | None
    created_at: datetime
    expires_at: datetime | None
    paid_at: datetime | None
    stars: int | None = None  # Telegram Stars: the whole stars invoiced
    refunded_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    name: str
    features: dict
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class Purchased:
    purchase: PurchaseView
    quote: Quote
    payment_link: str | None  # Mayar: where to pay; None when already settled
    settled: bool
    subscriptions: tuple[SubscriptionView, ...]  # the user's subscriptions after settling
    invoice: StarsInvoice | None = None  # Stars: the invoice the transport sends in the chat


def _check_items(items: Sequence[Item]) -> list[Item]:
    if not items:
        raise Invalid("nothing to buy: name at least one product")
    merged: dict[int, int] = {}
    for item in items:
        if isinstance(item.quantity, bool) or not isinstance(item.quantity, int) or not 1 <= item.quantity <= MAX_QUANTITY:
            raise Invalid(f"a quantity is 1 to {MAX_QUANTITY}, not {item.quantity}")
        merged[item.product_id] = merged.get(item.product_id, 0) + item.quantity
    if len(merged) > MAX_LINES:
        raise Invalid(f"at most {MAX_LINES} different products in one purchase")
    if any(q > MAX_QUANTITY for q in merged.values()):
        raise Invalid(f"a quantity is 1 to {MAX_QUANTITY}")
    return [Item(pid, qty) for pid, qty in merged.items()]


async def _quote(
    session: AsyncSession, settings: Settings, items: Sequence[Item], code: str | None, now: datetime
) -> tuple[Quote, DiscountCode | None]:
    checked = _check_items(items)
    products = {
        p.id: p
        for p in await session.scalars(
            select(Product).where(Product.id.in_([i.product_id for i in checked]), Product.active.is_(True))
        )
    }
    lines = []
    for item in checked:
        product = products.get(item.product_id)
        if product is None:
            raise Invalid(f"there is no product with id {item.product_id} for sale", hint="see /plans")
        lines.append(QuoteLine(product.id, product.name, item.quantity, product.price_idr,
                               product.price_idr * item.quantity, product.duration_days))
    row = None
    if code is not None and code.strip():
        try:
            text = check_code(code)
        except Invalid:
            raise Invalid(f"discount code {code.strip()[:40]} is not valid") from None
        row = check_discount(await session.scalar(select(DiscountCode).where(DiscountCode.code == text)), text, now)
    return quote(lines, row, settings.tax_percent, settings.prices_include_tax), row


async def precalculate(
    db: Database, settings: Settings, actor: Actor, items: Sequence[Item], code: str | None = None,
    now: datetime | None = None,
) -> Quote:
    """What the order would cost: lines, subtotal, discount, tax and total (rules in pricing)."""
    async with db.session() as session:
        result, _ = await _quote(session, settings, items, code, now or utcnow())
    return result


def _view(row: Purchase, items: Sequence[PurchaseItem]) -> PurchaseView:
    return PurchaseView(
        id=row.id, status=row.status, provider=row.provider,
        items=tuple(ItemView(i.product_id, i.name, i.quantity, i.unit_price, i.amount) for i in items),
        subtotal=row.subtotal, discount=row.discount, tax=row.tax, total=row.total, payment_link=row.payment_link,
        created_at=row.created_at, expires_at=row.expires_at, paid_at=row.paid_at, stars=row.stars,
        refunded_at=row.refunded_at,
    )


async def _load(db: Database, purchase_id: int) -> PurchaseView:
    async with db.session() as session:
        row = await session.get_one(Purchase, purchase_id)  # loaded right after it was written
        items = await session.scalars(select(PurchaseItem).where(PurchaseItem.purchase_id == purchase_id).order_by(PurchaseItem.id))
        return _view(row, list(items))


async def subscriptions(db: Database, actor: Actor, now: datetime | None = None) -> tuple[SubscriptionView, ...]:
    """The actor's current and queued subscriptions, soonest ending first."""
    now = now or utcnow()
    async with db.session() as session:
        rows = await session.scalars(
            select(Subscription)
            .where(Subscription.user_id == actor.user_id, Subscription.ends_at > now)
            .order_by(Subscription.ends_at)
        )
        return tuple(SubscriptionView(r.name, dict(r.features or {}), r.starts_at, r.ends_at) for r in rows)


def _mayar_ready(settings: Settings, user: User) -> MayarClient:
    client = MayarClient(settings)
    if not settings.mayar_redirect_url:
        raise Unavailable("payments are not set up (MAYAR_REDIRECT_URL is missing): please tell the bot's admins")
    if not user.email or not user.phone:
        raise Invalid("the payment provider needs your email and phone number for the receipt",
                      hint="add them to your account first, then buy again")
    return client


def _invoice_items(result: Quote) -> list[dict[str, int | str]]:
    """One line per product when they add up to the total; otherwise one line for the whole order
    (Mayar's invoice has no discount or tax fields, and the amount paid must equal our total)."""
    if sum(line.amount for line in result.lines) == result.total:
        return [{"quantity": line.quantity, "rate": line.unit_price, "description": line.name} for line in result.lines]
    names = ", ".join(f"{line.name} x{line.quantity}" for line in result.lines)
    parts = [names]
    if result.discount:
        parts.append(f"discount {result.discount_code} -{result.discount:,}")
    if result.tax and not result.tax_included:
        parts.append(f"VAT {result.tax_percent}% {result.tax:,}")
    return [{"quantity": 1, "rate": result.total, "description": "; ".join(parts)[:250]}]


async def purchase(
    db: Database, settings: Settings, actor: Actor, items: Sequence[Item], code: str | None = None,
    now: datetime | None = None, *, provider: str | None = None,
) -> Purchased:
    """Buy: price, store, reserve the code, then pay through the configured provider (or ``provider``:
    the Telegram transport asks for ``Stars``)."""
    now = now or utcnow()
    if provider not in (None, "Mock", "Mayar", stars.PROVIDER):  # anything else would settle unpaid, like Mock
        raise Invalid(f"there is no payment provider {provider!r}")
    client: MayarClient | None = None
    async with db.session() as session:
        await lock_user(session, actor.user_id)  # two presses of Pay run one after the other
        result, code_row = await _quote(session, settings, items, code, now)
        provider = "Free" if result.total == 0 else provider or settings.payment_provider
        user = await session.scalar(select(User).where(User.id == actor.user_id))
        if user is None:
            raise Invalid("unknown user")
        if provider == "Mayar":
            client = _mayar_ready(settings, user)
        customer = (user.name or actor.display_name or f"Stoxlify user {user.id}", user.email or "", user.phone or "")
        earlier = await _recent_duplicate(session, actor.user_id, result, now)
        if earlier is not None:
            if earlier.status != settlement.PENDING:
                raise Conflict(
                    f"you bought this {int((now - earlier.created_at).total_seconds())} s ago (order #{earlier.id}, "
                    f"{earlier.status}); see /purchases",
                )
            duplicate_of: int | None = earlier.id
        else:
            duplicate_of = None
        if duplicate_of is None and code_row is not None:
            reserved = await session.execute(
                update(DiscountCode)
                .where(DiscountCode.id == code_row.id, DiscountCode.active.is_(True),
                       or_(DiscountCode.max_uses.is_(None), DiscountCode.used_count < DiscountCode.max_uses))
                .values(used_count=DiscountCode.used_count + 1)
                .execution_options(synchronize_session=False)
            )
            if rowcount(reserved) != 1:
                raise Invalid(f"discount code {code_row.code} has been used up")
        if duplicate_of is None:
            row = Purchase(
                user_id=actor.user_id, status=settlement.PENDING, provider=provider, subtotal=result.subtotal,
                discount=result.discount, tax=result.tax, total=result.total,
                discount_code_id=code_row.id if code_row else None, created_at=now,
                expires_at=now + timedelta(hours=settings.payment_expiry_hours),
            )
            session.add(row)
            await session.flush()
            session.add_all(
                PurchaseItem(purchase_id=row.id, product_id=line.product_id, name=line.name, quantity=line.quantity,
                             unit_price=line.unit_price, amount=line.amount)
                for line in result.lines
            )
            await session.flush()
            purchase_id = row.id
            settled = False
            if provider == stars.PROVIDER:  # paid in the chat: settled by Telegram's successful_payment
                row.invoice_id = f"STARS-{purchase_id}"
                row.stars = stars.stars_for(result.total, settings.stars_rupiah_per_star)
                await session.flush()
            elif client is None:  # Mock or free: settle in the same transaction
                row.invoice_id = f"{provider.upper()}-{purchase_id}"
                await session.flush()
                settled = await settlement.settle(session, purchase_id, now)
    if duplicate_of is not None:  # the same pending order: its payment link, not a second invoice
        view = await _load(db, duplicate_of)
        if view.provider == stars.PROVIDER and view.stars:  # the same invoice again
            return Purchased(purchase=view, quote=result, payment_link=None, settled=False, subscriptions=(),
                             invoice=stars.invoice_for(view.id, view.stars, result))
        if not view.payment_link:  # the first press is still creating its Mayar invoice
            raise Conflict(f"order #{view.id} is being prepared; see /purchases in a moment")
        return Purchased(purchase=view, quote=result, payment_link=view.payment_link, settled=False, subscriptions=())
    link = None
    if client is not None:
        try:
            invoice = await client.create_invoice(
                name=customer[0], email=customer[1], mobile=customer[2],
                redirect_url=settings.mayar_redirect_url or "",
                description=f"Stoxlify order #{purchase_id}",
                expires_at=now + timedelta(hours=settings.payment_expiry_hours),
                items=_invoice_items(result),
                extra={"purchaseId": str(purchase_id), "userId": str(actor.user_id)},
            )
        except Unavailable:
            async with db.session() as session:
                await settlement.close(session, purchase_id, settlement.FAILED)
            raise
        link = invoice.link
        async with db.session() as session:
            await session.execute(
                update(Purchase).where(Purchase.id == purchase_id).values(
                    invoice_id=invoice.invoice_id, transaction_id=invoice.transaction_id, payment_link=invoice.link,
                    expires_at=invoice.expires_at or (now + timedelta(hours=settings.payment_expiry_hours)),
                ).execution_options(synchronize_session=False)
            )
    view = await _load(db, purchase_id)
    return Purchased(
        purchase=view, quote=result, payment_link=link, settled=settled,
        subscriptions=await subscriptions(db, actor, now) if settled else (),
        invoice=stars.invoice_for(view.id, view.stars, result) if view.provider == stars.PROVIDER and view.stars else None,
    )


async def _recent_duplicate(session: AsyncSession, user_id: int, result: Quote, now: datetime) -> Purchase | None:
    """The user's order of the same lines and total placed within ``DUPLICATE_WINDOW`` (not a failed one)."""
    recent = await session.scalars(
        select(Purchase).where(
            Purchase.user_id == user_id,
            Purchase.created_at > now - DUPLICATE_WINDOW,
            Purchase.total == result.total,
            Purchase.status.in_([settlement.PENDING, settlement.PAID]),
        ).order_by(Purchase.id.desc())
    )
    wanted = sorted((line.product_id, line.quantity) for line in result.lines)
    for row in recent:
        items = await session.scalars(select(PurchaseItem).where(PurchaseItem.purchase_id == row.id))
        if sorted((i.product_id, i.quantity) for i in items) == wanted:
            return row
    return None


def _statuses(statuses: Sequence[str] | None) -> list[PurchaseStatus]:
    by_key = {s.lower(): s for s in settlement.STATUSES}
    out = []
    for status in statuses or ():
        if status.lower() not in by_key:
            raise Invalid(f"a purchase status is one of {', '.join(settlement.STATUSES)}, not '{status}'")
        out.append(by_key[status.lower()])
    return out


async def list_purchases(
    db: Database, settings: Settings, actor: Actor, *, ids: Sequence[int] | None = None,
    statuses: Sequence[str] | None = None, page: int = 1, page_size: int = 10, latest: bool = False,
    now: datetime | None = None,
) -> Page[PurchaseView]:
    """The actor's purchases, newest first; ``latest`` first asks the provider about pending ones."""
    check_page(page, page_size)  # before the provider is asked
    wanted = _statuses(statuses)
    if latest:
        await settlement.refresh(db, settings, user_id=actor.user_id, now=now)
    query = select(Purchase).where(Purchase.user_id == actor.user_id)
    if ids:
        query = query.where(Purchase.id.in_(list(ids)))
    if wanted:
        query = query.where(Purchase.status.in_(wanted))
    async with db.session() as session:
        found, total = await fetch_page(
            session, query.order_by(Purchase.created_at.desc(), Purchase.id.desc()), page, page_size
        )
        rows = list(found.scalars())
        items: dict[int, list[PurchaseItem]] = {r.id: [] for r in rows}
        for item in await session.scalars(
            select(PurchaseItem).where(PurchaseItem.purchase_id.in_(list(items))).order_by(PurchaseItem.id)
        ):
            items[item.purchase_id].append(item)
        views = [_view(r, items[r.id]) for r in rows]
    return Page(views, page, page_size, total)
