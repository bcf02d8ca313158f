"""A whole-balance market buy on Coinbase, through ccxt's real Coinbase class (only its HTTP replaced).

The paper buy once failed because it spent the whole quote balance on coins and left nothing for
the fee. On Coinbase, ccxt sends a market buy as ``quote_size`` = amount x price, and Coinbase's
answer to such an order (as ccxt records it in ``coinbase.py``'s ``fetch_orders`` example) says
``size_in_quote: true, size_inclusive_of_fees: true``, ``total_value_after_fees`` = the quote size:
the fee comes out of the quote size, so the coins filled are fewer than asked. Orders sized in the
base currency (sells, as in ccxt's recorded ``fetchClosedOrders`` ADA-USDT answer) say
``size_inclusive_of_fees: false``: the fee is taken on top, out of the proceeds. Either way our
entry sizing, which keeps the market's taker fee (ccxt: 1.2 % at Coinbase's first tier) inside the
stake, asks for no more than the balance, fee included.
"""

from __future__ import annotations

import json

import pytest

from core.broker.types import BrokerName, OrderRequest
from core.deployment.sizing import size_buy

CID = "sx7t1730419200b"
PRICE = 65_000.0
CASH = 1_000.0  # the account's whole USD


def _filled(quote_size: float, taker: float) -> dict:
    """Coinbase's answer for a filled quote-size market buy: the fee inside the quote size."""
    fee = quote_size * taker / (1 + taker)
    value = quote_size - fee
    return {
        "order_id": "0b0f2c1e-71a4-4c3b-9d0e-6f0b3b9d5a11", "product_id": "BTC-USD", "user_id": "u1",
        "order_configuration": {"market_market_ioc": {"quote_size": f"{quote_size}"}}, "side": "BUY",
        "client_order_id": CID, "status": "FILLED", "time_in_force": "IMMEDIATE_OR_CANCEL",
        "created_time": "2024-11-01T00:00:00.123Z", "completion_percentage": "100",
        "filled_size": f"{value / PRICE:.10f}", "average_filled_price": f"{PRICE}", "fee": "", "number_of_fills": "1",
        "filled_value": f"{value}", "pending_cancel": False, "size_in_quote": True, "total_fees": f"{fee}",
        "size_inclusive_of_fees": True, "total_value_after_fees": f"{quote_size}",
        "trigger_status": "INVALID_ORDER_TYPE", "order_type": "MARKET", "reject_reason": "REJECT_REASON_UNSPECIFIED",
        "settled": True, "product_type": "SPOT", "reject_message": "", "cancel_message": "",
    }  # fmt: skip


async def test_a_whole_balance_market_buy_on_coinbase_spends_no_more_than_the_balance(exchange, market):
    taker = 0.012  # ccxt's Coinbase default tier ("Advanced 1": taker_fee_rate 0.012)
    coinbase = market("BTC/USD", "BTC-USD", step=1e-8, min_amount=1e-8, min_cost=1.0)
    coinbase["taker"] = taker
    broker, http = exchange(BrokerName.COINBASE, markets=[coinbase])
    rules = await broker.market_rules("BTC/USD")
    assert rules.fee == taker
    sized = size_buy(CASH, PRICE, rules, fee=rules.fee, fraction=1.0)
    assert sized.refusal is None and sized.quantity == pytest.approx(CASH / (PRICE * (1 + taker)), rel=1e-6)

    answers: list[dict] = []
    http.on("GET", "/api/v3/brokerage/orders/historical/batch",
            lambda _params: (200, {"orders": answers, "sequence": "0", "has_next": False, "cursor": ""}))  # fmt: skip
    sent_size: list[float] = []

    def accept(params: dict) -> tuple[int, dict]:
        quote_size = float(json.loads(params["order_configuration"])["market_market_ioc"]["quote_size"])
        sent_size.append(quote_size)
        answers.append(_filled(quote_size, taker))
        return 200, {"success": True, "success_response": {"order_id": "0b0f2c1e-71a4-4c3b-9d0e-6f0b3b9d5a11",
                                                           "product_id": "BTC-USD", "side": "BUY",
                                                           "client_order_id": CID}}  # fmt: skip

    http.on("POST", "/api/v3/brokerage/orders", accept)
    result = await broker.create_order(OrderRequest(CID, "BTC/USD", "buy", sized.quantity, PRICE))
    [quote_size] = sent_size
    assert quote_size <= CASH  # fee inside the quote size (as Coinbase answers): the balance covers it
    assert quote_size * (1 + taker) <= CASH + 0.01  # and were the fee charged on top, it would still fit
    assert result.status == "closed" and result.fee_currency == "USD"
    assert result.fee == pytest.approx(quote_size * taker / (1 + taker))
    assert result.filled < sized.quantity  # the fee came out of the coins: the position is what was filled
