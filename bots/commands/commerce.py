"""Plans and purchases: /plans, /buy, /purchases; admins: /product, /discount, /refund.

In Telegram with ``STARS_ENABLED``, /buy is paid in Telegram Stars (Telegram requires it for digital
goods sold in a bot): the reply carries an ``Invoice`` the Telegram transport sends. Every other
transport keeps ``PAYMENT_PROVIDER`` (Mock or Mayar)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from bots.commands import registry
from bots.paging import paged_reply
from bots.registry import Arg, ArgKind, Context, UsageError, split_words, whole
from core import format as fmt
from core.account.admin import require_admin
from core.message import Button, ButtonStyle, Invoice, Message
from core.product import service as products
from core.purchase import retire, stars, stars_payments
from core.purchase import service as purchases
from core.purchase.models import PurchaseStatus
from core.purchase.pricing import Quote

PAGE_SIZE = 5
PRODUCT_ADD = '/product add CATEGORY "NAME" PRICE [DAYS] [feature=value...] [description="..."]'
PRODUCT_RM = "/product rm ID"
DISCOUNT_ADD = "/discount add CODE percent|fixed VALUE [from=YYYY-MM-DD] [until=YYYY-MM-DD] [uses=N]"
DISCOUNT_RM = "/discount rm CODE"
REFUND = "/refund PURCHASE"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RUPIAH = re.compile(r"^(?:\d+|\d{1,3}(?:\.\d{3})+|\d{1,3}(?:,\d{3})+|\d{1,3}(?:_\d{3})+)$")
_PERCENT = re.compile(r"^(?P<whole>\d{1,6})(?:[.,](?P<decimals>\d{1,2}))?\s*%?$")


def _feature_text(features: dict[str, Any]) -> str:
    parts = []
    if "max_deployments" in features:
        parts.append(f"{features['max_deployments']} deployments")
    if features.get("live_trading"):
        parts.append("live trading")
    if "max_position_value" in features:
        cap = features["max_position_value"]
        parts.append("no position cap" if cap is None else f"positions up to {cap:,.0f}")
    if "max_media_files" in features:
        parts.append(f"{features['max_media_files']} stored files")
    if "max_media_bytes" in features:
        parts.append(f"{fmt.size(int(features['max_media_bytes']))} of file storage")
    if "compute_cpu_s_per_minute" in features:
        cpu = float(features["compute_cpu_s_per_minute"])
        parts.append("unmetered computing" if cpu == 0 else f"{cpu:g} s of computing a minute")
    return ", ".join(parts)


def quote_lines(quote: Quote) -> list[str]:
    lines = [f"• {line.name} ×{line.quantity}"
             + (f" ({line.duration_days * line.quantity} days)" if line.duration_days else "")
             + f": {fmt.rupiah(line.amount)}" for line in quote.lines]
    lines.append(f"Subtotal: {fmt.rupiah(quote.subtotal)}")
    if quote.discount_code:
        lines.append(f"Discount ({quote.discount_code}): -{fmt.rupiah(quote.discount)}")
    if quote.tax_percent:
        included = " (included)" if quote.tax_included else ""
        lines.append(f"VAT {quote.tax_percent}%{included}: {fmt.rupiah(quote.tax)}")
    lines.append(f"Total: {fmt.rupiah(quote.total)}")
    return lines


@registry.command("plans", "Subscription plans and prices", group="Plans", operations=("Get Products",))
async def plans(ctx: Context) -> Message:
    found = await products.list_products(ctx.core.db, subscriptions_only=True, page_size=20)
    if not found.total:
        return Message("No plans are on sale yet.")
    tax = ctx.core.settings.tax_percent
    note = f"VAT {tax}% included" if ctx.core.settings.prices_include_tax else f"plus VAT {tax}%"
    lines = [f"Plans (prices {note}):"]
    for plan in found.items:
        features = _feature_text(plan.features)
        lines.append(f"• {plan.name}: {fmt.rupiah(plan.price_idr)} / {plan.duration_days} days"
                     + (f" · {features}" if features else "") + (f" — {plan.description}" if plan.description else ""))
    subs = await purchases.subscriptions(ctx.core.db, ctx.actor)
    if subs:
        lines.append("")
        lines += [f"Yours: {s.name} until {s.ends_at:%Y-%m-%d %H:%M} UTC" for s in subs]
    lines.append("Buy one with /buy PLAN [CODE].")
    buttons = [Button(f"Buy {p.name}", f"/buy {p.id}") for p in found.items]
    return Message("\n".join(lines), buttons=[buttons[i:i + 3] for i in range(0, len(buttons), 3)])


@registry.command(
    "buy",
    "Buy a plan: the total, then a pay button",
    Arg("plan", "the plan's name or id (see /plans)"),
    Arg("code", "a discount code", required=False),
    group="Plans",
    examples=("/buy Pro", "/buy Pro HEMAT10"),
    private_only=True,
    confirmable=True,
    operations=("Precalculate Purchase", "Purchase"),
)
async def buy(ctx: Context, plan: str, code: str | None, confirmed: bool = False) -> Message:
    db, settings = ctx.core.db, ctx.core.settings
    product = await products.get_product(db, plan)
    items = [purchases.Item(product.id, 1)]
    code_part = f" {code}" if code else ""
    in_stars = ctx.transport == "telegram" and settings.stars_enabled
    if not confirmed:
        quote = await purchases.precalculate(db, settings, ctx.actor, items, code)
        lines = [f"{product.name}:", *quote_lines(quote)]
        label = f"Pay {fmt.rupiah(quote.total)}"
        if in_stars and quote.total:
            lines += stars_lines(quote, settings.stars_rupiah_per_star)
            label = f"Pay ⭐{stars.stars_for(quote.total, settings.stars_rupiah_per_star):,}"
        return Message("\n".join(lines), buttons=[[Button(label, f"/buy {product.id}{code_part} --yes", style=ButtonStyle.PRIMARY)]])
    done = await purchases.purchase(db, settings, ctx.actor, items, code, provider=stars.PROVIDER if in_stars else None)
    bought = done.purchase
    if done.invoice is not None:
        return stars_reply(bought, done.invoice)
    if done.settled:
        how = {"Mock": " (development payments: nothing was charged)", "Free": " (nothing to pay)"}.get(bought.provider, "")
        lines = [f"Paid {fmt.rupiah(bought.total)}{how}. Purchase #{bought.id}."]
        lines += [f"{s.name}: {s.starts_at:%Y-%m-%d} to {s.ends_at:%Y-%m-%d %H:%M} UTC" for s in done.subscriptions]
        return Message("\n".join(lines), buttons=[[Button("My purchases", "/purchases")]])
    expires = f" before {bought.expires_at:%Y-%m-%d %H:%M} UTC" if bought.expires_at else ""
    return Message(
        f"Purchase #{bought.id}: pay {fmt.rupiah(bought.total)}{expires} here:\n{done.payment_link}\n"
        "Your plan starts as soon as the payment is confirmed; see /purchases.",
        buttons=[[Button("Check payment", "/purchases")]],
    )


@registry.command(
    "purchases",
    "Your purchases",
    Arg("page", "page number", kind=ArgKind.INT, required=False, default=1),
    group="Plans",
    private_only=True,
    operations=("Get Purchases",),
)
async def purchases_(ctx: Context, page: int) -> Message:
    found = await purchases.list_purchases(
        ctx.core.db, ctx.core.settings, ctx.actor, page=page, page_size=PAGE_SIZE,
        latest=page == 1,  # asking Mayar about pending invoices once, not on every page turned
    )
    return paged_reply(
        found, title="Your purchases", command="/purchases", line=_purchase_line,
        empty="You have no purchases yet: see /plans.",
    )  # fmt: skip


def stars_lines(quote: Quote, rupiah_per_star: int) -> list[str]:
    """The total in stars (both amounts shown), and whether Telegram will charge it again."""
    lines = [f"In Telegram Stars: ⭐{stars.stars_for(quote.total, rupiah_per_star):,} "
             f"({fmt.rupiah(rupiah_per_star)} a star, rounded up)"]  # fmt: skip
    if stars.recurring(quote):
        lines.append(f"A subscription: Telegram renews it every {stars.SUBSCRIPTION_DAYS} days until you cancel it.")
    return lines


def stars_reply(bought: purchases.PurchaseView, invoice: stars.StarsInvoice) -> Message:
    """The purchase's text, then the Stars invoice (the Telegram transport sends it)."""
    expires = f" before {bought.expires_at:%Y-%m-%d %H:%M} UTC" if bought.expires_at else ""
    renews = (f"\nTelegram renews it every {stars.SUBSCRIPTION_DAYS} days until you cancel it in Telegram."
              if invoice.subscription_period else "")  # fmt: skip
    text = (
        f"Purchase #{bought.id}: pay ⭐{invoice.stars:,} ({fmt.rupiah(bought.total)}){expires} with the invoice below."
        f"{renews}\nYour plan starts as soon as Telegram confirms the payment; see /purchases."
    )
    return Message(text, invoice=Invoice(
        title=invoice.title, description=invoice.description, payload=invoice.payload, currency=invoice.currency,
        label=invoice.label, amount=invoice.stars, subscription_period=invoice.subscription_period,
    ))


