"""The paper broker: simulated market orders over one paper account's ``paper_balances`` rows.

A market order fills at once, in full, at ``request.reference_price``: the deployment tick sets it to
where the backtest fills the same order (the next candle's open, or a stop's level), so a paper
deployment trades as ``/run`` shows. The fee is the backtest's commission for the market
(``Settings.commission``), paid in the quote currency, and quantities follow the backtest's units
(IDX lots of 100, crypto in ``BACKTEST_CRYPTO_STEP`` steps). Cash (IDR, USDT) starts at the
``PAPER_START_*`` settings, created the first time the account is used; a buy needs its value
plus the fee on the account, as on an exchange. ``PAPER_SLIPPAGE`` (0 by default) moves every fill
that fraction against the order, to rehearse what slippage would cost.

Exactly once, across restarts and concurrent calls: each fill also writes three marker rows
into the same table, in the same transaction as the balance moves::

    fill:<h>:q   signed filled quantity (+ buy, - sell)
    fill:<h>:p   fill price
    fill:<h>:f   fee, in the quote currency

where ``<h>`` is the first 20 hex digits of the SHA-256 of the client order id (ids can be longer
than the 32-character ``asset`` column). The ``:q`` row is inserted first, so the table's unique
``(credential_id, asset)`` makes a second fill with the same id impossible: a concurrent twin
waits on that row and fails before touching a balance; ``create_order`` answers any repeat with
the first fill and ``fetch_order`` reads it back. Assets starting with ``fill:`` are not balances (``is_marker``); no
schema change was needed, and the executor's ``orders`` table stays the executor's own.

Balance changes are single ``UPDATE ... SET amount = amount - x WHERE amount >= x`` statements, so
two deployments trading the same account at once can never spend the same cash twice.
"""

from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.broker.models import PaperBalance
from core.broker.symbols import IDX_LOT, is_idx, split_symbol
from core.broker.types import (
    BrokerName,
    BrokerOrderStatus,
    InsufficientFunds,
    MarketRules,
    OrderRejected,
    OrderRequest,
    OrderResult,
    Side,
)
from core.db import insert_ignoring_conflicts, rowcount, utcnow

if TYPE_CHECKING:
    from core.config import Settings
    from core.db import Database

MARKER_PREFIX = "fill:"
_TOLERANCE = 1e-9  # relative: selling a whole holding summed from float fills


def is_marker(asset: str) -> bool:
    """True for the rows that record fills rather than hold a balance."""
    return asset.startswith(MARKER_PREFIX)


def starting_balances(settings: Settings) -> dict[str, float]:
    """A paper account's cash when it is first used, and after ``/paper reset``."""
    return {"IDR": settings.paper_start_idr, "USDT": settings.paper_start_usdt}


def _marker(client_order_id: str) -> str:
    return MARKER_PREFIX + hashlib.sha256(client_order_id.encode()).hexdigest()[:20]


def _money(value: float) -> str:
    return f"{value:,.8f}".rstrip("0").rstrip(".")


