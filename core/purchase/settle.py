"""Settling purchases: exactly once, and only on the provider's own word.

A webhook event is a rumour: one about a purchase of ours is stored once under a unique key (``PaymentEvent.event_key`` =
provider, event, transaction and status), then the invoice is read back from Mayar with our key
and *that* answer decides. A forged event therefore changes nothing, and a duplicate or replayed
one is recognised by its key and skipped.

The state change itself is a guarded ``UPDATE purchases SET status='Paid' ... WHERE id=? AND
status='Pending'`` in the same transaction that creates the subscriptions: whichever of a webhook,
its duplicate, the status poll or a user's ``latest`` refresh gets there first credits the
purchase; the others update no row and credit nothing. Events arriving out of order (a failure
after a payment) can only move a purchase out of ``Pending``, never out of ``Paid``.

A read-back that says "paid" with an amount other than the purchase's total is not settled: the
purchase is marked ``Failed`` and a ``mismatch`` event is recorded for an admin to look at.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.account.service import lock_user
from core.config import Settings
from core.db import Database, insert_ignoring_conflicts, parse_id, rowcount, session_dialect, utcnow
from core.errors import Invalid, LimitExceeded, Unavailable
from core.logging import get_logger
from core.product.models import DiscountCode, Product
from core.purchase.mayar import InvoiceState, MayarClient
from core.purchase.models import PaymentEvent, Purchase, PurchaseItem, PurchaseStatus, Subscription
from core.purchase.readbacks import ReadBackLimiter

log = get_logger(__name__)

# The statuses by their short names, as the settlement code and its callers have always spelled them
PENDING, PAID, EXPIRED, FAILED, CANCELED = (
    PurchaseStatus.PENDING, PurchaseStatus.PAID, PurchaseStatus.EXPIRED, PurchaseStatus.FAILED, PurchaseStatus.CANCELED,
)
STATUSES = tuple(PurchaseStatus)


async def settle(session: AsyncSession, purchase_id: int, now: datetime, transaction_id: str | None = None) -> bool:
    """Mark a pending purchase Paid and start its subscriptions; False when it was not Pending."""
    values: dict[str, Any] = {"status": PAID, "paid_at": now}
    if transaction_id:
        values["transaction_id"] = func.coalesce(Purchase.transaction_id, transaction_id)
    result = await session.execute(
        update(Purchase)
        .where(Purchase.id == purchase_id, Purchase.status == PENDING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:
        return False
    # scalar_one: the purchase was just marked paid, so it is there
    user_id = (await session.execute(select(Purchase.user_id).where(Purchase.id == purchase_id))).scalar_one()
    # One settlement per user at a time (PostgreSQL; SQLite has one writer anyway), so two plans
    # bought together chain their periods instead of both starting now.
    await lock_user(session, user_id)
    rows = await session.execute(
        select(PurchaseItem, Product)
        .join(Product, PurchaseItem.product_id == Product.id)
        .where(PurchaseItem.purchase_id == purchase_id, Product.duration_days.is_not(None))
        .order_by(PurchaseItem.id)
    )
    for item, product in rows:
        current_end = await session.scalar(
            select(func.max(Subscription.ends_at)).where(
                Subscription.user_id == user_id, Subscription.product_id == product.id, Subscription.ends_at > now
            )
        )
        starts = max(now, current_end) if current_end is not None else now
        session.add(
            Subscription(
                user_id=user_id, purchase_id=purchase_id, product_id=product.id, name=product.name,
                features=dict(product.features or {}), starts_at=starts,
                ends_at=starts + timedelta(days=(product.duration_days or 0) * item.quantity),
            )
        )
    await session.flush()
    log.info("purchase_settled", purchase=purchase_id, user=user_id)
    return True


async def close(session: AsyncSession, purchase_id: int, status: PurchaseStatus) -> bool:
    """Move a pending purchase to Expired, Failed or Canceled, giving its discount use back."""
    result = await session.execute(
        update(Purchase)
        .where(Purchase.id == purchase_id, Purchase.status == PENDING)
        .values(status=status)
        .execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:
        return False
    code_id = await session.scalar(select(Purchase.discount_code_id).where(Purchase.id == purchase_id))
    if code_id is not None:
        await session.execute(
            update(DiscountCode)
            .where(DiscountCode.id == code_id, DiscountCode.used_count > 0)
            .values(used_count=DiscountCode.used_count - 1)
            .execution_options(synchronize_session=False)
        )
    return True


async def record_event(
    session: AsyncSession, provider: str, key: str, event: str, payload: dict[str, Any], outcome: str = ""
) -> tuple[int, bool]:
    """Store an event once: (its id, whether it had already been processed)."""
    insert = insert_ignoring_conflicts(session_dialect(session), PaymentEvent, "event_key").values(
        provider=provider, event_key=key[:128], event=event[:64], payload=payload, outcome=outcome,
        received_at=utcnow(),
    )
    new_id = await session.scalar(insert.returning(PaymentEvent.id))
    if new_id is not None:
        return new_id, False
    row = (await session.execute(
        select(PaymentEvent.id, PaymentEvent.processed_at).where(PaymentEvent.event_key == key[:128])
    )).one()
    return row.id, row.processed_at is not None


async def finish(session: AsyncSession, event_id: int | None, outcome: str, now: datetime) -> None:
    if event_id is not None:
        await session.execute(
            update(PaymentEvent)
            .where(PaymentEvent.id == event_id)
            .values(outcome=outcome[:500], processed_at=now)
            .execution_options(synchronize_session=False)
        )


async def apply_state(
    db: Database, purchase_id: int, state: InvoiceState, now: datetime, event_id: int | None = None
) -> str:
    """Act on the provider's own account of an invoice, in one transaction; returns what happened."""
    async with db.session() as session:
        purchase = await session.scalar(select(Purchase).where(Purchase.id == purchase_id))
        if purchase is None:
            outcome = "purchase gone"
        elif purchase.status != PENDING:
            outcome = f"already {purchase.status}"
            if state.paid and purchase.status != PAID:
                outcome += ": paid after it closed, an admin must credit or refund it"
                log.warning("paid_after_close", purchase=purchase_id, status=purchase.status)
        elif state.paid and state.amount != purchase.total:
            await close(session, purchase_id, FAILED)
            outcome = f"amount mismatch: invoice {state.amount}, purchase total {purchase.total}; not settled"
            await record_event(
                session, purchase.provider, f"{purchase.provider.lower()}:mismatch:{state.invoice_id}:{state.amount}",
                "amount.mismatch", {"purchase_id": purchase_id, "invoice_amount": state.amount,
                                    "purchase_total": purchase.total}, outcome,
            )
            log.warning("payment_amount_mismatch", purchase=purchase_id, invoice=state.amount, total=purchase.total)
        elif state.paid:
            transaction = state.transaction_ids[-1] if state.transaction_ids else None
            outcome = "settled" if await settle(session, purchase_id, now, transaction) else "already settled"
        elif state.status == "closed":
            outcome = "canceled (invoice closed)" if await close(session, purchase_id, CANCELED) else "already closed"
        elif purchase.expires_at is not None and now >= purchase.expires_at:
            outcome = "expired" if await close(session, purchase_id, EXPIRED) else "already closed"
        else:
            outcome = f"not settled: the invoice says {state.status or 'nothing'}"
        await finish(session, event_id, outcome, now)
    return outcome


