"""Telegram Stars: what a Stars invoice holds, worked out from a purchase (pure; no Telegram here).

Digital goods sold in a Telegram bot must be paid in Telegram Stars: currency ``XTR``, an empty
provider token, whole stars, exactly one price item. Prices are kept in rupiah, so a total is
converted with ``STARS_RUPIAH_PER_STAR`` and rounded *up* to whole stars (never under the price).

One-off or subscription, decided from the product's data: a single 30-day plan (quantity 1, no
discount code) is sold as a Stars subscription (``createInvoiceLink`` with ``subscription_period``
30 days, the only period Telegram allows), which Telegram charges again every 30 days at the same
price; each renewal extends the plan (core.purchase.stars_payments). Anything else (a 365-day plan,
several plans, a discounted price that must not repeat) is a one-off ``sendInvoice`` that grants
its days once. The payload names our purchase; the pre-checkout query and the successful payment
carry it back and are checked against the stored purchase, never trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import format as fmt
from core.purchase.pricing import Quote

PROVIDER = "Stars"
CURRENCY = "XTR"
SUBSCRIPTION_DAYS = 30
SUBSCRIPTION_PERIOD_S = SUBSCRIPTION_DAYS * 24 * 3600  # 2592000: the only period Telegram accepts
SUBSCRIPTION_MAX_STARS = 10_000  # Telegram's cap on a subscription's price
PAYLOAD_PREFIX = "stoxlify-purchase:"
TITLE_LIMIT = 32  # Bot API: title 1-32 characters, description 1-255
DESCRIPTION_LIMIT = 255


@dataclass(frozen=True, slots=True)
class StarsInvoice:
    """An invoice in stars: what ``sendInvoice`` / ``createInvoiceLink`` are called with."""

    purchase_id: int
    title: str
    description: str
    payload: str
    label: str  # the one price item's label
    stars: int
    total_idr: int
    subscription_period: int | None = None  # seconds; set: a subscription renewed every period
    currency: str = CURRENCY


def stars_for(total_idr: int, rupiah_per_star: int) -> int:
    """Whole stars for a rupiah total: rounded up (integer arithmetic), at least one."""
    return max(1, -(-total_idr // rupiah_per_star))


def payload_for(purchase_id: int) -> str:
    return f"{PAYLOAD_PREFIX}{purchase_id}"


def purchase_of(payload: str) -> int | None:
    """Our purchase id in an invoice payload, or None when the payload is not one of ours."""
    if not payload.startswith(PAYLOAD_PREFIX):
        return None
    digits = payload[len(PAYLOAD_PREFIX):]
    return int(digits) if digits.isdigit() and len(digits) <= 18 else None


def recurring(quote: Quote) -> bool:
    """Whether the order is sold as a Stars subscription: one 30-day plan, once, at its own price
    (a discount would be charged again on every renewal, so a discounted order is one-off)."""
    if len(quote.lines) != 1 or quote.discount_code:
        return False
    line = quote.lines[0]
    return line.quantity == 1 and line.duration_days == SUBSCRIPTION_DAYS


def invoice_for(purchase_id: int, stars: int, quote: Quote) -> StarsInvoice:
    names = ", ".join(f"{line.name} ×{line.quantity}" if line.quantity > 1 else line.name for line in quote.lines)
    days = [line.duration_days * line.quantity for line in quote.lines if line.duration_days]
    subscription = recurring(quote) and stars <= SUBSCRIPTION_MAX_STARS
    title = f"Stoxlify {names}"
    if len(title) > TITLE_LIMIT:
        title = title[: TITLE_LIMIT - 1] + "…"
    if subscription:
        what = f"{names}: {SUBSCRIPTION_DAYS} days, renewed every {SUBSCRIPTION_DAYS} days until you cancel."
    else:
        what = f"{names}" + (f": {sum(days)} days" if days else "") + "."
    description = f"{what} Order #{purchase_id}, {fmt.rupiah(quote.total)}."
    return StarsInvoice(
        purchase_id=purchase_id, title=title, description=description[:DESCRIPTION_LIMIT],
        payload=payload_for(purchase_id), label=f"Order #{purchase_id}"[:TITLE_LIMIT], stars=stars,
        total_idr=quote.total, subscription_period=SUBSCRIPTION_PERIOD_S if subscription else None,
    )
