"""The ccxt adapter with ccxt's real exchange classes; only their HTTP ``fetch`` is replaced.

Response bodies follow each exchange's documented shapes (Binance's market list is the recorded
``exchangeInfo`` in tests/fixtures/binance). Asserted: the parameter each exchange receives the
client order id in, that ccxt sends an order exactly once, and how ccxt's exceptions map.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import ccxt
import pytest

from core.broker.exchanges import CLIENT_ID_PARAM, broker_error, order_result, wire_client_id
from core.broker.types import (
    AuthFailed,
    BrokerName,
    BrokerOrderStatus,
    InsufficientFunds,
    OrderRejected,
    OrderRequest,
    OutcomeUnknown,
    Transient,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "binance"
EXCHANGE_INFO = json.loads((FIXTURES / "exchangeInfo_spot.json").read_text())
CID = "d12b20261101T0000buy"  # a client id every exchange accepts as it is

BINANCE_FILLED = {
    "symbol": "BTCUSDT", "orderId": 28457, "orderListId": -1, "clientOrderId": CID,
    "transactTime": 1730419200123, "price": "0.00000000", "origQty": "0.00100000", "executedQty": "0.00100000",
    "origQuoteOrderQty": "0.00000000", "cummulativeQuoteQty": "65.00000000", "status": "FILLED",
    "timeInForce": "GTC", "type": "MARKET", "side": "BUY", "workingTime": 1730419200123,
    "selfTradePreventionMode": "EXPIRE_MAKER",
    "fills": [{"price": "65000.00000000", "qty": "0.00100000", "commission": "0.00000100",
               "commissionAsset": "BTC", "tradeId": 1234}],
}  # fmt: skip
BINANCE_ACCOUNT = {
    "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
    "canTrade": True, "canWithdraw": False, "canDeposit": True, "updateTime": 1730419200000,
    "accountType": "SPOT", "permissions": ["SPOT"], "uid": 354937868,
    "balances": [{"asset": "BTC", "free": "0.00100000", "locked": "0.00000000"},
                 {"asset": "USDT", "free": "934.90000000", "locked": "5.00000000"}],
}  # fmt: skip


def api_restrictions(withdrawals: bool) -> dict:
    return {
        "ipRestrict": False, "createTime": 1698645219000, "enableReading": True,
        "enableWithdrawals": withdrawals, "enableInternalTransfer": False, "enableMargin": False,
        "enableFutures": False, "permitsUniversalTransfer": False, "enableVanillaOptions": False,
        "enableFixApiTrade": False, "enableFixReadOnly": False, "enableSpotAndMarginTrading": True,
        "enablePortfolioMarginTrading": False,
    }  # fmt: skip


OKX_ORDER = {
    "accFillSz": "0.01", "avgPx": "65000", "cTime": "1730419200123", "category": "normal", "ccy": "",
    "clOrdId": CID, "fee": "-0.00001", "feeCcy": "BTC", "fillPx": "65000", "fillSz": "0.01",
    "fillTime": "1730419200130", "instId": "BTC-USDT", "instType": "SPOT", "lever": "",
    "ordId": "312269865356374016", "ordType": "market", "pnl": "0", "posSide": "", "px": "", "rebate": "0",
    "rebateCcy": "USDT", "side": "buy", "state": "filled", "sz": "0.01", "tag": "", "tdMode": "cash",
    "tgtCcy": "base_ccy", "tradeId": "1", "uTime": "1730419200130",
}  # fmt: skip
COINBASE_ORDER = {
    "order_id": "0b0f2c1e-71a4-4c3b-9d0e-6f0b3b9d5a11", "product_id": "BTC-USD", "user_id": "u1",
    "order_configuration": {"market_market_ioc": {"quote_size": "650"}}, "side": "BUY",
    "client_order_id": CID, "status": "FILLED", "time_in_force": "IMMEDIATE_OR_CANCEL",
    "created_time": "2024-11-01T00:00:00.123Z", "completion_percentage": "100", "filled_size": "0.01",
    "average_filled_price": "65000", "fee": "", "number_of_fills": "1", "filled_value": "650",
    "pending_cancel": False, "size_in_quote": True, "total_fees": "3.9", "size_inclusive_of_fees": False,
    "total_value_after_fees": "653.9", "trigger_status": "INVALID_ORDER_TYPE", "order_type": "MARKET",
    "reject_reason": "REJECT_REASON_UNSPECIFIED", "settled": True, "product_type": "SPOT",
    "reject_message": "", "cancel_message": "",
}  # fmt: skip
TOKOCRYPTO_ORDER = {
    "orderId": "145264846", "bOrderListId": "0", "clientId": CID, "bOrderId": "35247529", "symbol": "BTC_USDT",
    "symbolType": 1, "side": 0, "type": 2, "price": "0", "origQty": "0.01", "origQuoteQty": "650",
    "executedQty": "0.01", "executedPrice": "65000", "executedQuoteQty": "650", "timeInForce": 1,
    "stopPrice": "0", "icebergQty": "0", "status": 2, "createTime": 1730419200123,
}  # fmt: skip
CEX_ORDER = {
    "messageType": "executionReport", "clientId": "up132245425", "orderId": "1318485", "clientOrderId": CID,
    "accountId": "sub1", "status": "FILLED", "currency1": "BTC", "currency2": "USD", "side": "BUY",
    "executedAmountCcy1": "0.01000000", "executedAmountCcy2": "650.00000000", "requestedAmountCcy1": "0.01000000",
    "requestedAmountCcy2": None, "orderType": "Market", "timeInForce": None, "comment": None,
    "executionType": "Trade", "executionId": "1726747124624_101_41116", "transactTime": "2024-10-15T15:08:12.794Z",
    "expireTime": None, "effectiveTime": None, "averagePrice": "65000", "lastQuantity": "0.01000000",
    "lastAmountCcy1": "0.01000000", "lastAmountCcy2": "650.00000000", "lastPrice": "65000", "feeAmount": "1.3",
    "feeCurrency": "USD", "clientCreateTimestamp": "1729004892014", "serverCreateTimestamp": "1729004891628",
    "lastUpdateTimestamp": "1729004892786",
}  # fmt: skip


@pytest.fixture
def binance(exchange):
    broker, http = exchange(BrokerName.BINANCE)
    http.on("GET", "/api/v3/exchangeInfo", (200, EXCHANGE_INFO))
    return broker, http


def buy(symbol: str = "BTC/USDT", qty: float = 0.01) -> OrderRequest:
    return OrderRequest(CID, symbol, "buy", qty, 65_000)


# --- client order ids -----------------------------------------------------------------------------


async def test_binance_market_order_sends_new_client_order_id_once(binance):
    broker, http = binance
    http.on("POST", "/api/v3/order", (200, BINANCE_FILLED))
    result = await broker.create_order(buy(qty=0.001))
    sent = http.last("POST", "/api/v3/order").params
    assert (sent["newClientOrderId"], sent["symbol"], sent["side"], sent["type"], sent["quantity"]) == (
        CID, "BTCUSDT", "BUY", "MARKET", "0.001",
    )
    assert "quoteOrderQty" not in sent and "price" not in sent  # sized in base units
    assert [c.path for c in http.calls if c.method == "POST"] == ["/api/v3/order"]
    assert (result.status, result.filled, result.average, result.exchange_order_id) == ("closed", 0.001, 65_000, "28457")
    assert (result.fee, result.fee_currency, result.client_order_id) == (0.000001, "BTC", CID)


@pytest.mark.parametrize(
    ("name", "symbol", "market_id", "path", "answer", "param"),
    [
        (BrokerName.OKX, "BTC/USDT", "BTC-USDT", "/api/v5/trade/batch-orders",
         {"code": "0", "msg": "", "data": [{"clOrdId": CID, "ordId": "312269865356374016", "tag": "",
                                            "ts": "1730419200123", "sCode": "0", "sMsg": "Order placed"}]}, "clOrdId"),
        (BrokerName.TOKOCRYPTO, "BTC/USDT", "BTC_USDT", "/open/v1/orders",
         {"code": 0, "msg": "Success", "data": TOKOCRYPTO_ORDER, "timestamp": 1730419200200}, "clientId"),
        (BrokerName.COINBASE, "BTC/USD", "BTC-USD", "/api/v3/brokerage/orders",
         {"success": True, "success_response": {"order_id": COINBASE_ORDER["order_id"], "product_id": "BTC-USD",
                                                "side": "BUY", "client_order_id": CID},
          "order_configuration": {"market_market_ioc": {"quote_size": "650"}}}, "client_order_id"),
        (BrokerName.CEXIO, "BTC/USD", "BTC-USD", "/do_my_new_order", {"ok": "ok", "data": CEX_ORDER}, "clientOrderId"),
    ],
)  # fmt: skip
async def test_each_exchange_gets_the_client_id_in_its_own_parameter(
    exchange, market, name, symbol, market_id, path, answer, param
):
    assert CLIENT_ID_PARAM[name] == param
    broker, http = exchange(name, markets=[market(symbol, market_id, info={"orderTypes": ["LIMIT", "MARKET"]})])
    if name is BrokerName.CEXIO:
        broker.exchange.options["createOrder"] = {"accountId": "sub1"}
    http.on("POST", path, (200, answer))
    # acknowledgements without the fill are read back by client id
    http.on("GET", "/api/v5/trade/order", (200, {"code": "0", "msg": "", "data": [OKX_ORDER]}))
    http.on("GET", "/api/v3/brokerage/orders/historical/batch",
            (200, {"orders": [COINBASE_ORDER], "sequence": "0", "has_next": False, "cursor": ""}))  # fmt: skip
    result = await broker.create_order(buy(symbol))
    sent = http.last("POST", path).params
    assert sent[param] == CID
    assert "clientOrderId" not in sent or param == "clientOrderId"  # not ccxt's unified name as well
    assert len([c for c in http.calls if c.method == "POST"]) == 1
    assert result.client_order_id == CID and result.status == "closed" and result.filled == pytest.approx(0.01)
    assert result.average == pytest.approx(65_000)
    if name is BrokerName.OKX:
        assert sent["tgtCcy"] == "base_ccy" and sent["sz"] == "0.01"  # a buy sized in BTC, not USDT
        assert http.last("GET", "/api/v5/trade/order").params["clOrdId"] == CID
    if name is BrokerName.COINBASE:
        assert json.loads(sent["order_configuration"]) == {"market_market_ioc": {"quote_size": "650"}}
    if name is BrokerName.CEXIO:
        assert sent["accountId"] == "sub1"


def test_client_ids_are_shortened_deterministically_where_an_exchange_limits_them():
    long_id = "deployment-000123-20261101T000000Z-buy"
    okx = wire_client_id(BrokerName.OKX, long_id)
    assert okx == wire_client_id(BrokerName.OKX, long_id) and len(okx) == 32 and okx.isalnum()
    assert wire_client_id(BrokerName.BINANCE, "dep-1_2026:buy") == "dep-1_2026:buy"
    assert len(wire_client_id(BrokerName.BINANCE, long_id)) == 36


# --- looking orders up ----------------------------------------------------------------------------


async def test_binance_fetch_order_by_orig_client_order_id_and_none_when_absent(binance):
    broker, http = binance
    http.on("GET", "/api/v3/order", lambda p: (200, {**BINANCE_FILLED, "fills": []}) if p["origClientOrderId"] == CID
            else (400, {"code": -2013, "msg": "Order does not exist."}))  # fmt: skip
    found = await broker.fetch_order(CID, "BTC/USDT")
    assert found is not None and found.status == "closed" and found.filled == 0.001
    assert http.last("GET", "/api/v3/order").params["origClientOrderId"] == CID
    assert await broker.fetch_order("never-arrived", "BTCUSDT") is None


async def test_okx_fetch_order_by_cl_ord_id(exchange, market):
    broker, http = exchange(BrokerName.OKX, markets=[market("BTC/USDT", "BTC-USDT")])
    http.on("GET", "/api/v5/trade/order", lambda p: (200, {"code": "0", "msg": "", "data": [OKX_ORDER]})
            if p.get("clOrdId") == CID else (200, {"code": "51603", "msg": "Order does not exist", "data": []}))  # fmt: skip
    found = await broker.fetch_order(CID, "BTC/USDT")
    assert found is not None and (found.exchange_order_id, found.fee, found.fee_currency) == (
        "312269865356374016", 0.00001, "BTC",
    )
    assert await broker.fetch_order("other", "BTC/USDT") is None


async def test_cex_searches_open_and_closed_orders_for_the_client_id(exchange, market):
    broker, http = exchange(BrokerName.CEXIO, markets=[market("BTC/USD", "BTC-USD")])
    history = [{**CEX_ORDER, "clientOrderId": "someone-else"}]
    http.on("POST", "/get_my_orders", lambda p: (200, {"ok": "ok", "data": history if p.get("archived") else []}))
    assert await broker.fetch_order(CID, "BTC/USD") is None
    history.append(CEX_ORDER)
    found = await broker.fetch_order(CID, "BTC/USD")
    assert found is not None and (found.exchange_order_id, found.filled, found.fee) == ("1318485", 0.01, 1.3)
    lists = [c.params.get("archived") for c in http.calls]
    assert "True" in lists and None in lists  # open orders, then the archive


# --- failures -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "on_order", "elsewhere"),
    [
        (ccxt.RequestTimeout("binance POST https://api.binance.com/api/v3/order request timeout"), OutcomeUnknown, Transient),
        (ccxt.ExchangeNotAvailable("binance 503 Service Unavailable"), OutcomeUnknown, Transient),
        (ccxt.NetworkError("binance connection reset"), OutcomeUnknown, Transient),
        (ccxt.RateLimitExceeded("binance 429 Too Many Requests"), Transient, Transient),
        (ccxt.DDoSProtection("binance 418 I'm a teapot"), Transient, Transient),
        (ccxt.OnMaintenance("binance system maintenance"), Transient, Transient),
        (ccxt.InsufficientFunds('binance {"code":-2010,"msg":"Account has insufficient balance."}'), InsufficientFunds, InsufficientFunds),
        (ccxt.InvalidOrder('binance {"code":-1013,"msg":"Filter failure: NOTIONAL"}'), OrderRejected, OrderRejected),
        (ccxt.DuplicateOrderId('binance {"code":-2010,"msg":"Duplicate order sent."}'), OutcomeUnknown, OrderRejected),
        (ccxt.BadSymbol("binance does not have market symbol XYZ/USDT"), OrderRejected, OrderRejected),
        (ccxt.AuthenticationError('binance {"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}'), AuthFailed, AuthFailed),
        (ccxt.PermissionDenied("binance permission denied"), AuthFailed, AuthFailed),
        (ccxt.AccountSuspended("binance account suspended"), AuthFailed, AuthFailed),
        (ccxt.ExchangeError('binance {"code":-1099,"msg":"Something odd happened."}'), OrderRejected, OrderRejected),
    ],
)  # fmt: skip
def test_ccxt_exceptions_map_to_broker_errors(raised, on_order, elsewhere):
    assert type(broker_error(raised, "Binance", sending=True)) is on_order
    assert type(broker_error(raised, "Binance")) is elsewhere


def test_messages_are_the_exchanges_short_reason_and_carry_no_key():
    from core.logging import register_secret

    register_secret("leaky-secret-value-123")
    error = broker_error(ccxt.ExchangeError('binance {"code":-1099,"msg":"bad key leaky-secret-value-123"}'), "Binance")
    assert error.message == "Binance refused: bad key ***"
    okx = broker_error(
        ccxt.InsufficientFunds('okx {"code":"1","data":[{"sCode":"51008","sMsg":"Insufficient USDT balance"}],"msg":""}'),
        "OKX",
    )
    assert okx.message == "OKX: insufficient balance (Insufficient USDT balance)"


async def test_a_timeout_on_create_is_sent_once_and_outcome_unknown(binance):
    broker, http = binance
    assert broker.exchange.options["maxRetriesOnFailure"] == 0
    assert broker.exchange.enableRateLimit is True and broker.exchange.verbose is False
    http.on("POST", "/api/v3/order", ccxt.RequestTimeout("binance POST https://api.binance.com/api/v3/order timed out"))
    with pytest.raises(OutcomeUnknown):
        await broker.create_order(buy())
    assert len([c for c in http.calls if c.method == "POST"]) == 1


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, {"code": -2010, "msg": "Account has insufficient balance for requested action."}, InsufficientFunds),
        (401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}, AuthFailed),
        (400, {"code": -1013, "msg": "Filter failure: NOTIONAL"}, OrderRejected),
    ],
)
async def test_binance_error_bodies_through_ccxts_own_mapping(binance, status, body, expected):
    broker, http = binance
    http.on("POST", "/api/v3/order", (status, body))
    with pytest.raises(expected) as caught:
        await broker.create_order(buy())
    assert body["msg"] in caught.value.message


async def test_duplicate_client_id_answers_with_the_existing_order(binance):
    broker, http = binance
    http.on("POST", "/api/v3/order", ccxt.DuplicateOrderId("binance Duplicate order sent."))
    http.on("GET", "/api/v3/order", (200, {**BINANCE_FILLED, "fills": []}))
    result = await broker.create_order(buy())
    assert result.status == "closed" and result.exchange_order_id == "28457"


# --- balances, rules, verification ----------------------------------------------------------------


async def test_balance_rules_and_a_verified_read_only_binance_key(binance):
    broker, http = binance
    http.on("GET", "/api/v3/account", (200, BINANCE_ACCOUNT))
    http.on("GET", "/sapi/v1/account/apiRestrictions", (200, api_restrictions(withdrawals=False)))
    balance = await broker.fetch_balance()
    assert balance["BTC"] == 0.001 and balance["USDT"] == 934.9
    rules = await broker.market_rules("BTCUSDT")
    assert (rules.symbol, rules.base, rules.quote, rules.amount_step, rules.min_amount, rules.min_cost) == (
        "BTC/USDT", "BTC", "USDT", 0.00001, 0.00001, 5.0,
    )
    verification = await broker.verify()
    assert (verification.can_withdraw, verification.can_trade) == (False, True)
    assert any(c.path == "/sapi/v1/account/apiRestrictions" for c in http.calls)
    assert all(c.method == "GET" for c in http.calls)  # verification changes nothing


async def test_withdraw_enabled_binance_key_is_reported(binance):
    broker, http = binance
    http.on("GET", "/api/v3/account", (200, BINANCE_ACCOUNT))
    http.on("GET", "/sapi/v1/account/apiRestrictions", (200, api_restrictions(withdrawals=True)))
    assert (await broker.verify()).can_withdraw is True


async def test_okx_permissions_come_from_account_config(exchange, market):
    broker, http = exchange(BrokerName.OKX, markets=[market("BTC/USDT", "BTC-USDT")])
    http.on("GET", "/api/v5/account/balance", (200, {"code": "0", "msg": "", "data": [
        {"details": [{"availBal": "100", "ccy": "USDT", "cashBal": "100", "eq": "100", "frozenBal": "0"}],
         "totalEq": "100", "uTime": "1730419200000"}]}))  # fmt: skip
    http.on("GET", "/api/v5/account/config", (200, {"code": "0", "msg": "", "data": [
        {"acctLv": "1", "perm": "read_only,withdraw,trade", "uid": "44705892343619584"}]}))  # fmt: skip
    verification = await broker.verify()
    assert (verification.can_withdraw, verification.can_trade) == (True, True)
    headers = http.last("GET", "/api/v5/account/config").headers
    assert headers["OK-ACCESS-PASSPHRASE"] == "pass-phrase-1"  # the passphrase travels as OKX wants it


async def test_ccxt_never_logs_at_debug(exchange, caplog):
    logging.getLogger("ccxt").setLevel(logging.NOTSET)
    with caplog.at_level(logging.DEBUG):
        exchange(BrokerName.BINANCE)
        assert logging.getLogger("ccxt").getEffectiveLevel() >= logging.INFO


async def test_market_lists_are_loaded_once_for_every_broker_on_that_exchange(exchange):
    loads = []
    for _ in range(2):
        broker, http = exchange(BrokerName.BINANCE)
        http.on("GET", "/api/v3/exchangeInfo", (200, EXCHANGE_INFO))
        await broker.market_rules("BTC/USDT")
        loads += [c for c in http.calls if c.path == "/api/v3/exchangeInfo"]
        await broker.close()
    assert len(loads) == 1


# --- stops resting on the exchange ----------------------------------------------------------------


async def test_binance_rests_a_stop_loss_and_cancels_it_by_client_id(binance):
    broker, http = binance
    stop_id = "sx12t1730419200p"
    http.on("POST", "/api/v3/order", (200, {"symbol": "BTCUSDT", "orderId": 28460, "orderListId": -1,
                                            "clientOrderId": stop_id, "transactTime": 1730419200123}))  # fmt: skip
    assert broker.rests_stops
    placed = await broker.place_stop(OrderRequest(stop_id, "BTC/USDT", "sell", 0.001, 61_750.0))
    sent = http.last("POST", "/api/v3/order").params
    assert (sent["type"], sent["side"], sent["stopPrice"], sent["quantity"], sent["newClientOrderId"]) == (
        "STOP_LOSS", "SELL", "61750", "0.001", stop_id,
    )
    assert "price" not in sent  # a market sell once the stop trades, not a limit
    assert (placed.status, placed.filled, placed.exchange_order_id) == ("open", 0.0, "28460")

    http.on("DELETE", "/api/v3/order", (200, {**BINANCE_FILLED, "clientOrderId": stop_id, "origClientOrderId": stop_id,
                                              "type": "STOP_LOSS", "side": "SELL", "status": "CANCELED",
                                              "executedQty": "0.00000000", "cummulativeQuoteQty": "0.00000000",
                                              "fills": []}))  # fmt: skip
    lifted = await broker.cancel_order(stop_id, "BTC/USDT")
    assert http.last("DELETE", "/api/v3/order").params["origClientOrderId"] == stop_id
    assert lifted is not None and (lifted.status, lifted.filled) == ("canceled", 0.0)


async def test_a_stop_that_filled_before_its_cancel_is_read_back(binance):
    broker, http = binance
    http.on("DELETE", "/api/v3/order", (400, {"code": -2011, "msg": "Unknown order sent."}))
    http.on("GET", "/api/v3/order", (200, {**BINANCE_FILLED, "side": "SELL", "type": "STOP_LOSS", "fills": []}))
    found = await broker.cancel_order(CID, "BTC/USDT")
    assert found is not None and (found.status, found.filled) == ("closed", 0.001)


async def test_exchanges_without_resting_stops_say_so(exchange, market):
    broker, _ = exchange(BrokerName.OKX, markets=[market("BTC/USDT", "BTC-USDT")])
    assert not broker.rests_stops
    with pytest.raises(OrderRejected, match="checked by the bot"):
        await broker.place_stop(OrderRequest(CID, "BTC/USDT", "sell", 0.01, 60_000))


@pytest.mark.parametrize(
    ("said", "read"),
    [
        ("closed", BrokerOrderStatus.CLOSED),
        ("open", BrokerOrderStatus.OPEN),
        ("canceled", BrokerOrderStatus.CANCELED),
        ("rejected", BrokerOrderStatus.REJECTED),
        ("expired", BrokerOrderStatus.CANCELED),  # an expired order is a canceled one
        (None, BrokerOrderStatus.OPEN),  # no status yet: looked at again, not settled on a guess
        ("partially_filled", BrokerOrderStatus.OPEN),  # no unified status: the same
    ],
)
def test_ccxt_order_statuses_are_read_as_the_broker_order_status(said, read):
    result = order_result(CID, {"id": "1", "status": said, "filled": 0.0})
    assert result.status is read
    assert result.status == read.value  # the same string as before the enum
