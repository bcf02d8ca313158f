"""YahooSource against recorded Yahoo responses.

yfinance runs for real: only its HTTP session is replaced, by a curl_cffi ``Session``
whose ``request`` answers from ``tests/fixtures/yahoo`` instead of the network.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import pytest
import yfinance  # imported here, not mid-test: its import puts a warnings filter of its own first
from curl_cffi import requests as curl_requests

from core.config import Settings
from core.errors import Invalid, NotFound, Unavailable
from core.market.sources.base import MarketSource
from core.market.sources.yahoo import YahooSource
from core.market.symbols import typed_stock_ticker
from core.market.types import CANDLE_COLUMNS, INTERVALS, Range, Source

pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword")

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "yahoo"
NOW = datetime(2024, 2, 15, 10, 0, tzinfo=UTC)
NOT_FOUND = (FIXTURES / "chart_not_found.json").read_bytes()


class FakeYahoo(curl_requests.Session):
    """A curl_cffi session that answers Yahoo's endpoints from recorded JSON."""

    def __init__(self) -> None:
        super().__init__()
        # (symbol, interval) -> body; other intervals of a known symbol get its daily chart
        self.charts: dict[tuple[str, str], bytes] = {
            ("BBCA.JK", "1d"): (FIXTURES / "chart_BBCA.JK_1d.json").read_bytes(),
            ("BBCA.JK", "1h"): (FIXTURES / "chart_BBCA.JK_1h.json").read_bytes(),
            ("SUGI.JK", "1d"): (FIXTURES / "chart_delisted_SUGI.JK.json").read_bytes(),
        }
        self.search_body = (FIXTURES / "search_bank_central.json").read_bytes()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.error: Exception | None = None
        self.block: threading.Event | None = None

    def request(self, method: str, url: str, **kwargs: Any) -> curl_requests.Response:  # type: ignore[override]
        self.calls.append((url, dict(kwargs.get("params") or {})))
        if self.block is not None:
            self.block.wait(5)
        if self.error is not None:
            raise self.error
        path = urlsplit(url).path
        if path.endswith("/getcrumb"):
            return _response(url, 200, b"fAkEcRuMb")
        if path.startswith("/v8/finance/chart/"):
            symbol = path.rsplit("/", 1)[1]
            interval = str((kwargs.get("params") or {}).get("interval", "1d"))
            body = self.charts.get((symbol, interval)) or self.charts.get((symbol, "1d"))
            return _response(url, 200, body) if body else _response(url, 404, NOT_FOUND)
        if path == "/v1/finance/search":
            return _response(url, 200, self.search_body)
        if path.startswith("/v10/finance/quoteSummary/"):
            body = b'{"quoteSummary":{"result":null,"error":{"code":"Not Found","description":"Quote not found"}}}'
            return _response(url, 404, body)
        return _response(url, 200, b"")  # fc.yahoo.com, consent pages

    def chart_calls(self) -> list[dict[str, Any]]:
        return [
            params
            for url, params in self.calls
            if "/v8/finance/chart/" in url and params.get("range") != "1d"
        ]