class PaperBroker:
    """The ``Broker`` of one paper credential."""

    name = BrokerName.PAPER
    paper = True
    rests_stops = False  # the tick fills a paper position's stop at its level, as the backtest does

    def __init__(self, db: Database, settings: Settings, credential_id: int) -> None:
        self.db = db
        self.settings = settings
        self.credential_id = credential_id

    # --- Broker ---------------------------------------------------------------------------

    async def create_order(self, request: OrderRequest) -> OrderResult:
        base, quote = split_symbol(request.symbol)
        self._check(request)
        try:
            async with self.db.session() as session:
                done = await self._fill_of(session, request.client_order_id, quote)
                if done is not None:
                    return done
                return await self._fill(session, request, base, quote)
        except IntegrityError:
            # the same client id filled in a concurrent call a moment ago: answer with that fill
            async with self.db.session() as session:
                done = await self._fill_of(session, request.client_order_id, quote)
            if done is None:
                raise
            return done

    async def fetch_order(self, client_order_id: str, symbol: str) -> OrderResult | None:
        try:
            quote: str | None = split_symbol(symbol)[1]
        except OrderRejected:
            quote = None
        async with self.db.session() as session:
            return await self._fill_of(session, client_order_id, quote)

    async def fetch_balance(self) -> dict[str, float]:
        async with self.db.session() as session:
            await self._seed(session)
            rows = await session.execute(
                select(PaperBalance.asset, PaperBalance.amount).where(
                    PaperBalance.credential_id == self.credential_id,
                    PaperBalance.asset.not_like(MARKER_PREFIX + "%"),
                )
            )
            return {asset: amount for asset, amount in rows}

    async def place_stop(self, request: OrderRequest) -> OrderResult:
        raise OrderRejected("the paper account checks stops at every candle itself")

    async def cancel_order(self, client_order_id: str, symbol: str) -> OrderResult | None:
        return None  # paper orders fill at once: there is never one resting

    async def market_rules(self, symbol: str) -> MarketRules:
        base, quote = split_symbol(symbol)
        fee = self.fee(symbol)
        if is_idx(symbol):
            return MarketRules(symbol, base, quote, amount_step=IDX_LOT, min_amount=IDX_LOT, lot=IDX_LOT, fee=fee)
        step = self.settings.backtest_crypto_step
        return MarketRules(symbol, base, quote, amount_step=step, min_amount=step, fee=fee)

    def _slipped(self, request: OrderRequest) -> float:
        """The fill price: the requested one, moved against the order by ``PAPER_SLIPPAGE``."""
        slip = self.settings.paper_slippage
        return request.reference_price * (1 + slip if request.side == Side.BUY else 1 - slip) if slip else request.reference_price

    def fee(self, symbol: str) -> float:
        """The fee per fill: the backtest's commission for the market."""
        return self.settings.commission(crypto=not is_idx(symbol))

    async def close(self) -> None:
        """Nothing to release: every call opens and ends its own unit of work."""

    # --- internals --------------------------------------------------------------------------

    @staticmethod
    def _check(request: OrderRequest) -> None:
        if request.side not in Side:  # typed as a Side, but a caller's string is checked all the same
            raise OrderRejected(f"an order side is buy or sell, not '{request.side}'")
        if not (math.isfinite(request.quantity) and request.quantity > 0):
            raise OrderRejected("the order quantity must be above zero")
        if not (math.isfinite(request.reference_price) and request.reference_price > 0):
            raise OrderRejected("a paper order needs the price it fills at")
        if is_idx(request.symbol):
            lots = request.quantity / IDX_LOT
            if abs(lots - round(lots)) > 1e-9:
                raise OrderRejected(f"IDX stocks trade in lots of {IDX_LOT} shares, not {request.quantity:g}")

    async def _fill(self, session: AsyncSession, request: OrderRequest, base: str, quote: str) -> OrderResult:
        # The fill's marker goes in first: a concurrent twin waits on it and then fails on the unique
        # key (IntegrityError) before it touches a balance.
        marker, now = _marker(request.client_order_id), utcnow()
        mark = PaperBalance(credential_id=self.credential_id, asset=f"{marker}:q", amount=0.0, updated_at=now)
        session.add(mark)
        await session.flush()
        await self._seed(session)
        qty, price = request.quantity, self._slipped(request)
        value = qty * price
        fee = value * self.fee(request.symbol)
        if request.side == Side.BUY:
            await self._take(session, quote, value + fee, f"{_money(qty)} {base}")
            await self._add(session, base, qty)
        else:
            await self._take(session, base, qty, f"{_money(qty)} {base}")
            await self._add(session, quote, value - fee)
        mark.amount = qty if request.side == Side.BUY else -qty
        session.add_all(
            PaperBalance(credential_id=self.credential_id, asset=f"{marker}:{key}", amount=amount, updated_at=now)
            for key, amount in (("p", price), ("f", fee))
        )
        await session.flush()
        return OrderResult(request.client_order_id, marker, BrokerOrderStatus.CLOSED, qty, price, fee, quote)

    async def _fill_of(self, session: AsyncSession, client_order_id: str, quote: str | None) -> OrderResult | None:
        marker = _marker(client_order_id)
        rows = await session.execute(
            select(PaperBalance.asset, PaperBalance.amount).where(
                PaperBalance.credential_id == self.credential_id,
                PaperBalance.asset.in_([f"{marker}:q", f"{marker}:p", f"{marker}:f"]),
            )
        )
        found = {asset[-1]: amount for asset, amount in rows}
        if "q" not in found:
            return None
        filled, price, fee = abs(found["q"]), found.get("p"), found.get("f", 0.0)
        return OrderResult(client_order_id, marker, BrokerOrderStatus.CLOSED, filled, price, fee, quote)

    async def _seed(self, session: AsyncSession) -> None:
        """The starting cash, once per asset; a race with another first use inserts nothing twice."""
        now = utcnow()
        rows = [{"credential_id": self.credential_id, "asset": asset, "amount": amount, "updated_at": now}
                for asset, amount in starting_balances(self.settings).items()]  # fmt: skip
        if rows:  # one statement for every asset: it runs before each fill and each balance read
            await session.execute(insert_ignoring_conflicts(self.db.dialect, PaperBalance, "credential_id", "asset")
                                  .values(rows))  # fmt: skip

    async def _take(self, session: AsyncSession, asset: str, amount: float, what: str) -> None:
        slack = _TOLERANCE * max(1.0, amount)
        left = PaperBalance.amount - amount
        result = await session.execute(
            update(PaperBalance)
            .where(
                PaperBalance.credential_id == self.credential_id,
                PaperBalance.asset == asset,
                PaperBalance.amount >= amount - slack,
            )
            .values(amount=case((left < 0, 0.0), else_=left), updated_at=utcnow())
        )
        if rowcount(result) == 1:
            return
        have = await session.scalar(
            select(PaperBalance.amount).where(
                PaperBalance.credential_id == self.credential_id, PaperBalance.asset == asset
            )
        )
        raise InsufficientFunds(
            f"not enough {asset} on the paper account for {what}: {_money(amount)} needed, {_money(have or 0.0)} there"
        )

    async def _add(self, session: AsyncSession, asset: str, amount: float) -> None:
        await session.execute(
            insert_ignoring_conflicts(self.db.dialect, PaperBalance, "credential_id", "asset").values(
                credential_id=self.credential_id, asset=asset, amount=0.0, updated_at=utcnow()
            )
        )
        await session.execute(
            update(PaperBalance)
            .where(PaperBalance.credential_id == self.credential_id, PaperBalance.asset == asset)
            .values(amount=PaperBalance.amount + amount, updated_at=utcnow())
        )
