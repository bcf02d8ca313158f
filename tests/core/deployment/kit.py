"""Deterministic markets, a scriptable broker and row factories for the deployment and order tests.

``StubSource`` serves hand-made hourly (or any interval) frames up to the clock, forming bar
included, and counts fetches; ``make_market`` puts it behind two feeds (Binance and the IDX one),
each of which serves only its own market's tickers, so a deployment fetched from the wrong feed
finds nothing instead of silently trading another market's bars. ``FakeBroker`` behaves like an
exchange where money is concerned: it checks the balance, the minimum amount and notional and the
amount step and lot of every order (``InsufficientFunds`` / ``OrderRejected``, as ccxt maps them),
charges a buy's fee in the bought asset when ``fee_in_base`` (as a Binance fill does), and answers
whatever a test queues in ``answers`` (open, partially filled, canceled, rejected, zero fills); it
also raises any queue of ``BrokerError`` (or ccxt) exceptions a test loads into it, remembering
every order that reached the "exchange" so a test can assert none was sent twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from core.actor import Actor
from core.broker.models import Credential
from core.broker.types import BrokerName, MarketRules, OrderRequest, OrderResult, Side
from core.config import Settings
from core.db import Database
from core.deployment.models import Deployment
from core.market.service import MarketService
from core.market.sources.base import MarketSource
from core.market.types import Candles, Instrument, Interval, Range, SearchHit, Source

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # a Monday
LONG_ONLY = "buy = close > open\nsell = close < open\n"
WITH_STOP = LONG_ONLY + "stop_loss = 0.05\n"


def frame(colours: Sequence[str], start: datetime = T0, step: timedelta = timedelta(hours=1), base: float = 100.0) -> pd.DataFrame:
    """Bars whose colour is given: ``g`` closes above its open (buy), ``r`` below (sell), ``d`` a
    red bar whose low falls 10 % under the open (a stop), ``.`` a doji (nothing)."""
    rows = []
    for colour in colours:
        o = base
        c = {"g": base * 1.01, "r": base * 0.99, "d": base * 0.995, ".": base}[colour]
        low = base * 0.9 if colour == "d" else min(o, c) * 0.999
        rows.append((o, max(o, c) * 1.001, low, c, 1000.0))
    index = pd.DatetimeIndex([start + i * step for i in range(len(rows))], name="time")
    return pd.DataFrame(np.array(rows, dtype=float), index=index, columns=["open", "high", "low", "close", "volume"])


def market_of(ticker: str) -> Source:
    """The feed a ticker's bars come from: Binance for ``...USDT`` pairs, the IDX feed for the rest."""
    return Source.BINANCE if ticker.upper().replace("/", "").endswith("USDT") else Source.YFINANCE


class StubSource:
    """A market source over in-memory frames; bars after the clock are not served yet.

    ``fed`` lists ``(feed, ticker)`` per fetch. Behind ``make_market`` each feed is a ``Feed``
    view that refuses another market's tickers (NotFound), as the real sources would."""

    source = Source.BINANCE
    provider = "Stub"

    def __init__(self, frames: dict[str, pd.DataFrame]) -> None:
        self.frames = frames
        self.fetches = 0
        self.fed: list[tuple[Source, str]] = []

    def intervals(self) -> Sequence[str]:
        return ["1m", "5m", "15m", "1h", "4h", "1d"]

    def resolve(self, ticker: str) -> Instrument:
        key = ticker.upper().replace("/", "")
        if key.endswith("USDT"):
            return Instrument(Source.BINANCE, f"{key[:-4]}/USDT", key, currency="USDT")
        return Instrument(Source.YFINANCE, key, key, currency="IDR", lot_size=100)  # an IDX stock, as an offline file serves it

    async def fetch(self, instrument: Instrument, interval: Interval, range_: Range, now: datetime) -> Candles:
        from core.errors import NotFound

        self.fetches += 1
        self.fed.append((instrument.source, instrument.display))
        data = self.frames.get(instrument.display)
        if data is None:
            raise NotFound(f"no ticker {instrument.display}")
        return Candles(instrument, interval, data[data.index <= pd.Timestamp(now)], self.provider)

    async def search(self, query: str, limit: int = 10) -> list[SearchHit]:
        return []


class Feed:
    """One market's feed over a ``StubSource``: it serves only tickers of its own market."""

    provider = "Stub"

    def __init__(self, stub: StubSource, source: Source) -> None:
        self.stub, self.source = stub, source

    def intervals(self) -> Sequence[str]:
        return self.stub.intervals()

    def resolve(self, ticker: str) -> Instrument:
        from core.errors import NotFound

        instrument = self.stub.resolve(ticker)
        if instrument.source is not self.source:
            raise NotFound(f"{self.source.value} lists no ticker {ticker}")
        return instrument

    async def fetch(self, instrument: Instrument, interval: Interval, range_: Range, now: datetime) -> Candles:
        from core.errors import NotFound

        if instrument.source is not self.source:
            raise NotFound(f"{self.source.value} lists no ticker {instrument.display}")
        return await self.stub.fetch(instrument, interval, range_, now)

    async def search(self, query: str, limit: int = 10) -> list[SearchHit]:
        return []


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


