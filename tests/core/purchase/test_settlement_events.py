"""What a stored webhook event says happened, and how long it is kept: what an admin reads in ``payment_events``.

Written for the mutants ``make mutate`` left alive in ``core.purchase.settle`` (issue 16): ``expire_events``'
cutoff, the outcome recorded for an ignored, deferred or failed read-back, and ``apply_state``'s branches.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from core.errors import LimitExceeded, Unavailable
from core.purchase import service as purchases
from core.purchase.mayar import InvoiceState
from core.purchase.models import PaymentEvent, Purchase, Subscription
from core.purchase.readbacks import ReadBackLimiter
from core.purchase.settle import apply_state, expire_events, handle_mayar_event
from tests.core.purchase.helpers import shop
from tests.core.purchase.test_mayar import mayar_settings, webhook

NOW = datetime(2025, 6, 1, 9, tzinfo=UTC)


async def _buy(db, config, s, plan="Pro", now=NOW):
    return (await purchases.purchase(db, config, s.buyer, [purchases.Item(s.plans[plan].id)], now=now)).purchase


async def _events(db) -> list[PaymentEvent]:
    async with db.session() as session:
        return list(await session.scalars(select(PaymentEvent).order_by(PaymentEvent.id)))


async def _status(db, purchase_id: int) -> str:
    async with db.session() as session:
        return (await session.get(Purchase, purchase_id)).status


async def _subscriptions(db) -> list[Subscription]:
    async with db.session() as session:
        return list(await session.scalars(select(Subscription).order_by(Subscription.id)))


async def test_events_older_than_the_retention_go_and_the_rest_stay(db, mayar):
    config = mayar_settings(mayar, payment_event_retention_days=30)
    s = await shop(db, config)
    await _buy(db, config, s)
    invoice = mayar.only_invoice()
    ages = {"ancient": timedelta(days=400), "just-over": timedelta(days=30, seconds=1),
            "exactly": timedelta(days=30), "recent": timedelta(days=29), "new": timedelta(0)}  # fmt: skip
    for name, age in ages.items():
        outcome = await handle_mayar_event(db, config, webhook(invoice, event=f"payment.{name}"), now=NOW)
        assert outcome == f"ignored: payment.{name}"
        async with db.session() as session:
            await session.execute(
                update(PaymentEvent).where(PaymentEvent.event == f"payment.{name}").values(received_at=NOW - age)
            )
    assert await expire_events(db, config, NOW) == 2
    assert [e.event for e in await _events(db)] == ["payment.exactly", "payment.recent", "payment.new"]
    assert await expire_events(db, config, NOW) == 0  # nothing else is old enough
    assert len(await _events(db)) == 3
    # without a time given, today's clock decides: every event from 2025 is long past 30 days
    assert await expire_events(db, config) == 3
    assert await _events(db) == []


async def test_an_event_other_than_a_payment_is_recorded_as_ignored_and_read_back_never(db, mayar):
    config = mayar_settings(mayar)
    s = await shop(db, config)
    bought = await _buy(db, config, s)
    invoice = mayar.only_invoice()
    mayar.pay(invoice.id)  # even a paid invoice is not read back for a reminder
    reminder = webhook(invoice, event="payment.reminder")
    assert await handle_mayar_event(db, config, reminder, now=NOW) == "ignored: payment.reminder"
    assert [r for r in mayar.requests if r.method == "GET"] == []
    [stored] = await _events(db)
    assert (stored.provider, stored.event, stored.outcome, stored.processed_at) == (
        "Mayar", "payment.reminder", "ignored: payment.reminder", NOW)
    assert stored.event_key == f"mayar:payment.reminder:{invoice.transaction_id}:paid"
    assert await handle_mayar_event(db, config, reminder, now=NOW) == "duplicate"
    assert await _status(db, bought.id) == "Pending" and await _subscriptions(db) == []


async def test_a_long_event_name_is_stored_cut_to_its_columns_and_still_recognised_when_repeated(db, mayar):
    config = mayar_settings(mayar)
    s = await shop(db, config)
    await _buy(db, config, s)
    invoice = mayar.only_invoice()
    name = "payment." + "x" * 600
    assert await handle_mayar_event(db, config, webhook(invoice, event=name), now=NOW) == f"ignored: {name}"
    [stored] = await _events(db)
    assert stored.event == name[:64]
    assert stored.event_key == f"mayar:{name}:{invoice.transaction_id}:paid"[:128]
    assert stored.outcome == f"ignored: {name}"[:500]
    assert await handle_mayar_event(db, config, webhook(invoice, event=name), now=NOW) == "duplicate"
    assert len(await _events(db)) == 1


async def test_a_read_back_over_the_limit_is_left_unprocessed_saying_why_and_settles_when_retried(db, mayar):
    config = mayar_settings(mayar, mayar_readbacks_per_invoice_per_minute=1)
    s = await shop(db, config)
    bought = await _buy(db, config, s)
    invoice = mayar.only_invoice()
    limiter = ReadBackLimiter(config)
    first = await handle_mayar_event(db, config, webhook(invoice), now=NOW, limiter=limiter)
    assert first == "not settled: the invoice says unpaid"
    mayar.pay(invoice.id)
    again = webhook(invoice, status="settled")  # another event about the same invoice within the minute
    from structlog.testing import capture_logs

    with capture_logs() as logs, pytest.raises(LimitExceeded) as limited:
        await handle_mayar_event(db, config, again, now=NOW, limiter=limiter)
    assert limited.value.message == "too many invoice read-backs now: try again later"
    [entry] = [e for e in logs if e["event"] == "readback_limited"]
    assert (entry["log_level"], entry["purchase"]) == ("warning", bought.id)
    assert len([r for r in mayar.requests if r.method == "GET"]) == 1
    deferred = (await _events(db))[1]
    assert (deferred.outcome, deferred.processed_at) == ("read-back deferred: too many read-backs now", None)
    assert (await _events(db))[0].outcome == first  # the other event's record is untouched
    assert await _status(db, bought.id) == "Pending"
    # Mayar retries it (here without a limit in the way): the stored, unprocessed event is processed now
    assert await handle_mayar_event(db, config, again, now=NOW + timedelta(minutes=2)) == "settled"
    deferred = (await _events(db))[1]
    assert (deferred.outcome, deferred.processed_at) == ("settled", NOW + timedelta(minutes=2))
    assert await _status(db, bought.id) == "Paid" and len(await _subscriptions(db)) == 1


async def test_a_failed_read_back_is_left_unprocessed_saying_why(db, mayar):
    config = mayar_settings(mayar)
    s = await shop(db, config)
    bought = await _buy(db, config, s)
    invoice = mayar.only_invoice()
    mayar.pay(invoice.id)
    mayar.fail_with = 503
    with pytest.raises(Unavailable) as failed:
        await handle_mayar_event(db, config, webhook(invoice), now=NOW)
    [stored] = await _events(db)
    assert (stored.outcome, stored.processed_at) == (f"read-back failed: {failed.value.message}", None)
    assert "503" in stored.outcome
    assert await _status(db, bought.id) == "Pending"


async def test_an_invoice_paid_after_its_purchase_expired_is_flagged_for_an_admin_not_settled(db, mayar):
    config = mayar_settings(mayar)
    s = await shop(db, config)
    bought = await _buy(db, config, s)
    invoice = mayar.only_invoice()
    unpaid = InvoiceState(invoice.id, "unpaid", bought.total)
    assert bought.expires_at is not None
    # one instant before its expiry it waits; at the instant it expires
    assert await apply_state(db, bought.id, unpaid, bought.expires_at - timedelta(seconds=1)) == (
        "not settled: the invoice says unpaid")
    assert await apply_state(db, bought.id, unpaid, bought.expires_at) == "expired"
    assert await _status(db, bought.id) == "Expired"
    assert await apply_state(db, bought.id, unpaid, bought.expires_at) == "already Expired"
    paid = InvoiceState(invoice.id, "paid", bought.total, (invoice.transaction_id,))
    assert await apply_state(db, bought.id, paid, bought.expires_at + timedelta(hours=1)) == (
        "already Expired: paid after it closed, an admin must credit or refund it")
    assert await _status(db, bought.id) == "Expired" and await _subscriptions(db) == []
    assert await apply_state(db, bought.id + 100, paid, NOW) == "purchase gone"
    assert await apply_state(db, bought.id, InvoiceState(invoice.id, "", bought.total), NOW) == "already Expired"


async def test_an_invoice_saying_nothing_leaves_the_purchase_waiting_and_says_so(db, mayar):
    config = mayar_settings(mayar)
    s = await shop(db, config)
    bought = await _buy(db, config, s)
    state = InvoiceState(mayar.only_invoice().id, "", bought.total)
    assert await apply_state(db, bought.id, state, NOW) == "not settled: the invoice says nothing"
    assert await _status(db, bought.id) == "Pending"


async def test_a_purchase_without_an_expiry_waits_for_its_invoice(db, mayar):
    config = mayar_settings(mayar)
    s = await shop(db, config)
    bought = await _buy(db, config, s)
    async with db.session() as session:
        await session.execute(update(Purchase).where(Purchase.id == bought.id).values(expires_at=None))
    state = InvoiceState(mayar.only_invoice().id, "unpaid", bought.total)
    assert await apply_state(db, bought.id, state, NOW + timedelta(days=365)) == "not settled: the invoice says unpaid"
    assert await _status(db, bought.id) == "Pending"



async def test_the_mismatch_is_stored_as_its_own_event_saying_what_differed(db, mayar):
    config = mayar_settings(mayar)
    s = await shop(db, config)
    bought = await _buy(db, config, s)
    invoice = mayar.only_invoice()
    mayar.pay(invoice.id, amount=1_000)
    outcome = await handle_mayar_event(db, config, webhook(invoice), now=NOW)
    payment, mismatch = await _events(db)
    assert (payment.outcome, payment.processed_at) == (outcome, NOW)
    assert (mismatch.provider, mismatch.event, mismatch.event_key, mismatch.outcome) == (
        "Mayar", "amount.mismatch", f"mayar:mismatch:{invoice.id}:1000", outcome)
    assert mismatch.payload == {"purchase_id": bought.id, "invoice_amount": 1_000, "purchase_total": bought.total}


async def test_an_event_just_stored_says_nothing_yet(db):
    from core.purchase.settle import record_event

    async with db.session() as session:
        first = await record_event(session, "Mayar", "mayar:x:1:paid", "x", {"a": 1})
    async with db.session() as session:
        assert await record_event(session, "Mayar", "mayar:x:1:paid", "x", {"a": 1}) == (first[0], False)
    [stored] = await _events(db)
    assert (stored.outcome, stored.processed_at, first[1]) == ("", None, False)


async def _drop_invoice(db, purchase_id: int, *, expires_at=...) -> None:
    """As if the invoice was never created (the process stopped while asking Mayar for it)."""
    values = {"invoice_id": None, "payment_link": None, "transaction_id": None}
    if expires_at is not ...:
        values["expires_at"] = expires_at
    async with db.session() as session:
        await session.execute(update(Purchase).where(Purchase.id == purchase_id).values(**values))


async def test_the_poll_expires_orders_whose_invoice_never_came_and_still_reads_the_rest(db, mayar):
    from core.purchase.settle import refresh

    config = mayar_settings(mayar)
    s = await shop(db, config)
    first = await _buy(db, config, s, "Basic")
    second = await _buy(db, config, s, "Pro")
    endless = await _buy(db, config, s, "Elite")
    for purchase in (first, second):
        await _drop_invoice(db, purchase.id)
    await _drop_invoice(db, endless.id, expires_at=None)
    sari = await _second_buyer(db)
    paid = (await purchases.purchase(db, config, sari, [purchases.Item(s.plans["Pro"].id)], now=NOW)).purchase
    [paid_invoice] = [i for i in mayar.invoices.values() if i.extra["purchaseId"] == str(paid.id)]
    mayar.pay(paid_invoice.id)
    mayar.requests.clear()

    assert first.expires_at is not None
    assert await refresh(db, config, now=first.expires_at - timedelta(seconds=1)) == 1  # the paid one only
    assert [await _status(db, p.id) for p in (first, second, endless, paid)] == ["Pending", "Pending", "Pending", "Paid"]
    assert await refresh(db, config, now=first.expires_at) == 2  # the two without an invoice, at their expiry
    assert [await _status(db, p.id) for p in (first, second, endless)] == ["Expired", "Expired", "Pending"]
    # only the purchase with an invoice was read back; one without an expiry waits (for an admin)
    assert [r.path for r in mayar.requests if r.method == "GET"] == [f"/hl/v1/invoice/{paid_invoice.id}"]


async def _second_buyer(db):
    from core.account.models import User
    from core.account.service import actor_for

    sari = await actor_for(db, platform="telegram", external_id="4343", display_name="Sari")
    async with db.session() as session:
        await session.execute(update(User).where(User.id == sari.user_id)
                              .values(name="Sari Dewi", email="sari@example.com", phone="+6281234567891"))  # fmt: skip
    return sari


async def test_an_invoice_the_poll_cannot_read_is_logged_and_the_next_is_still_read(db, mayar):
    from structlog.testing import capture_logs

    from core.purchase.settle import refresh

    config = mayar_settings(mayar)
    s = await shop(db, config)
    lost = await _buy(db, config, s, "Basic")
    [lost_invoice] = list(mayar.invoices.values())
    paid = await _buy(db, config, s, "Pro")
    [paid_invoice] = [i for i in mayar.invoices.values() if i.id != lost_invoice.id]
    mayar.pay(paid_invoice.id)
    del mayar.invoices[lost_invoice.id]  # Mayar answers 404 for it
    with capture_logs() as logs:
        assert await refresh(db, config, now=NOW + timedelta(days=2)) == 1
    assert (await _status(db, lost.id), await _status(db, paid.id)) == ("Pending", "Paid")  # never expired unread
    [entry] = [e for e in logs if e["event"] == "refresh_failed"]
    assert (entry["log_level"], entry["purchase"]) == ("warning", lost.id)
    assert entry["error"] == "the payment provider refused the request (HTTP 404)"


async def test_a_purchase_a_webhook_settled_while_the_poll_read_it_is_not_counted_twice(db, mayar, monkeypatch):
    from core.purchase.mayar import MayarClient
    from core.purchase.settle import refresh

    config = mayar_settings(mayar)
    s = await shop(db, config)
    bought = await _buy(db, config, s)
    invoice = mayar.only_invoice()
    mayar.pay(invoice.id)
    real = MayarClient.get_invoice

    async def read_while_the_webhook_lands(self, invoice_id):
        state = await real(self, invoice_id)
        assert await apply_state(db, bought.id, state, NOW) == "settled"  # what the webhook's handling does
        return state

    monkeypatch.setattr(MayarClient, "get_invoice", read_while_the_webhook_lands)
    assert await refresh(db, config, now=NOW) == 0  # the webhook changed it, not the poll
    assert await _status(db, bought.id) == "Paid" and len(await _subscriptions(db)) == 1


@pytest.mark.parametrize("payload", [["payment.received"], "payment.received", {"event": 1, "data": {}},
                                     {"event": "payment.received", "data": "x"}])  # fmt: skip
async def test_a_body_that_is_no_mayar_event_is_refused_saying_what_was_expected(db, mayar, payload):
    from core.errors import Invalid

    config = mayar_settings(mayar)
    with pytest.raises(Invalid) as refused:
        await handle_mayar_event(db, config, payload, now=NOW)
    assert refused.value.message == "not a Mayar event: expected {event, data}"
    assert await _events(db) == []


@pytest.mark.parametrize("names", [("transactionId",), ("id",)])
async def test_the_transaction_is_read_from_either_of_its_names_and_one_without_is_refused(db, mayar, names):
    from core.errors import Invalid

    config = mayar_settings(mayar)
    s = await shop(db, config)
    bought = await _buy(db, config, s)
    invoice = mayar.only_invoice()
    mayar.pay(invoice.id)
    event = webhook(invoice)
    for name in ("transactionId", "id"):
        if name not in names:
            event["data"].pop(name)
    nameless = {**event, "data": {k: v for k, v in event["data"].items() if k not in ("transactionId", "id")}}
    with pytest.raises(Invalid) as refused:
        await handle_mayar_event(db, config, nameless, now=NOW)
    assert refused.value.message == "a Mayar event without a transactionId"
    assert await handle_mayar_event(db, config, event, now=NOW) == "settled"
    [stored] = await _events(db)
    assert stored.event_key == f"mayar:payment.received:{invoice.transaction_id}:paid"
    assert await _status(db, bought.id) == "Paid"


@pytest.mark.parametrize(("fields", "status"), [({"status": "SUCCESS"}, "success"), ({}, "")])
async def test_the_events_status_is_read_from_either_of_its_names_into_its_key(db, mayar, fields, status):
    """The key (and so what counts as a repeat) holds the status, from ``transactionStatus`` or ``status``."""
    config = mayar_settings(mayar)
    s = await shop(db, config)
    await _buy(db, config, s)
    invoice = mayar.only_invoice()
    event = webhook(invoice)
    event["data"].pop("transactionStatus")
    event["data"].pop("status")
    event["data"].update(fields)
    assert await handle_mayar_event(db, config, event, now=NOW) == "not settled: the invoice says unpaid"
    [stored] = await _events(db)
    assert stored.event_key == f"mayar:payment.received:{invoice.transaction_id}:{status}"


async def test_settling_records_the_paying_transaction_and_grants_only_the_plans_with_a_period(db, mayar):
    """A one-off product (no duration) is paid for with a plan: the plan's period is granted, nothing
    for the one-off; the purchase keeps the transaction that paid it when it had none yet."""
    from core.product import service as products

    config = mayar_settings(mayar)
    s = await shop(db, config)
    guide = await products.create_product(db, config, s.admin, category="Guides", name="Guide", price_idr=20_000)
    items = [purchases.Item(s.plans["Pro"].id), purchases.Item(guide.id, 2)]
    bought = (await purchases.purchase(db, config, s.buyer, items, now=NOW)).purchase
    invoice = mayar.only_invoice()
    async with db.session() as session:  # the invoice was made before Mayar named its transaction
        await session.execute(update(Purchase).where(Purchase.id == bought.id).values(transaction_id=None))
    paid = InvoiceState(invoice.id, "paid", bought.total, ("tx-old", "tx-paid"))
    assert await apply_state(db, bought.id, paid, NOW) == "settled"
    async with db.session() as session:
        row = await session.get(Purchase, bought.id)
        assert (row.status, row.transaction_id, row.paid_at) == ("Paid", "tx-paid", NOW)
    [sub] = await _subscriptions(db)
    assert (sub.name, sub.starts_at, sub.ends_at) == ("Pro", NOW, NOW + timedelta(days=30))


async def test_a_plan_starts_after_the_buyers_own_running_period_not_someone_elses(db, mayar):
    from structlog.testing import capture_logs

    config = mayar_settings(mayar)
    s = await shop(db, config)
    sari = await _second_buyer(db)
    pro = [purchases.Item(s.plans["Pro"].id)]
    hers = (await purchases.purchase(db, config, sari, pro, now=NOW)).purchase
    mine = await _buy(db, config, s, "Pro", now=NOW + timedelta(days=1))
    states = {i.extra["purchaseId"]: i for i in mayar.invoices.values()}
    for purchase, buyer, at in ((hers, sari, NOW), (mine, s.buyer, NOW + timedelta(days=1))):
        invoice = states[str(purchase.id)]
        paid = InvoiceState(invoice.id, "paid", purchase.total, (invoice.transaction_id,))
        with capture_logs() as logs:
            assert await apply_state(db, purchase.id, paid, at) == "settled"
        [entry] = [e for e in logs if e["event"] == "purchase_settled"]
        assert (entry["log_level"], entry["purchase"], entry["user"]) == ("info", purchase.id, buyer.user_id)
    subs = {sub.user_id: (sub.starts_at, sub.ends_at) for sub in await _subscriptions(db)}
    assert subs[s.buyer.user_id] == (NOW + timedelta(days=1), NOW + timedelta(days=31))  # not after Sari's period
    # a second month of her own chains onto hers
    again = (await purchases.purchase(db, config, sari, pro, now=NOW + timedelta(days=2))).purchase
    invoice = next(i for i in mayar.invoices.values() if i.extra["purchaseId"] == str(again.id))
    paid = InvoiceState(invoice.id, "paid", again.total, (invoice.transaction_id,))
    assert await apply_state(db, again.id, paid, NOW + timedelta(days=2)) == "settled"
    ends = sorted(sub.ends_at for sub in await _subscriptions(db) if sub.user_id == sari.user_id)
    assert ends == [NOW + timedelta(days=30), NOW + timedelta(days=60)]


async def test_a_payment_after_the_purchase_closed_is_logged_for_an_admin(db, mayar):
    from structlog.testing import capture_logs

    config = mayar_settings(mayar)
    s = await shop(db, config)
    bought = await _buy(db, config, s)
    invoice = mayar.only_invoice()
    assert await apply_state(db, bought.id, InvoiceState(invoice.id, "closed", bought.total), NOW) == (
        "canceled (invoice closed)")
    with capture_logs() as logs:
        await apply_state(db, bought.id, InvoiceState(invoice.id, "paid", bought.total), NOW)
    [entry] = [e for e in logs if e["event"] == "paid_after_close"]
    assert (entry["log_level"], entry["purchase"], entry["status"]) == ("warning", bought.id, "Canceled")


async def test_an_event_about_a_purchase_without_an_invoice_is_logged_not_stored(db, mayar):
    """Our purchase, named by its id, whose invoice was never stored: nothing to read back, so not ours to keep."""
    from structlog.testing import capture_logs

    config = mayar_settings(mayar)
    s = await shop(db, config)
    bought = await _buy(db, config, s)
    invoice = mayar.only_invoice()
    await _drop_invoice(db, bought.id)
    event = webhook(invoice, event="payment." + "e" * 100, status="s" * 50)
    event["data"].update(transactionId="t" * 100, id="t" * 100, productId="nope",
                         extraData={"purchaseId": str(bought.id)})  # fmt: skip
    with capture_logs() as logs:
        assert await handle_mayar_event(db, config, event, now=NOW) == "no matching purchase"
    [entry] = [e for e in logs if e["event"] == "payment_without_purchase"]
    assert (entry["mayar_event"], entry["transaction"], entry["purchase"], entry["status"]) == (
        ("payment." + "e" * 100)[:64], "t" * 64, bought.id, "s" * 32)
    assert await _events(db) == [] and [r for r in mayar.requests if r.method == "GET"] == []
    assert await _status(db, bought.id) == "Pending"


async def test_the_read_back_limit_counts_each_invoice_apart(db, mayar):
    config = mayar_settings(mayar, mayar_readbacks_per_invoice_per_minute=1)
    s = await shop(db, config)
    first = await _buy(db, config, s, "Basic")
    second = await _buy(db, config, s, "Pro")
    limiter = ReadBackLimiter(config)
    for purchase in (first, second):  # one read-back each: the other invoice's does not use it up
        invoice = next(i for i in mayar.invoices.values() if i.extra["purchaseId"] == str(purchase.id))
        mayar.pay(invoice.id)
        assert await handle_mayar_event(db, config, webhook(invoice), now=NOW, limiter=limiter) == "settled"
    assert (await _status(db, first.id), await _status(db, second.id)) == ("Paid", "Paid")
