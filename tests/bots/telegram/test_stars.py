"""Telegram Stars through the real python-telegram-bot Application: /buy sends an XTR invoice,
recorded pre-checkout, successful-payment and refunded-payment updates are fed in, and the Bot API
requests they cause are checked field by field (tests/fixtures/telegram/stars/)."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from core.account.service import actor_for
from core.app import Core
from core.config import Settings
from core.db import utcnow
from core.product import service as products
from core.purchase import service as purchases
from core.purchase.models import Purchase, PurchaseStatus, Subscription
from tests.bots.telegram.conftest import ALICE, BOB, BOT, Call, RecordingRequest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "telegram" / "stars"
RECORDED = {name: json.loads((FIXTURES / f"{name}.json").read_text()) for name in
            ("pre_checkout_query", "successful_payment", "refunded_payment")}  # fmt: skip
CHARGE = RECORDED["successful_payment"]["message"]["successful_payment"]["telegram_payment_charge_id"]
PRO_STARS = 552  # Rp 149,000 + 11 % VAT = Rp 165,390, at Rp 300 a star rounded up
LINK = "https://t.me/$Y2xhc3NpY2ludm9pY2U"


class StarsRequest(RecordingRequest):
    """The recording Bot API, answering the payment methods as Telegram does."""

    def _result(self, name: str, params: dict[str, Any]) -> Any:
        if name == "createInvoiceLink":
            return LINK
        if name == "sendInvoice":
            invoice = {"title": params["title"], "description": params["description"], "start_parameter": "",
                       "currency": params["currency"], "total_amount": _prices(params)[0]["amount"]}  # fmt: skip
            return self._message(params, invoice=invoice)
        return super()._result(name, params)


def _prices(params: dict[str, Any]) -> list[dict[str, Any]]:
    prices = params["prices"]
    return json.loads(prices) if isinstance(prices, str) else prices


def _markup(call: Call) -> dict[str, Any]:
    markup = call.params.get("reply_markup") or {}
    return json.loads(markup) if isinstance(markup, str) else markup


def recorded(name: str, purchase_id: int, **changes: Any) -> dict[str, Any]:
    """A recorded update pointed at ``purchase_id`` (and with ``changes`` to its payment fields)."""
    update_ = copy.deepcopy(RECORDED[name])
    body = update_.get("pre_checkout_query") or update_["message"][name]
    body["invoice_payload"] = f"stoxlify-purchase:{purchase_id}"
    body.update(changes)
    return update_


@pytest.fixture
async def core(tmp_path):
    settings = Settings(
        _env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 't.db'}", market_offline=True,
        stars_enabled=True, stars_rupiah_per_star=300, admin_ids=["telegram:1002", "console:admin"],
    )  # fmt: skip
    core = await Core.start(settings)
    admin = await actor_for(core.db, platform="console", external_id="admin")
    await products.seed_default_plans(core.db, settings, admin)
    await products.create_product(core.db, settings, admin, category="Subscription", name="Quarter",
                                  price_idr=399_000, duration_days=90)  # fmt: skip
    try:
        yield core
    finally:
        await core.close()


@pytest.fixture
def rec() -> StarsRequest:
    return StarsRequest()


async def _purchase(core: Core, purchase_id: int) -> Purchase:
    async with core.db.session() as session:
        return (await session.scalars(select(Purchase).where(Purchase.id == purchase_id))).one()


async def _subscriptions(core: Core) -> list[Subscription]:
    async with core.db.session() as session:
        return list(await session.scalars(select(Subscription).order_by(Subscription.id)))


async def _buy(tg, line: str) -> tuple[int, list[Call]]:
    calls = await tg.say(line)
    async with tg.core.db.session() as session:
        purchase_id = await session.scalar(select(Purchase.id).order_by(Purchase.id.desc()))
    return purchase_id, calls


async def test_buy_shows_stars_and_rupiah_then_sends_a_subscription_link(tg):
    [quote] = await tg.say("/buy Pro")
    assert "Total: Rp 165,390" in quote.text and "In Telegram Stars: ⭐552 (Rp 300 a star, rounded up)" in quote.text
    assert "renews it every 30 days" in quote.text
    [[pay]] = _markup(quote)["inline_keyboard"]
    assert pay["text"] == "Pay ⭐552"

    on = {"message_id": 77, "date": 0, "chat": tg.PRIVATE, "from": BOT, "text": quote.text}
    calls = [c for c in await tg.push(pay["callback_data"], on=on) if c.ok]
    assert [c.method for c in calls] == ["answerCallbackQuery", "sendMessage", "createInvoiceLink", "sendMessage"]
    text, link, offer = calls[1], calls[2], calls[3]
    purchase = await _purchase(tg.core, 1)
    assert f"Purchase #{purchase.id}: pay ⭐552 (Rp 165,390)" in text.text
    assert link.params["currency"] == "XTR" and link.params["provider_token"] == ""
    assert _prices(link.params) == [{"label": f"Order #{purchase.id}", "amount": PRO_STARS}]
    assert link.params["subscription_period"] == 2_592_000
    assert link.params["payload"] == f"stoxlify-purchase:{purchase.id}"
    assert 1 <= len(link.params["title"]) <= 32 and len(link.params["description"]) <= 255
    [[button]] = _markup(offer)["inline_keyboard"]
    assert button["url"] == LINK and button["text"] == "Subscribe: ⭐552 / 30 days"
    assert (purchase.status, purchase.provider, purchase.stars) == (PurchaseStatus.PENDING, "Stars", PRO_STARS)
    assert await _subscriptions(tg.core) == []  # nothing granted before Telegram says it was paid


async def test_a_one_off_plan_gets_send_invoice(tg):
    purchase_id, calls = await _buy(tg, "/buy Quarter --yes")
    assert [c.method for c in calls] == ["sendMessage", "sendInvoice"]
    invoice = calls[1].params
    assert (invoice["chat_id"], invoice["currency"], invoice["provider_token"]) == (ALICE["id"], "XTR", "")
    assert _prices(invoice) == [{"label": f"Order #{purchase_id}", "amount": 1_477}]  # Rp 442,890 / 300, up
    assert invoice["payload"] == f"stoxlify-purchase:{purchase_id}" and "subscription_period" not in invoice
    assert "90 days" in invoice["description"]
    assert "pay ⭐1,477 (Rp 442,890)" in calls[0].text


async def test_pre_checkout_then_successful_payment_credits_once(tg):
    purchase_id, _ = await _buy(tg, "/buy Pro --yes")
    before = len(tg.rec.calls)
    await tg.feed(recorded("pre_checkout_query", purchase_id))
    [answer] = tg.rec.calls[before:]
    assert answer.method == "answerPreCheckoutQuery"
    assert answer.params == {"pre_checkout_query_id": "4402937409102938471", "ok": True}
    assert (await _purchase(tg.core, purchase_id)).status == PurchaseStatus.PENDING
    assert await _subscriptions(tg.core) == []  # a pre-checkout is not a payment

    paid = recorded("successful_payment", purchase_id)
    before = len(tg.rec.calls)
    await tg.feed(paid)
    [thanks] = tg.rec.calls[before:]
    assert thanks.method == "sendMessage" and f"Paid: ⭐552 for purchase #{purchase_id}" in thanks.text
    row = await _purchase(tg.core, purchase_id)
    assert (row.status, row.charge_id, row.payer_id) == (PurchaseStatus.PAID, CHARGE, "1001")
    [sub] = await _subscriptions(tg.core)
    assert sub.name == "Pro" and sub.purchase_id == purchase_id

    before = len(tg.rec.calls)
    await tg.feed(paid)  # Telegram delivers the same update again
    assert tg.rec.calls[before:] == []
    assert len(await _subscriptions(tg.core)) == 1


async def test_pre_checkout_refuses_a_wrong_amount_or_an_expired_order(tg):
    purchase_id, _ = await _buy(tg, "/buy Pro --yes")
    before = len(tg.rec.calls)
    await tg.feed(recorded("pre_checkout_query", purchase_id, total_amount=PRO_STARS - 1))
    [wrong] = tg.rec.calls[before:]
    assert wrong.method == "answerPreCheckoutQuery" and wrong.params["ok"] is False
    assert wrong.params["error_message"] == (
        f"Order #{purchase_id} costs 552 stars, not 551 XTR: start again with /buy."
    )
    async with tg.core.db.session() as session:
        await session.execute(update(Purchase).where(Purchase.id == purchase_id)
                              .values(expires_at=utcnow() - timedelta(minutes=1)))  # fmt: skip
    before = len(tg.rec.calls)
    await tg.feed(recorded("pre_checkout_query", purchase_id))
    [late] = tg.rec.calls[before:]
    assert late.params["ok"] is False and late.params["error_message"].endswith("expired: start again with /buy.")
    assert (await _purchase(tg.core, purchase_id)).status == PurchaseStatus.EXPIRED
    assert await _subscriptions(tg.core) == []


async def test_admin_refund_calls_refund_star_payment_and_revokes(tg):
    purchase_id, _ = await _buy(tg, "/buy Pro --yes")
    await tg.feed(recorded("successful_payment", purchase_id))

    refused = await tg.say("/refund 1")  # Alice is not an admin
    assert [c.method for c in refused] == ["sendMessage"] and "only the bot's administrators" in refused[0].text
    assert (await _purchase(tg.core, purchase_id)).status == PurchaseStatus.PAID

    bob = {"id": BOB["id"], "type": "private", "first_name": "Bob"}
    calls = await tg.say(f"/refund #{purchase_id}", user=BOB, chat=bob)
    assert [c.method for c in calls] == ["refundStarPayment", "editUserStarSubscription", "sendMessage"]
    assert calls[0].params == {"user_id": ALICE["id"], "telegram_payment_charge_id": CHARGE}
    # the recorded payment was a subscription's first: its renewals are canceled too
    assert calls[1].params == {"user_id": ALICE["id"], "telegram_payment_charge_id": CHARGE, "is_canceled": True}
    assert f"Refunded purchase #{purchase_id}: ⭐552 back to the buyer." in calls[-1].text
    assert "Ended now: Pro." in calls[-1].text and "Telegram will not charge it again" in calls[-1].text
    row = await _purchase(tg.core, purchase_id)
    assert row.status == PurchaseStatus.REFUNDED and row.refunded_at is not None
    assert await purchases.subscriptions(tg.core.db, await actor_for(tg.core.db, platform="telegram",
                                                                     external_id="1001")) == ()  # fmt: skip

    [listed] = await tg.say("/purchases")
    assert f"#{purchase_id} " in listed.text and "Pro: Rp 165,390 (⭐552) · Refunded" in listed.text

    # Telegram then reports the refund: already done, nothing said, nothing changed
    before = len(tg.rec.calls)
    await tg.feed(recorded("refunded_payment", purchase_id))
    assert tg.rec.calls[before:] == []

    again = await tg.say(f"/refund {purchase_id}", user=BOB, chat=bob)
    assert "was refunded already" in again[-1].text and not [c for c in again if c.method == "refundStarPayment"]


async def test_refund_refuses_a_purchase_not_paid_in_stars(tg, core):
    admin = await actor_for(core.db, platform="console", external_id="admin")
    plans = {p.name: p for p in (await products.list_products(core.db, page_size=20)).items}
    mock = await purchases.purchase(core.db, core.settings, admin, [purchases.Item(plans["Basic"].id)])
    assert mock.purchase.provider == "Mock"  # outside Telegram the configured provider stays
    bob = {"id": BOB["id"], "type": "private", "first_name": "Bob"}
    calls = await tg.say(f"/refund {mock.purchase.id}", user=BOB, chat=bob)
    assert [c.method for c in calls] == ["sendMessage"]
    assert f"purchase #{mock.purchase.id} was paid through Mock, not Telegram Stars" in calls[0].text
    bad = await tg.say("/refund twelve", user=BOB, chat=bob)
    assert "give the purchase's number, not 'twelve'" in bad[0].text and "Usage: /refund PURCHASE" in bad[0].text


async def test_a_refund_telegram_reports_revokes_the_plan(tg):
    purchase_id, _ = await _buy(tg, "/buy Pro --yes")
    await tg.feed(recorded("successful_payment", purchase_id))
    before = len(tg.rec.calls)
    await tg.feed(recorded("refunded_payment", purchase_id))
    [told] = tg.rec.calls[before:]
    assert told.method == "sendMessage" and told.params["chat_id"] == ALICE["id"]
    assert "⭐552 were refunded to you. Ended: Pro." in told.text
    assert (await _purchase(tg.core, purchase_id)).status == PurchaseStatus.REFUNDED


async def test_the_console_keeps_the_configured_provider_with_stars_enabled(console):
    admin = [f"console:{console.actor.platform_user_id}"]
    console.core.settings = console.core.settings.model_copy(update={"stars_enabled": True, "admin_ids": admin})
    assert (await console.handle("/product seed")).text == "Created Basic, Pro, Elite."
    quote = await console.handle("/buy Basic")
    [[pay]] = quote.buttons
    assert "Stars" not in quote.text and pay.label == "Pay Rp 54,390"
    reply = await console.handle("/buy Basic --yes")
    assert reply.invoice is None and "development payments: nothing was charged" in reply.text
    assert (await console.handle("/purchases")).text.splitlines()[1].endswith("Basic: Rp 54,390 · Paid")


async def test_pre_checkout_updates_are_asked_for():
    from bots.telegram.app import ALLOWED_UPDATES

    assert "pre_checkout_query" in ALLOWED_UPDATES


async def test_an_invoice_telegram_refuses_is_explained(tg):
    refused = {"ok": False, "error_code": 400, "description": "Bad Request: SUBSCRIPTION_PRICE_INVALID"}
    tg.rec.fail_once("createInvoiceLink", 400, refused)
    calls = await tg.say("/buy Pro --yes")
    assert [c.method for c in calls] == ["sendMessage", "sendMessage"]
    assert "Telegram refused the payment invoice (Subscription_price_invalid)" in calls[1].text
    assert "Something went wrong" not in calls[1].text


async def test_a_retried_refund_telegram_already_made_still_revokes(tg):
    purchase_id, _ = await _buy(tg, "/buy Pro --yes")
    await tg.feed(recorded("successful_payment", purchase_id))
    done = {"ok": False, "error_code": 400, "description": "Bad Request: CHARGE_ALREADY_REFUNDED"}
    tg.rec.fail_once("refundStarPayment", 400, done)
    bob = {"id": BOB["id"], "type": "private", "first_name": "Bob"}
    calls = await tg.say(f"/refund {purchase_id}", user=BOB, chat=bob)
    assert "(Telegram had refunded it already)." in calls[-1].text and "Ended now: Pro." in calls[-1].text
    assert (await _purchase(tg.core, purchase_id)).status == PurchaseStatus.REFUNDED

    other_id, _ = await _buy(tg, "/buy Basic --yes")
    await tg.feed(recorded("successful_payment", other_id, total_amount=182, telegram_payment_charge_id="stxOTHER"))
    tg.rec.fail_once("refundStarPayment", 400, {"ok": False, "error_code": 400, "description": "Bad Request: CHARGE_NOT_FOUND"})
    refused = await tg.say(f"/refund {other_id}", user=BOB, chat=bob)
    assert "Telegram refused the refund: Charge_not_found" in refused[-1].text
    assert (await _purchase(tg.core, other_id)).status == PurchaseStatus.PAID  # nothing changed


async def test_a_payment_for_a_closed_order_is_kept_for_an_admin(tg, core):
    core.settings = core.settings.model_copy(update={"admin_chat": "telegram:-100777"})
    purchase_id, _ = await _buy(tg, "/buy Pro --yes")
    async with core.db.session() as session:
        await session.execute(update(Purchase).where(Purchase.id == purchase_id).values(status=PurchaseStatus.EXPIRED))
    before = len(tg.rec.calls)
    await tg.feed(recorded("successful_payment", purchase_id))
    told = {c.params["chat_id"]: c.text for c in tg.rec.calls[before:] if c.method == "sendMessage"}
    assert "We received ⭐552 for order" in told[ALICE["id"]] and "An admin will credit or refund it" in told[ALICE["id"]]
    assert f"/refund {purchase_id}" in told[-100777] and "paid while Expired" in told[-100777]
    row = await _purchase(core, purchase_id)
    assert (row.status, row.charge_id) == (PurchaseStatus.EXPIRED, CHARGE)  # refundable, not credited
    assert await _subscriptions(core) == []