def make_settings(**values: object) -> Settings:
    base: dict[str, object] = {
        "_env_file": None, "market_offline": False, "order_retry_base_s": 0.0, "free_max_deployments": 50,
    }  # fmt: skip
    base.update(values)
    return Settings(**base)  # type: ignore[arg-type]


def make_market(settings: Settings, source: StubSource, clock: Clock) -> MarketService:
    feeds: dict[Source, MarketSource] = {market: Feed(source, market) for market in (Source.BINANCE, Source.YFINANCE)}
    return MarketService(settings, sources=feeds, clock=clock)


@dataclass
class FakeBroker:
    """An exchange account: market orders fill at the reference price, 0.1 % fee.

    Like an exchange it refuses an order off the amount step or lot, under the minimum amount or
    notional (``OrderRejected``) or over the balance (``InsufficientFunds``: a buy needs its value
    plus a quote fee, a sell the base it sells). ``fee_in_base``: a buy's fee is taken out of the
    bought asset (a Binance fill without BNB), so the account holds less than was filled.
    ``answers``: how the next orders end, in turn: ``closed`` (complete, the default), ``open``
    (nothing filled yet), ``partial`` (half filled, the rest expired: ``canceled`` with a fill),
    ``canceled``, ``rejected`` or ``zero`` (``closed`` with nothing filled).
    ``create_errors`` / ``fetch_errors``: exceptions raised by the next calls, in order; an entry
    ``("after", exc)`` raises ``exc`` *after* the order reached the exchange (a lost answer).
    """

    balances: dict[str, float] = field(default_factory=lambda: {"USDT": 10_000.0, "IDR": 100_000_000.0})
    rules: MarketRules | None = None
    create_errors: list[object] = field(default_factory=list)
    fetch_errors: list[Exception] = field(default_factory=list)
    balance_errors: list[Exception] = field(default_factory=list)
    exchange: dict[str, OrderResult] = field(default_factory=dict)
    sent: list[str] = field(default_factory=list)  # client ids of every create_order that reached the exchange
    name: BrokerName = BrokerName.PAPER
    paper: bool = True
    closed: bool = False  # the pool forgot it (closed it)
    rests_stops: bool = False  # True: stops rest here like Binance's STOP_LOSS (``trigger`` fills one)
    resting: dict[str, OrderRequest] = field(default_factory=dict)
    canceled: list[str] = field(default_factory=list)
    fee_rate: float = 0.001
    fee_in_base: bool = False
    answers: list[str] = field(default_factory=list)

    async def create_order(self, request: OrderRequest) -> OrderResult:
        if self.create_errors:
            error = self.create_errors.pop(0)
            if isinstance(error, tuple):
                self._fill(request)
                raise error[1]
            raise error  # type: ignore[misc]
        return self._fill(request)

    def _check(self, request: OrderRequest, rules: MarketRules) -> None:
        """What the exchange checks before it accepts an order."""
        from core.broker.types import InsufficientFunds, OrderRejected

        qty, price = request.quantity, request.reference_price
        for unit in (rules.lot if rules.lot and rules.lot > 1 else None, rules.amount_step):
            if unit and abs(qty / unit - round(qty / unit)) > 1e-6:
                raise OrderRejected(f"{qty:g} {rules.base} is not a multiple of the step {unit:g}")
        if qty <= 0 or (rules.min_amount is not None and qty < rules.min_amount - 1e-12):
            raise OrderRejected(f"{qty:g} {rules.base} is below the minimum amount {rules.min_amount}")
        if rules.min_cost is not None and qty * price < rules.min_cost:
            raise OrderRejected(f"{qty * price:g} {rules.quote} is below the minimum notional {rules.min_cost:g}")
        if request.side == "buy":
            need, asset = qty * price * (1 if self.fee_in_base else 1 + self.fee_rate), rules.quote
        else:
            need, asset = qty, rules.base
        have = self.balances.get(asset, 0.0)
        if need > have * (1 + 1e-9):
            raise InsufficientFunds(f"Account has insufficient balance for requested action: {need:g} {asset} "
                                    f"needed, {have:g} there")  # fmt: skip

    def _fill(self, request: OrderRequest) -> OrderResult:
        assert request.client_order_id not in self.exchange, "an order was sent twice"
        self._check(request, self._rules_now(request.symbol))
        self.sent.append(request.client_order_id)
        base, quote = _split(request.symbol)
        answer = self.answers.pop(0) if self.answers else "closed"
        qty = {"closed": request.quantity, "partial": _half(request.quantity, self._rules_now(request.symbol))}.get(answer, 0.0)
        status = {"partial": "canceled", "zero": "closed"}.get(answer, answer)
        value = qty * request.reference_price
        buy = request.side == "buy"
        if buy and self.fee_in_base:
            fee, fee_currency = qty * self.fee_rate, base
            self.balances[quote] = self.balances.get(quote, 0.0) - value
            self.balances[base] = self.balances.get(base, 0.0) + qty - fee
        else:
            fee, fee_currency = value * self.fee_rate, quote
            sign = 1 if buy else -1
            self.balances[quote] = self.balances.get(quote, 0.0) - sign * value - fee
            self.balances[base] = self.balances.get(base, 0.0) + sign * qty
        result = OrderResult(request.client_order_id, f"x{len(self.sent)}", status, qty,
                             request.reference_price if qty > 0 else None, fee, fee_currency)  # fmt: skip
        self.exchange[request.client_order_id] = result
        return result

    def _rules_now(self, symbol: str) -> MarketRules:
        if self.rules is not None:
            return self.rules
        base, quote = _split(symbol)
        if quote == "IDR":
            return MarketRules(symbol, base, quote, amount_step=100, min_amount=100, lot=100)
        return MarketRules(symbol, base, quote, amount_step=0.0001, min_amount=0.0001, min_cost=5.0)

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderResult | None:
        if self.fetch_errors:
            raise self.fetch_errors.pop(0)
        return self.exchange.get(client_order_id)

    async def place_stop(self, request: OrderRequest) -> OrderResult:
        assert self.rests_stops and request.client_order_id not in self.resting, "a stop was placed twice"
        self.resting[request.client_order_id] = request
        return OrderResult(request.client_order_id, f"s{len(self.resting)}", "open", 0.0, None)

    def trigger(self, client_order_id: str, price: float) -> None:
        """The market traded at the stop: the exchange sells, with nobody from the bot watching."""
        request = self.resting.pop(client_order_id)
        self._fill(OrderRequest(client_order_id, request.symbol, Side.SELL, request.quantity, price))

    async def cancel_order(self, client_order_id: str, symbol: str) -> OrderResult | None:
        if client_order_id in self.exchange:
            return self.exchange[client_order_id]  # it filled before the cancel arrived
        if self.resting.pop(client_order_id, None) is None:
            return None
        self.canceled.append(client_order_id)
        return OrderResult(client_order_id, None, "canceled", 0.0, None)

    async def fetch_balance(self) -> dict[str, float]:
        if self.balance_errors:
            raise self.balance_errors.pop(0)
        return dict(self.balances)

    async def market_rules(self, symbol: str) -> MarketRules:
        from core.broker.types import OrderRejected

        if self.rules is not None:
            return self.rules
        known = "/" in symbol or (self.paper and symbol.upper().endswith(".JK"))  # exchanges list no IDX stock
        if not known:
            raise OrderRejected(f"{self.name} does not trade {symbol}")
        return self._rules_now(symbol)

    async def close(self) -> None:
        self.closed = True