def _response(url: str, status: int, body: bytes) -> curl_requests.Response:
    resp = curl_requests.Response()
    resp.url = url
    resp.status_code = status
    resp.ok = status < 400
    resp.reason = "OK" if status < 400 else "Not Found"
    resp.content = body
    return resp


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Fresh yfinance state around each test: no disk caches, no memoised responses."""
    base, cache, data = yfinance.base, yfinance.cache, yfinance.data
    monkeypatch.setattr(cache._TzCacheManager, "_tz_cache", cache._TzCacheDummy())
    monkeypatch.setattr(cache._CookieCacheManager, "_Cookie_cache", cache._CookieCacheDummy())
    monkeypatch.setattr(base, "_tz_info_fetch_ctr", 0)
    yfdata = data.YfData()
    saved = (yfdata._session, yfdata._crumb, yfdata._cookie, yfdata._cookie_strategy)
    data.YfData.cache_get.cache_clear()
    server = FakeYahoo()
    yield server
    if server.block is not None:
        server.block.set()
    yfdata._session, yfdata._crumb, yfdata._cookie, yfdata._cookie_strategy = saved
    data.YfData.cache_get.cache_clear()


def _source(fake: FakeYahoo, timeout: float = 5.0) -> YahooSource:
    return YahooSource(Settings(_env_file=None, market_timeout_s=timeout), session=fake)


def _chart(symbol: str, interval: str = "1d") -> dict[str, Any]:
    return json.loads((FIXTURES / f"chart_{symbol}_{interval}.json").read_text())


# --- resolve --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "symbol", "display", "currency", "lot"),
    [
        ("BBCA", "BBCA.JK", "BBCA", "IDR", 100),
        ("tlkm", "TLKM.JK", "TLKM", "IDR", 100),
        ("BBCA.JK", "BBCA.JK", "BBCA", "IDR", 100),
        ("BBCA-R.JK", "BBCA-R.JK", "BBCA-R.JK", "IDR", 100),  # a right trades in IDX lots as well
        ("JKSE", "^JKSE", "JKSE", "IDR", 1),
        ("IHSG", "^JKSE", "JKSE", "IDR", 1),
        ("^JKSE", "^JKSE", "JKSE", "IDR", 1),
        ("AAPL.US", "AAPL", "AAPL", "USD", 1),
        ("aapl:us", "AAPL", "AAPL", "USD", 1),
        ("MSFT", "MSFT.JK", "MSFT", "IDR", 100),  # four letters read as IDX: type MSFT.US for the US stock
        ("IBM", "IBM", "IBM", None, 1),
        ("GOOGL", "GOOGL", "GOOGL", None, 1),
        ("BTC-USD", "BTC-USD", "BTC-USD", None, 1),
        ("USDIDR=X", "USDIDR=X", "USDIDR=X", None, 1),
        ("^GSPC", "^GSPC", "^GSPC", None, 1),
    ],
)
def test_resolve(typed: str, symbol: str, display: str, currency: str | None, lot: int) -> None:
    inst = YahooSource(Settings(_env_file=None)).resolve(typed)
    assert (inst.source, inst.symbol, inst.display, inst.currency, inst.lot_size) == (
        Source.YFINANCE,
        symbol,
        display,
        currency,
        lot,
    )


def test_resolve_empty_is_invalid() -> None:
    with pytest.raises(Invalid):
        YahooSource(Settings(_env_file=None)).resolve("  ")


@pytest.mark.parametrize("yahoo", ["BBCA.JK", "^JKSE", "AAPL", "IBM", "BTC-USD", "CENTRALBK.NS", "BBCA-R.JK"])
def test_typed_symbol_round_trips(yahoo: str) -> None:
    assert YahooSource(Settings(_env_file=None)).resolve(typed_stock_ticker(yahoo)).symbol == yahoo


def test_meets_the_protocol() -> None:
    assert isinstance(YahooSource(Settings(_env_file=None)), MarketSource)


# --- fetch ----------------------------------------------------------------------------------


async def test_fetch_idx_daily_parses_recorded_chart(fake: FakeYahoo) -> None:
    src = _source(fake)
    candles = await src.fetch(src.resolve("BBCA"), INTERVALS["1d"], Range("3mo"), NOW)

    frame = candles.frame
    raw = _chart("BBCA.JK")["chart"]["result"][0]
    quote = raw["indicators"]["quote"][0]
    kept = [i for i, c in enumerate(quote["close"]) if c is not None]
    assert len(frame) == len(kept) == 29  # Yahoo's all-null day is dropped
    assert list(frame.columns) == CANDLE_COLUMNS
    assert all(str(dtype) == "float64" for dtype in frame.dtypes)
    assert str(frame.index.tz) == "UTC"
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert not frame.isna().any().any()
    # Daily bars carry their Jakarta trading date at 00:00 UTC.
    assert frame.index[0] == pd.Timestamp("2024-01-02", tz="UTC")
    assert frame.index[-1] == pd.Timestamp("2024-02-14", tz="UTC")
    first, last = kept[0], kept[-1]
    assert frame.iloc[0].tolist() == [
        quote["open"][first],
        quote["high"][first],
        quote["low"][first],
        quote["close"][first],
        float(quote["volume"][first]),
    ]
    assert candles.last_close == quote["close"][last]
    assert candles.instrument.currency == "IDR"
    assert candles.instrument.lot_size == 100
    assert candles.name == "PT Bank Central Asia Tbk"
    assert candles.provider == "Yahoo Finance"
    assert candles.extra["exchange_tz"] == "Asia/Jakarta"
    assert fake.chart_calls()[-1]["range"] == "3mo"
    assert fake.chart_calls()[-1]["interval"] == "1d"


async def test_fetch_intraday_keeps_the_true_utc_instant(fake: FakeYahoo) -> None:
    src = _source(fake)
    candles = await src.fetch(
        src.resolve("BBCA"), INTERVALS["1h"], Range("5d"), datetime(2024, 2, 20, tzinfo=UTC)
    )

    frame = candles.frame
    raw = _chart("BBCA.JK", "1h")["chart"]["result"][0]
    assert len(frame) == len(raw["timestamp"]) == 35
    assert str(frame.index.tz) == "UTC"
    assert frame.index[0] == pd.Timestamp("2024-02-12 02:00", tz="UTC")  # 09:00 in Jakarta
    assert frame.index[-1] == pd.Timestamp(raw["timestamp"][-1], unit="s", tz="UTC")
    assert frame["close"].iloc[-1] == raw["indicators"]["quote"][0]["close"][-1]
    assert fake.chart_calls()[-1]["interval"] == "1h"


async def test_weekly_asks_yahoo_for_1wk(fake: FakeYahoo) -> None:
    src = _source(fake)
    await src.fetch(src.resolve("BBCA"), INTERVALS["1w"], Range("2y"), NOW)
    assert fake.chart_calls()[-1]["interval"] == "1wk"


async def test_unknown_ticker_is_not_found(fake: FakeYahoo, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _source(fake)
    with pytest.raises(NotFound) as err:
        await src.fetch(src.resolve("XXXX"), INTERVALS["1d"], Range("1mo"), NOW)
    assert "XXXX.JK" in err.value.message


async def test_unknown_ticker_is_not_found_without_the_info_fallback(
    fake: FakeYahoo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # yfinance stops asking quoteSummary for a timezone after two tries per process
    monkeypatch.setattr(yfinance.base, "_tz_info_fetch_ctr", 2)
    src = _source(fake)
    with pytest.raises(NotFound) as err:
        await src.fetch(src.resolve("XXXX"), INTERVALS["1d"], Range("1mo"), NOW)
    assert "delisted" in err.value.message


async def test_delisted_ticker_is_not_found(fake: FakeYahoo) -> None:
    src = _source(fake)
    with pytest.raises(NotFound) as err:
        await src.fetch(src.resolve("SUGI"), INTERVALS["1d"], Range("1mo"), NOW)
    assert err.value.message == "no data for SUGI.JK: it may be delisted"


async def test_empty_data_is_not_found(fake: FakeYahoo) -> None:
    chart = _chart("BBCA.JK")
    quote = chart["chart"]["result"][0]["indicators"]["quote"][0]
    for column in quote:
        quote[column] = [None] * len(quote[column])
    fake.charts[("BBCA.JK", "1d")] = json.dumps(chart).encode()
    src = _source(fake)
    with pytest.raises(NotFound) as err:
        await src.fetch(src.resolve("BBCA"), INTERVALS["1d"], Range("1mo"), NOW)
    assert "BBCA.JK" in err.value.message


@pytest.mark.parametrize(
    "error",
    [
        curl_requests.exceptions.ConnectionError("Failed to connect to query2.finance.yahoo.com port 443"),
        curl_requests.exceptions.DNSError("Could not resolve host: query2.finance.yahoo.com"),
        __import__("requests").exceptions.ConnectionError("Max retries exceeded"),
    ],
)
async def test_network_failure_is_unavailable(fake: FakeYahoo, error: Exception) -> None:
    fake.error = error
    src = _source(fake)
    with pytest.raises(Unavailable) as err:
        await src.fetch(src.resolve("BBCA"), INTERVALS["1d"], Range("1mo"), NOW)
    assert err.value.message == "could not reach Yahoo Finance, try again shortly"
    assert "Traceback" not in str(err.value)


async def test_transport_timeout_is_unavailable(fake: FakeYahoo) -> None:
    fake.error = curl_requests.exceptions.Timeout("Operation timed out after 10001 milliseconds")
    src = _source(fake, timeout=10)
    with pytest.raises(Unavailable) as err:
        await src.fetch(src.resolve("BBCA"), INTERVALS["1d"], Range("1mo"), NOW)
    assert err.value.message == "Yahoo Finance did not answer within 10 s, try again shortly"


async def test_slow_answer_times_out(fake: FakeYahoo) -> None:
    fake.block = threading.Event()
    src = _source(fake, timeout=0.2)
    with pytest.raises(Unavailable) as err:
        await src.fetch(src.resolve("BBCA"), INTERVALS["1d"], Range("1mo"), NOW)
    assert err.value.message == "Yahoo Finance did not answer within 0.2 s, try again shortly"
    fake.block.set()  # let the abandoned worker thread finish before the loop closes


async def test_server_error_is_unavailable(fake: FakeYahoo) -> None:
    class Down(FakeYahoo):
        def request(self, method: str, url: str, **kwargs: Any) -> curl_requests.Response:  # type: ignore[override]
            return _response(url, 502, b"<html>Bad Gateway</html>")

    src = _source(Down())
    with pytest.raises(Unavailable):
        await src.fetch(src.resolve("BBCA"), INTERVALS["1d"], Range("1mo"), NOW)


async def test_unsupported_interval_is_invalid_with_hint(fake: FakeYahoo) -> None:
    src = _source(fake)
    with pytest.raises(Invalid) as err:
        await src.fetch(src.resolve("BBCA"), INTERVALS["4h"], Range("3mo"), NOW)
    assert err.value.hint == "Yahoo Finance intervals: 1m 5m 15m 30m 1h 1d 1w 1mo"
    assert fake.calls == []


@pytest.mark.parametrize(
    ("interval", "range_", "hint"),
    [
        ("1m", "1mo", "ranges for 1m: 1d 5d max"),
        ("15m", "3mo", "ranges for 15m: 1d 5d 1mo ytd max"),
        ("1h", "2y", "ranges for 1h: 1d 5d 1mo 3mo 6mo 1y ytd max"),
    ],
)
async def test_history_limits_are_invalid(fake: FakeYahoo, interval: str, range_: str, hint: str) -> None:
    src = _source(fake)
    with pytest.raises(Invalid) as err:
        await src.fetch(src.resolve("BBCA"), INTERVALS[interval], Range(range_), NOW)
    assert err.value.hint == hint
    assert fake.calls == []


# --- search ---------------------------------------------------------------------------------


async def test_search_ranks_and_shapes_hits(fake: FakeYahoo) -> None:
    src = _source(fake)
    hits = await src.search("bank central", limit=5)

    assert [h.symbol for h in hits] == ["BBCA", "PBCRY", "PBCRF", "BZG2.F", "CENTRALBK.NS"]
    top = hits[0]
    assert (top.name, top.exchange, top.kind, top.source) == (
        "PT Bank Central Asia Tbk",
        "Jakarta",
        "EQUITY",
        Source.YFINANCE,
    )
    assert hits[0].score > hits[-1].score
    (_url, params), *_ = [c for c in fake.calls if "/v1/finance/search" in c[0]]
    assert params["q"] == "bank central"


async def test_search_exact_symbol_first(fake: FakeYahoo) -> None:
    hits = await _source(fake).search("PBCRY", limit=3)
    assert hits[0].symbol == "PBCRY"


async def test_search_network_failure_is_unavailable(fake: FakeYahoo) -> None:
    fake.error = curl_requests.exceptions.ConnectionError("connection refused")
    with pytest.raises(Unavailable):
        await _source(fake).search("bank central")