async def _find_purchase(db: Database, data: dict[str, Any], transaction: str) -> int | None:
    """Our purchase an event is about: by transaction id, else by invoice (``productId`` /
    ``paymentLinkId`` carry the invoice id in Mayar's payloads), else by our ``extraData``."""
    invoice = data.get("paymentLinkId") or data.get("productId") or data.get("invoiceId")
    extra_data = data.get("extraData")
    extra = extra_data if isinstance(extra_data, dict) else {}
    async with db.session() as session:
        base = select(Purchase.id).where(Purchase.provider == "Mayar")
        found = await session.scalar(base.where(Purchase.transaction_id == transaction))
        if found is None and isinstance(invoice, str) and invoice:
            found = await session.scalar(base.where(Purchase.invoice_id == invoice))
        purchase_id = parse_id(str(extra.get("purchaseId", "")))  # the event's JSON is anyone's to write
        if found is None and purchase_id is not None:
            found = await session.scalar(base.where(Purchase.id == purchase_id))
        return found


async def handle_mayar_event(
    db: Database, settings: Settings, payload: Any, now: datetime | None = None, *, limiter: ReadBackLimiter | None = None
) -> str:
    """Process one Mayar webhook body ``{event, data}``; returns the outcome it recorded.

    Invalid for a body that is not a Mayar event. Only events about a purchase of ours are stored
    (anyone may post junk to a webhook: it must not fill the database). A failed read-back leaves the
    event unprocessed (Mayar's retry or the status poll settles it later) and raises Unavailable; one
    over ``limiter``'s read-back limits is left the same way and raises LimitExceeded.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), str) or not isinstance(
        payload.get("data"), dict
    ):
        raise Invalid("not a Mayar event: expected {event, data}")
    event, data = payload["event"], payload["data"]
    transaction = str(data.get("transactionId") or data.get("id") or "")
    if not transaction:
        raise Invalid("a Mayar event without a transactionId")
    status = str(data.get("transactionStatus") or data.get("status") or "").lower()
    now = now or utcnow()
    purchase_id = await _find_purchase(db, data, transaction)
    invoice_id = None
    if purchase_id is not None:
        async with db.session() as session:
            invoice_id = await session.scalar(select(Purchase.invoice_id).where(Purchase.id == purchase_id))
    if purchase_id is None or not invoice_id:  # not ours: logged, never stored
        log.warning("payment_without_purchase", mayar_event=event[:64], transaction=transaction[:64],
                    purchase=purchase_id, status=status[:32])  # fmt: skip
        return "no matching purchase"
    key = f"mayar:{event}:{transaction}:{status}"
    async with db.session() as session:
        event_id, processed = await record_event(session, "Mayar", key, event, payload)
    if processed:
        return "duplicate"
    if event != "payment.received":
        async with db.session() as session:
            await finish(session, event_id, f"ignored: {event}", now)
        return f"ignored: {event}"
    if limiter is not None and not await limiter.allow(invoice_id):
        await _note_unprocessed(db, event_id, "read-back deferred: too many read-backs now")
        log.warning("readback_limited", purchase=purchase_id)
        raise LimitExceeded("too many invoice read-backs now: try again later")
    try:
        state = await MayarClient(settings).get_invoice(invoice_id)  # our stored id, never the event's
    except Unavailable as exc:
        await _note_unprocessed(db, event_id, f"read-back failed: {exc.message}")
        raise
    return await apply_state(db, purchase_id, state, now, event_id)


async def _note_unprocessed(db: Database, event_id: int, outcome: str) -> None:
    """Why an event is still unprocessed (it is processed when Mayar retries, or the poll settles it)."""
    async with db.session() as session:
        await session.execute(
            update(PaymentEvent).where(PaymentEvent.id == event_id)
            .values(outcome=outcome[:500]).execution_options(synchronize_session=False)
        )


async def expire_events(db: Database, settings: Settings, now: datetime | None = None) -> int:
    """Delete stored webhook events older than ``payment_event_retention_days``; how many went.

    Events are evidence for a while (what Mayar told us, an amount mismatch for an admin), not
    forever; purchases and subscriptions keep what was settled."""
    cutoff = (now or utcnow()) - timedelta(days=settings.payment_event_retention_days)
    async with db.session() as session:
        result = await session.execute(
            delete(PaymentEvent).where(PaymentEvent.received_at < cutoff).execution_options(synchronize_session=False)
        )
    return int(rowcount(result) or 0)


async def refresh(db: Database, settings: Settings, *, user_id: int | None = None, now: datetime | None = None) -> int:
    """Read every pending Mayar purchase (of one user, or all) back from Mayar: settle the paid,
    close the closed, expire the overdue. Returns how many changed state."""
    now = now or utcnow()
    async with db.session() as session:
        query = select(Purchase.id, Purchase.provider, Purchase.invoice_id, Purchase.expires_at).where(
            Purchase.status == PENDING
        )
        if user_id is not None:
            query = query.where(Purchase.user_id == user_id)
        pending = list(await session.execute(query.order_by(Purchase.id)))
    changed = 0
    client: MayarClient | None = None
    async with AsyncExitStack() as stack:  # one connection pool for the whole loop
        for row in pending:
            if row.provider != "Mayar" or not row.invoice_id:
                if row.expires_at is not None and now >= row.expires_at:
                    async with db.session() as session:
                        changed += await close(session, row.id, EXPIRED)
                continue
            try:
                if client is None:
                    client = await stack.enter_async_context(MayarClient(settings))
                state = await client.get_invoice(row.invoice_id)
            except Unavailable as exc:  # unknown: never expire what may have been paid
                log.warning("refresh_failed", purchase=row.id, error=exc.message)
                continue
            outcome = await apply_state(db, row.id, state, now)
            changed += not outcome.startswith(("not settled", "already"))
    return changed
