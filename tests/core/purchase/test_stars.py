"""Telegram Stars purchases in the core: stars from rupiah, the pre-checkout checks, crediting once,
renewals, refunds (SQLite and PostgreSQL). The Telegram side: tests/bots/telegram/test_stars.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.errors import Conflict, Forbidden, Invalid, Unavailable
from core.product import service as products
from core.purchase import service as purchases
from core.purchase import stars, stars_payments
from core.purchase.models import PaymentEvent, Purchase, PurchaseStatus, Subscription
from core.purchase.stars_payments import Credit
from tests.core.purchase.helpers import settings, shop

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
CONFIG = settings(stars_enabled=True, stars_rupiah_per_star=300)
PAYER = "4242"  # the buyer's Telegram id (helpers.shop)


class Gateway:
    """refundStarPayment as the core sees it: records each call."""

    def __init__(self, fresh: bool = True) -> None:
        self.calls: list[tuple[int, str]] = []
        self.canceled: list[tuple[int, str]] = []
        self.fresh = fresh

    async def refund(self, user_id: int, charge_id: str) -> bool:
        self.calls.append((user_id, charge_id))
        return self.fresh

    async def cancel(self, user_id: int, charge_id: str) -> bool:
        self.canceled.append((user_id, charge_id))
        return True


async def _buy(db, s, plan="Pro", code=None, quantity=1, now=NOW):
    item = [purchases.Item(s.plans[plan].id, quantity)]
    return await purchases.purchase(db, CONFIG, s.buyer, item, code, now=now, provider=stars.PROVIDER)


async def _row(db, purchase_id) -> Purchase:
    async with db.session() as session:
        return (await session.scalars(select(Purchase).where(Purchase.id == purchase_id))).one()


async def _subs(db, user_id) -> list[Subscription]:
    async with db.session() as session:
        return list(await session.scalars(select(Subscription).where(Subscription.user_id == user_id)
                                          .order_by(Subscription.starts_at)))


def test_stars_are_whole_and_rounded_up():
    assert stars.stars_for(165_390, 300) == 552  # 551.3 -> 552: never under the price
    assert stars.stars_for(300, 300) == 1 and stars.stars_for(301, 300) == 2 and stars.stars_for(1, 300) == 1
    assert stars.purchase_of(stars.payload_for(17)) == 17
    assert stars.purchase_of("stoxlify-purchase:1x") is None and stars.purchase_of("other:1") is None


async def test_a_stars_purchase_waits_with_its_invoice(db):
    s = await shop(db, CONFIG)
    done = await _buy(db, s)
    row = await _row(db, done.purchase.id)
    assert (row.status, row.provider, row.total, row.stars) == (PurchaseStatus.PENDING, "Stars", 165_390, 552)
    assert not done.settled and done.payment_link is None and await _subs(db, s.buyer.user_id) == []
    invoice = done.invoice
    assert invoice is not None
    assert (invoice.currency, invoice.stars, invoice.payload) == ("XTR", 552, f"stoxlify-purchase:{row.id}")
    assert invoice.subscription_period == 2_592_000  # one 30-day plan: a Stars subscription
    assert 1 <= len(invoice.title) <= 32 and "Rp 165,390" in invoice.description

    # the same order pressed twice: the same invoice, not a second purchase
    again = await _buy(db, s, now=NOW + timedelta(seconds=20))
    assert again.purchase.id == row.id and again.invoice == invoice


async def test_discounted_or_several_plans_are_one_off_invoices(db):
    s = await shop(db, CONFIG)
    await products.create_discount(db, CONFIG, s.admin, code="HEMAT10", percent_bp=1_000)
    coded = await _buy(db, s, code="HEMAT10")
    assert coded.invoice is not None and coded.invoice.subscription_period is None  # a discount must not repeat
    assert coded.invoice.stars == stars.stars_for(148_851, 300) == 497
    two = await _buy(db, s, plan="Basic", quantity=2)
    assert two.invoice is not None and two.invoice.subscription_period is None
    assert "60 days" in two.invoice.description


async def test_other_channels_keep_the_configured_provider(db):
    s = await shop(db, CONFIG)
    done = await purchases.purchase(db, CONFIG, s.buyer, [purchases.Item(s.plans["Pro"].id)], now=NOW)
    assert done.purchase.provider == "Mock" and done.settled and done.invoice is None
    with pytest.raises(Invalid, match="no payment provider 'Free'"):  # never a way to settle unpaid
        await purchases.purchase(db, CONFIG, s.buyer, [purchases.Item(s.plans["Basic"].id)], now=NOW, provider="Free")


async def test_pre_checkout_checks_the_stored_purchase(db):
    s = await shop(db, CONFIG)
    done = await _buy(db, s)
    payload = done.invoice.payload
    check = stars_payments.check_pre_checkout
    assert await check(db, payload=payload, currency="XTR", amount=552, payer=PAYER, now=NOW) is None
    # answering ok credits nothing: only the successful payment does
    assert (await _row(db, done.purchase.id)).status == PurchaseStatus.PENDING
    assert await _subs(db, s.buyer.user_id) == []

    assert "costs 552 stars, not 551 XTR" in await check(db, payload=payload, currency="XTR", amount=551, payer=PAYER,
                                                          now=NOW)  # fmt: skip
    assert "552 stars, not 552 USD" in await check(db, payload=payload, currency="USD", amount=552, payer=PAYER, now=NOW)
    assert "someone else" in await check(db, payload=payload, currency="XTR", amount=552, payer="999", now=NOW)
    assert "not one of ours" in await check(db, payload="junk", currency="XTR", amount=552, payer=PAYER, now=NOW)
    assert "does not exist" in await check(db, payload="stoxlify-purchase:999", currency="XTR", amount=552,
                                           payer=PAYER, now=NOW)  # fmt: skip
    late = NOW + timedelta(hours=CONFIG.payment_expiry_hours)
    assert "expired" in await check(db, payload=payload, currency="XTR", amount=552, payer=PAYER, now=late)
    assert (await _row(db, done.purchase.id)).status == PurchaseStatus.EXPIRED
    assert "is expired" in await check(db, payload=payload, currency="XTR", amount=552, payer=PAYER, now=NOW)


async def test_a_successful_payment_credits_once(db):
    s = await shop(db, CONFIG)
    done = await _buy(db, s)
    paid = dict(payload=done.invoice.payload, currency="XTR", amount=552, charge_id="stxCHARGE1", payer=PAYER,
                recurring=True, first_recurring=True)  # fmt: skip
    first = await stars_payments.credit(db, **paid, now=NOW + timedelta(minutes=1))
    assert first.outcome is Credit.SETTLED and first.purchase_id == done.purchase.id
    row = await _row(db, done.purchase.id)
    assert (row.status, row.charge_id, row.payer_id) == (PurchaseStatus.PAID, "stxCHARGE1", PAYER)
    [sub] = await _subs(db, s.buyer.user_id)
    assert sub.name == "Pro" and sub.ends_at - sub.starts_at == timedelta(days=30)

    again = await stars_payments.credit(db, **paid, now=NOW + timedelta(minutes=2))
    assert again.outcome is Credit.DUPLICATE
    assert len(await _subs(db, s.buyer.user_id)) == 1
    async with db.session() as session:
        events = list(await session.scalars(select(PaymentEvent).where(PaymentEvent.provider == "Stars")))
    assert [(e.event_key, e.outcome) for e in events] == [("stars:paid:stxCHARGE1", "settled")]


async def test_a_renewal_extends_the_plan_by_a_new_paid_purchase(db):
    s = await shop(db, CONFIG)
    done = await _buy(db, s)
    base = dict(payload=done.invoice.payload, currency="XTR", amount=552, payer=PAYER, recurring=True)
    await stars_payments.credit(db, **base, charge_id="stxFIRST", first_recurring=True, now=NOW)
    renewed = await stars_payments.credit(db, **base, charge_id="stxSECOND", now=NOW + timedelta(days=30))
    assert renewed.outcome is Credit.RENEWED and renewed.purchase_id != done.purchase.id
    row = await _row(db, renewed.purchase_id)
    assert (row.status, row.provider, row.charge_id, row.stars) == (PurchaseStatus.PAID, "Stars", "stxSECOND", 552)
    first, second = await _subs(db, s.buyer.user_id)
    assert second.starts_at == first.ends_at and second.ends_at - first.starts_at == timedelta(days=60)
    assert (await _row(db, done.purchase.id)).recurring and row.recurring

    # refunding the subscription also stops its renewals
    gateway = Gateway()
    refunded = await stars_payments.refund(db, CONFIG, s.admin, done.purchase.id, gateway, now=NOW + timedelta(days=31))
    assert refunded.canceled is True and gateway.canceled == [(4242, "stxFIRST")]
    # the first period is over; the renewal's period stands (its own purchase and charge, refunded on its own)
    assert refunded.revoked == () and len(await purchases.subscriptions(db, s.buyer, NOW + timedelta(days=31))) == 1


async def test_payments_that_cannot_be_credited_are_kept_for_an_admin(db):
    s = await shop(db, CONFIG)
    done = await _buy(db, s)
    wrong = await stars_payments.credit(db, payload=done.invoice.payload, currency="XTR", amount=100,
                                        charge_id="stxWRONG", payer=PAYER, now=NOW)  # fmt: skip
    assert wrong.outcome is Credit.FLAGGED and "amount mismatch" in wrong.detail
    row = await _row(db, done.purchase.id)
    assert (row.status, row.charge_id) == (PurchaseStatus.FAILED, "stxWRONG")  # refundable with /refund
    assert await _subs(db, s.buyer.user_id) == []

    other = await _buy(db, s, plan="Basic")
    async with db.session() as session:
        (await session.get(Purchase, other.purchase.id)).status = PurchaseStatus.EXPIRED
    late = await stars_payments.credit(db, payload=other.invoice.payload, currency="XTR", amount=other.invoice.stars,
                                       charge_id="stxLATE", payer=PAYER, now=NOW)  # fmt: skip
    assert late.outcome is Credit.FLAGGED and "paid while Expired" in late.detail
    assert await _subs(db, s.buyer.user_id) == []

    stray = await stars_payments.credit(db, payload="junk", currency="XTR", amount=5, charge_id="stxSTRAY",
                                        payer=PAYER, now=NOW)  # fmt: skip
    assert stray.outcome is Credit.UNKNOWN


async def test_refund_calls_telegram_then_revokes_the_plan(db):
    s = await shop(db, CONFIG)
    done = await _buy(db, s)
    await stars_payments.credit(db, payload=done.invoice.payload, currency="XTR", amount=552, charge_id="stxPAID",
                                payer=PAYER, now=NOW)  # fmt: skip
    gateway = Gateway()
    with pytest.raises(Forbidden):
        await stars_payments.refund(db, CONFIG, s.buyer, done.purchase.id, gateway)
    assert gateway.calls == []

    later = NOW + timedelta(days=3)
    refunded = await stars_payments.refund(db, CONFIG, s.admin, done.purchase.id, gateway, now=later)
    assert gateway.calls == [(4242, "stxPAID")]
    assert refunded.revoked == ("Pro",) and refunded.stars == 552 and not refunded.already
    assert refunded.canceled is None and gateway.canceled == []  # a one-off payment: nothing renews
    row = await _row(db, done.purchase.id)
    assert (row.status, row.refunded_at) == (PurchaseStatus.REFUNDED, later)
    [sub] = await _subs(db, s.buyer.user_id)
    assert sub.ends_at == later  # revoked now, not at the end of the period
    assert await purchases.subscriptions(db, s.buyer, later) == ()

    with pytest.raises(Conflict):
        await stars_payments.refund(db, CONFIG, s.admin, done.purchase.id, gateway, now=later)
    assert len(gateway.calls) == 1
    # Telegram's refunded_payment message afterwards changes nothing
    assert await stars_payments.refunded_by_telegram(db, charge_id="stxPAID", now=later) is None


async def test_refund_refuses_what_is_not_a_paid_stars_purchase(db):
    s = await shop(db, CONFIG)
    mock = await purchases.purchase(db, CONFIG, s.buyer, [purchases.Item(s.plans["Basic"].id)], now=NOW)
    gateway = Gateway()
    with pytest.raises(Invalid, match="paid through Mock, not Telegram Stars"):
        await stars_payments.refund(db, CONFIG, s.admin, mock.purchase.id, gateway)
    pending = await _buy(db, s)
    with pytest.raises(Invalid, match="no Stars payment to refund"):
        await stars_payments.refund(db, CONFIG, s.admin, pending.purchase.id, gateway)
    await stars_payments.credit(db, payload=pending.invoice.payload, currency="XTR", amount=552, charge_id="stxP",
                                payer=PAYER, now=NOW)  # fmt: skip
    with pytest.raises(Unavailable, match="Telegram is not connected"):
        await stars_payments.refund(db, CONFIG, s.admin, pending.purchase.id, None)
    assert gateway.calls == [] and (await _row(db, pending.purchase.id)).status == PurchaseStatus.PAID


async def test_a_refund_telegram_reports_revokes_once(db):
    s = await shop(db, CONFIG)
    done = await _buy(db, s)
    await stars_payments.credit(db, payload=done.invoice.payload, currency="XTR", amount=552, charge_id="stxT",
                                payer=PAYER, now=NOW)  # fmt: skip
    later = NOW + timedelta(days=1)
    assert await stars_payments.refunded_by_telegram(db, charge_id="stxT", now=later) == ("Pro",)
    assert await stars_payments.refunded_by_telegram(db, charge_id="stxT", now=later) is None
    assert (await _row(db, done.purchase.id)).status == PurchaseStatus.REFUNDED
    assert await purchases.subscriptions(db, s.buyer, later) == ()
