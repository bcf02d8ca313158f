"""Yahoo Finance through yfinance: IDX stocks, indices, US stocks, FX and more.

Ticker rule (``core.market.symbols.read_stock_ticker``): a plain four-letter code is an IDX stock
(``BBCA`` -> ``BBCA.JK``), ``JKSE``/``IHSG`` the IDX Composite ``^JKSE``, ``AAPL.US`` a US ticker,
anything else passes through as Yahoo spells it (``^GSPC``, ``BTC-USD``, ``USDIDR=X``, ``MSFT``).

yfinance is blocking, so every call runs in a worker thread under
``settings.market_timeout_s``. yfinance is imported on first use only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from core.config import Settings, get_settings
from core.errors import Invalid, NotFound, StoxlifyError, Unavailable
from core.market.fundamentals import Fundamentals, from_yahoo
from core.market.sources.base import check_interval
from core.market.sources.ranking import Candidate, rank
from core.market.symbols import market_of, read_stock_ticker, typed_stock_ticker
from core.market.types import (
    CANDLE_COLUMNS,
    RANGE_CODES,
    Candles,
    Instrument,
    Interval,
    Range,
    SearchHit,
    Source,
)

log = logging.getLogger(__name__)

PROVIDER = "Yahoo Finance"

# Canonical interval -> yfinance's spelling. Yahoo has no 3m, 2h or 4h bars.
_YF_INTERVALS = {
    "1m": "1m",
    "5m": "5m",
    "15m": "15m",
    "30m": "30m",
    "1h": "1h",
    "1d": "1d",
    "1w": "1wk",
    "1mo": "1mo",
}

# How far back Yahoo serves intraday bars; asking further fails on Yahoo's side with a
# message no user can act on, so it is refused up front with the ranges that do work.
_HISTORY_LIMIT = {
    "1m": timedelta(days=7),
    "5m": timedelta(days=60),
    "15m": timedelta(days=60),
    "30m": timedelta(days=60),
    "1h": timedelta(days=730),
}

_TIMEOUT_NAMES = {"Timeout", "TimeoutError", "ReadTimeout", "ConnectTimeout", "RequestTimeout"}
_KINDS = {"CRYPTOCURRENCY": "CRYPTO"}


def _yf() -> Any:
    """Import yfinance on first use and make it raise instead of logging and returning nothing.

    With ``hide_exceptions`` on (its default) a network failure and a delisted ticker both
    come back as an empty frame; raising is the only way to tell them apart.
    """
    import yfinance as yf

    yf.config.debug.hide_exceptions = False
    return yf


class YahooSource:
    """Candles and search from Yahoo Finance.

    ``session`` is handed to yfinance as its HTTP session (a curl_cffi or requests
    ``Session``); leave it None to let yfinance make its own. Tests pass a session whose
    transport answers with recorded Yahoo responses.
    """

    source = Source.YFINANCE
    provider = PROVIDER

    def __init__(self, settings: Settings | None = None, *, session: Any | None = None) -> None:
        self._settings = settings or get_settings()
        self._session = session

    @property
    def timeout_s(self) -> float:
        return float(self._settings.market_timeout_s)

    def intervals(self) -> Sequence[str]:
        return list(_YF_INTERVALS)

    def resolve(self, ticker: str) -> Instrument:
        if not ticker.strip():
            raise Invalid("give a ticker, for example BBCA or AAPL.US")
        read = read_stock_ticker(ticker)
        return Instrument(Source.YFINANCE, read.symbol, read.display, currency=read.currency, lot_size=read.lot_size)

    async def fetch(
        self, instrument: Instrument, interval: Interval, range_: Range, now: datetime
    ) -> Candles:
        check_interval(self, interval)
        _check_history(interval, range_, now)
        raw, meta = await self._run(
            instrument.symbol, self._history, instrument.symbol, _YF_INTERVALS[interval.code], range_.code
        )
        frame = _to_frame(raw, interval)
        cutoff = pd.Timestamp(now)
        cutoff = cutoff.tz_localize("UTC") if cutoff.tzinfo is None else cutoff.tz_convert("UTC")
        frame = frame[frame.index <= cutoff]
        if frame.empty:
            raise NotFound(
                f"no {interval} data for {instrument.symbol} over {range_}: it may be delisted",
                hint="check the ticker with /search",
            )
        currency = meta.get("currency") or instrument.currency
        return Candles(
            instrument=replace(instrument, currency=currency),
            interval=interval,
            frame=frame,
            provider=PROVIDER,
            fetched_at=now,
            name=meta.get("longName") or meta.get("shortName"),
            extra={
                "exchange": meta.get("fullExchangeName") or meta.get("exchangeName"),
                "exchange_tz": meta.get("exchangeTimezoneName"),
                "kind": meta.get("instrumentType"),
            },
        )

    async def search(self, query: str, limit: int = 10) -> list[SearchHit]:
        text = query.strip()
        if not text or limit <= 0:
            return []
        quotes = await self._run(f"'{text}'", self._search, text, max(limit, 10))
        candidates = []
        for quote in quotes:
            sym = str(quote.get("symbol") or "")
            if not sym:
                continue
            typed = typed_stock_ticker(sym)
            name = str(quote.get("longname") or quote.get("shortname") or sym)
            hit = SearchHit(
                symbol=typed,
                name=name,
                exchange=str(quote.get("exchDisp") or quote.get("exchange") or ""),
                source=Source.YFINANCE,
                kind=_KINDS.get(str(quote.get("quoteType") or ""), str(quote.get("quoteType") or "")),
            )
            home = market_of(sym).idx
            candidates.append(
                Candidate(hit, symbols=(typed, sym), name=name, bias=0 if home else 1, keep_unmatched=True)
            )
        return [replace(hit, score=score) for hit, score in rank(text, candidates, limit)]

    async def fundamentals(self, ticker: str) -> Fundamentals:
        """PE, PBV, ROE and the rest from Yahoo's quote summary (stocks only)."""
        instrument = self.resolve(ticker)
        info = await self._run(instrument.symbol, self._info, instrument.symbol)
        return from_yahoo(instrument.display, info or {}, PROVIDER)

    # --- blocking parts, run in a worker thread -------------------------------------------

    def _info(self, symbol: str) -> dict[str, Any]:
        return dict(_yf().Ticker(symbol, session=self._session).info or {})

    def _history(self, symbol: str, yf_interval: str, period: str) -> tuple[pd.DataFrame, dict[str, Any]]:
        yf = _yf()
        ticker = yf.Ticker(symbol, session=self._session)
        raw = ticker.history(
            period=period,
            interval=yf_interval,
            actions=False,
            auto_adjust=True,  # past bars adjusted for dividends and splits, as Yahoo's charts show
            timeout=self.timeout_s,
        )
        meta = ticker.get_history_metadata()
        wanted = (
            "currency",
            "longName",
            "shortName",
            "exchangeName",
            "fullExchangeName",
            "exchangeTimezoneName",
            "instrumentType",
        )
        return raw, {key: meta.get(key) for key in wanted}

    def _search(self, query: str, count: int) -> list[dict[str, Any]]:
        yf = _yf()
        found = yf.Search(
            query,
            max_results=count,
            news_count=0,
            lists_count=0,
            include_cb=False,
            recommended=0,
            session=self._session,
            timeout=self.timeout_s,
        )
        return list(found.quotes)

    async def _run(self, subject: str, fn: Any, *args: Any) -> Any:
        """Run a blocking yfinance call off the loop; every failure leaves as a domain error.

        ``subject`` (a symbol or a quoted query) names what failed in the message.
        """
        try:
            return await asyncio.wait_for(asyncio.to_thread(fn, *args), timeout=self.timeout_s)
        except StoxlifyError:
            raise
        except TimeoutError as exc:
            raise self._timeout() from exc
        except Exception as exc:
            raise self._translate(exc, subject) from exc

    def _timeout(self) -> Unavailable:
        return Unavailable(f"{PROVIDER} did not answer within {self.timeout_s:g} s, try again shortly")

    def _translate(self, exc: Exception, symbol: str) -> StoxlifyError:
        """Map what yfinance, curl_cffi or requests raised to a message a user can act on."""
        from yfinance import exceptions as yfe

        if isinstance(exc, yfe.YFRateLimitError):
            return Unavailable(f"{PROVIDER} is limiting requests right now, try again in a minute")
        if isinstance(exc, yfe.YFInvalidPeriodError):
            return Invalid(
                f"{PROVIDER} has no {exc.invalid_period} range for {symbol}",
                hint=f"ranges: {exc.valid_ranges}",
            )
        if isinstance(exc, yfe.YFTickerMissingError):
            reason = getattr(exc, "yahoo_reason", None) or ""
            if "within the last" in reason or "not available for startTime" in reason:
                return Invalid(f"{PROVIDER}: {reason}")
            return NotFound(f"no data for {symbol}: it may be delisted", hint="check the ticker with /search")
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if isinstance(status, int):
            if status == 404:
                return NotFound(
                    f"no data for {symbol}: it may be delisted", hint="check the ticker with /search"
                )
            if status == 429:
                return Unavailable(f"{PROVIDER} is limiting requests right now, try again in a minute")
            return Unavailable(f"{PROVIDER} answered with an error (HTTP {status}), try again shortly")
        if isinstance(exc, TimeoutError) or any(c.__name__ in _TIMEOUT_NAMES for c in type(exc).__mro__):
            return self._timeout()
        if isinstance(exc, OSError):  # curl_cffi and requests errors are OSErrors too
            return Unavailable(f"could not reach {PROVIDER}, try again shortly")
        if isinstance(exc, yfe.YFException):
            return Unavailable(f"{PROVIDER} could not serve {symbol} right now, try again shortly")
        log.warning("unexpected yfinance failure for %s: %r", symbol, exc)
        return Unavailable(f"{PROVIDER} sent data for {symbol} that could not be read, try again later")


