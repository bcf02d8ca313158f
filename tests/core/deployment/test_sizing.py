"""Order sizing: fraction of the balance, capped, rounded down to step and lot, minimums refused."""

from __future__ import annotations

import pytest

from core.broker.types import MarketRules
from core.deployment.executor import client_order_id, quote_of
from core.deployment.sizing import Sized, round_down, size_buy, size_sell

CRYPTO = MarketRules("BTC/USDT", "BTC", "USDT", amount_step=0.001, min_amount=0.001, min_cost=10.0)
IDX = MarketRules("BBCA.JK", "BBCA.JK", "IDR", amount_step=100, min_amount=100, lot=100)


def test_buys_take_a_fraction_capped_and_rounded_down_with_the_fee_inside():
    sized = size_buy(10_000, 40_000, CRYPTO, fee=0.0, fraction=0.5)
    assert sized.quantity == 0.125 and sized.refusal is None
    with_fee = size_buy(10_000, 40_000, CRYPTO, fee=0.001, fraction=0.5)  # 5,000 / 40,040 = 0.12487
    assert with_fee.quantity == 0.124
    capped = size_buy(10_000, 40_000, CRYPTO, fee=0.0, cap=1_000)
    assert capped.quantity == 0.025
    staked = size_buy(10_000, 40_000, CRYPTO, fee=0.001, stake=2_000)  # 2,000 / 40,040 = 0.04995
    assert staked.quantity == 0.049
    beyond = size_buy(1_000, 40_000, CRYPTO, fee=0.0, stake=2_000)  # a stake above the balance takes the balance
    assert beyond.quantity == 0.025
    lots = size_buy(10_000_000, 9_150, IDX, fee=0.002)  # 1,090.7 shares -> 10 lots
    assert lots.quantity == 1_000 and lots.refusal is None
    assert round_down(0.30000000001, MarketRules("X/USDT", "X", "USDT", amount_step=0.1)) == 0.3


@pytest.mark.parametrize("fee", [0.0, 0.001, 0.002, 0.0075])
@pytest.mark.parametrize(("balance", "price", "rules"), [
    (10_000.0, 40_000.0, MarketRules("BTC/USDT", "BTC", "USDT", amount_step=1e-8, min_amount=1e-8)),
    (10_000.0, 1_000.0, MarketRules("ETH/USDT", "ETH", "USDT", amount_step=0.00001)),
    (10_000.0, 0.5, MarketRules("DOGE/USDT", "DOGE", "USDT", amount_step=1.0)),
    (100_000_000.0, 9_150.0, IDX),
    (100_000_000.0, 10_000.0, IDX),
])  # fmt: skip
def test_an_entry_of_the_whole_balance_pays_its_fee_out_of_it(fee, balance, price, rules):
    """The paper account refused every 100 % buy: the value fitted the balance, the fee did not."""
    sized = size_buy(balance, price, rules, fee=fee, fraction=1.0)
    assert sized.refusal is None and sized.quantity > 0
    assert sized.quantity * price * (1 + fee) <= balance
    step = rules.lot if rules.lot > 1 else rules.amount_step
    assert (sized.quantity + step) * price * (1 + fee) > balance * (1 - 1e-12)  # and it takes all that fits


def test_orders_below_the_market_minimums_are_refused_with_the_reason():
    small = size_buy(5, 40_000, CRYPTO, fee=0.001)
    assert small.quantity == 0 and "rounds to 0" in (small.refusal or "")
    notional = size_buy(30, 8_000, CRYPTO, fee=0.001)  # 0.003 BTC = 24 USDT, above the minimum
    assert notional.refusal is None
    tiny = size_buy(100, 4_000, CRYPTO, fee=0.001, fraction=0.1)  # 0.002 BTC = 8 USDT < 10
    assert "below the minimum order value" in (tiny.refusal or "")
    one_lot_short = size_buy(900_000, 9_150, IDX, fee=0.002)
    assert one_lot_short.quantity == 0 and one_lot_short.refusal
    broke = size_buy(0, 9_150, IDX, fee=0.002)
    assert broke.quantity == 0 and "no IDR" in (broke.refusal or "")


