"""Watch conditions: parsing as users type them, canonical text, evaluation on the last bar."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.errors import Invalid
from core.market.conditions import Condition, ConditionStatus, Field, Indicator, Number, parse_condition
from core.market.indicator_compute import compute
from core.market.indicator_specs import parse_spec
from tests.sample_bars import sample_bars


def _frame(closes, volumes=None) -> pd.DataFrame:
    closes = np.asarray(closes, dtype=float)
    index = pd.date_range("2026-01-01", periods=len(closes), freq="D", tz="UTC")
    return pd.DataFrame(
        {
            "open": closes,
            "high": closes + 1,
            "low": closes - 1,
            "close": closes,
            "volume": np.asarray(volumes if volumes is not None else [1000.0] * len(closes), dtype=float),
        },
        index=index,
    )


@pytest.fixture(scope="module")
def bbca() -> pd.DataFrame:
    return sample_bars("BBCA", "1d")


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("rsi<30", "rsi:14<30"),
        ("rsi:21<30", "rsi:21<30"),
        ("RSI : 21 < 30", "rsi:21<30"),
        ("price>9500", "price>9500"),
        ("price > 9500.0", "price>9500"),
        ("close>=ema:50", "close>=ema:50"),
        ("Close >= EMA:50", "close>=ema:50"),
        ("price<bbands:20:2.lower", "price<bbands:20:2.lower"),
        ("price<bbands", "price<bbands:20:2.lower"),  # a multi-line indicator names its line
        ("bb:20.upper>price", "bbands:20:2.upper>price"),
        ("change>5", "change>5"),
        ("change>-1.5%", "change>-1.5%"),
        ("volume>1000000", "volume>1000000"),
        ("volume > 1.5m", "volume>1500000"),
        ("30>rsi", "rsi:14<30"),  # a number on the left is turned round
        ("9500 <= price", "price>=9500"),
        ("price = 9500", "price==9500"),
        ("price=>9500", "price>=9500"),
        ("price != 9500", "price!=9500"),
        ("rsi.rsi<=70", "rsi:14<=70"),
        ("macd.hist > 0", "macd:12:26:9.hist>0"),
        ("supertrend:10:multiplier=2.direction>0", "supertrend:10:2.direction>0"),
        ("ema:20 crosses above ema:50", "ema:20 crosses above ema:50"),
        ("EMA:20  cross  below ema:50", "ema:20 crosses below ema:50"),
        ("50 crosses above rsi", "rsi:14 crosses below 50"),
    ],
)
def test_parse_gives_canonical_text_that_parses_to_itself(typed, canonical):
    condition = parse_condition(typed)
    assert condition.text == canonical == str(condition)
    assert parse_condition(canonical) == condition


def test_parsed_structure():
    condition = parse_condition("close>=ema:50")
    assert condition.lhs == Field("close") and condition.op == ">="
    assert isinstance(condition.rhs, Indicator) and condition.rhs.text == "ema:50"
    assert [str(s) for s in condition.indicator_specs()] == ["ema:50"]
    assert parse_condition("change>5").rhs == Number(5.0)
    assert parse_condition("price>1").indicator_specs() == []
    assert parse_condition("ema:200>price").bars_needed() > parse_condition("rsi<30").bars_needed()


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "empty"),
        ("rsi", "no comparison"),
        ("price crosses 5", "no comparison"),
        ("rsi<30<40", "more than one comparison"),
        ("rsi<", "both sides"),
        ("<30", "both sides"),
        ("1<2", "not two numbers"),
        ("price>5%", "percentage only goes with change"),
        ("price>9,500", "is not a number, a field"),
        ("price>1e400", "finite"),
        ("foo>1", "unknown indicator 'foo'"),
        ("rsi:0<30", "between 1 and"),
        ("ema:abc>1", "must be numbers"),
        ("bbands.foo<1", "no field 'foo'"),
        ("x" * 300 + ">1", "too long"),
    ],
)
def test_bad_input_says_what_is_wrong_and_shows_an_example(typed, message):
    with pytest.raises(Invalid, match=message) as caught:
        parse_condition(typed)
    assert caught.value.hint  # examples or the indicator's usage


def test_fields_on_the_last_bar(bbca):
    last, previous = bbca.iloc[-1], bbca.iloc[-2]
    assert parse_condition("price>1").evaluate(bbca) == ConditionStatus(last.close, 1.0, True)
    assert parse_condition("high<1").evaluate(bbca) == ConditionStatus(last.high, 1.0, False)
    assert parse_condition("volume>1m").evaluate(bbca).lhs_value == last.volume
    change = parse_condition("change>5").evaluate(bbca)
    assert change.lhs_value == pytest.approx((last.close / previous.close - 1) * 100)
    assert change.met is (change.lhs_value > 5)


def test_indicators_agree_with_the_indicator_library(bbca):
    rsi = parse_condition("rsi<30").evaluate(bbca)
    expected = compute(bbca, parse_spec("rsi:14")).primary.iloc[-1]
    assert rsi.lhs_value == pytest.approx(expected) and rsi.met is bool(expected < 30)
    bands = parse_condition("price<bbands:20:2.lower").evaluate(bbca)
    lower = compute(bbca, parse_spec("bbands:20:2")).fields["lower"].iloc[-1]
    assert bands.rhs_value == pytest.approx(lower)
    assert bands.met is bool(bbca.close.iloc[-1] < lower)


def test_every_operator():
    frame = _frame([10.0, 20.0])
    verdicts = {
        op: parse_condition(f"price{op}20").evaluate(frame).met for op in ["<", "<=", ">", ">=", "==", "!="]
    }
    assert verdicts == {"<": False, "<=": True, ">": False, ">=": True, "==": True, "!=": False}


def test_crosses_look_at_the_bar_before():
    up = parse_condition("price crosses above 15")
    down = parse_condition("price crosses below 15")
    assert up.evaluate(_frame([10, 20])).met is True
    assert up.evaluate(_frame([16, 20])).met is False  # already above: no crossing
    assert down.evaluate(_frame([20, 10])).met is True
    assert down.evaluate(_frame([10, 20])).met is False
    assert up.evaluate(_frame([20])).met is None  # one bar: nothing to cross from


def test_undefined_values_are_unknown_not_false():
    frame = _frame([10, 11, 12, math.nan])
    status = parse_condition("price>1").evaluate(frame)
    assert status == ConditionStatus(None, 1.0, None)
    gap = parse_condition("price>sma:3").evaluate(_frame([10, 11, 12, 13, math.nan, 15]))
    assert gap == ConditionStatus(15.0, None, None)  # the average over a missing close is undefined
    assert parse_condition("price>1").evaluate(_frame([])) == ConditionStatus(None, None, None)


def test_change_needs_a_previous_close():
    assert parse_condition("change>0").evaluate(_frame([10.0])).met is None


def test_conditions_are_hashable_values():
    assert len({parse_condition("rsi<30"), parse_condition("rsi:14 < 30"), parse_condition("rsi<31")}) == 2
    assert isinstance(parse_condition("rsi<30"), Condition)


def test_numbers_take_k_m_b_t_suffixes_and_refuse_non_finite_values():
    from core.market.conditions import compare, parse_number

    assert parse_number("10T") == Number(1e13) and parse_number("1.5m") == Number(1.5e6)
    assert parse_number(" 15 % ") == Number(15.0, percent=True)
    assert parse_number("rsi") is None and parse_number("1x") is None
    with pytest.raises(Invalid, match="'1e400' is not a finite number"):
        parse_number("1e400")
    assert parse_condition("volume > 2t").rhs == Number(2e12)
    assert compare(1.0, "<=", 1.0) and compare(2.0, ">", 1.0) and not compare(1.0, "==", 2.0)


def test_the_bars_fetched_for_a_condition_are_enough_for_its_slowest_line():
    """ADXR(14) starts at bar 40: a watch on it fetched with too few bars stayed "unknown"."""
    condition = parse_condition("adx:14.adxr>20")
    needed = condition.bars_needed()
    assert needed >= 40
    closes = [100 + (i % 7) - (i % 3) for i in range(needed)]
    frame = _frame(closes)
    status = condition.evaluate(frame)
    assert status.lhs_value is not None and status.met is not None
