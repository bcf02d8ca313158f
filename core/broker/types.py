"""What every broker (the paper account and the ccxt exchanges) offers the order executor.

The executor (``core.deployment.executor``) records an order's intent with a deterministic client order id,
then calls ``Broker.create_order``; after a timeout, a crash or a restart it calls
``Broker.fetch_order`` with the same id to learn what happened, never ``create_order`` twice.
Every failure is one of the ``BrokerError`` classes below, so the executor can decide: retry,
look the order up, record it as failed, or pause the deployment and tell the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from core.errors import StoxlifyError


class BrokerName(StrEnum):
    """Brokers as the Stoxlify Core API spells them."""

    PAPER = "Paper"
    BINANCE = "Binance"
    TOKOCRYPTO = "Tokocrypto"
    OKX = "OKX"
    COINBASE = "Coinbase"
    CEXIO = "CexIO"


@dataclass(frozen=True, slots=True)
class MarketRules:
    """An exchange's limits for one symbol: orders below them are refused there."""

    symbol: str
    base: str  # BTC, BBCA.JK
    quote: str  # USDT, IDR
    amount_step: float | None = None  # quantity precision as a step (0.00001), None when unknown
    min_amount: float | None = None
    min_cost: float | None = None  # minimum notional in the quote currency
    lot: float = 1.0  # IDX: 100 shares
    fee: float | None = None  # taker fee per leg as a fraction of traded value, where the broker tells


class Side(StrEnum):
    """An order's side, spelled as ccxt and the Stoxlify Core API spell it."""

    BUY = "buy"
    SELL = "sell"


@dataclass(frozen=True, slots=True)
class OrderRequest:
    client_order_id: str  # deterministic; each broker passes it in its own parameter
    symbol: str  # the broker's symbol: BTC/USDT on exchanges, the instrument symbol on paper
    side: Side
    quantity: float  # in base units, already rounded to the market's step
    reference_price: float  # paper fills here (the backtest's fill price); exchanges fill market orders at market


class BrokerOrderStatus(StrEnum):
    """An order's state as the broker reports it: ccxt's unified order statuses (its ``expired`` is
    read as canceled). The executor maps it onto the stored ``OrderStatus``."""

    OPEN = "open"
    CLOSED = "closed"  # filled
    CANCELED = "canceled"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class OrderResult:
    client_order_id: str
    exchange_order_id: str | None
    status: BrokerOrderStatus
    filled: float
    average: float | None
    fee: float = 0.0
    fee_currency: str | None = None


class Broker(Protocol):
    name: BrokerName
    paper: bool

    # Read-only in the protocol: an exchange broker computes it from its exchange (a property), a
    # paper broker states it as a class attribute; either satisfies a property.
    @property
    def rests_stops(self) -> bool:
        """A stop-loss can rest on the exchange itself (it protects while the bot is down)."""
        ...

    async def create_order(self, request: OrderRequest) -> OrderResult:
        """Send a market order. Raises a ``BrokerError``; ``OutcomeUnknown`` when it may have gone through."""
        ...

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderResult | None:
        """The order with this client id, or None when the exchange has none (it never arrived)."""
        ...

    async def fetch_balance(self) -> dict[str, float]:
        """Free balance per asset."""
        ...

    async def place_stop(self, request: OrderRequest) -> OrderResult:
        """Rest a stop-loss sell of ``request.quantity`` triggered at ``request.reference_price`` (a
        market sell once the price trades there); only where ``rests_stops``."""
        ...

    async def cancel_order(self, client_order_id: str, symbol: str) -> OrderResult | None:
        """Cancel a resting order; what became of it (``canceled``, or ``closed`` when it filled
        first), None when the exchange has no such order."""
        ...

    async def market_rules(self, symbol: str) -> MarketRules: ...

    async def close(self) -> None: ...


# --- failures ------------------------------------------------------------------------------------


class BrokerError(StoxlifyError):
    """Base of every broker failure; the message is fit for the user."""


class Transient(BrokerError):
    """Timeout before sending, rate limit, exchange down or in maintenance: retry later."""


class OutcomeUnknown(BrokerError):
    """The request may have reached the exchange (timeout after sending): look the order up by client id."""


class InsufficientFunds(BrokerError):
    """Not enough balance for the order."""


class OrderRejected(BrokerError):
    """The exchange refused the order as such: below the minimum size or notional, bad symbol..."""


class AuthFailed(BrokerError):
    """The key was revoked, expired or lacks the permission: nothing will work until the user fixes it."""
