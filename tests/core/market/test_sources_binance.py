"""BinanceSource with ccxt's real binance class; only its HTTP ``fetch`` is replaced.

The fake answers ``/api/v3/exchangeInfo`` and ``/api/v3/klines`` the way Binance does
(klines filtered by ``startTime``/``endTime`` and cut at ``limit``), from recorded
responses in ``tests/fixtures/binance``, and runs ccxt's own error mapping on errors.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ccxt
import ccxt.async_support as ccxt_async
import pandas as pd
import pytest

from core.config import Settings
from core.errors import Invalid, NotFound, Unavailable
from core.market.sources.base import MarketSource
from core.market.sources.binance import BinanceSource
from core.market.types import CANDLE_COLUMNS, INTERVALS, Range, Source

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "binance"
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


class FakeBinance:
    """Binance's public REST API, in memory."""

    def __init__(self) -> None:
        self.exchange_info = json.loads((FIXTURES / "exchangeInfo_spot.json").read_text())
        self.klines: dict[tuple[str, str], list[list[Any]]] = {
            ("BTCUSDT", "1d"): json.loads((FIXTURES / "klines_BTCUSDT_1d.json").read_text()),
        }
        self.invalid: set[str] = set()
        self.error: Exception | None = None
        self.fail_paths: set[str] = set()
        self.calls: list[tuple[str, dict[str, str]]] = []

    async def fetch(self, exchange: Any, url: str, method: str = "GET") -> Any:
        parts = urlsplit(url)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.calls.append((parts.path, params))
        if self.error is not None and (not self.fail_paths or parts.path in self.fail_paths):
            raise self.error
        if parts.path == "/api/v3/exchangeInfo":
            return self._answer(exchange, url, method, 200, self.exchange_info)
        if parts.path == "/api/v3/klines":
            symbol = params["symbol"]
            if symbol in self.invalid or symbol not in {s["symbol"] for s in self.exchange_info["symbols"]}:
                return self._answer(exchange, url, method, 400, {"code": -1121, "msg": "Invalid symbol."})
            rows = self.klines.get((symbol, params["interval"]), [])
            start = int(params.get("startTime", 0))
            end = int(params.get("endTime", 2**62))
            limit = int(params.get("limit", 500))
            return self._answer(exchange, url, method, 200, [r for r in rows if start <= r[0] <= end][:limit])
        return self._answer(exchange, url, method, 404, {"code": -1, "msg": "Not found"})

    def klines_calls(self) -> list[dict[str, str]]:
        return [params for path, params in self.calls if path == "/api/v3/klines"]

    @staticmethod
    def _answer(exchange: Any, url: str, method: str, status: int, payload: Any) -> Any:
        body = json.dumps(payload)
        reason = "OK" if status < 400 else "Bad Request"
        exchange.handle_errors(status, reason, url, method, {}, body, payload, {}, None)
        exchange.handle_http_status_code(status, reason, url, method, body)
        return payload


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeBinance:
    server = FakeBinance()

    async def fetch(self: Any, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        return await server.fetch(self, url, method)

    monkeypatch.setattr(ccxt_async.binance, "fetch", fetch)
    return server


@pytest.fixture
async def source(fake: FakeBinance) -> Any:
    src = BinanceSource(Settings(_env_file=None, market_timeout_s=10))
    yield src
    await src.close()


def _hourly(count: int, first_ms: int) -> list[list[Any]]:
    rows = []
    for i in range(count):
        price = 60000.0 + i
        rows.append(
            [
                first_ms + i * HOUR_MS,
                f"{price:.2f}",
                f"{price + 5:.2f}",
                f"{price - 5:.2f}",
                f"{price + 1:.2f}",
                "12.5",
                first_ms + (i + 1) * HOUR_MS - 1,
                "750000.0",
                1000 + i,
                "6.0",
                "360000.0",
                "0",
            ]
        )
    return rows


# --- resolve --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "symbol", "display", "currency"),
    [
        ("BTCUSDT", "BTC/USDT", "BTCUSDT", "USDT"),
        ("btc/usdt", "BTC/USDT", "BTCUSDT", "USDT"),
        ("ETHBTC", "ETH/BTC", "ETHBTC", "BTC"),
        ("BTC-USDT", "BTC/USDT", "BTCUSDT", "USDT"),
        ("BTC", "BTC", "BTC", None),
    ],
)
def test_resolve(typed: str, symbol: str, display: str, currency: str | None) -> None:
    inst = BinanceSource(Settings(_env_file=None)).resolve(typed)
    assert (inst.source, inst.symbol, inst.display, inst.currency, inst.lot_size) == (
        Source.BINANCE,
        symbol,
        display,
        currency,
        1,
    )


def test_meets_the_protocol() -> None:
    assert isinstance(BinanceSource(Settings(_env_file=None)), MarketSource)


def test_resolve_empty_is_invalid() -> None:
    with pytest.raises(Invalid):
        BinanceSource(Settings(_env_file=None)).resolve("")


# --- fetch ----------------------------------------------------------------------------------


