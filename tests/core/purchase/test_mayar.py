"""Mayar end to end against a local HTTP stub: invoices, webhooks, read-backs, polling, idempotence."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from core.app import Core
from core.errors import Conflict, Invalid, Unavailable
from core.market.service import MarketService
from core.product import service as products
from core.product.models import DiscountCode
from core.purchase import service as purchases
from core.purchase.limits import limits_for
from core.purchase.models import PaymentEvent, Purchase, Subscription
from core.purchase.settle import handle_mayar_event
from jobs.payments import refresh_pending
from tests.core.purchase.helpers import settings, shop
from tests.core.purchase.mayar_stub import fixture

NOW = datetime(2025, 6, 1, 9, tzinfo=UTC)


def mayar_settings(stub, **extra):
    return settings(payment_provider="Mayar", mayar_api_key=stub.api_key, mayar_base_url=stub.url,
                    mayar_redirect_url="https://t.me/StoxlifyBot", **extra)


def webhook(invoice, *, status="paid", event="payment.received", amount=None):
    """Mayar's recorded payment.received body, about this invoice's transaction."""
    body = fixture("webhook_payment_received.json")
    body["event"] = event
    body["data"].update(id=invoice.transaction_id, transactionId=invoice.transaction_id, productId=invoice.id,
                        transactionStatus=status, status="SUCCESS" if status == "paid" else "FAILED",
                        amount=invoice.amount if amount is None else amount)
    return body


async def _buy(db, config, s, plan="Pro", code=None):
    return await purchases.purchase(db, config, s.buyer, [purchases.Item(s.plans[plan].id)], code, now=NOW)


async def _count(db, model) -> int:
    async with db.session() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_purchase_creates_an_invoice_and_returns_its_link(db, mayar):
    config = mayar_settings(mayar)
    s = await shop(db, config)
    done = await _buy(db, config, s)
    assert not done.settled and done.purchase.status == "Pending"
    invoice = mayar.only_invoice()
    assert done.payment_link == f"https://stoxlify.myr.id/invoices/{invoice.id[:10]}"

    [sent] = mayar.requests
    assert (sent.method, sent.path) == ("POST", "/hl/v1/invoice/create")
    assert sent.headers["Authorization"] == f"Bearer {mayar.api_key}"
    assert set(sent.body) == set(fixture("invoice_create_request.json"))  # Mayar's documented fields
    assert (sent.body["name"], sent.body["email"], sent.body["mobile"]) == (
        "Budi Santoso", "budi@example.com", "+6281234567890")
    assert sent.body["redirectUrl"] == "https://t.me/StoxlifyBot"
    assert sent.body["description"] == f"Stoxlify order #{done.purchase.id}"
    assert sent.body["expiredAt"] == "2025-06-02T09:00:00.000Z"  # 24 h
    assert sent.body["extraData"] == {"purchaseId": str(done.purchase.id), "userId": str(s.buyer.user_id)}
    # tax is added, so one line carries the whole total: what is paid must equal what we charge
    [line] = sent.body["items"]
    assert (line["quantity"], line["rate"]) == (1, 165_390) and "Pro x1" in line["description"]

    async with db.session() as session:
        row = await session.get(Purchase, done.purchase.id)
        assert (row.invoice_id, row.transaction_id, row.payment_link) == (
            invoice.id, invoice.transaction_id, done.payment_link)
        assert row.expires_at == NOW + timedelta(hours=24)


async def test_invoice_lines_are_the_products_when_they_add_up(db, mayar):
    config = mayar_settings(mayar, prices_include_tax=True)
    s = await shop(db, config)
    await purchases.purchase(db, config, s.buyer, [purchases.Item(s.plans["Basic"].id, 2)], now=NOW)
    assert mayar.requests[0].body["items"] == [{"quantity": 2, "rate": 49_000, "description": "Basic"}]


async def test_webhook_settles_once_after_reading_the_invoice_back(db, mayar):
    config = mayar_settings(mayar)
    s = await shop(db, config)
    done = await _buy(db, config, s)
    invoice = mayar.only_invoice()
    mayar.pay(invoice.id)
    event = webhook(invoice)

    assert await handle_mayar_event(db, config, event, now=NOW) == "settled"
    reads = [r for r in mayar.requests if r.method == "GET"]
    assert [r.path for r in reads] == [f"/hl/v1/invoice/{invoice.id}"]
    assert reads[0].headers["Authorization"] == f"Bearer {mayar.api_key}"
    assert await handle_mayar_event(db, config, json.loads(json.dumps(event)), now=NOW) == "duplicate"
    assert len([r for r in mayar.requests if r.method == "GET"]) == 1  # the duplicate is not even read back

    async with db.session() as session:
        row = await session.get(Purchase, done.purchase.id)
        assert (row.status, row.paid_at) == ("Paid", NOW)
        [stored] = await session.scalars(select(PaymentEvent))
        assert (stored.event_key, stored.outcome) == (f"mayar:payment.received:{invoice.transaction_id}:paid", "settled")
        assert stored.payload == event and stored.processed_at == NOW
    assert await _count(db, Subscription) == 1
    assert (await limits_for(db, config, s.buyer.user_id, now=NOW + timedelta(days=1))).plan == "Pro"
    # the poll afterwards finds nothing pending
    assert await refresh_pending(Core(config, db, MarketService(config)), now=NOW) == 0
    assert await _count(db, Subscription) == 1


async def test_forged_webhook_changes_nothing(db, mayar):
    config = mayar_settings(mayar)
    s = await shop(db, config)
    done = await _buy(db, config, s)
    invoice = mayar.only_invoice()  # never paid
    outcome = await handle_mayar_event(db, config, webhook(invoice), now=NOW)
    assert outcome == "not settled: the invoice says unpaid"
    async with db.session() as session:
        assert (await session.get(Purchase, done.purchase.id)).status == "Pending"
        assert (await session.scalar(select(PaymentEvent.outcome))) == outcome
    assert await _count(db, Subscription) == 0
    # a forged event about a transaction we never made
    stranger = webhook(invoice)
    stranger["data"].update(transactionId="f" * 36, id="f" * 36, productId="nope")
    assert await handle_mayar_event(db, config, stranger, now=NOW) == "no matching purchase"
    with pytest.raises(Invalid):
        await handle_mayar_event(db, config, {"event": "payment.received"}, now=NOW)


async def test_a_payment_for_no_purchase_is_logged_as_a_warning(db, mayar):
    from structlog.testing import capture_logs

    config = mayar_settings(mayar)
    s = await shop(db, config)
    await _buy(db, config, s)
    stranger = webhook(mayar.only_invoice())
    stranger["data"].update(transactionId="e" * 36, id="e" * 36, productId="nope")
    with capture_logs() as logs:
        assert await handle_mayar_event(db, config, stranger, now=NOW) == "no matching purchase"
    [entry] = [e for e in logs if e["event"] == "payment_without_purchase"]
    assert entry["log_level"] == "warning"
    assert (entry["transaction"], entry["status"], entry["purchase"]) == ("e" * 36, "paid", None)


async def test_failed_then_paid_out_of_order_and_a_late_failure(db, mayar):
    config = mayar_settings(mayar)
    s = await shop(db, config)
    done = await _buy(db, config, s)
    invoice = mayar.only_invoice()
    assert (await handle_mayar_event(db, config, webhook(invoice, status="failed"), now=NOW)).startswith("not settled")
    mayar.pay(invoice.id)
    assert await handle_mayar_event(db, config, webhook(invoice, status="paid"), now=NOW) == "settled"
    # a failure delivered after the payment cannot undo it, nor credit again
    late = webhook(invoice, status="expired")
    assert await handle_mayar_event(db, config, late, now=NOW) == "already Paid"
    async with db.session() as session:
        assert (await session.get(Purchase, done.purchase.id)).status == "Paid"
    assert await _count(db, Subscription) == 1
    assert await _count(db, PaymentEvent) == 3


async def test_amount_mismatch_is_recorded_not_settled(db, mayar):
    config = mayar_settings(mayar)
    s = await shop(db, config)
    await products.create_discount(db, config, s.admin, code="HEMAT10", percent_bp=1_000, max_uses=1)
    done = await _buy(db, config, s, code="HEMAT10")
    invoice = mayar.only_invoice()
    mayar.pay(invoice.id, amount=1_000)
    outcome = await handle_mayar_event(db, config, webhook(invoice), now=NOW)
    assert outcome == f"amount mismatch: invoice 1000, purchase total {done.purchase.total}; not settled"
    async with db.session() as session:
        assert (await session.get(Purchase, done.purchase.id)).status == "Failed"
        keys = set(await session.scalars(select(PaymentEvent.event_key)))
        assert f"mayar:mismatch:{invoice.id}:1000" in keys
        assert await session.scalar(select(DiscountCode.used_count)) == 0  # the use is given back
    assert await _count(db, Subscription) == 0


async def test_poll_settles_paid_and_expires_overdue(db, mayar):
    config = mayar_settings(mayar)
    s = await shop(db, config)
    core = Core(config, db, MarketService(config))
    paid = (await _buy(db, config, s, "Pro")).purchase
    unpaid = (await _buy(db, config, s, "Basic")).purchase
    pro_invoice = next(i for i in mayar.invoices.values() if i.extra["purchaseId"] == str(paid.id))
    mayar.pay(pro_invoice.id)

    assert await refresh_pending(core, now=NOW + timedelta(minutes=5)) == 1
    assert await refresh_pending(core, now=NOW + timedelta(minutes=6)) == 0  # nothing credits twice
    assert await refresh_pending(core, now=NOW + timedelta(hours=25)) == 1  # the unpaid one expired
    async with db.session() as session:
        assert (await session.get(Purchase, paid.id)).status == "Paid"
        assert (await session.get(Purchase, unpaid.id)).status == "Expired"
    assert await _count(db, Subscription) == 1
    # a webhook arriving after the poll settled it changes nothing
    assert await handle_mayar_event(db, config, webhook(pro_invoice), now=NOW) == "already Paid"


async def test_latest_refreshes_pending_purchases(db, mayar):
    config = mayar_settings(mayar)
    s = await shop(db, config)
    bought = (await _buy(db, config, s)).purchase
    mayar.pay(mayar.only_invoice().id)
    stale = await purchases.list_purchases(db, config, s.buyer)
    assert stale.items[0].status == "Pending"
    fresh = await purchases.list_purchases(db, config, s.buyer, latest=True, now=NOW)
    assert [(p.id, p.status) for p in fresh.items] == [(bought.id, "Paid")]


async def test_provider_failures(db, mayar):
    config = mayar_settings(mayar)
    s = await shop(db, config)
    await products.create_discount(db, config, s.admin, code="HEMAT10", percent_bp=1_000, max_uses=1)
    mayar.fail_with = 500
    with pytest.raises(Unavailable, match="HTTP 500"):
        await _buy(db, config, s, code="HEMAT10")
    async with db.session() as session:
        assert (await session.scalar(select(Purchase.status))) == "Failed"
        assert await session.scalar(select(DiscountCode.used_count)) == 0
    mayar.fail_with = None

    wrong_key = mayar_settings(mayar).model_copy(update={"mayar_api_key": settings(mayar_api_key="nope").mayar_api_key})
    with pytest.raises(Unavailable, match="HTTP 401") as refused:
        await _buy(db, wrong_key, s)
    assert "nope" not in str(refused.value)
    with pytest.raises(Unavailable, match="MAYAR_API_KEY"):
        await _buy(db, settings(payment_provider="Mayar"), s)

    unreachable = mayar_settings(mayar).model_copy(update={"mayar_base_url": "http://127.0.0.1:9"})
    with pytest.raises(Unavailable, match="cannot be reached"):
        await _buy(db, unreachable, s)

    # a pending purchase whose invoice cannot be read is never expired
    done = await _buy(db, config, s)
    mayar.fail_with = 503
    core = Core(config, db, MarketService(config))
    assert await refresh_pending(core, now=NOW + timedelta(days=2)) == 0
    async with db.session() as session:
        assert (await session.get(Purchase, done.purchase.id)).status == "Pending"


async def test_double_press_while_the_invoice_is_being_created(db, mayar):
    config = mayar_settings(mayar)
    s = await shop(db, config)
    first = await _buy(db, config, s)
    again = await _buy(db, config, s)  # a double press: the same order and its link, no second invoice
    assert again.purchase.id == first.purchase.id and again.payment_link == first.payment_link
    assert len([r for r in mayar.requests if r.method == "POST"]) == 1
    async with db.session() as session:  # as if the first press were still waiting for Mayar
        row = await session.get(Purchase, first.purchase.id)
        row.payment_link = None
    with pytest.raises(Conflict, match=f"order #{first.purchase.id} is being prepared; see /purchases"):
        await _buy(db, config, s)


async def test_a_refusal_logs_only_the_status_and_messages_never_the_buyer(db, mayar):
    from structlog.testing import capture_logs

    config = mayar_settings(mayar)
    s = await shop(db, config)
    mayar.fail_with = 422
    mayar.fail_extra = {"messages": "email is invalid", "data": {"email": "budi@example.com",
                                                                 "mobile": "+6281234567890"}}
    with capture_logs() as logs, pytest.raises(Unavailable, match="HTTP 422"):
        await _buy(db, config, s)
    [entry] = [e for e in logs if e["event"] == "mayar_refused"]
    assert (entry["status"], entry["messages"]) == (422, "email is invalid")
    assert "budi@example.com" not in repr(logs) and "6281234567890" not in repr(logs)


async def test_the_poll_shares_one_connection_pool(db, mayar, monkeypatch):
    from core.purchase.mayar import MayarClient

    config = mayar_settings(mayar)
    s = await shop(db, config)
    await _buy(db, config, s, "Pro")
    await _buy(db, config, s, "Basic")
    opened = []
    real = MayarClient._client

    def counting(self):
        opened.append(self)
        return real(self)

    monkeypatch.setattr(MayarClient, "_client", counting)
    core = Core(config, db, MarketService(config))
    assert await refresh_pending(core, now=NOW + timedelta(minutes=5)) == 0
    assert len([r for r in mayar.requests if r.method == "GET"]) == 2 and len(opened) == 1


async def test_buyer_needs_email_and_phone(db, mayar):
    config = mayar_settings(mayar)
    s = await shop(db, config)
    with pytest.raises(Invalid, match="email and phone"):
        await purchases.purchase(db, config, s.admin, [purchases.Item(s.plans["Pro"].id)], now=NOW)
    assert mayar.requests == [] and await _count(db, Purchase) == 0


async def test_webhook_http_server(db, mayar):
    from tests.http.serving import serving

    config = mayar_settings(mayar, mayar_webhook_enabled=True, mayar_webhook_token="s3cret")
    s = await shop(db, config)
    await _buy(db, config, s)
    invoice = mayar.only_invoice()
    mayar.pay(invoice.id)
    core = Core(config, db, MarketService(config))
    async with serving(core) as port, httpx.AsyncClient() as client:
        url = f"http://127.0.0.1:{port}{config.mayar_webhook_path}"
        assert (await client.post(url, json=webhook(invoice))).status_code == 403
        assert (await client.post(url + "?token=wrong", json=webhook(invoice))).status_code == 403
        bad = await client.post(url + "?token=s3cret", content=b"{not json")
        assert bad.status_code == 400
        ok = await client.post(url + "?token=s3cret", json=webhook(invoice))
        assert (ok.status_code, ok.json()) == (200, {"ok": True})
        again = await client.post(url + "?token=s3cret", json=webhook(invoice))
        assert again.status_code == 200
        mayar.fail_with = 502
        other = webhook(invoice, status="settled")  # a new key: needs a read-back, which fails
        assert (await client.post(url + "?token=s3cret", json=other)).status_code == 503
        mayar.fail_with = None  # Mayar retries: the stored but unprocessed event is processed now
        assert (await client.post(url + "?token=s3cret", json=other)).status_code == 200
    assert await _count(db, Subscription) == 1
    async with db.session() as session:
        assert (await session.scalar(select(Purchase.status))) == "Paid"
        outcomes = {k: v for k, v in await session.execute(select(PaymentEvent.event_key, PaymentEvent.outcome))}
    assert outcomes == {
        f"mayar:payment.received:{invoice.transaction_id}:paid": "settled",
        f"mayar:payment.received:{invoice.transaction_id}:settled": "already Paid",
    }


async def test_a_fractional_invoice_amount_is_never_truncated_into_a_match(db, mayar):
    config = mayar_settings(mayar)
    s = await shop(db, config)
    done = await _buy(db, config, s)
    invoice = mayar.only_invoice()
    mayar.pay(invoice.id, amount=done.purchase.total + 0.5)  # int() would read it as the total
    with pytest.raises(Unavailable, match="is not whole rupiah"):
        await handle_mayar_event(db, config, webhook(invoice, amount=done.purchase.total), now=NOW)
    async with db.session() as session:
        assert (await session.get(Purchase, done.purchase.id)).status == "Pending"
    assert await _count(db, Subscription) == 0


@pytest.mark.parametrize("key", ["transactionId", "paymentLinkId", "productId", "invoiceId", "extraData"])
async def test_a_webhook_whose_transaction_we_have_not_seen_finds_the_purchase_by_invoice_or_our_id(db, mayar, key):
    """Mutants ``make mutate`` left alive in ``_find_purchase``: each way to find the purchase after the
    transaction id (Mayar's invoice id under any of its three names, then our ``extraData.purchaseId``)."""
    config = mayar_settings(mayar)
    s = await shop(db, config)
    done = await _buy(db, config, s)
    invoice = mayar.only_invoice()
    mayar.pay(invoice.id)
    event = webhook(invoice)
    for name in ("paymentLinkId", "productId", "invoiceId", "extraData"):
        event["data"].pop(name, None)
    if key != "transactionId":  # the transaction id recorded on the purchase is enough on its own
        event["data"].update(id="e" * 36, transactionId="e" * 36)  # one not recorded on the purchase
        event["data"][key] = {"purchaseId": str(done.purchase.id)} if key == "extraData" else invoice.id
    assert await handle_mayar_event(db, config, event, now=NOW) == "settled"
    async with db.session() as session:
        assert (await session.get(Purchase, done.purchase.id)).status == "Paid"
    assert await _count(db, Subscription) == 1


async def test_an_event_naming_one_purchases_transaction_and_anothers_invoice_settles_the_transactions(db, mayar):
    """The transaction id decides; the invoice and our id are looked at only when it names no purchase.
    (``make mutate``: looking them up anyway settled the other purchase.)"""
    config = mayar_settings(mayar)
    s = await shop(db, config)
    first = await _buy(db, config, s, plan="Pro")
    [first_invoice] = [i for i in mayar.invoices.values()]
    second = await _buy(db, config, s, plan=next(name for name in s.plans if name != "Pro"))
    [second_invoice] = [i for i in mayar.invoices.values() if i.id != first_invoice.id]
    mayar.pay(first_invoice.id)
    event = webhook(first_invoice)
    event["data"].update(paymentLinkId=second_invoice.id, productId=second_invoice.id, invoiceId=second_invoice.id,
                         extraData={"purchaseId": str(second.purchase.id)})  # fmt: skip
    assert await handle_mayar_event(db, config, event, now=NOW) == "settled"
    async with db.session() as session:
        assert (await session.get(Purchase, first.purchase.id)).status == "Paid"
        assert (await session.get(Purchase, second.purchase.id)).status == "Pending"
