"""The ccxt exchanges (Binance, Tokocrypto, OKX, Coinbase, Cex.io) behind the ``Broker`` protocol.

What this adapter guarantees the order executor:

- the executor's client order id reaches each exchange in that exchange's own parameter
  (``CLIENT_ID_PARAM``: Coinbase silently drops ccxt's unified ``clientOrderId``), shortened
  deterministically where the exchange limits it (``wire_client_id``), so ``fetch_order`` finds it;
- ccxt never re-sends a request by itself (``maxRetriesOnFailure`` 0): a re-POSTed order is a
  second order; the executor decides about retries;
- every ccxt failure becomes one ``BrokerError`` (``broker_error``) whose message is the exchange's
  short reason, never a key;
- ccxt never logs at DEBUG (it prints request headers, keys included) and ``verbose`` stays off.

ccxt is imported on first use: it is large and a bot without live keys never needs it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.broker.symbols import unified
from core.broker.types import (
    AuthFailed,
    BrokerError,
    BrokerName,
    BrokerOrderStatus,
    InsufficientFunds,
    MarketRules,
    OrderRejected,
    OrderRequest,
    OrderResult,
    OutcomeUnknown,
    Side,
    Transient,
)
from core.logging import scrub

if TYPE_CHECKING:
    from core.broker.crypto import KeyMaterial
    from core.config import Settings

CCXT_IDS: dict[BrokerName, str] = {
    BrokerName.BINANCE: "binance",
    BrokerName.TOKOCRYPTO: "tokocrypto",
    BrokerName.OKX: "okx",
    BrokerName.COINBASE: "coinbase",
    BrokerName.CEXIO: "cex",
}
CCXT_IDS_BY_NAME = {name.value: ccxt_id for name, ccxt_id in CCXT_IDS.items()}
CLIENT_ID_PARAM: dict[BrokerName, str] = {
    BrokerName.BINANCE: "newClientOrderId",
    BrokerName.TOKOCRYPTO: "clientId",
    BrokerName.OKX: "clOrdId",
    BrokerName.COINBASE: "client_order_id",
    BrokerName.CEXIO: "clientOrderId",
}
# (longest id, characters allowed) per exchange; Binance documents ^[.A-Z:/a-z0-9_-]{1,36}$,
# OKX [a-zA-Z0-9]{1,32}; the others are kept to a shape every one of them accepts.
_CLIENT_ID_SHAPE: dict[BrokerName, tuple[int, re.Pattern[str]]] = {
    BrokerName.BINANCE: (36, re.compile(r"^[.A-Za-z0-9:/_-]+$")),
    BrokerName.TOKOCRYPTO: (32, re.compile(r"^[A-Za-z0-9]+$")),
    BrokerName.OKX: (32, re.compile(r"^[A-Za-z0-9]+$")),
    BrokerName.COINBASE: (64, re.compile(r"^[A-Za-z0-9_-]+$")),
    BrokerName.CEXIO: (36, re.compile(r"^[A-Za-z0-9_-]+$")),
}
# Market buys these exchanges size in quote currency: ccxt needs the price to turn quantity into cost.
_BUY_NEEDS_PRICE = {BrokerName.TOKOCRYPTO, BrokerName.COINBASE}
# ccxt's unified order statuses as read here: ``expired`` is a canceled order; any other (none is
# documented) is taken as still open, so the order is looked at again rather than settled on a guess.
_CCXT_STATUS = {"expired": BrokerOrderStatus.CANCELED, **{s.value: s for s in BrokerOrderStatus}}
_DONE = (BrokerOrderStatus.CLOSED, BrokerOrderStatus.CANCELED, BrokerOrderStatus.REJECTED)
_RESTING_STOPS = {BrokerName.BINANCE}
# Market lists are public and the same for every account: loaded once an hour per exchange, not
# once per order (a broker is made per credential and use).
MARKETS_TTL_S = 3600.0
_markets_cache: dict[str, tuple[float, Any, Any]] = {}
_SHORT = 200


def wire_client_id(broker: BrokerName, client_order_id: str) -> str:
    """The client order id as sent to ``broker``: unchanged when it fits, else a stable hash that does."""
    longest, allowed = _CLIENT_ID_SHAPE[broker]
    if len(client_order_id) <= longest and allowed.match(client_order_id):
        return client_order_id
    return "s" + hashlib.sha256(client_order_id.encode()).hexdigest()[: longest - 1]


@dataclass(frozen=True, slots=True)
class Verification:
    """What a read-only check of a key learned. None: the exchange does not say."""

    can_withdraw: bool | None
    can_trade: bool | None


def quiet_ccxt_logging() -> None:
    """ccxt logs request headers (API keys, OKX passphrases) at DEBUG: never let it."""
    logger = logging.getLogger("ccxt")
    if logger.getEffectiveLevel() < logging.INFO:
        logger.setLevel(logging.INFO)


def new_exchange(broker: BrokerName, keys: KeyMaterial, settings: Settings) -> Any:
    """A ccxt async exchange signed with ``keys``; the caller closes it."""
    import ccxt.async_support as ccxt_async

    quiet_ccxt_logging()
    options: dict[str, Any] = {"maxRetriesOnFailure": 0, "maxRetriesOnFailureDelay": 0, "defaultType": "spot"}
    if broker in (BrokerName.BINANCE, BrokerName.OKX):
        options["fetchMarkets"] = {"types": ["spot"]}  # spot only: no futures or options requests
    if broker is BrokerName.CEXIO:
        # Cex.io takes API orders only into a named sub-account (ccxt refuses to send one without)
        options["createOrder"] = {"accountId": keys.account}
    if broker is BrokerName.BINANCE:
        options["fetchCurrencies"] = False  # private requests per market load, for nothing we use
        options["fetchMargins"] = False
    config: dict[str, Any] = {
        "apiKey": keys.client_id,
        "secret": keys.secret,
        "enableRateLimit": True,
        "timeout": int(settings.broker_timeout_s * 1000),
        "options": options,
    }
    if keys.passphrase:
        config["password"] = keys.passphrase
    exchange = getattr(ccxt_async, CCXT_IDS[broker])(config)
    exchange.verbose = False
    return exchange


def _short(exc: Exception, exchange_id: str) -> str:
    """The exchange's own reason from a ccxt message such as ``binance {"code":-2010,"msg":"..."}``."""
    text = str(exc).strip()
    if text.startswith(exchange_id):
        text = text[len(exchange_id) :].strip()
    start = text.find("{")
    if start >= 0:
        try:
            body = json.loads(text[start:])
        except ValueError:
            body = None
        if isinstance(body, dict):
            data = body.get("data")
            first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
            for value in (first.get("sMsg"), body.get("msg"), body.get("message"), body.get("error"), body.get("e")):
                if isinstance(value, str) and value.strip():
                    text = value.strip()
                    break
    text = scrub(" ".join(text.split()))
    return text if len(text) <= _SHORT else text[: _SHORT - 1] + "…"


