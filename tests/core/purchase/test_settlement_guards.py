"""A purchase is settled once, and a closed invoice closes it: what the buyer sees of their plan and order.

Each test here fails with one of issue 16's planted bugs in place (named in its docstring).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from core.product import service as products
from core.product.models import DiscountCode
from core.purchase import service as purchases
from core.purchase.mayar import InvoiceState
from core.purchase.models import Purchase, Subscription
from core.purchase.settle import apply_state, settle
from tests.core.purchase.helpers import settings, shop
from tests.core.purchase.mayar_stub import MayarStub

NOW = datetime(2025, 6, 1, 9, tzinfo=UTC)


def _mayar(stub: MayarStub):
    return settings(payment_provider="Mayar", mayar_api_key=stub.api_key, mayar_base_url=stub.url,
                    mayar_redirect_url="https://t.me/StoxlifyBot")  # fmt: skip


async def _subscriptions(db) -> list[Subscription]:
    async with db.session() as session:
        return list(await session.scalars(select(Subscription).order_by(Subscription.id)))


async def test_a_purchase_settled_a_second_time_credits_nothing_more(db, mayar):
    """Planted: ``settle`` marking the purchase Paid without ``status == 'Pending'`` in its update."""
    config = _mayar(mayar)
    s = await shop(db, config)
    bought = (await purchases.purchase(db, config, s.buyer, [purchases.Item(s.plans["Pro"].id)], now=NOW)).purchase
    async with db.session() as session:
        assert await settle(session, bought.id, NOW, "tx-1") is True
    async with db.session() as session:  # the same purchase again: a duplicate webhook, the poll, a refresh
        assert await settle(session, bought.id, NOW + timedelta(minutes=1), "tx-2") is False
    [sub] = await _subscriptions(db)
    assert (sub.starts_at, sub.ends_at) == (NOW, NOW + timedelta(days=30))  # one month bought, one month given
    mine = await purchases.list_purchases(db, config, s.buyer)
    assert [(p.id, p.status) for p in mine.items] == [(bought.id, "Paid")]
    async with db.session() as session:
        row = await session.get(Purchase, bought.id)
        assert (row.paid_at, row.transaction_id) == (NOW, mayar.only_invoice().transaction_id)


async def test_two_read_backs_saying_paid_at_once_settle_once(db, mayar):
    """Planted, as above: both read the purchase Pending, and only ``settle``'s guard keeps the second out."""
    config = _mayar(mayar)
    s = await shop(db, config)
    bought = (await purchases.purchase(db, config, s.buyer, [purchases.Item(s.plans["Pro"].id)], now=NOW)).purchase
    invoice = mayar.only_invoice()
    paid = InvoiceState(invoice.id, "paid", bought.total, (invoice.transaction_id,))
    outcomes = await asyncio.gather(apply_state(db, bought.id, paid, NOW), apply_state(db, bought.id, paid, NOW))
    assert sorted(outcomes) in (["already Paid", "settled"], ["already settled", "settled"])
    assert len(await _subscriptions(db)) == 1


async def test_an_invoice_closed_at_mayar_cancels_the_purchase_and_gives_the_code_back(db, mayar):
    """Planted: ``apply_state`` without its ``closed`` branch (the purchase would wait, Pending, for
    its expiry, holding the discount code's only use)."""
    config = _mayar(mayar)
    s = await shop(db, config)
    await products.create_discount(db, config, s.admin, code="HEMAT10", percent_bp=1_000, max_uses=1)
    pro = [purchases.Item(s.plans["Pro"].id)]
    bought = (await purchases.purchase(db, config, s.buyer, pro, "HEMAT10", now=NOW)).purchase
    mayar.only_invoice().status = "closed"  # the buyer (or Mayar) closed the invoice unpaid
    fresh = await purchases.list_purchases(db, config, s.buyer, latest=True, now=NOW + timedelta(minutes=5))
    assert [(p.id, p.status) for p in fresh.items] == [(bought.id, "Canceled")]
    assert await _subscriptions(db) == []
    async with db.session() as session:
        assert await session.scalar(select(DiscountCode.used_count)) == 0
    again = await purchases.purchase(db, config, s.buyer, pro, "HEMAT10", now=NOW + timedelta(minutes=10))
    assert again.purchase.status == "Pending" and again.purchase.discount > 0  # the code works again