def _purchase_line(p: purchases.PurchaseView) -> str:
    names = ", ".join(f"{i.name} ×{i.quantity}" if i.quantity > 1 else i.name for i in p.items)
    paid = fmt.rupiah(p.total) + (f" (⭐{p.stars:,})" if p.stars else "")
    line = f"• #{p.id} {p.created_at:%Y-%m-%d} {names}: {paid} · {p.status}"
    if p.status == PurchaseStatus.PENDING and p.payment_link:
        line += f" · pay: {p.payment_link}"
    return line


# -- admin ---------------------------------------------------------------------------------------


def _rupiah_value(token: str, what: str) -> int:
    """Whole rupiah as typed: ``25000``, or with thousands separators ``25.000`` / ``25,000`` /
    ``25_000`` (groups of three digits, one kind of separator). ``25000.5`` or ``25.00`` is refused,
    not read as 250005 or 2500: rupiah have no decimals here."""
    if not _RUPIAH.match(token):
        raise UsageError(f"{what} is a whole number of rupiah (25000 or 25.000, no decimals), not '{token}'")
    return whole(re.sub(r"[.,_]", "", token), what, 10**15)


def _percent_bp(token: str) -> int:
    """A percentage as basis points: ``10`` -> 1000, ``2.5`` or ``2,5`` (Indonesian decimal comma)
    -> 250, ``12.25%`` -> 1225. At most two decimals; a separator here is always the decimal one."""
    found = _PERCENT.match(token)
    if found is None:
        raise UsageError(f"a percent VALUE has at most two decimals (10, 2.5 or 2,5), not '{token}'")
    return int(found["whole"]) * 100 + int((found["decimals"] or "").ljust(2, "0"))