def _check_history(interval: Interval, range_: Range, now: datetime) -> None:
    """Refuse ranges Yahoo does not keep for an intraday interval, naming those it does."""
    limit = _HISTORY_LIMIT.get(interval.code)
    if limit is None or range_.code == "max":
        return
    start = range_.start(now)
    if start is not None and now - start <= limit:
        return
    fits = [code for code in RANGE_CODES if code == "max" or now - (Range(code).start(now) or now) <= limit]
    raise Invalid(
        f"{PROVIDER} keeps {interval} candles for the last {limit.days} days only",
        hint=f"ranges for {interval}: " + " ".join(fits),
    )


def _to_frame(raw: pd.DataFrame, interval: Interval) -> pd.DataFrame:
    """yfinance's frame in our shape: UTC index, float OHLCV, oldest first, no gaps or repeats.

    Daily and longer bars are labelled by their exchange-local date at 00:00 UTC (as the
    CSV source and Binance label theirs), not by the instant Jakarta's midnight falls on,
    which would put ``2024-01-08`` at ``2024-01-07 17:00 UTC``.
    """
    if raw is None or raw.empty:
        return pd.DataFrame(columns=CANDLE_COLUMNS, index=pd.DatetimeIndex([], tz="UTC", name="time"))
    frame = raw.rename(columns=str.lower)
    frame = frame[[c for c in CANDLE_COLUMNS if c in frame.columns]].astype(float)
    if "volume" not in frame.columns:
        frame["volume"] = 0.0
    index = pd.DatetimeIndex(frame.index)
    if index.tz is None:
        index = index.tz_localize("UTC")
    if interval.intraday:
        index = index.tz_convert("UTC")
    else:
        index = index.tz_localize(None).normalize().tz_localize("UTC")
    frame.index = index.as_unit("ns").rename("time")
    frame = frame.dropna(subset=["open", "high", "low", "close"])
    frame["volume"] = frame["volume"].fillna(0.0)
    frame = frame[~frame.index.duplicated(keep="last")].sort_index()
    return frame[CANDLE_COLUMNS]
