"""/plans, /buy, /purchases, /product and /discount through the registry, as a console user."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from bots.registry import Context
from core.account.models import User
from core.account.service import actor_for
from core.product.models import DiscountCode, Product
from core.purchase.models import Purchase, Subscription
from tests.core.purchase.mayar_stub import MayarStub


def _make_admin(console) -> None:
    core = console.core
    core.settings = core.settings.model_copy(update={"admin_ids": [f"console:{console.actor.platform_user_id}"]})


async def _rows(console, model):
    async with console.core.db.session() as session:
        return list(await session.scalars(select(model).order_by(model.id)))


async def test_plans_buy_with_mock_and_purchases(console):
    empty = await console.handle("/plans")
    assert empty.text == "No plans are on sale yet."
    refused = await console.handle("/product seed")
    assert refused.error and "only the bot's administrators" in refused.text

    _make_admin(console)
    seeded = await console.handle("/product seed")
    assert seeded.text == "Created Basic, Pro, Elite."
    plans = await console.handle("/plans")
    lines = plans.text.splitlines()
    assert lines[0] == "Plans (prices plus VAT 11%):"
    assert "• Pro: Rp 149,000 / 30 days · 20 deployments, live trading — Live trading and 20 deployments" in lines
    pro = next(p for p in await _rows(console, Product) if p.name == "Pro")
    assert [[(b.label, b.command) for b in row] for row in plans.buttons] == [
        [("Buy Basic", "/buy 1"), ("Buy Pro", f"/buy {pro.id}"), ("Buy Elite", "/buy 3")]]

    quote = await console.handle("/buy pro")
    assert not quote.error, quote.text
    assert quote.text.splitlines() == [
        "Pro:", "• Pro ×1 (30 days): Rp 149,000", "Subtotal: Rp 149,000", "VAT 11%: Rp 16,390", "Total: Rp 165,390"]
    [[pay]] = quote.buttons
    assert (pay.label, pay.command) == ("Pay Rp 165,390", f"/buy {pro.id} --yes")
    assert await _rows(console, Purchase) == []  # a quote stores nothing

    paid = await console.handle("1")  # press the pay button
    assert not paid.error, paid.text
    first = paid.text.splitlines()[0]
    assert first == "Paid Rp 165,390 (development payments: nothing was charged). Purchase #1."
    assert paid.text.splitlines()[1].startswith("Pro: ")
    [row] = await _rows(console, Purchase)
    assert (row.status, row.provider, row.total, row.user_id) == ("Paid", "Mock", 165_390, console.actor.user_id)
    [sub] = await _rows(console, Subscription)
    assert sub.features == {"max_deployments": 20, "live_trading": True}

    listed = await console.handle("/purchases")
    assert listed.text.splitlines()[0] == "Your purchases:"
    assert listed.text.splitlines()[1].endswith("Pro: Rp 165,390 · Paid")
    assert "Yours: Pro until" in (await console.handle("/plans")).text


async def test_discount_codes_in_chat(console):
    _make_admin(console)
    await console.handle("/product seed")
    added = await console.handle("/discount add hemat10 percent 10 until=2099-12-31 uses=2")
    assert added.text == "Added HEMAT10: 10 % off · until 2099-12-31 · used 0/2."
    [code] = await _rows(console, DiscountCode)
    assert (code.code, code.kind, code.percent_bp, code.amount_idr, code.max_uses) == ("HEMAT10", "percent", 1_000, None, 2)

    quote = await console.handle("/buy Pro HEMAT10")
    assert "Discount (HEMAT10): -Rp 14,900" in quote.text.splitlines()
    assert "Total: Rp 148,851" in quote.text.splitlines()
    assert quote.buttons[0][0].command.endswith(" HEMAT10 --yes")
    paid = await console.handle("1")
    assert paid.text.startswith("Paid Rp 148,851")

    unknown = await console.handle("/buy Pro HEMAT11")
    assert unknown.error and unknown.text.startswith("discount code HEMAT11 is not valid")
    assert "HEMAT10" not in unknown.text
    expired = await console.handle("/discount add LAMA fixed 5000 until=2020-01-01")
    assert not expired.error
    assert (await console.handle("/buy Pro LAMA")).text.startswith("discount code LAMA has expired")
    gone = await console.handle("/discount rm hemat10")
    assert gone.text == "Discount code HEMAT10 no longer works (used 1 times)."
    assert "HEMAT10: 10 % off" in (await console.handle("/discount list")).text


async def test_admin_products_and_validation_replies(console):
    _make_admin(console)
    added = await console.handle('/product add Subscription "Pro Trader" 299.000 90 max_deployments=40 live_trading=true')
    assert added.text == ("Added #1 Subscription · Pro Trader: Rp 299,000 / 90 days · 40 deployments, live trading.")
    [row] = await _rows(console, Product)
    assert (row.name, row.price_idr, row.duration_days, row.features) == (
        "Pro Trader", 299_000, 90, {"max_deployments": 40, "live_trading": True})
    assert (await console.handle('/buy "pro trader"')).text.startswith("Pro Trader:")

    cases = {
        "/product add Subscription Pro": "a product needs a category, a name and a price",
        "/product add Subscription Pro abc": "PRICE is a whole number of rupiah (25000 or 25.000, no decimals), not 'abc'",
        "/product add Subscription Pro 1000 30 31": "'31' is neither DAYS nor feature=value",
        "/product add Subscription Pro 1000 live_trading=maybe": "feature live_trading needs a number",
        "/product add Subscription Pro 1000 max_deploy=3": "unknown feature 'max_deploy'",
        "/product rm x": "give the product's id",
        "/product frob": "ACTION must be one of add, rm, list, seed",
        "/discount add X1 half 10": "the kind is percent or fixed",
        "/discount add HEMAT percent 150": "a percent discount is more than 0 % and at most 100 %, not 150 %",
        "/discount add HEMAT percent 10 until=31-12-2025": "until is a date YYYY-MM-DD",
        "/discount add HEMAT percent 10 forever": "'forever' is not from=YYYY-MM-DD",
        "/buy": "missing PLAN",
        "/buy Pro Trader X": "unexpected 'X'",
        "/buy Pro": "there is no plan or product 'Pro' — did you mean 'Pro Trader'?",
        "/purchases 0": "page numbers start at 1",
    }
    for line, message in cases.items():
        reply = await console.handle(line)
        assert reply.error, line
        assert message in reply.text, (line, reply.text)
    usage = await console.handle("/product add Subscription Pro abc")
    assert usage.text.endswith('Usage: /product add CATEGORY "NAME" PRICE [DAYS] [feature=value...] [description="..."]')

    removed = await console.handle("/product rm 1")
    assert removed.text == "Deleted: #1 Pro Trader."
    missing = await console.handle("/product rm 1")
    assert missing.error and "there is no product with id 1" in missing.text

    outsider = await actor_for(console.core.db, platform="console", external_id="eve")
    refused = await console.registry.dispatch(Context(core=console.core, actor=outsider), "/product add A B 1")
    assert refused.error and "only the bot's administrators" in refused.text
    in_group = await actor_for(console.core.db, platform="telegram", external_id="7", chat_id="-100", is_group=True)
    group = await console.registry.dispatch(Context(core=console.core, actor=in_group), "/buy Basic")
    assert group.error and "private chat" in group.text


async def test_buy_with_mayar_replies_the_payment_link(console):
    stub = MayarStub().start()
    try:
        _make_admin(console)
        await console.handle("/product seed")
        core = console.core
        core.settings = core.settings.model_copy(update={
            "payment_provider": "Mayar", "mayar_api_key": SecretStr(stub.api_key), "mayar_base_url": stub.url,
            "mayar_redirect_url": "https://t.me/StoxlifyBot",
        })
        no_contact = await console.handle("/buy Basic --yes")
        assert no_contact.error and "needs your email and phone" in no_contact.text
        async with core.db.session() as session:
            await session.execute(update(User).where(User.id == console.actor.user_id)
                                  .values(email="me@example.com", phone="+628111"))
        reply = await console.handle("/buy Basic --yes")
        assert not reply.error, reply.text
        invoice = stub.only_invoice()
        link = f"https://stoxlify.myr.id/invoices/{invoice.id[:10]}"
        assert reply.text.splitlines()[0].startswith("Purchase #1: pay Rp 54,390 before ")
        assert reply.text.splitlines()[1] == link
        assert (await console.handle("/purchases")).text.splitlines()[1].endswith(f"Pending · pay: {link}")
        stub.pay(invoice.id)
        assert (await console.handle("/purchases")).text.splitlines()[1].endswith("Basic: Rp 54,390 · Paid")
        stub.fail_with = 500
        down = await console.handle("/buy Pro --yes")
        assert down.error and "HTTP 500" in down.text and stub.api_key not in down.text
    finally:
        stub.stop()


async def test_purchases_asks_mayar_only_on_the_first_page(console):
    stub = MayarStub().start()
    try:
        _make_admin(console)
        await console.handle("/product seed")
        core = console.core
        core.settings = core.settings.model_copy(update={
            "payment_provider": "Mayar", "mayar_api_key": SecretStr(stub.api_key), "mayar_base_url": stub.url,
            "mayar_redirect_url": "https://t.me/StoxlifyBot",
        })
        async with core.db.session() as session:
            await session.execute(update(User).where(User.id == console.actor.user_id)
                                  .values(email="me@example.com", phone="+628111"))
        assert not (await console.handle("/buy Basic --yes")).error

        def reads() -> int:
            return len([r for r in stub.requests if r.method == "GET"])

        await console.handle("/purchases 2")
        assert reads() == 0  # a later page shows what is stored
        await console.handle("/purchases")
        assert reads() == 1  # the first page asks about the pending invoice
    finally:
        stub.stop()


async def test_fractional_percent_codes_are_exact(console):
    _make_admin(console)
    await console.handle("/product seed")
    added = await console.handle("/discount add HEMAT percent 2.5")
    assert added.text == "Added HEMAT: 2.5 % off · used 0."  # not 25 %: the dot is a decimal point here
    comma = await console.handle("/discount add KOMA percent 2,5")  # the Indonesian decimal comma
    assert comma.text == "Added KOMA: 2.5 % off · used 0."
    exact = await console.handle("/discount add EXACT percent 12.25%")
    assert exact.text == "Added EXACT: 12.25 % off · used 0."
    rows = {r.code: (r.kind, r.percent_bp, r.amount_idr) for r in await _rows(console, DiscountCode)}
    assert rows == {"HEMAT": ("percent", 250, None), "KOMA": ("percent", 250, None), "EXACT": ("percent", 1_225, None)}

    quote = await console.handle("/buy Pro HEMAT")
    lines = quote.text.splitlines()
    assert "Discount (HEMAT): -Rp 3,725" in lines  # floor(149,000 x 250 / 10,000)
    assert "Total: Rp 161,255" in lines  # 145,275 + VAT 15,980
    listed = (await console.handle("/discount list")).text.splitlines()
    assert listed == ["EXACT: 12.25 % off · used 0", "HEMAT: 2.5 % off · used 0", "KOMA: 2.5 % off · used 0"]


async def test_money_typed_in_chat_is_whole_rupiah(console):
    _make_admin(console)
    for line in ("/discount add DOT fixed 25.000", "/discount add COMMA fixed 25,000", "/discount add PLAIN fixed 25000"):
        reply = await console.handle(line)
        assert not reply.error and reply.text.endswith(": Rp 25,000 off · used 0."), (line, reply.text)
    added = await console.handle('/product add Data "Pack" 1.250.000')
    assert added.text == "Added #1 Data · Pack: Rp 1,250,000."

    refused = {
        "/discount add HALF percent 2.555": "a percent VALUE has at most two decimals (10, 2.5 or 2,5), not '2.555'",
        "/discount add ZERO percent 0": "a percent discount is more than 0 % and at most 100 %, not 0 %",
        "/discount add OVER percent 100.01": "a percent discount is more than 0 % and at most 100 %, not 100.01 %",
        "/discount add CENTS fixed 25000.5": "VALUE is a whole number of rupiah (25000 or 25.000, no decimals), not '25000.5'",
        "/discount add MIXED fixed 25.000,50": "not '25.000,50'",
        "/discount add BAD fixed 2.50": "not '2.50'",
        '/product add Data "Cents" 25000.5': "PRICE is a whole number of rupiah (25000 or 25.000, no decimals), not '25000.5'",
    }
    for line, message in refused.items():
        reply = await console.handle(line)
        assert reply.error and message in reply.text, (line, reply.text)
    usage = await console.handle("/discount add HALF percent 2.555")
    assert usage.text.endswith("Usage: /discount add CODE percent|fixed VALUE [from=YYYY-MM-DD] [until=YYYY-MM-DD] [uses=N]")
    codes = {r.code: r.amount_idr for r in await _rows(console, DiscountCode)}
    assert codes == {"DOT": 25_000, "COMMA": 25_000, "PLAIN": 25_000}
    assert [p.price_idr for p in await _rows(console, Product)] == [1_250_000]


def test_a_plan_may_sell_media_storage():
    from bots.commands.commerce import _feature_text
    from core.product.service import check_features

    features = check_features({"max_media_files": 200, "max_media_bytes": 524_288_000})
    assert _feature_text(features) == "200 stored files, 500.0 MB of file storage"


def test_a_plan_may_sell_a_larger_compute_budget():
    from bots.commands.commerce import _feature_text
    from core.product.service import check_features

    features = check_features({"compute_cpu_s_per_minute": 300})
    assert features == {"compute_cpu_s_per_minute": 300.0}
    assert _feature_text(features) == "300 s of computing a minute"
    assert _feature_text(check_features({"compute_cpu_s_per_minute": 0})) == "unmetered computing"


@pytest.mark.parametrize("dates", ["until=9999-12-31", "from=0001-01-01", "from=1999-12-31 until=2025-01-01"])
async def test_discount_dates_far_off_are_a_usage_reply(console, dates):
    _make_admin(console)
    reply = await console.handle(f"/discount add FAR percent 10 {dates}")
    assert reply.error and "is outside 2000-01-01 to 2099-12-31" in reply.text and "Usage: /discount" in reply.text
    assert await _rows(console, DiscountCode) == []