def _feature_value(name: str, raw: str) -> Any:
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    try:
        number = float(raw)
    except ValueError:
        raise UsageError(f"feature {name} needs a number, true/false or none, not '{raw}'") from None
    return int(number) if number.is_integer() else number


def parse_product(text: str) -> dict[str, Any]:
    words = split_words(text)
    if len(words) < 3:
        raise UsageError("a product needs a category, a name and a price")
    category, name, price = words[:3]
    out: dict[str, Any] = {"category": category, "name": name, "price_idr": _rupiah_value(price, "PRICE"),
                           "features": {}, "description": ""}
    for word in words[3:]:
        key, eq, value = word.partition("=")
        if not eq:
            if not word.isdigit() or "duration_days" in out:
                raise UsageError(f"'{word}' is neither DAYS nor feature=value")
            out["duration_days"] = whole(word, "DAYS")
        elif key == "description":
            out["description"] = value
        else:
            out["features"][key] = _feature_value(key, value)
    return out


# A discount's dates: "until=9999-12-31" meant as "forever" would overflow when a day is added to
# reach its end; leaving until= out is how a code never expires.
FIRST_DAY, LAST_DAY = datetime(2000, 1, 1, tzinfo=UTC), datetime(2099, 12, 31, tzinfo=UTC)


