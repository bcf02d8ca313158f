"""Order sizing: fraction of the balance, capped, rounded down to step and lot, minimums refused."""

from __future__ import annotations

from core.broker.types import MarketRules
from core.trade.executor import client_order_id, quote_of
from core.trade.sizing import round_down, size_buy, size_sell

CRYPTO = MarketRules("BTC/USDT", "BTC", "USDT", amount_step=0.001, min_amount=0.001, min_cost=10.0)
IDX = MarketRules("BBCA.JK", "BBCA.JK", "IDR", amount_step=100, min_amount=100, lot=100)


def test_buys_take_a_fraction_capped_and_rounded_down():
    sized = size_buy(10_000, 0.5, None, 40_000, CRYPTO)
    assert sized.quantity == 0.125 and sized.refusal is None
    capped = size_buy(10_000, 1.0, 1_000, 40_000, CRYPTO)
    assert capped.quantity == 0.025
    lots = size_buy(10_000_000, 1.0, None, 9_150, IDX)  # 1,092.9 shares -> 10 lots
    assert lots.quantity == 1_000 and lots.refusal is None
    assert round_down(0.30000000001, MarketRules("X/USDT", "X", "USDT", amount_step=0.1)) == 0.3


def test_orders_below_the_market_minimums_are_refused_with_the_reason():
    small = size_buy(5, 1.0, None, 40_000, CRYPTO)
    assert small.quantity == 0 and "rounds to 0" in (small.refusal or "")
    notional = size_buy(30, 1.0, None, 8_000, CRYPTO)  # 0.003 BTC = 24 USDT, above the minimum
    assert notional.refusal is None
    tiny = size_buy(100, 0.1, None, 4_000, CRYPTO)  # 0.002 BTC = 8 USDT < 10
    assert "below the minimum order value" in (tiny.refusal or "")
    one_lot_short = size_buy(900_000, 1.0, None, 9_150, IDX)
    assert one_lot_short.quantity == 0 and one_lot_short.refusal


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

    from core.trade.executor import client_order_id

    bar = datetime(2026, 11, 24, 12, tzinfo=UTC)
    assert client_order_id(7, bar, "buy") == "sx7t1795521600b"
    assert client_order_id(7, bar, "buy", "prod2") == "prod27t1795521600b"
