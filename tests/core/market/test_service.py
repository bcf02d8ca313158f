"""Get Market Info through the service: source choice, validation before fetching, the quote."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from core.charts.service import ChartService
from core.config import Settings
from core.errors import Invalid
from core.market.service import MarketService, quote_of
from core.market.sources.base import guess_source
from core.market.types import INTERVALS, Candles, Instrument, Interval, Range, SearchHit, Source

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


class FakeYahoo:
    """A stand-in provider that records what it was asked."""

    source = Source.YFINANCE
    provider = "Yahoo Finance"

    def __init__(self) -> None:
        self.fetched: list[tuple[str, str, str]] = []

    def intervals(self):
        return ["15m", "1h", "1d", "1w", "1mo"]

    def resolve(self, ticker: str) -> Instrument:
        return Instrument(Source.YFINANCE, f"{ticker}.JK", ticker, "IDR", 100)

    async def fetch(self, instrument: Instrument, interval: Interval, range_: Range, now: datetime) -> Candles:
        self.fetched.append((instrument.symbol, interval.code, range_.code))
        index = pd.date_range(end="2026-11-20", periods=5, freq="B", tz="UTC")
        frame = pd.DataFrame(
            {
                "open": [9000, 9100, 9050, 9200, 9300],
                "high": [9150, 9200, 9250, 9350, 9500],
                "low": [8950, 9000, 9000, 9150, 9275],
                "close": [9100, 9050, 9200, 9300, 9475],
                "volume": [1e6, 2e6, 3e6, 4e6, 5e6],
            },
            index=index,
            dtype=float,
        )
        return Candles(instrument, interval, frame, self.provider)

    async def search(self, query: str, limit: int = 10) -> list[SearchHit]:
        return [SearchHit("BBCA", "Bank Central Asia Tbk", "IDX", Source.YFINANCE, "EQUITY", 1.0)]


@pytest.fixture
def service() -> tuple[MarketService, FakeYahoo]:
    fake = FakeYahoo()
    settings = Settings(market_offline=False, _env_file=None)
    return MarketService(settings, sources={Source.YFINANCE: fake}, clock=lambda: NOW), fake


async def test_quote_compares_with_previous_close(service):
    market, fake = service
    info = await market.market_info("BBCA", "1d", "1mo")
    q = info.quote
    assert fake.fetched == [("BBCA.JK", "1d", "1mo")]
    assert q.price == 9475 and q.previous_close == 9300
    assert q.change == 175 and q.change_pct == pytest.approx(1.8817, abs=1e-4)
    assert (q.range_low, q.range_high, q.range_label, q.volume) == (9275, 9500, "day", 5e6)


async def test_unsupported_interval_is_refused_before_fetching(service):
    market, fake = service
    with pytest.raises(Invalid) as err:
        await market.candles("BBCA", "4h")
    assert "Yahoo Finance has no 4h candles" in err.value.message
    assert err.value.hint == "Yahoo Finance intervals: 15m 1h 1d 1w 1mo"
    assert fake.fetched == []


async def test_bad_interval_and_range_name_the_choices(service):
    market, _ = service
    with pytest.raises(Invalid, match="unknown interval '7x'"):
        await market.candles("BBCA", "7x")
    with pytest.raises(Invalid, match="unknown range '9y'") as err:
        await market.candles("BBCA", "1d", "9y")
    assert "1mo" in err.value.hint


async def test_second_request_is_served_from_cache(service):
    market, fake = service
    await market.candles("BBCA", "1d", "6mo")
    await market.candles("BBCA", "1d", "1mo")
    assert len(fake.fetched) == 1 and market.cache.fetches == 1


def test_intraday_quote_uses_the_whole_session():
    index = pd.date_range("2026-11-23 02:00", periods=10, freq="h", tz="UTC")  # 23rd: 02..23, 24th: 00..
    index = index.append(pd.date_range("2026-11-24 02:00", periods=3, freq="h", tz="UTC"))
    closes = [float(100 + i) for i in range(len(index))]
    frame = pd.DataFrame(
        {"open": closes, "high": [c + 1 for c in closes], "low": [c - 1 for c in closes], "close": closes,
         "volume": [10.0] * len(index)},
        index=index,
    )
    candles = Candles(Instrument(Source.BINANCE, "BTC/USDT", "BTCUSDT"), INTERVALS["1h"], frame, "Binance")
    q = quote_of(candles)
    assert q.previous_close == 109 and q.price == 112
    assert (q.range_low, q.range_high, q.volume) == (109, 113, 30)


def test_source_guess_by_ticker_shape():
    assert guess_source("BTCUSDT") is Source.BINANCE
    assert guess_source("BTC/USDT") is Source.BINANCE
    assert guess_source("ethbtc") is Source.BINANCE
    assert guess_source("BTCFDUSD") is Source.BINANCE
    assert guess_source("BTCUSD") is Source.BINANCE  # one quote list with the brokers' (Coinbase's USD)
    for ticker in ("BBCA", "BBCA.JK", "^JKSE", "AAPL", "BTC-USD", "GOTO"):
        assert guess_source(ticker) is Source.YFINANCE, ticker


async def test_same_bars_and_indicators_reuse_the_chart_png(service):
    market, _ = service
    charts = ChartService(market.settings, market.compute)

    async def chart(indicator: str) -> bytes:
        info = await market.market_info("BBCA", "1d", "1mo", [indicator])
        return await charts.candles(info.candles, info.indicators)

    first, second, other = await chart("sma:2"), await chart("sma:2"), await chart("sma:3")
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    assert second is first
    assert other is not first and other != first


async def test_indicators_are_warmed_up_on_longer_history_with_one_fetch(tmp_path):
    from core.market.sources.csv import CsvSource

    settings = Settings(_env_file=None, market_offline=True)
    market = MarketService(settings)
    info = await market.market_info("BBCA", "1d", "6mo", ["ema:50"])
    shown = info.candles.frame
    assert shown.index[-1] - shown.index[0] <= pd.Timedelta(days=184)  # the reply covers what was asked
    ema = info.indicators[0].primary.reindex(shown.index)
    assert not ema.isna().any()  # settled from the first shown bar
    assert market.cache.fetches == 1
    assert isinstance(market._offline_source(), CsvSource)


async def test_indicators_of_the_same_bars_are_computed_once_for_many_requests():
    """Many users ask for BBCA's RSI within one candle: the compute plane works it out once."""
    from core.compute import InlineCompute
    from core.config import Settings
    from core.market.indicator_compute import compute_many
    from core.market.service import MarketService

    settings = Settings(_env_file=None, market_offline=True, sample_live=False)

    class Counting(InlineCompute):
        calls = 0

        async def run(self, fn, *args, task=None):
            if fn is compute_many:
                Counting.calls += 1
            return await super().run(fn, *args, task=task) if task is not None else await super().run(fn, *args)

    service = MarketService(settings, compute=Counting(settings))
    first = await service.market_info("BBCA", "1d", None, ["rsi", "ema:20"], user_id=1)
    again = await service.market_info("BBCA", "1d", None, ["rsi", "ema:20"], user_id=2)
    other = await service.market_info("BBCA", "1d", None, ["rsi:7"], user_id=2)
    assert Counting.calls == 2  # the repeat was served from the first; another spec is computed
    assert [r.last() for r in again.indicators] == [r.last() for r in first.indicators]
    assert other.indicators[0].spec.text != first.indicators[0].spec.text
    await service.close()