def _day(value: str, what: str) -> datetime:
    if not _DATE.match(value):
        raise UsageError(f"{what} is a date YYYY-MM-DD, not '{value}'")
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise UsageError(f"'{value}' is not a date") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise UsageError(
            f"{what} {value} is outside {FIRST_DAY:%Y-%m-%d} to {LAST_DAY:%Y-%m-%d} (without until=, a code never expires)"
        )
    return day


def parse_discount(text: str) -> dict[str, Any]:
    words = split_words(text)
    if len(words) < 3:
        raise UsageError("a discount needs a code, percent or fixed, and a value")
    code, kind, value = words[:3]
    if kind.lower() not in ("percent", "fixed"):
        raise UsageError(f"the kind is percent or fixed, not '{kind}'")
    out: dict[str, Any] = {"code": code}
    if kind.lower() == "percent":
        out["percent_bp"] = _percent_bp(value)
    else:
        out["amount_idr"] = _rupiah_value(value, "VALUE")
    for word in words[3:]:
        key, eq, raw = word.partition("=")
        if key == "from" and eq:
            out["valid_from"] = _day(raw, "from")
        elif key == "until" and eq:
            out["valid_until"] = _day(raw, "until") + timedelta(days=1)  # through the end of that day (UTC)
        elif key == "uses" and eq and raw.isdigit():
            out["max_uses"] = whole(raw, "uses")
        else:
            raise UsageError(f"'{word}' is not from=YYYY-MM-DD, until=YYYY-MM-DD or uses=N")
    return out


@registry.command(
    "product",
    "Admins: manage products",
    Arg("action", "add, rm, list or seed", kind=ArgKind.CHOICE, choices=("add", "rm", "list", "seed")),
    Arg("details", 'add: CATEGORY "NAME" PRICE [DAYS] [feature=value...] · rm: ID', kind=ArgKind.REST,
        required=False),
    group="Admin",
    examples=('/product add Subscription "Pro" 149000 30 max_deployments=20 live_trading=true',
              "/product rm 3", "/product list", "/product seed"),
    operations=("Create Products", "Delete Products"),
)
async def product(ctx: Context, action: str, details: str | None) -> Message:
    db, settings, actor = ctx.core.db, ctx.core.settings, ctx.actor
    if action == "seed":
        created = await products.seed_default_plans(db, settings, actor)
        return Message("Created " + ", ".join(p.name for p in created) + "." if created else "The default plans exist already.")
    if action == "list":
        require_admin(settings, actor)
        found = await products.list_products(db, page_size=100)
        if not found.total:
            return Message("No products yet: /product seed creates the default plans.")
        return Message("\n".join(
            f"#{p.id} {p.category} · {p.name}: {fmt.rupiah(p.price_idr)}"
            + (f" / {p.duration_days} days" if p.duration_days else "")
            + (f" · {_feature_text(p.features)}" if p.features else "")
            for p in found.items
        ))
    if action == "rm":
        text = (details or "").strip()
        if not text.isdigit():
            return Message.fail("give the product's id (see /product list)", PRODUCT_RM)
        removed = await retire.delete_product(db, settings, actor, whole(text, "ID"))
        verb = "Deactivated (it has purchases, which keep it)" if removed.deactivated else "Deleted"
        return Message(f"{verb}: #{removed.product.id} {removed.product.name}.")
    require_admin(settings, actor)
    try:
        fields = parse_product(details or "")
    except UsageError as exc:
        return Message.fail(exc.message, PRODUCT_ADD)
    made = await products.create_product(db, settings, actor, **fields)
    span = f" / {made.duration_days} days" if made.duration_days else ""
    features = f" · {_feature_text(made.features)}" if made.features else ""
    return Message(f"Added #{made.id} {made.category} · {made.name}: {fmt.rupiah(made.price_idr)}{span}{features}.")