def broker_error(exc: Exception, exchange: str, *, sending: bool = False) -> BrokerError:
    """The ``BrokerError`` for a ccxt exception.

    ``sending``: the failed call was the one that places an order. A timeout then means the order
    may exist, and so does any other network failure except the exchange's explicit refusals
    (rate limit, DDoS protection, maintenance, bad nonce): Binance answers 5xx with "execution
    status unknown". The executor looks those up by client id instead of sending again.
    """
    import ccxt

    where = exchange
    reason = _short(exc, CCXT_IDS_BY_NAME.get(exchange, exchange.lower()))
    refused_before_processing = (ccxt.RateLimitExceeded, ccxt.DDoSProtection, ccxt.OnMaintenance, ccxt.InvalidNonce)
    if isinstance(exc, ccxt.RequestTimeout):
        if sending:
            return OutcomeUnknown(f"{where} did not answer in time: the order may have gone through")
        return Transient(f"{where} did not answer in time")
    if isinstance(exc, ccxt.NetworkError):
        if sending and not isinstance(exc, refused_before_processing):
            return OutcomeUnknown(f"{where} failed while taking the order ({reason}): it may have gone through")
        if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
            return Transient(f"{where} is rate-limiting requests: trying again later")
        if isinstance(exc, ccxt.OnMaintenance):
            return Transient(f"{where} is under maintenance")
        return Transient(f"{where} is not reachable right now ({reason})")
    if isinstance(exc, ccxt.InsufficientFunds):
        return InsufficientFunds(f"{where}: insufficient balance ({reason})")
    if isinstance(exc, ccxt.AuthenticationError):  # PermissionDenied, AccountSuspended, AccountNotEnabled
        return AuthFailed(f"{where} refused the API key ({reason}): it may be revoked, expired or lack a permission")
    if isinstance(exc, ccxt.DuplicateOrderId) and sending:
        # an earlier attempt with this client id got through after all: find it, never count it as refused
        return OutcomeUnknown(f"{where} already has an order with this client id: looking it up")
    if isinstance(exc, ccxt.BadSymbol):
        return OrderRejected(f"{where} does not trade that pair ({reason})")
    if isinstance(exc, ccxt.InvalidOrder):  # below minimum size or notional, bad precision...
        return OrderRejected(f"{where} rejected the order: {reason}")
    if isinstance(exc, ccxt.ExchangeError):
        return OrderRejected(f"{where} refused: {reason}")
    if isinstance(exc, ccxt.OperationFailed):  # BadResponse, NullResponse, CancelPending
        if sending:
            return OutcomeUnknown(f"{where} gave an unreadable answer to the order: it may have gone through")
        return Transient(f"{where} gave an unreadable answer ({reason})")
    return OrderRejected(f"{where}: {reason}")


