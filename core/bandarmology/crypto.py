"""Crypto "broker flow": Binance's public trades split into large and small takers.

Exchange trades carry no broker codes, but each has a taker, the side that crossed the
spread (ccxt's ``side`` on a public trade). Taker buying against taker selling is the crypto
counterpart of buyers against sellers, and splitting takers by trade size separates the big
players from the crowd: the large takers stand in for the top brokers, so the verdict is
large taker buying against large taker selling.

Large means a trade value at or above ``BANDAR_LARGE_TRADE_VALUE`` (quote currency) when set,
else at or above the window's ``BANDAR_LARGE_TRADE_PERCENTILE`` (90th by default, numpy's
linear interpolation) of trade values: by default the top tenth of trades by size.

Trades are read with ``fetch_trades`` (Binance aggregated trades), 1,000 a page, paging by
``since``. At most ``BANDAR_CRYPTO_MAX_TRADES`` are read: the window is cut into that many
pages' worth of equal stretches and one page is read from the start of each, so a busy day is
sampled evenly across the window instead of only its first minutes. The summary says how much
of the window the pages covered.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from core.bandarmology.period import Period, resolve_instants
from core.bandarmology.provider import summarised
from core.bandarmology.summary import verdict_of
from core.bandarmology.types import BrokerSummary, Player
from core.compute import Compute, Task
from core.config import Settings
from core.errors import Invalid, NotFound, StoxlifyError, Unavailable
from core.market.symbols import split_pair

log = logging.getLogger(__name__)

PROVIDER = "Binance trades"
PAGE = 1000
HOUR_MS = 3_600_000  # Binance serves aggregated trades at most an hour apart per request
MARKETS_TTL_S = 24 * 3600


@dataclass(frozen=True, slots=True)
class Trade:
    """One public trade: when (ms), price, amount (base units) and the taker's side."""

    timestamp: int
    price: float
    amount: float
    side: str  # "buy" | "sell"

    @property
    def value(self) -> float:
        return self.price * self.amount


@dataclass(frozen=True, slots=True)
class Group:
    volume: float = 0.0
    value: float = 0.0
    trades: int = 0

    @property
    def avg_price(self) -> float | None:
        return self.value / self.volume if self.volume > 0 else None


@dataclass(frozen=True, slots=True)
class TradeFlow:
    """Taker buying and selling, split at ``threshold`` (quote currency) into large and small."""

    threshold: float
    rule: str  # how the threshold was chosen, for the reply
    large_buy: Group
    large_sell: Group
    small_buy: Group
    small_sell: Group

    @property
    def trades(self) -> int:
        return sum(g.trades for g in (self.large_buy, self.large_sell, self.small_buy, self.small_sell))


def analyse_trades(
    trades: Sequence[Trade], *, large_value: float | None = None, percentile: float = 90.0
) -> TradeFlow:
    """Split ``trades`` into large and small taker buys and sells (see the module docstring)."""
    if not trades:
        raise NotFound("no trades in the window")
    values = np.array([t.value for t in trades], dtype=float)
    if large_value is not None:
        threshold, rule = float(large_value), "set in BANDAR_LARGE_TRADE_VALUE"
    else:
        threshold, rule = (
            float(np.percentile(values, percentile)),
            f"the window's {percentile:g}th percentile",
        )
    buys = np.array([t.side == "buy" for t in trades])
    large = values >= threshold
    amounts = np.array([t.amount for t in trades], dtype=float)

    def group(mask: np.ndarray) -> Group:
        return Group(float(amounts[mask].sum()), float(values[mask].sum()), int(mask.sum()))

    return TradeFlow(
        threshold,
        rule,
        group(large & buys),
        group(large & ~buys),
        group(~large & buys),
        group(~large & ~buys),
    )