def _half(quantity: float, rules: MarketRules) -> float:
    """Half of ``quantity``, on the market's step (what a partly filled order filled)."""
    from core.deployment.sizing import round_down

    return round_down(quantity / 2, rules)


def _split(symbol: str) -> tuple[str, str]:
    if "/" in symbol:
        base, quote = symbol.split("/")
        return base, quote
    return symbol, "IDR"


async def make_user(db: Database, name: str = "alice") -> Actor:
    from core.account.service import actor_for

    return await actor_for(db, platform="telegram", external_id=f"{abs(hash(name)) % 10**9}", display_name=name)


async def make_credential(db: Database, user_id: int, broker: str = "Paper", label: str = "paper") -> int:
    async with db.session() as session:
        row = Credential(user_id=user_id, broker=broker, label=label, label_key=label.lower(),
                         secret_token="" if broker == "Paper" else "x")  # fmt: skip
        session.add(row)
        await session.flush()
        return row.id


async def make_deployment(
    db: Database,
    user_id: int,
    credential_id: int,
    *,
    ticker: str = "BTCUSDT",
    interval: str = "1h",
    source: str = LONG_ONLY,
    status: str = "NoPosition",
    last_bar_at: datetime | None = None,
    position_qty: float = 0.0,
    entry_price: float | None = None,
    timing: str = "OnTime",
    size: float = 0.5,
    label: str = "m",
    inputs: dict | None = None,
    max_position_value: float | None = None,
    market: Source | None = None,  # the feed; by default the ticker's own (see ``market_of``)
) -> int:
    async with db.session() as session:
        row = Deployment(
            user_id=user_id, credential_id=credential_id, label=label, source=source, inputs=inputs or {},
            market=(market or market_of(ticker)).value, ticker=ticker, interval=interval, timing=timing, status=status,
            size=size, position_qty=position_qty, entry_price=entry_price, last_bar_at=last_bar_at,
            max_position_value=max_position_value,
        )  # fmt: skip
        session.add(row)
        await session.flush()
        return row.id


async def load(db: Database, model: Any, **where: object) -> list:
    from sqlalchemy import select

    async with db.session() as session:
        query: Any = select(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return list(await session.scalars(query.order_by(model.id)))