def _fee(order: dict[str, Any]) -> tuple[float, str | None]:
    fees = [f for f in (order.get("fees") or []) if f and f.get("cost") is not None]
    if not fees and order.get("fee") and order["fee"].get("cost") is not None:
        fees = [order["fee"]]
    if not fees:
        return 0.0, None
    return float(sum(float(f["cost"]) for f in fees)), fees[0].get("currency")


def order_result(client_order_id: str, order: dict[str, Any]) -> OrderResult:
    """A ccxt unified order as the executor's ``OrderResult``."""
    status = _CCXT_STATUS.get(order.get("status") or "open", BrokerOrderStatus.OPEN)
    filled = float(order.get("filled") or 0.0)
    average = order.get("average")
    if average is None and filled and order.get("cost"):
        average = float(order["cost"]) / filled
    fee, currency = _fee(order)
    exchange_id = order.get("id")
    return OrderResult(
        client_order_id=client_order_id,
        exchange_order_id=str(exchange_id) if exchange_id not in (None, "") else None,
        status=status,
        filled=filled,
        average=float(average) if average is not None else None,
        fee=fee,
        fee_currency=currency,
    )


class ExchangeBroker:
    """One credential's account on one exchange. Call ``close()`` when done with it."""

    paper = False

    def __init__(self, name: BrokerName, exchange: Any) -> None:
        self.name = name
        self.exchange = exchange

    @property
    def rests_stops(self) -> bool:
        """Binance spot takes a STOP_LOSS order (a market sell once the stop price trades) looked up
        and cancelled by client id like any order; elsewhere the bot checks the stop at each candle."""
        return self.name in _RESTING_STOPS

    async def place_stop(self, request: OrderRequest) -> OrderResult:
        if not self.rests_stops:
            raise OrderRejected(f"{self.name} stops are checked by the bot at each candle")
        params = {**self._client_id(request), "stopLossPrice": request.reference_price}
        return await self._send(request, Side.SELL, None, params)

    async def cancel_order(self, client_order_id: str, symbol: str) -> OrderResult | None:
        import ccxt

        wire = wire_client_id(self.name, client_order_id)
        await self._markets()
        try:
            order = await self.exchange.cancel_order(None, unified(symbol), {"origClientOrderId": wire})
        except ccxt.OrderNotFound:  # gone already: filled, or never there
            return await self.fetch_order(client_order_id, symbol)
        except ccxt.BaseError as exc:
            raise broker_error(exc, self.name.value) from exc
        return order_result(client_order_id, order)

    async def create_order(self, request: OrderRequest) -> OrderResult:
        params = self._client_id(request)
        if self.name is BrokerName.OKX:
            params["tgtCcy"] = "base_ccy"  # a market buy's size in base units, like every other order here
        price = request.reference_price if request.side == Side.BUY and self.name in _BUY_NEEDS_PRICE else None
        result = await self._send(request, request.side, price, params)
        if result.status in _DONE or result.filled:
            return result
        # OKX and Coinbase acknowledge with ids only: read the (market, so usually filled) order back
        try:
            found = await self.fetch_order(request.client_order_id, request.symbol)
        except BrokerError:
            return result
        return found or result

    def _client_id(self, request: OrderRequest) -> dict[str, Any]:
        return {CLIENT_ID_PARAM[self.name]: wire_client_id(self.name, request.client_order_id)}

    async def _send(self, request: OrderRequest, side: Side, price: float | None, params: dict[str, Any]) -> OrderResult:
        """One market order (a stop one with ``stopLossPrice``), sent once; a duplicate client id
        answers with the order that has it."""
        import ccxt

        await self._markets()
        try:
            order = await self.exchange.create_order(unified(request.symbol), "market", side, request.quantity,
                                                     price, params)  # fmt: skip
        except ccxt.DuplicateOrderId:
            found = await self.fetch_order(request.client_order_id, request.symbol)
            if found is None:
                raise OutcomeUnknown(f"{self.name} says the order exists but does not show it yet") from None
            return found
        except ccxt.BaseError as exc:
            raise broker_error(exc, self.name.value, sending=True) from exc
        return order_result(request.client_order_id, order)

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderResult | None:
        import ccxt

        wire = wire_client_id(self.name, client_order_id)
        market_symbol = unified(symbol)
        await self._markets()
        try:
            if self.name is BrokerName.BINANCE:
                order = await self.exchange.fetch_order(None, market_symbol, {"origClientOrderId": wire})
            elif self.name is BrokerName.OKX:
                order = await self.exchange.fetch_order(None, market_symbol, {"clOrdId": wire})
            else:
                order = await self._search(market_symbol, wire)
        except ccxt.OrderNotFound:
            return None
        except ccxt.BaseError as exc:
            raise broker_error(exc, self.name.value) from exc
        return order_result(client_order_id, order) if order else None

    async def fetch_balance(self) -> dict[str, float]:
        import ccxt

        try:
            balance = await self.exchange.fetch_balance()
        except ccxt.BaseError as exc:
            raise broker_error(exc, self.name.value) from exc
        free = balance.get("free") or {}
        return {asset: float(amount) for asset, amount in free.items() if amount is not None}

    async def market_rules(self, symbol: str) -> MarketRules:
        import ccxt

        await self._markets()
        try:
            market = self.exchange.market(unified(symbol))
        except ccxt.BaseError as exc:
            raise broker_error(exc, self.name.value) from exc
        precision = (market.get("precision") or {}).get("amount")
        if precision is not None and self.exchange.precisionMode != ccxt.TICK_SIZE:
            precision = 10.0 ** -float(precision)  # DECIMAL_PLACES / SIGNIFICANT_DIGITS
        limits = market.get("limits") or {}
        return MarketRules(
            symbol=market["symbol"],
            base=market["base"],
            quote=market["quote"],
            amount_step=float(precision) if precision is not None else None,
            min_amount=_number((limits.get("amount") or {}).get("min")),
            min_cost=_number((limits.get("cost") or {}).get("min")),
            fee=_number(market.get("taker")),
        )

    async def verify(self) -> Verification:
        """A read-only call proves the key works; where the exchange tells, what the key may do."""
        import ccxt

        try:
            await self.exchange.fetch_balance()
            if self.name is BrokerName.BINANCE:
                r = await self.exchange.sapiGetAccountApiRestrictions()
                return Verification(_flag(r.get("enableWithdrawals")), _flag(r.get("enableSpotAndMarginTrading")))
            if self.name is BrokerName.OKX:
                r = await self.exchange.privateGetAccountConfig()
                data = r.get("data") or [{}]
                perms = {p.strip() for p in str(data[0].get("perm") or "").split(",") if p.strip()}
                if not perms:
                    return Verification(None, None)
                return Verification("withdraw" in perms, "trade" in perms)
            if self.name is BrokerName.COINBASE:
                r = await self.exchange.v3PrivateGetBrokerageKeyPermissions()
                return Verification(_flag(r.get("can_transfer")), _flag(r.get("can_trade")))
        except ccxt.BaseError as exc:
            raise broker_error(exc, self.name.value) from exc
        return Verification(None, None)

    async def close(self) -> None:
        await self.exchange.close()

    # --- internals --------------------------------------------------------------------------

    async def _markets(self) -> None:
        import ccxt

        if self.exchange.markets:
            return
        cached = _markets_cache.get(self.exchange.id)
        if cached is not None and time.monotonic() - cached[0] < MARKETS_TTL_S:
            self.exchange.set_markets(cached[1], cached[2])
            return
        try:
            await self.exchange.load_markets()
        except ccxt.BaseError as exc:
            raise broker_error(exc, self.name.value) from exc
        _markets_cache[self.exchange.id] = (time.monotonic(), self.exchange.markets, self.exchange.currencies)

    async def _search(self, symbol: str, wire: str) -> dict[str, Any] | None:
        """Exchanges without a look-up by client id: the most recent orders, matched on it."""
        has = self.exchange.has
        if has.get("fetchOrders") is True:
            lists = [await self.exchange.fetch_orders(symbol, None, 100)]
        else:
            lists = [await self.exchange.fetch_open_orders(symbol)]
            if has.get("fetchClosedOrders"):
                lists.append(await self.exchange.fetch_closed_orders(symbol, None, 100))
        for orders in lists:
            for order in orders:
                if order.get("clientOrderId") == wire:
                    return order
        return None


def _flag(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _number(value: Any) -> float | None:
    return float(value) if value is not None else None
