"""The arithmetic of a purchase, in whole rupiah (Python ints, never floats).

The rules, applied in this order:

1. ``amount`` of a line = unit price x quantity; ``subtotal`` = the sum of the lines.
2. ``discount``: a *percent* code, stored exactly in basis points (250 = 2.5 %), takes
   ``floor(subtotal x bp / 10000)`` in integer arithmetic (rounding favours the seller by less
   than Rp 1 and never gives away a fraction); a *fixed* code takes its amount, capped at the subtotal (a Rp 50,000 code on a Rp 30,000 order makes it free, not negative).
3. ``tax`` on the discounted amount ``net = subtotal - discount``:
   - prices exclude tax (default): ``tax = round_half_up(net x percent / 100)``, ``total = net + tax``;
   - prices include tax: the tax *contained* in net, ``tax = net - round_half_up(net x 100 / (100 +
     percent))``, and ``total = net`` (the buyer pays the shown price).
4. A total of 0 (a 100 % code) needs no payment provider: it settles at once.

A code applies when it is active, ``valid_from <= now < valid_until`` (either bound optional) and
``used_count < max_uses`` (when capped). An unknown or inactive code says only "not valid": it
never suggests a similar code, which would help someone guess them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from core.errors import Invalid
from core.product.models import DiscountCode


@dataclass(frozen=True, slots=True)
class QuoteLine:
    product_id: int
    name: str
    quantity: int
    unit_price: int
    amount: int
    duration_days: int | None = None


@dataclass(frozen=True, slots=True)
class Quote:
    lines: tuple[QuoteLine, ...]
    subtotal: int
    discount: int
    discount_code: str | None
    tax: int
    tax_percent: int
    tax_included: bool
    total: int


def round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, halves up (both non-negative)."""
    return (2 * numerator + denominator) // (2 * denominator)


def percent_off(subtotal: int, bp: int) -> int:
    """``floor(subtotal x bp / 10000)``: basis points (clamped to 0..100 %) of a rupiah amount, exactly."""
    return subtotal * min(max(bp, 0), 10_000) // 10_000


def fixed_off(subtotal: int, amount: int) -> int:
    return min(max(amount, 0), subtotal)


def discount_of(code: DiscountCode, subtotal: int) -> int:
    if code.kind == "percent":
        return percent_off(subtotal, code.percent_bp or 0)
    return fixed_off(subtotal, code.amount_idr or 0)


def tax_of(net: int, percent: int, included: bool) -> int:
    if percent <= 0:
        return 0
    if included:
        return net - round_half_up(net * 100, 100 + percent)
    return round_half_up(net * percent, 100)


def check_discount(row: DiscountCode | None, code: str, now: datetime) -> DiscountCode:
    """The code row when it may be used now, else Invalid saying why (without suggestions)."""
    if row is None or not row.active:
        raise Invalid(f"discount code {code} is not valid")
    if row.valid_from is not None and now < row.valid_from:
        raise Invalid(f"discount code {code} is not valid yet (from {row.valid_from:%Y-%m-%d %H:%M} UTC)")
    if row.valid_until is not None and now >= row.valid_until:
        raise Invalid(f"discount code {code} has expired")
    if row.max_uses is not None and row.used_count >= row.max_uses:
        raise Invalid(f"discount code {code} has been used up")
    return row


def quote(lines: Sequence[QuoteLine], code: DiscountCode | None, tax_percent: int, tax_included: bool) -> Quote:
    subtotal = sum(line.amount for line in lines)
    discount = discount_of(code, subtotal) if code is not None else 0
    net = subtotal - discount
    tax = tax_of(net, tax_percent, tax_included)
    total = net if tax_included else net + tax
    return Quote(
        lines=tuple(lines), subtotal=subtotal, discount=discount, discount_code=code.code if code else None,
        tax=tax, tax_percent=tax_percent, tax_included=tax_included, total=total,
    )