async def test_fetch_parses_recorded_klines(source: BinanceSource, fake: FakeBinance) -> None:
    rows = fake.klines[("BTCUSDT", "1d")]
    now = datetime(2024, 11, 23, 12, tzinfo=UTC)

    candles = await source.fetch(source.resolve("BTCUSDT"), INTERVALS["1d"], Range("1mo"), now)

    frame = candles.frame
    assert len(frame) == 30
    assert list(frame.columns) == CANDLE_COLUMNS
    assert all(str(dtype) == "float64" for dtype in frame.dtypes)
    assert str(frame.index.tz) == "UTC"
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert (
        frame.index[0]
        == pd.Timestamp(rows[0][0], unit="ms", tz="UTC")
        == pd.Timestamp("2024-10-25", tz="UTC")
    )
    assert frame.index[-1] == pd.Timestamp("2024-11-23", tz="UTC")
    assert frame.iloc[-1].tolist() == [float(v) for v in rows[-1][1:6]]
    assert candles.instrument.symbol == "BTC/USDT"
    assert candles.instrument.currency == "USDT"
    assert candles.provider == "Binance"
    call = fake.klines_calls()[0]
    assert call["symbol"] == "BTCUSDT" and call["interval"] == "1d" and call["limit"] == "1000"
    assert int(call["startTime"]) == int((now - timedelta(days=31)).timestamp() * 1000)
    assert int(call["endTime"]) == int(now.timestamp() * 1000)


async def test_bare_base_means_its_usdt_pair(source: BinanceSource) -> None:
    now = datetime(2024, 11, 23, 12, tzinfo=UTC)
    candles = await source.fetch(source.resolve("btc"), INTERVALS["1d"], Range("1mo"), now)
    assert candles.instrument.symbol == "BTC/USDT"
    assert len(candles) == 30


async def test_monthly_asks_for_1M(source: BinanceSource, fake: FakeBinance) -> None:
    with pytest.raises(NotFound):  # no monthly klines recorded
        await source.fetch(
            source.resolve("BTCUSDT"), INTERVALS["1mo"], Range("5y"), datetime(2024, 11, 23, tzinfo=UTC)
        )
    assert fake.klines_calls()[0]["interval"] == "1M"


async def test_pages_across_more_than_1000_bars(source: BinanceSource, fake: FakeBinance) -> None:
    first = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp() * 1000)
    fake.klines[("BTCUSDT", "1h")] = _hourly(2500, first)
    now = datetime(2024, 6, 1, tzinfo=UTC) + timedelta(hours=2500)

    candles = await source.fetch(source.resolve("BTCUSDT"), INTERVALS["1h"], Range("6mo"), now)

    assert len(candles) == 2500
    assert candles.frame.index.is_unique and candles.frame.index.is_monotonic_increasing
    assert (candles.frame.index.to_series().diff().dropna() == pd.Timedelta(hours=1)).all()
    calls = fake.klines_calls()
    assert len(calls) == 3
    assert int(calls[1]["startTime"]) == first + 999 * HOUR_MS + 1
    assert int(calls[2]["startTime"]) == first + 1999 * HOUR_MS + 1


async def test_keeps_the_most_recent_bars_under_the_cap(fake: FakeBinance) -> None:
    first = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp() * 1000)
    fake.klines[("BTCUSDT", "1h")] = _hourly(2500, first)
    now = datetime(2024, 6, 1, tzinfo=UTC) + timedelta(hours=2500)
    src = BinanceSource(Settings(_env_file=None, market_max_bars=1200))
    try:
        for range_ in ("6mo", "max"):
            candles = await src.fetch(src.resolve("BTCUSDT"), INTERVALS["1h"], Range(range_), now)
            assert len(candles) == 1200
            assert candles.frame.index[-1] == pd.Timestamp(now - timedelta(hours=1))
            assert candles.frame.index[0] == pd.Timestamp(now - timedelta(hours=1200))
    finally:
        await src.close()


async def test_markets_load_once(source: BinanceSource, fake: FakeBinance) -> None:
    now = datetime(2024, 11, 23, 12, tzinfo=UTC)
    await source.fetch(source.resolve("BTCUSDT"), INTERVALS["1d"], Range("1mo"), now)
    await source.search("eth")
    await source.fetch(source.resolve("BTCUSDT"), INTERVALS["1d"], Range("5d"), now)
    assert [path for path, _ in fake.calls].count("/api/v3/exchangeInfo") == 1


async def test_unknown_symbol_is_not_found_with_suggestion(source: BinanceSource, fake: FakeBinance) -> None:
    with pytest.raises(NotFound) as err:
        await source.fetch(source.resolve("BTCUSD"), INTERVALS["1d"], Range("1mo"), datetime.now(UTC))
    assert err.value.message == "Binance has no spot pair BTCUSD"
    assert err.value.hint == "did you mean BTCUSDT?"
    assert fake.klines_calls() == []