def summarize_window(
    trades: Sequence[Trade],
    pair: str,
    *,
    start: datetime,
    end: datetime,
    base: str,
    quote: str,
    covered_ms: float,
    large_value: float | None,
    percentile: float,
) -> BrokerSummary:
    """The summary of the trades read over ``start``-``end`` (of which ``covered_ms`` were read:
    a capped reading says it sampled)."""
    flow = analyse_trades(trades, large_value=large_value, percentile=percentile)
    window_ms = (end - start).total_seconds() * 1000
    notes: tuple[str, ...] = ()
    if covered_ms < window_ms * 0.99:
        notes = (
            f"sampled: {len(trades):,} trades read in evenly spaced stretches covering "
            f"{_span(covered_ms)} of the {_span(window_ms)} window (BANDAR_CRYPTO_MAX_TRADES caps the reading)",
        )
    return summarize_trades(pair, flow, start=start, end=end, base=base, quote=quote, notes=notes)


def summarize_trades(
    pair: str,
    flow: TradeFlow,
    *,
    start: datetime,
    end: datetime,
    base: str,
    quote: str,
    notes: tuple[str, ...] = (),
) -> BrokerSummary:
    """The summary of a trade analysis: large and small takers in the buyers' and sellers' places."""
    big = f"large takers (trades of {flow.threshold:,.2f} {quote} or more, {flow.rule})"

    def player(code: str, g: Group, label: str) -> Player:
        return Player(code, g.volume, g.value, g.avg_price, trades=g.trades, label=label)

    buyers = (player("LARGE", flow.large_buy, big), player("SMALL", flow.small_buy, "small takers"))
    sellers = (player("LARGE", flow.large_sell, big), player("SMALL", flow.small_sell, "small takers"))
    return BrokerSummary(
        ticker=pair,
        market="crypto",
        provider=PROVIDER,
        start=start,
        end=end,
        buyers=buyers,
        sellers=sellers,
        top_buy_value=flow.large_buy.value,
        top_sell_value=flow.large_sell.value,
        top_buy_volume=flow.large_buy.volume,
        top_sell_volume=flow.large_sell.volume,
        total_value=sum(p.value for p in buyers + sellers),
        verdict=verdict_of(flow.large_buy.value, flow.large_sell.value),
        basis=f"{big} buying against selling: exchange trades have no broker codes, so the large takers stand in "
        "for the top brokers",
        currency=quote,
        volume_unit=base,
        notes=notes,
    )