def test_sells_sell_the_position_or_what_is_left_of_it():
    assert size_sell(0.125, 1.0, 40_000, CRYPTO).quantity == 0.125
    assert size_sell(0.125, 0.1004, 40_000, CRYPTO).quantity == 0.1
    assert size_sell(1_000, 1_000, 9_000, IDX).quantity == 1_000


def test_client_order_ids_are_deterministic_short_and_alphanumeric():
    from datetime import UTC, datetime

    bar = datetime(2026, 1, 5, 13, tzinfo=UTC)
    cid = client_order_id(123456789, bar, "buy")
    assert cid == client_order_id(123456789, bar, "buy") != client_order_id(123456789, bar, "sell")
    assert cid.isalnum() and len(cid) <= 32
    assert (quote_of("BTC/USDT"), quote_of("BBCA.JK")) == ("USDT", "IDR")


def test_installations_tell_their_client_ids_apart_by_prefix():
    from datetime import UTC, datetime

    from core.deployment.executor import client_order_id

    bar = datetime(2026, 11, 24, 12, tzinfo=UTC)
    assert client_order_id(7, bar, "buy") == "sx7t1795521600b"
    assert client_order_id(7, bar, "buy", "prod2") == "prod27t1795521600b"


def test_an_exit_the_account_cannot_fill_is_refused_not_sent():
    # mutants make mutate left alive: a sell's minimum check dropped; a broker that cannot tell the holdings
    assert size_sell(0.5, 0.0004, 40_000, CRYPTO).refusal == "the amount rounds to 0 (the market trades in steps of 0.001)"
    assert size_sell(0.5, 0.0002, 40_000, MarketRules("BTC/USDT", "BTC", "USDT", amount_step=0.0001, min_amount=0.001)).refusal \
        == "0.0002 BTC is below the minimum amount 0.001"  # fmt: skip
    assert size_sell(0.2, 0.2, 40, CRYPTO).refusal == "8.00 USDT is below the minimum order value 10 USDT"
    assert size_sell(0.125, None, 40_000, CRYPTO) == Sized(0.125, None)  # holdings unknown: the position


def test_any_lot_above_one_rounds_down_to_whole_lots():
    assert round_down(5, MarketRules("X", "X", "Y", lot=2)) == 4


def test_a_buy_without_a_price_or_below_one_unit_of_cash_and_a_stake_under_the_cap():
    assert size_buy(1_000, 0, CRYPTO, fee=0.001) == Sized(0.0, "no valid price on the signal bar")
    cents = size_buy(0.5, 0.1, MarketRules("DOGE/USDT", "DOGE", "USDT", amount_step=1), fee=0)  # half a USDT still buys
    assert cents.refusal is None and cents.quantity == 4
    # half of 1,000 is under a cap of 1,500: the buy is 500 worth, not the cap (more than the balance)
    assert size_buy(1_000, 100, CRYPTO, fee=0, fraction=0.5, cap=1_500).quantity == 5


def test_the_trading_unit_is_the_lot_else_the_step_else_whole_units():
    assert size_buy(1_000, 100, MarketRules("X", "X", "Y", lot=2), fee=0).quantity == 8  # lots of 2
    assert size_buy(1_000, 300, MarketRules("X", "X", "Y"), fee=0).quantity == 3  # no step: whole units
    assert size_buy(1_000, 300, MarketRules("X", "X", "Y", amount_step=0), fee=0).quantity == 3


def test_minimums_are_inclusive_and_a_zero_amount_says_its_unit():
    assert size_sell(0.001, None, 40_000, CRYPTO).refusal is None  # exactly the minimum amount
    assert size_sell(0.25, None, 40, CRYPTO) == Sized(0.25, None)  # exactly the minimum value, 10 USDT
    assert size_sell(1, None, 100, MarketRules("X", "X", "Y", lot=2)).refusal == "the amount rounds to 0 (the market trades in steps of 2)"
    assert size_sell(0, None, 100, MarketRules("X", "X", "Y")).refusal == "the amount is 0"