async def test_unknown_symbol_without_close_match(source: BinanceSource) -> None:
    with pytest.raises(NotFound) as err:
        await source.fetch(source.resolve("QQQQQUSDT"), INTERVALS["1d"], Range("1mo"), datetime.now(UTC))
    assert err.value.hint == "find pairs with /search"


async def test_exchange_rejecting_the_symbol_is_not_found(source: BinanceSource, fake: FakeBinance) -> None:
    fake.invalid.add("ETHBTC")
    with pytest.raises(NotFound) as err:
        await source.fetch(source.resolve("ETHBTC"), INTERVALS["1d"], Range("1mo"), datetime.now(UTC))
    assert "ETHBTC" in err.value.message


async def test_empty_klines_is_not_found(source: BinanceSource) -> None:
    with pytest.raises(NotFound) as err:
        await source.fetch(source.resolve("ETHUSDT"), INTERVALS["1d"], Range("1mo"), datetime.now(UTC))
    assert err.value.message == "no 1d candles for ETHUSDT on Binance over 1mo"


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            ccxt.RequestTimeout("binance GET https://api.binance.com/api/v3/klines"),
            "Binance did not answer within 10 s, try again shortly",
        ),
        (
            ccxt.NetworkError("binance GET https://api.binance.com/api/v3/klines"),
            "could not reach Binance, try again shortly",
        ),
        (
            ccxt.ExchangeNotAvailable("binance GET https://api.binance.com/api/v3/klines 503"),
            "Binance is not available right now (maintenance or outage), try again later",
        ),
        (
            ccxt.DDoSProtection("binance 429 Too Many Requests"),
            "Binance is limiting requests right now, try again in a minute",
        ),
        (
            ccxt.ExchangeError('binance {"code":-1000,"msg":"An unknown error occurred"}'),
            "Binance refused the request for BTCUSDT, try again later",
        ),
    ],
)
async def test_transport_failures_are_unavailable(
    source: BinanceSource, fake: FakeBinance, error: Exception, message: str
) -> None:
    fake.error = error
    fake.fail_paths = {"/api/v3/klines"}
    with pytest.raises(Unavailable) as err:
        await source.fetch(source.resolve("BTCUSDT"), INTERVALS["1d"], Range("1mo"), datetime.now(UTC))
    assert err.value.message == message


async def test_failed_market_load_is_unavailable_then_retried(
    source: BinanceSource, fake: FakeBinance
) -> None:
    fake.error = ccxt.RequestTimeout("binance GET https://api.binance.com/api/v3/exchangeInfo")
    with pytest.raises(Unavailable):
        await source.search("btc")
    fake.error = None
    assert (await source.search("btc"))[0].symbol == "BTCUSDT"


async def test_binance_answering_503_is_unavailable(source: BinanceSource, fake: FakeBinance) -> None:
    original = fake._answer

    def down(exchange: Any, url: str, method: str, status: int, payload: Any) -> Any:
        return original(
            exchange,
            url,
            method,
            503,
            {"code": -1001, "msg": "Internal error; unable to process your request."},
        )

    fake._answer = down  # type: ignore[method-assign]
    with pytest.raises(Unavailable):
        await source.fetch(source.resolve("BTCUSDT"), INTERVALS["1d"], Range("1mo"), datetime.now(UTC))


async def test_unsupported_interval_is_invalid(source: BinanceSource) -> None:
    from core.market.types import Interval

    with pytest.raises(Invalid) as err:
        await source.fetch(
            source.resolve("BTCUSDT"), Interval("6h", timedelta(hours=6)), Range("1mo"), datetime.now(UTC)
        )
    assert err.value.hint == "Binance intervals: 1m 3m 5m 15m 30m 1h 2h 4h 1d 1w 1mo"


# --- search ---------------------------------------------------------------------------------


async def test_search_ranks_exact_then_prefix_then_contains(source: BinanceSource) -> None:
    hits = await source.search("btc", limit=10)
    symbols = [h.symbol for h in hits]
    # exact base (USDT first), pairs quoted in BTC (name word, in listing order), WBTC (substring)
    assert symbols == ["BTCUSDT", "BTCFDUSD", "BTCEUR", "ETHBTC", "BNBBTC", "WBTCUSDT"]
    assert hits[0].name == "BTC/USDT spot"
    assert (hits[0].exchange, hits[0].kind, hits[0].source) == ("Binance", "CRYPTO", Source.BINANCE)
    assert "LUNAUSDT" not in symbols  # not trading
    assert hits[0].score > hits[-1].score


async def test_search_prefix_and_limit(source: BinanceSource) -> None:
    hits = await source.search("BT", limit=2)
    assert [h.symbol for h in hits] == ["BTCUSDT", "BTTCUSDT"]
    assert [h.symbol for h in await source.search("ethusdt")] == ["ETHUSDT"]
    assert [h.symbol for h in await source.search("ETH/BTC")] == ["ETHBTC"]


async def test_search_blank_query_is_empty(source: BinanceSource, fake: FakeBinance) -> None:
    assert await source.search("  ") == []
    assert fake.calls == []