async def test_a_repeated_market_info_is_the_same_answer_until_the_candle_closes():
    """A dashboard polling BBCA within one candle gets the answer already worked out; once the
    candle closes the bars are fetched again and the quote is the new one."""
    fake = FakeYahoo()
    clock = [NOW]
    service = MarketService(Settings(market_offline=False, _env_file=None), sources={Source.YFINANCE: fake},
                            clock=lambda: clock[0])  # fmt: skip
    first = await service.market_info("BBCA", "1d", "1mo", ["rsi:3"])
    again = await service.market_info("BBCA", "1d", "1mo", ["rsi:3"])
    assert again is first and len(fake.fetched) == 1
    assert (await service.market_info("BBCA", "1d", "1mo", ["rsi:2"])) is not first  # other indicators

    async def moved(instrument: Instrument, interval: Interval, range_: Range, now: datetime) -> Candles:
        candles = await FakeYahoo.fetch(fake, instrument, interval, range_, now)
        frame = candles.frame.copy()
        frame.loc[frame.index[-1], "close"] = 9600.0
        return Candles(instrument, interval, frame, fake.provider)

    fake.fetch = moved  # type: ignore[method-assign]
    clock[0] = NOW + pd.Timedelta(days=1)  # the day's candle closed: the cache fetches again
    later = await service.market_info("BBCA", "1d", "1mo", ["rsi:3"])
    assert later is not first and later.quote.price == 9600.0 and first.quote.price == 9475.0
    await service.close()