class TradeFlowProvider:
    """Binance public trades through ccxt. The market list is loaded once per process and shared;
    each analysis opens and closes its own HTTP session, so nothing is left open between calls."""

    name = PROVIDER
    sample = False
    _markets: dict[str, Any] | None = None
    _markets_at: float = 0.0

    def __init__(self, settings: Settings, exchange_factory: Callable[[], Any] | None = None) -> None:
        self._settings = settings
        self._factory = exchange_factory or self._new_exchange

    async def summary(
        self, ticker: str, period: Period, now: datetime, *, compute: Compute | None = None, task: Task | None = None
    ) -> BrokerSummary:
        start, end = resolve_instants(period, now.astimezone(UTC))
        exchange = self._factory()
        try:
            market = await self._market(exchange, ticker)
            trades, covered_ms = await self._trades(exchange, market, start, end)
        finally:
            await exchange.close()
        if not trades:
            raise NotFound(
                f"no {market['id']} trades on {PROVIDER} from {start:%Y-%m-%d %H:%M} to {end:%H:%M} UTC"
            )
        return await summarised(compute, task, summarize_window, trades, market["id"], start=start, end=end,
                                base=market["base"], quote=market["quote"], covered_ms=covered_ms,
                                large_value=self._settings.bandar_large_trade_value,
                                percentile=self._settings.bandar_large_trade_percentile)  # fmt: skip

    # --- internals ----------------------------------------------------------------------------

    def _new_exchange(self) -> Any:
        import ccxt.async_support as ccxt_async

        return ccxt_async.binance(
            {"enableRateLimit": True, "timeout": int(self._settings.market_timeout_s * 1000),
             "options": {"fetchTradesMethod": "publicGetAggTrades", "fetchMarkets": {"types": ["spot"]}}}
        )  # fmt: skip

    async def _market(self, exchange: Any, ticker: str) -> dict[str, Any]:
        cls = type(self)
        if cls._markets is None or time.monotonic() - cls._markets_at > MARKETS_TTL_S:
            await self._call(exchange.load_markets(), "the market list")
            cls._markets, cls._markets_at = exchange.markets, time.monotonic()
        else:
            exchange.set_markets(cls._markets)
        pair = split_pair(ticker)
        if pair is None:
            raise Invalid(f"'{ticker}' is not a crypto pair", hint="e.g. BTCUSDT or BTC/USDT")
        symbol = f"{pair[0]}/{pair[1]}"
        market = (exchange.markets or {}).get(symbol)
        if not market or not market.get("spot"):
            raise NotFound(
                f"{PROVIDER}: Binance has no spot pair {pair[0]}{pair[1]}", hint="find pairs with /search"
            )
        return market

    async def _trades(
        self, exchange: Any, market: dict[str, Any], start: datetime, end: datetime
    ) -> tuple[list[Trade], float]:
        """Up to the cap's pages, one from the start of each equal stretch of the window."""
        start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
        pages = max(1, int(self._settings.bandar_crypto_max_trades) // PAGE)
        bounds = [start_ms + i * (end_ms - start_ms) // pages for i in range(pages + 1)]
        seen: dict[Any, Trade] = {}
        covered = 0.0
        for since, stretch_end in itertools.pairwise(bounds):
            stop = min(stretch_end, since + HOUR_MS)
            if stop <= since:
                continue
            raw = await self._call(
                exchange.fetch_trades(market["symbol"], since=since, limit=PAGE, params={"until": stop - 1}),
                market["id"],
            )
            page = [t for t in raw if since <= int(t["timestamp"]) < stop]
            for t in page:
                seen[t.get("id") or (t["timestamp"], t["price"], t["amount"], t["side"])] = Trade(
                    int(t["timestamp"]), float(t["price"]), float(t["amount"]), str(t["side"])
                )
            full = len(raw) >= PAGE
            covered += (int(page[-1]["timestamp"]) + 1 - since) if full and page else (stop - since)
        return sorted(seen.values(), key=lambda t: t.timestamp), covered

    async def _call(self, awaitable: Any, subject: str) -> Any:
        try:
            return await asyncio.wait_for(awaitable, self._settings.market_timeout_s * 2)
        except StoxlifyError:
            raise
        except Exception as exc:
            raise _translate(exc, subject) from exc


def _translate(exc: Exception, subject: str) -> StoxlifyError:
    from ccxt.base import errors as ccxt_errors

    if isinstance(exc, ccxt_errors.BadSymbol):
        return NotFound(f"Binance has no spot pair {subject}", hint="find pairs with /search")
    if isinstance(exc, ccxt_errors.RequestTimeout | TimeoutError):
        return Unavailable("Binance did not answer in time, try again shortly")
    if isinstance(exc, ccxt_errors.DDoSProtection):
        return Unavailable("Binance is limiting requests right now, try again in a minute")
    if isinstance(exc, ccxt_errors.NetworkError | OSError):
        return Unavailable("could not reach Binance, try again shortly")
    if isinstance(exc, ccxt_errors.ExchangeError):
        return Unavailable(f"Binance refused the trades request for {subject}, try again later")
    log.warning("unexpected ccxt failure for %s: %r", subject, exc)
    return Unavailable(f"Binance sent trades for {subject} that could not be read, try again later")


def _span(ms: float) -> str:
    minutes = ms / 60_000
    if minutes < 90:
        return f"{minutes:.0f} min"
    hours = minutes / 60
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"