async def test_closing_a_purchase_closes_that_one_pending_purchase_once_and_gives_its_own_code_back(db, mayar):
    """Mutants ``make mutate`` left alive in ``close``: its update without the purchase id or without
    ``status == 'Pending'``, the discount's give-back without the code id or without ``used_count > 0``."""
    from core.purchase.settle import close

    config = _mayar(mayar)
    s = await shop(db, config)
    for code in ("HEMAT10", "HEMAT20"):
        await products.create_discount(db, config, s.admin, code=code, percent_bp=1_000, max_uses=5)
    pro = [purchases.Item(s.plans["Pro"].id)]
    first = (await purchases.purchase(db, config, s.buyer, pro, "HEMAT10", now=NOW)).purchase
    from core.account.models import User
    from core.account.service import actor_for

    sari = await actor_for(db, platform="telegram", external_id="4343", display_name="Sari")
    async with db.session() as session:
        await session.execute(update(User).where(User.id == sari.user_id)
                              .values(name="Sari Dewi", email="sari@example.com", phone="+6281234567891"))  # fmt: skip
    second = (await purchases.purchase(db, config, sari, pro, "HEMAT20", now=NOW)).purchase

    async def uses() -> dict[str, int]:
        async with db.session() as session:
            return dict((await session.execute(select(DiscountCode.code, DiscountCode.used_count))).all())

    async def states() -> dict[int, str]:
        async with db.session() as session:
            return dict((await session.execute(select(Purchase.id, Purchase.status))).all())

    assert await uses() == {"HEMAT10": 1, "HEMAT20": 1}
    async with db.session() as session:
        assert await close(session, first.id, "Canceled") is True
    assert await states() == {first.id: "Canceled", second.id: "Pending"}  # the other purchase waits on
    assert await uses() == {"HEMAT10": 0, "HEMAT20": 1}  # only its own code's use came back
    async with db.session() as session:
        assert await close(session, first.id, "Expired") is False  # closed already: nothing moves
    assert await states() == {first.id: "Canceled", second.id: "Pending"}
    assert await uses() == {"HEMAT10": 0, "HEMAT20": 1}

    async with db.session() as session:  # a code whose count is already 0 (reset by hand) never goes below it
        await session.execute(update(DiscountCode).where(DiscountCode.code == "HEMAT20").values(used_count=0))
    async with db.session() as session:
        assert await close(session, second.id, "Expired") is True
    assert await uses() == {"HEMAT10": 0, "HEMAT20": 0}


async def test_two_plans_settled_at_the_same_moment_chain_their_periods(db, mayar):
    """Planted (mutmut ``settle`` 34): ``settle`` without ``lock_user``. On PostgreSQL the second settlement
    must wait for the first to commit, or it reads no running plan and both months start now: the buyer
    paid for two months and gets one. (SQLite has one writer: the race cannot happen there.)"""
    if db.is_sqlite:
        pytest.skip("SQLite has one writer: two settlements cannot interleave there")
    from sqlalchemy import text

    config = _mayar(mayar)
    s = await shop(db, config)
    pro = [purchases.Item(s.plans["Pro"].id)]
    first = (await purchases.purchase(db, config, s.buyer, pro, now=NOW)).purchase
    second = (await purchases.purchase(db, config, s.buyer, pro, now=NOW + timedelta(hours=1))).purchase
    paid_at = NOW + timedelta(hours=2)
    async with db.session() as one:
        assert await settle(one, first.id, paid_at, "tx-1") is True  # settled, not yet committed

        async def settle_second() -> bool:
            async with db.session() as other:
                return await settle(other, second.id, paid_at, "tx-2")

        racing = asyncio.create_task(settle_second())
        # the second settlement is either blocked on the buyer's row lock or already done (the bug):
        # which one, PostgreSQL says, not a clock
        while not racing.done():
            async with db.engine.connect() as watcher:
                waiting = await watcher.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
                ))  # fmt: skip
            if waiting:
                break
            await asyncio.sleep(0.01)
    assert await racing is True
    subs = await _subscriptions(db)
    assert [(x.purchase_id, x.starts_at, x.ends_at) for x in subs] == [
        (first.id, paid_at, paid_at + timedelta(days=30)),
        (second.id, paid_at + timedelta(days=30), paid_at + timedelta(days=60)),  # after the first month
    ]
