"""Binance spot candles and pair search through ccxt.

``BTCUSDT``, ``btc/usdt`` and ``BTC/USDT`` all mean the spot pair ``BTC/USDT``; a bare
base such as ``BTC`` means its USDT pair. One ccxt exchange is kept per source and its
market list is loaded once, so search and symbol checks cost no request after the first.
ccxt is imported on first use only.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import pandas as pd

from core.config import Settings, get_settings
from core.errors import Invalid, NotFound, StoxlifyError, Unavailable
from core.market.sources.base import check_interval
from core.market.sources.ranking import Candidate, rank, squash
from core.market.symbols import split_pair
from core.market.types import CANDLE_COLUMNS, Candles, Instrument, Interval, Range, SearchHit, Source

log = logging.getLogger(__name__)

PROVIDER = "Binance"
PAGE = 1000  # Binance serves at most 1,000 klines per request

# Canonical interval -> ccxt timeframe for Binance.
_TIMEFRAMES = {
    "1m": "1m",
    "3m": "3m",
    "5m": "5m",
    "15m": "15m",
    "30m": "30m",
    "1h": "1h",
    "2h": "2h",
    "4h": "4h",
    "1d": "1d",
    "1w": "1w",
    "1mo": "1M",
}

# Search tie-break among equally good matches: the pairs people chart most come first.
_QUOTE_BIAS = {"USDT": 0, "FDUSD": 1, "USDC": 1, "BTC": 2, "ETH": 3, "BNB": 3}


class BinanceSource:
    """Candles and search from Binance spot markets.

    Call ``close()`` when done: it releases the exchange's HTTP session.
    """

    source = Source.BINANCE
    provider = PROVIDER

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings or get_settings()
        self._exchange: Any | None = None
        self._markets_lock = asyncio.Lock()

    @property
    def timeout_s(self) -> float:
        return float(self._settings.market_timeout_s)

    def intervals(self) -> Sequence[str]:
        return list(_TIMEFRAMES)

    def resolve(self, ticker: str) -> Instrument:
        raw = ticker.strip().upper()
        if not raw:
            raise Invalid("give a pair, for example BTCUSDT or BTC/USDT")
        pair = split_pair(raw)
        if pair is None:
            # A bare base (BTC) or an unknown quote: settled against the market list at fetch time.
            return Instrument(Source.BINANCE, squash(raw), squash(raw))
        base, quote = pair
        return Instrument(Source.BINANCE, f"{base}/{quote}", f"{base}{quote}", currency=quote)

    async def fetch(
        self, instrument: Instrument, interval: Interval, range_: Range, now: datetime
    ) -> Candles:
        check_interval(self, interval)
        exchange = await self._ready()
        market = self._market(exchange, instrument)
        instrument = replace(instrument, symbol=market["symbol"], currency=market["quote"])
        rows = await self._klines(exchange, market, interval, range_, now)
        if not rows:
            raise NotFound(
                f"no {interval} candles for {market['id']} on {PROVIDER} over {range_}",
                hint="the pair may be new or delisted; try a longer range",
            )
        frame = _to_frame(rows).iloc[-self._settings.market_max_bars :]
        return Candles(
            instrument=instrument,
            interval=interval,
            frame=frame,
            provider=PROVIDER,
            fetched_at=now,
            name=f"{market['base']}/{market['quote']}",
            extra={"market_id": market["id"]},
        )

    async def search(self, query: str, limit: int = 10) -> list[SearchHit]:
        text = query.strip()
        if not text or limit <= 0:
            return []
        exchange = await self._ready()
        candidates = []
        for market in (exchange.markets or {}).values():
            if not market.get("spot") or market.get("active") is False:
                continue
            name = f"{market['base']}/{market['quote']} spot"
            hit = SearchHit(
                symbol=market["id"], name=name, exchange=PROVIDER, source=Source.BINANCE, kind="CRYPTO"
            )
            candidates.append(
                Candidate(
                    hit,
                    symbols=(market["id"], market["base"]),
                    name=name,
                    bias=_QUOTE_BIAS.get(market["quote"], 9),
                )
            )
        return [replace(hit, score=score) for hit, score in rank(text, candidates, limit)]

    async def close(self) -> None:
        exchange, self._exchange = self._exchange, None
        if exchange is not None:
            await exchange.close()

    # --- internals ----------------------------------------------------------------------------

    def _new_exchange(self) -> Any:
        import ccxt.async_support as ccxt_async

        return ccxt_async.binance(
            {
                "enableRateLimit": True,
                "timeout": int(self.timeout_s * 1000),
                "options": {"fetchMarkets": {"types": list(self._settings.binance_markets)}},
            }
        )

    async def _ready(self) -> Any:
        """The exchange with its markets loaded (once; a failed load is retried next call)."""
        if self._exchange is None:
            self._exchange = self._new_exchange()
        exchange = self._exchange
        if not exchange.markets:
            async with self._markets_lock:
                if not exchange.markets:
                    await self._call(exchange.load_markets(), "the market list")
        return exchange

    def _market(self, exchange: Any, instrument: Instrument) -> dict[str, Any]:
        """The spot market for ``instrument``, or ``NotFound`` naming the closest pairs."""
        markets: dict[str, Any] = exchange.markets or {}
        spot = {m["id"]: m for m in markets.values() if m.get("spot")}
        wanted = squash(instrument.symbol)
        found = markets.get(instrument.symbol) or spot.get(wanted) or markets.get(f"{wanted}/USDT")
        if found and found.get("spot"):
            return found
        close = difflib.get_close_matches(wanted, list(spot), n=1, cutoff=0.7)
        hint = ("did you mean " + " or ".join(close) + "?") if close else "find pairs with /search"
        raise NotFound(f"{PROVIDER} has no spot pair {instrument.display}", hint=hint)

    async def _klines(
        self, exchange: Any, market: dict[str, Any], interval: Interval, range_: Range, now: datetime
    ) -> list[list[float]]:
        """Page forward 1,000 bars at a time from the range start, never more than ``market_max_bars``.

        When the range holds more bars than allowed, the start moves up so the most recent
        bars are kept; ``max`` is simply "as far back as the cap allows".
        """
        step_ms = int(interval.delta.total_seconds() * 1000)
        end_ms = int(now.timestamp() * 1000)
        max_bars = max(int(self._settings.market_max_bars), 1)
        floor_ms = max(end_ms - max_bars * step_ms, 0)
        start = range_.start(now)
        since = floor_ms if start is None else max(int(start.timestamp() * 1000), floor_ms)
        rows: list[list[float]] = []
        for _ in range(max_bars // PAGE + 2):
            batch = await self._call(
                exchange.fetch_ohlcv(
                    market["symbol"],
                    _TIMEFRAMES[interval.code],
                    since=since,
                    limit=PAGE,
                    params={"until": end_ms},
                ),
                market["id"],
            )
            batch = [row for row in batch if row and row[0] >= since]
            if not batch:
                break
            rows.extend(batch)
            since = int(batch[-1][0]) + 1
            if len(batch) < PAGE or since > end_ms:
                break
        return rows

    async def _call(self, awaitable: Any, subject: str) -> Any:
        """Await a ccxt call; every failure leaves as a domain error."""
        try:
            return await awaitable
        except StoxlifyError:
            raise
        except Exception as exc:
            raise self._translate(exc, subject) from exc

    def _translate(self, exc: Exception, subject: str) -> StoxlifyError:
        from ccxt.base import errors as ccxt_errors

        if isinstance(exc, ccxt_errors.BadSymbol):
            return NotFound(f"{PROVIDER} has no spot pair {subject}", hint="find pairs with /search")
        if isinstance(exc, ccxt_errors.RequestTimeout | TimeoutError):
            return Unavailable(f"{PROVIDER} did not answer within {self.timeout_s:g} s, try again shortly")
        if isinstance(exc, ccxt_errors.DDoSProtection):
            return Unavailable(f"{PROVIDER} is limiting requests right now, try again in a minute")
        if isinstance(exc, ccxt_errors.ExchangeNotAvailable):
            return Unavailable(
                f"{PROVIDER} is not available right now (maintenance or outage), try again later"
            )
        if isinstance(exc, ccxt_errors.NetworkError | OSError):
            return Unavailable(f"could not reach {PROVIDER}, try again shortly")
        if isinstance(exc, ccxt_errors.ExchangeError):
            return Unavailable(f"{PROVIDER} refused the request for {subject}, try again later")
        log.warning("unexpected ccxt failure for %s: %r", subject, exc)
        return Unavailable(f"{PROVIDER} sent data for {subject} that could not be read, try again later")


def _to_frame(rows: list[list[float]]) -> pd.DataFrame:
    """ccxt's ``[ms, open, high, low, close, volume]`` rows in our shape."""
    frame = pd.DataFrame([row[:6] for row in rows], columns=["time", *CANDLE_COLUMNS])
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("time"), unit="ms", utc=True)).as_unit("ns")
    frame.index.name = "time"
    frame = frame.astype(float).dropna(subset=["open", "high", "low", "close"])
    frame["volume"] = frame["volume"].fillna(0.0)
    return frame[~frame.index.duplicated(keep="last")].sort_index()
