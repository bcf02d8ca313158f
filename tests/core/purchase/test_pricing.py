"""The rupiah arithmetic: integer results and the documented rounding at every edge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import Invalid
from core.product.models import DiscountCode
from core.purchase.pricing import (
    QuoteLine,
    check_discount,
    discount_of,
    fixed_off,
    percent_off,
    quote,
    round_half_up,
    tax_of,
)

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


def _code(kind: str, value: int, **kw) -> DiscountCode:
    """A code row: ``value`` is basis points for a percent code (1000 = 10 %), rupiah for a fixed one."""
    amount = {"percent_bp": value} if kind == "percent" else {"amount_idr": value}
    return DiscountCode(code="X", kind=kind, **amount, active=kw.pop("active", True), used_count=kw.pop("used", 0), **kw)


def _lines(*prices: int) -> list[QuoteLine]:
    return [QuoteLine(i, f"P{i}", 1, p, p) for i, p in enumerate(prices, 1)]


def test_half_up_rounds_halves_up_and_the_rest_to_nearest():
    assert [round_half_up(n, 100) for n in (49, 50, 51, 149, 150)] == [0, 1, 1, 1, 2]
    assert round_half_up(0, 7) == 0


def test_percent_discount_is_floored_and_fixed_is_capped_at_the_subtotal():
    assert percent_off(149_999, 1_000) == 14_999  # 14,999.9 floored
    assert percent_off(149_000, 10_000) == 149_000
    assert fixed_off(149_000, 25_000) == 25_000
    assert fixed_off(149_000, 500_000) == 149_000
    assert discount_of(_code("percent", 1_000), 149_999) == 14_999
    assert discount_of(_code("fixed", 25_000), 149_000) == 25_000


def test_fractional_percent_is_exact_integer_arithmetic():
    assert percent_off(149_000, 250) == 3_725  # 2.5 %, not 25 %
    assert percent_off(149_999, 250) == 3_749  # 3,749.975 floored
    assert percent_off(99_999, 1_225) == 12_249  # 12.25 % of 99,999 = 12,249.8775
    assert percent_off(10**15 + 1, 1) == 10**11  # no float rounding at any size
    result = quote(_lines(149_000), _code("percent", 250), 11, tax_included=False)
    assert (result.subtotal, result.discount, result.tax, result.total) == (149_000, 3_725, 15_980, 161_255)


def test_tax_added_is_half_up_on_the_discounted_amount():
    assert tax_of(100_000, 11, included=False) == 11_000
    assert tax_of(50, 11, included=False) == 6  # 5.5 -> 6
    assert tax_of(45, 11, included=False) == 5  # 4.95 -> 5
    assert tax_of(40, 11, included=False) == 4  # 4.4 -> 4
    assert tax_of(12_345, 0, included=False) == 0


def test_tax_included_is_the_part_of_the_price_that_is_tax():
    assert tax_of(111_000, 11, included=True) == 11_000
    assert tax_of(149_000, 11, included=True) == 149_000 - 134_234  # 134,234.23 net of tax


def test_quote_with_percent_code_then_tax():
    result = quote(_lines(149_000), _code("percent", 1_000), 11, tax_included=False)
    assert (result.subtotal, result.discount, result.tax, result.total) == (149_000, 14_900, 14_751, 148_851)
    assert all(isinstance(v, int) for v in (result.subtotal, result.discount, result.tax, result.total))


def test_hundred_percent_and_oversized_fixed_codes_make_the_order_free():
    assert quote(_lines(149_000), _code("percent", 10_000), 11, False).total == 0
    free = quote(_lines(30_000), _code("fixed", 50_000), 11, False)
    assert (free.discount, free.tax, free.total) == (30_000, 0, 0)


def test_quote_with_tax_included_totals_the_discounted_price():
    result = quote(_lines(100_000, 11_000), None, 11, tax_included=True)
    assert (result.subtotal, result.tax, result.total, result.discount_code) == (111_000, 11_000, 111_000, None)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (None, "discount code X is not valid"),
        (_code("percent", 1_000, active=False), "discount code X is not valid"),
        (_code("percent", 1_000, valid_until=NOW), "discount code X has expired"),
        (_code("percent", 1_000, valid_from=NOW + timedelta(days=1)), "discount code X is not valid yet"),
        (_code("percent", 1_000, max_uses=3, used=3), "discount code X has been used up"),
    ],
)
def test_unusable_codes_say_why(code, message):
    with pytest.raises(Invalid) as caught:
        check_discount(code, "X", NOW)
    assert caught.value.message.startswith(message)
    assert "did you mean" not in caught.value.message


def test_a_code_inside_its_window_with_uses_left_applies():
    row = _code("fixed", 5_000, valid_from=NOW - timedelta(days=1), valid_until=NOW + timedelta(seconds=1),
                max_uses=3, used=2)
    assert check_discount(row, "X", NOW) is row


def test_a_code_without_a_value_or_with_a_negative_one_takes_nothing_off():
    # mutants make mutate left alive: a missing or negative value read as Rp 1 or 0.01 % off
    percent_none = DiscountCode(code="X", kind="percent", percent_bp=None, active=True, used_count=0)
    fixed_none = DiscountCode(code="X", kind="fixed", amount_idr=None, active=True, used_count=0)
    assert discount_of(percent_none, 1_000_000) == 0
    assert discount_of(fixed_none, 1_000_000) == 0
    assert discount_of(_code("percent", 0), 1_000_000) == 0
    assert quote(_lines(1_000_000), _code("fixed", -5_000), 0, False).total == 1_000_000
    assert (percent_off(1_000_000, -100), fixed_off(1_000_000, 0), fixed_off(1_000_000, -1)) == (0, 0, 0)


def test_a_percent_code_above_100_percent_makes_the_order_free_not_negative():
    assert percent_off(1_000_000, 20_000) == 1_000_000
    assert percent_off(1_000_000, 10_001) == 1_000_000
    assert quote(_lines(1_000_000), _code("percent", 10_001), 11, False).total == 0


def test_a_code_applies_from_the_instant_it_starts():
    assert check_discount(_code("percent", 1000, valid_from=NOW), "X", NOW).percent_bp == 1000
    with pytest.raises(Invalid, match="not valid yet"):
        check_discount(_code("percent", 1000, valid_from=NOW), "X", NOW - timedelta(microseconds=1))


def test_a_one_percent_tax_is_charged_and_the_quote_names_its_rate():
    assert tax_of(1_000_000, 1, False) == 10_000
    assert tax_of(1_010_000, 1, True) == 10_000
    q = quote(_lines(1_000_000), None, 11, False)
    assert (q.tax, q.tax_percent, q.tax_included, q.total) == (110_000, 11, False, 1_110_000)
