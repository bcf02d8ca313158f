"""/balance: what an account holds and its estimated value, per quote currency.

Cash (IDR, USDT) counts as itself; an IDX holding (``BBCA.JK``) is valued in rupiah at its last daily
close, any other asset (a coin) in USDT at its ``<ASSET>USDT`` last close, through the market service
(cached). IDR and USDT totals are never summed. An asset whose price cannot be fetched is listed
without a value and named in ``unpriced``, so a total never silently leaves it out.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from core.actor import Actor
from core.broker import service as brokers
from core.config import Settings
from core.db import Database
from core.deployment.history import PriceProvider, last_close
from core.market.symbols import IDX_CURRENCY, is_idx_symbol
from core.market.types import Source

CASH = (IDX_CURRENCY, "USDT")


@dataclass(frozen=True, slots=True)
class Holding:
    asset: str
    amount: float
    currency: str  # what it is valued in
    price: float | None = None  # None for cash and for an asset that could not be priced
    value: float | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Balance:
    label: str
    paper: bool
    holdings: list[Holding]  # cash first, then holdings by name
    totals: dict[str, float] = field(default_factory=dict)  # by currency
    unpriced: list[str] = field(default_factory=list)
    sample: bool = False


def _pricing(asset: str) -> tuple[str, str, str]:
    """(currency, market, ticker) an asset is valued through."""
    if is_idx_symbol(asset):
        return IDX_CURRENCY, Source.YFINANCE.value, asset
    return "USDT", Source.BINANCE.value, f"{asset}USDT"


async def value(label: str, paper: bool, balances: dict[str, float], prices: PriceProvider) -> Balance:
    """``balances`` (asset -> amount, as ``brokers.shown_balances`` orders them) valued per currency."""
    held = {asset: amount for asset, amount in balances.items() if amount}
    priced = [a for a in held if a not in CASH]
    closes = await asyncio.gather(*(last_close(prices, *_pricing(a)[1:], "1d") for a in priced))
    by_asset = dict(zip(priced, closes, strict=True))
    holdings: list[Holding] = []
    totals: dict[str, float] = {}
    unpriced: list[str] = []
    sample = False
    for asset, amount in held.items():
        if asset in CASH:
            holdings.append(Holding(asset, amount, asset, value=amount))
            totals[asset] = totals.get(asset, 0.0) + amount
            continue
        currency = _pricing(asset)[0]
        close = by_asset[asset]
        if close.price is None:
            holdings.append(Holding(asset, amount, currency, error=close.error))
            unpriced.append(asset)
            continue
        sample = sample or close.sample
        worth = amount * close.price
        holdings.append(Holding(asset, amount, currency, close.price, worth))
        totals[currency] = totals.get(currency, 0.0) + worth
    return Balance(label, paper, holdings, dict(sorted(totals.items())), unpriced, sample)


async def balance(
    db: Database, settings: Settings, actor: Actor, prices: PriceProvider, label: str | None = None
) -> Balance:
    """The balances of the actor's credential ``label`` (the paper account when None), valued."""
    view = await (brokers.get_credential(db, actor, label) if label else brokers.paper_credential(db, actor))
    async with brokers.open_broker(db, settings, view.id) as broker:
        raw = await broker.fetch_balance()
    return await value(view.label, view.paper, brokers.shown_balances(raw), prices)
