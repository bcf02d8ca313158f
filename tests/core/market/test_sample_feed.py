"""The live sample market: the shipped series continued minute by minute, the same everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from core.config import SAMPLE_DATA_DIR, Settings
from core.market.sample_feed import SampleFeed
from core.market.service import MarketService
from core.market.sources.csv import CsvSource
from core.market.types import INTERVALS, Range

NOW = datetime(2026, 12, 9, 10, 17, 30, tzinfo=UTC)  # a Wednesday, weeks after the last shipped bar


def _source(seed: int = 1) -> CsvSource:
    return CsvSource(SAMPLE_DATA_DIR, sample=True, feed=SampleFeed(seed))


async def _bars(src: CsvSource, ticker: str, interval: str, range_: str, now: datetime = NOW) -> pd.DataFrame:
    return (await src.fetch(src.resolve(ticker), INTERVALS[interval], Range(range_), now)).frame


async def test_every_interval_is_served_up_to_now_and_labelled_sample() -> None:
    src = _source()
    assert src.ticker_intervals("BTCUSDT")[0] == "1m" and src.ticker_intervals("BBCA")[0] == "1m"
    candles = await src.fetch(src.resolve("BTCUSDT"), INTERVALS["1m"], Range("1d"), NOW)
    assert candles.sample and candles.provider == "Sample data"
    assert candles.frame.index[-1] == pd.Timestamp("2026-12-09 10:17", tz="UTC")  # the bar forming now
    assert (candles.frame.index.to_series().diff().dropna() == pd.Timedelta(minutes=1)).all()
    daily = await _bars(src, "BTCUSDT", "1d", "1mo")
    assert daily.index[-1] == pd.Timestamp("2026-12-09", tz="UTC")
    assert (daily.index.to_series().diff().dropna() == pd.Timedelta(days=1)).all()  # no gap after the files


@pytest.mark.parametrize("ticker", ["BTCUSDT", "BBCA"])
async def test_intervals_agree_on_the_live_days(ticker: str) -> None:
    src = _source()
    minutes = await _bars(src, ticker, "1m", "5d")
    hourly = await _bars(src, ticker, "1h", "5d")
    daily = await _bars(src, ticker, "1d", "5d")
    day = pd.Timestamp("2026-12-08", tz="UTC")
    for frame in (minutes, hourly):
        that_day = frame[(frame.index >= day) & (frame.index < day + pd.Timedelta(days=1))]
        assert daily.loc[day, "open"] == that_day["open"].iloc[0]
        assert daily.loc[day, "close"] == that_day["close"].iloc[-1]
        assert daily.loc[day, "high"] == that_day["high"].max() and daily.loc[day, "low"] == that_day["low"].min()
    hour = pd.Timestamp("2026-12-08 03:00", tz="UTC")
    in_hour = minutes[(minutes.index >= hour) & (minutes.index < hour + pd.Timedelta(hours=1))]
    assert hourly.loc[hour, "close"] == in_hour["close"].iloc[-1] and hourly.loc[hour, "high"] == in_hour["high"].max()


async def test_the_feed_continues_the_last_shipped_close() -> None:
    src = _source()
    shipped = await _bars(CsvSource(SAMPLE_DATA_DIR, sample=True), "BTCUSDT", "1h", "5d")
    live = await _bars(src, "BTCUSDT", "1m", "max", datetime(2026, 11, 21, 0, 5, tzinfo=UTC))
    assert live.index[0] == pd.Timestamp("2026-11-21 00:00", tz="UTC")
    assert live["open"].iloc[0] == shipped["close"].iloc[-1]
    assert (live["open"].iloc[1:].to_numpy() == live["close"].iloc[:-1].to_numpy()).all()


async def test_same_bars_in_every_process_and_at_every_later_time() -> None:
    earlier = await _bars(_source(), "ETHUSDT", "1m", "1d")
    later = await _bars(_source(), "ETHUSDT", "1m", "1d", NOW + timedelta(hours=5))
    shared = earlier.index[:-1].intersection(later.index)  # the bar forming at the earlier time aside
    assert len(shared) > 1000
    pd.testing.assert_frame_equal(later.loc[shared], earlier.loc[shared])
    other_seed = await _bars(_source(seed=2), "ETHUSDT", "1m", "1d")
    assert not other_seed["close"].equals(earlier["close"])


async def test_idx_trades_in_the_jakarta_session_only() -> None:
    minutes = await _bars(_source(), "BBCA", "1m", "5d")
    wib = minutes.index.tz_convert("Asia/Jakarta")
    clock = wib.hour * 60 + wib.minute
    assert (((clock >= 9 * 60) & (clock < 12 * 60)) | ((clock >= 13 * 60 + 30) & (clock < 16 * 60))).all()
    assert (wib.day_of_week < 5).all()
    assert (minutes[["open", "high", "low", "close"]] % 25 == 0).all().all()  # BBCA's price step


async def test_market_service_turns_it_on_for_the_sample_only(tmp_path) -> None:
    live = MarketService(Settings(_env_file=None, market_offline=True, sample_live=True), clock=lambda: NOW)
    assert (await live.candles("BTCUSDT", "1m")).frame.index[-1] == pd.Timestamp("2026-12-09 10:17", tz="UTC")
    files_only = MarketService(Settings(_env_file=None, market_offline=True, sample_live=False), clock=lambda: NOW)
    assert "1m" not in files_only.served_intervals("BTCUSDT")
    (tmp_path / "BTCUSDT_1h.csv").write_text((SAMPLE_DATA_DIR / "BTCUSDT_1h.csv").read_text())
    own = MarketService(
        Settings(_env_file=None, market_offline=True, sample_live=True, market_data_dir=tmp_path), clock=lambda: NOW
    )
    assert "1m" not in own.served_intervals("BTCUSDT")  # an operator's own files never grow invented bars