@registry.command(
    "discount",
    "Admins: manage discount codes",
    Arg("action", "add, rm or list", kind=ArgKind.CHOICE, choices=("add", "rm", "list")),
    Arg("details", "add: CODE percent|fixed VALUE [from=YYYY-MM-DD] [until=YYYY-MM-DD] [uses=N] · rm: CODE",
        kind=ArgKind.REST, required=False),
    group="Admin",
    examples=("/discount add HEMAT10 percent 10 until=2025-12-31 uses=100", "/discount add HEMAT percent 2.5",
              "/discount add POTONG fixed 25.000",
              "/discount rm HEMAT10"),
)
async def discount(ctx: Context, action: str, details: str | None) -> Message:
    db, settings, actor = ctx.core.db, ctx.core.settings, ctx.actor
    if action == "list":
        codes = await products.list_discounts(db, settings, actor)
        if not codes:
            return Message("No discount codes yet.")
        return Message("\n".join(_discount_line(c) for c in codes))
    if action == "rm":
        words = split_words(details or "")
        if len(words) != 1:
            return Message.fail("give one code", DISCOUNT_RM)
        gone = await products.deactivate_discount(db, settings, actor, words[0])
        return Message(f"Discount code {gone.code} no longer works (used {gone.used_count} times).")
    require_admin(settings, actor)
    try:
        fields = parse_discount(details or "")
    except UsageError as exc:
        return Message.fail(exc.message, DISCOUNT_ADD)
    made = await products.create_discount(db, settings, actor, **fields)
    return Message(f"Added {_discount_line(made)}.")


def _discount_line(code: products.DiscountView) -> str:
    parts = [f"{code.code}: {code.off} off"]
    if code.valid_from:
        parts.append(f"from {code.valid_from:%Y-%m-%d}")
    if code.valid_until:
        parts.append(f"until {code.valid_until - timedelta(seconds=1):%Y-%m-%d}")
    parts.append(f"used {code.used_count}" + (f"/{code.max_uses}" if code.max_uses is not None else ""))
    if not code.active:
        parts.append("inactive")
    return " · ".join(parts)


@registry.command(
    "refund",
    "Admins: refund a Telegram Stars purchase and revoke its plan",
    Arg("purchase", "the purchase's number (#12 or 12; see /purchases)"),
    group="Admin",
    examples=("/refund 12",),
)
async def refund(ctx: Context, purchase: str) -> Message:
    require_admin(ctx.core.settings, ctx.actor)
    text = purchase.strip().removeprefix("#")
    if not text.isdigit():
        return Message.fail(f"give the purchase's number, not '{purchase.strip()[:40]}'", REFUND)
    done = await stars_payments.refund(
        ctx.core.db, ctx.core.settings, ctx.actor, whole(text, "PURCHASE"), ctx.core.stars
    )
    lines = [f"Refunded purchase #{done.purchase_id}: ⭐{done.stars:,} back to the buyer"
             + (" (Telegram had refunded it already)." if done.already else ".")]  # fmt: skip
    lines.append(f"Ended now: {', '.join(done.revoked)}." if done.revoked else "No running plan to end.")
    if done.canceled is not None:
        lines.append("Its Stars subscription is canceled: Telegram will not charge it again." if done.canceled else
                     "Telegram did not cancel its Stars subscription: cancel it yourself, or the next renewal "
                     "arrives flagged for a refund.")  # fmt: skip
    return Message("\n".join(lines))
