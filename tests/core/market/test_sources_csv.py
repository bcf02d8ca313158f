"""CsvSource over files written to tmp_path and over the shipped sample set."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from structlog.testing import capture_logs

from core.config import SAMPLE_DATA_DIR
from core.errors import Invalid, NotFound, Unavailable
from core.market.sources import csv as csv_source
from core.market.sources.base import MarketSource
from core.market.sources.csv import CsvSource, can_derive
from core.market.types import CANDLE_COLUMNS, INTERVALS, Range, Source

LATER = datetime(2030, 1, 1, tzinfo=UTC)  # a wall clock long after any file's last bar


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text.strip() + "\n")
    return path


def _hourly_csv(directory: Path, name: str = "BTCUSDT_1h.csv", hours: int = 48) -> Path:
    index = pd.date_range("2026-11-02 00:00", periods=hours, freq="h")
    lines = ["Date,Open,High,Low,Close,Volume"]
    for i, ts in enumerate(index):
        lines.append(f"{ts:%Y-%m-%d %H:%M:%S},{100 + i},{110 + i},{90 + i},{101 + i},{i + 1}")
    return _write(directory, name, "\n".join(lines))


def _assert_shape(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == CANDLE_COLUMNS
    assert all(str(dtype) == "float64" for dtype in frame.dtypes)
    assert str(frame.index.tz) == "UTC"
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert not frame.isna().any().any()


# --- the sample set -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> CsvSource:
    return CsvSource(SAMPLE_DATA_DIR, sample=True)


def test_meets_the_protocol(sample: CsvSource) -> None:
    assert isinstance(sample, MarketSource)
    assert sample.provider == "Sample data"
    assert CsvSource(SAMPLE_DATA_DIR).provider == "CSV"


@pytest.mark.parametrize(
    ("typed", "symbol", "source", "currency", "lot"),
    [
        ("BBCA", "BBCA", Source.YFINANCE, "IDR", 100),
        ("bbca.jk", "BBCA", Source.YFINANCE, "IDR", 100),
        ("BTC/USDT", "BTCUSDT", Source.BINANCE, "USDT", 1),
        ("ethusdt", "ETHUSDT", Source.BINANCE, "USDT", 1),
        ("^JKSE", "JKSE", Source.YFINANCE, "IDR", 1),
        ("IHSG", "JKSE", Source.YFINANCE, "IDR", 1),
    ],
)
def test_resolve(sample: CsvSource, typed: str, symbol: str, source: Source, currency: str, lot: int) -> None:
    inst = sample.resolve(typed)
    assert (inst.symbol, inst.display, inst.source, inst.currency, inst.lot_size) == (
        symbol,
        symbol,
        source,
        currency,
        lot,
    )


def test_sample_intervals(sample: CsvSource) -> None:
    """One hourly series per ticker; every coarser interval is derived from it."""
    assert list(sample.intervals()) == ["1h", "2h", "4h", "1d", "1w", "1mo"]
    assert sample.ticker_intervals("BBCA") == ["1h", "2h", "4h", "1d", "1w", "1mo"]
    assert sample.ticker_intervals("BTCUSDT") == ["1h", "2h", "4h", "1d", "1w", "1mo"]
    names = sorted(p.name for p in SAMPLE_DATA_DIR.glob("*.csv") if p.name != "instruments.csv")
    assert names == sorted(f"{t}_1h.csv" for t in csv_source_sample_tickers())


def csv_source_sample_tickers() -> list[str]:
    return ["BBCA", "BBRI", "BMRI", "TLKM", "ASII", "GOTO", "JKSE", "BTCUSDT", "ETHUSDT"]


@pytest.mark.parametrize("ticker", csv_source_sample_tickers())
async def test_sample_daily_bars_are_their_hours(sample: CsvSource, ticker: str) -> None:
    """The same day reads the same on 1d and 1h (once BTCUSDT was 148,246 on one and 59,172 on the other)."""
    inst = sample.resolve(ticker)
    daily = (await sample.fetch(inst, INTERVALS["1d"], Range("1mo"), LATER)).frame
    hourly = (await sample.fetch(inst, INTERVALS["1h"], Range("1mo"), LATER)).frame
    for day in daily.index[-5:]:
        hours = hourly[(hourly.index >= day) & (hourly.index < day + pd.Timedelta(days=1))]
        assert daily.loc[day, "open"] == hours["open"].iloc[0]
        assert daily.loc[day, "close"] == hours["close"].iloc[-1]
        assert daily.loc[day, "high"] == hours["high"].max() and daily.loc[day, "low"] == hours["low"].min()
        assert daily.loc[day, "volume"] == pytest.approx(hours["volume"].sum())


async def test_sample_idx_hours_are_in_the_jakarta_session(sample: CsvSource) -> None:
    hourly = (await sample.fetch(sample.resolve("BBCA"), INTERVALS["1h"], Range("3mo"), LATER)).frame
    wib = hourly.index.tz_convert("Asia/Jakarta")
    assert set(wib.hour) == {9, 10, 11, 13, 14, 15}  # 09:00-12:00 and 13:30-16:00
    assert (wib.day_of_week < 5).all()
    btc = (await sample.fetch(sample.resolve("BTCUSDT"), INTERVALS["1h"], Range("5d"), LATER)).frame
    assert len(set(btc.index.hour)) == 24  # crypto trades around the clock


async def test_sample_daily_counts_back_from_the_last_bar(sample: CsvSource) -> None:
    candles = await sample.fetch(sample.resolve("BBCA"), INTERVALS["1d"], Range("6mo"), LATER)

    _assert_shape(candles.frame)
    assert candles.sample is True
    assert candles.provider == "Sample data"
    assert candles.name == "Bank Central Asia Tbk"
    last = candles.frame.index[-1]
    assert last == pd.Timestamp("2026-11-20", tz="UTC")  # the file's last bar, years before LATER
    assert candles.frame.index[0] >= last + pd.Timedelta(days=1) - pd.Timedelta(days=183)
    assert 120 < len(candles) < 135


async def test_sample_one_day_range_is_the_last_bar(sample: CsvSource) -> None:
    candles = await sample.fetch(sample.resolve("BBCA"), INTERVALS["1d"], Range("1d"), LATER)
    assert len(candles) == 1


async def test_now_before_the_last_bar_cuts_the_data(sample: CsvSource) -> None:
    now = datetime(2025, 6, 15, tzinfo=UTC)
    candles = await sample.fetch(sample.resolve("BBCA"), INTERVALS["1d"], Range("1mo"), now)
    assert candles.frame.index[-1] < pd.Timestamp(now)
    assert candles.frame.index[0] >= pd.Timestamp(now) - pd.Timedelta(days=31)


async def test_sample_interval_file_serves_its_interval(sample: CsvSource) -> None:
    hourly = await sample.fetch(sample.resolve("BTCUSDT"), INTERVALS["1h"], Range("5d"), LATER)
    assert (hourly.frame.index.to_series().diff().dropna() == pd.Timedelta(hours=1)).all()
    four = await sample.fetch(sample.resolve("BTC/USDT"), INTERVALS["4h"], Range("5d"), LATER)
    assert (four.frame.index.hour % 4 == 0).all()
    weekly = await sample.fetch(sample.resolve("BTCUSDT"), INTERVALS["1w"], Range("1y"), LATER)
    assert (weekly.frame.index.day_of_week == 0).all()  # weeks open on Monday
    assert len(weekly) >= 50  # built from the daily file, which goes back further than the hourly one


async def test_finer_interval_than_any_file_is_invalid(sample: CsvSource) -> None:
    with pytest.raises(Invalid) as err:
        await sample.fetch(sample.resolve("BBCA"), INTERVALS["30m"], Range("5d"), LATER)
    assert err.value.message == "Sample data has no 30m candles for BBCA"
    assert err.value.hint == "BBCA intervals: 1h 2h 4h 1d 1w 1mo"


async def test_missing_ticker_is_not_found(sample: CsvSource) -> None:
    with pytest.raises(NotFound) as err:
        await sample.fetch(sample.resolve("UNVR"), INTERVALS["1d"], Range("1mo"), LATER)
    assert err.value.message == "Sample data has no UNVR"
    assert err.value.hint is not None and err.value.hint.startswith("available: ASII BBCA BBRI")


async def test_search_by_name_and_symbol(sample: CsvSource) -> None:
    banks = await sample.search("bank")
    assert [h.symbol for h in banks] == ["BBCA", "BBRI", "BMRI"]
    assert (banks[0].name, banks[0].exchange, banks[0].kind, banks[0].source) == (
        "Bank Central Asia Tbk",
        "IDX",
        "EQUITY",
        Source.YFINANCE,
    )
    assert [h.symbol for h in await sample.search("BB")] == ["BBCA", "BBRI"]
    assert (await sample.search("bbca"))[0].score > (await sample.search("central"))[0].score
    btc = await sample.search("bitcoin")
    assert [(h.symbol, h.kind, h.source) for h in btc] == [("BTCUSDT", "CRYPTO", Source.BINANCE)]
    composite = await sample.search("composite")
    assert [(h.symbol, h.kind) for h in composite] == [("JKSE", "INDEX")]
    assert await sample.search("") == []


# --- files in tmp_path ----------------------------------------------------------------------


async def test_plain_dates_are_utc_midnight_and_offsets_convert(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "AAAA.csv",
        """
date,open,high,low,close,volume
2026-01-06,10,12,9,11,100
2026-01-05,9,11,8,10,200
2026-01-07T09:00:00+07:00,11,13,10,12,300
""",
    )
    src = CsvSource(tmp_path)
    candles = await src.fetch(src.resolve("AAAA"), INTERVALS["1d"], Range("max"), LATER)
    _assert_shape(candles.frame)
    assert list(candles.frame.index) == [
        pd.Timestamp("2026-01-05", tz="UTC"),
        pd.Timestamp("2026-01-06", tz="UTC"),
        pd.Timestamp("2026-01-07 02:00", tz="UTC"),
    ]
    assert candles.frame.iloc[0].tolist() == [9.0, 11.0, 8.0, 10.0, 200.0]
    assert candles.sample is False and candles.provider == "CSV"


async def test_blank_rows_duplicates_and_missing_volume(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "BBBB.csv",
        """
Date,Open,High,Low,Close
2026-01-05,9,11,8,10
2026-01-06,null,null,null,null
2026-01-07,10,12,9,11
2026-01-07,10,13,9,12
""",
    )
    src = CsvSource(tmp_path)
    frame = (await src.fetch(src.resolve("BBBB"), INTERVALS["1d"], Range("max"), LATER)).frame
    _assert_shape(frame)
    assert len(frame) == 2
    assert frame["close"].iloc[-1] == 12.0  # the later duplicate wins
    assert (frame["volume"] == 0.0).all()


async def test_hourly_file_resamples_to_4h_and_1d(tmp_path: Path) -> None:
    _hourly_csv(tmp_path)
    src = CsvSource(tmp_path)
    assert src.ticker_intervals("BTCUSDT") == ["1h", "2h", "4h", "1d", "1w", "1mo"]

    four = (await src.fetch(src.resolve("BTCUSDT"), INTERVALS["4h"], Range("max"), LATER)).frame
    _assert_shape(four)
    assert len(four) == 12
    assert four.index[1] == pd.Timestamp("2026-11-02 04:00", tz="UTC")
    # hours 4..7: open of the first, extremes of all four, close of the last, summed volume
    assert four.iloc[1].tolist() == [104.0, 117.0, 94.0, 108.0, 5 + 6 + 7 + 8]

    daily = (await src.fetch(src.resolve("BTCUSDT"), INTERVALS["1d"], Range("max"), LATER)).frame
    assert list(daily.index) == [pd.Timestamp("2026-11-02", tz="UTC"), pd.Timestamp("2026-11-03", tz="UTC")]
    assert daily.iloc[0].tolist() == [100.0, 133.0, 90.0, 124.0, sum(range(1, 25))]


async def test_interval_file_wins_for_its_interval(tmp_path: Path) -> None:
    _hourly_csv(tmp_path)
    _write(
        tmp_path,
        "BTCUSDT.csv",
        """
Date,Open,High,Low,Close,Volume
2026-11-02,1,2,0.5,1.5,10
2026-11-03,1.5,2.5,1,2,20
""",
    )
    src = CsvSource(tmp_path)
    daily = (await src.fetch(src.resolve("BTCUSDT"), INTERVALS["1d"], Range("max"), LATER)).frame
    assert daily["close"].tolist() == [1.5, 2.0]
    hourly = (await src.fetch(src.resolve("BTCUSDT"), INTERVALS["1h"], Range("max"), LATER)).frame
    assert len(hourly) == 48


async def test_plain_file_interval_is_read_from_its_dates(tmp_path: Path) -> None:
    _hourly_csv(tmp_path, name="ETHUSDT.csv")
    src = CsvSource(tmp_path)
    assert src.ticker_intervals("ETHUSDT")[0] == "1h"


async def test_files_are_parsed_once_until_they_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _hourly_csv(tmp_path)
    calls: list[Path] = []
    real = csv_source.parse_csv

    def counting(p: Path) -> pd.DataFrame:
        calls.append(p)
        return real(p)

    monkeypatch.setattr(csv_source, "parse_csv", counting)
    src = CsvSource(tmp_path)
    for interval in ("1h", "4h", "4h", "1d"):
        await src.fetch(src.resolve("BTCUSDT"), INTERVALS[interval], Range("max"), LATER)
    assert len(calls) == 1

    _hourly_csv(tmp_path, hours=24)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    candles = await src.fetch(src.resolve("BTCUSDT"), INTERVALS["4h"], Range("max"), LATER)
    assert len(calls) == 2
    assert len(candles) == 6


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Open,High,Low,Close\n1,2,0,1", "BAD.csv has no Date column"),
        ("Date,Open,High,Close\n2026-01-05,1,2,1", "BAD.csv has no Low column"),
        (
            "Date,Open,High,Low,Close\n2026-01-05,1,2,0,1\n2026-13-45,1,2,0,1",
            "row 3 has a date that can't be read",
        ),
        ("Date,Open,High,Low,Close\n2026-01-05,1,2,0,abc", "row 2 has Close 'abc', not a number"),
        ("Date,Open,High,Low,Close", "BAD.csv has no rows"),
        ("", "BAD.csv can't be read as CSV"),
    ],
)
def test_malformed_file_is_invalid_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    """What the operator's log line says about each kind of bad file."""
    (tmp_path / "BAD.csv").write_text(text)
    with pytest.raises(Invalid) as err:
        csv_source.parse_csv(tmp_path / "BAD.csv")
    assert message in err.value.message
    assert "BAD.csv" in err.value.message


async def test_bad_file_is_logged_by_name_and_users_see_no_data(tmp_path: Path) -> None:
    _hourly_csv(tmp_path)
    (tmp_path / "BAD.csv").write_text("Date,Open,High,Low,Close\n2026-01-05,1,2,0,abc\n")
    src = CsvSource(tmp_path)
    with capture_logs() as logs:
        with pytest.raises(Unavailable) as err:
            await src.fetch(src.resolve("BAD"), INTERVALS["1d"], Range("max"), LATER)
        # the rest of the folder is served as if the bad file were not there
        assert list(src.intervals()) == ["1h", "2h", "4h", "1d", "1w", "1mo"]
        assert [h.symbol for h in await src.search("btc")] == ["BTCUSDT"]
        btc = await src.fetch(src.resolve("BTCUSDT"), INTERVALS["4h"], Range("max"), LATER)
        with pytest.raises(Unavailable):
            await src.fetch(src.resolve("bad"), INTERVALS["1d"], Range("max"), LATER)
    assert err.value.message == "data for BAD is unavailable right now"
    assert str(tmp_path) not in f"{err.value.message} {err.value.hint}" and ".csv" not in err.value.message
    assert len(btc) == 12
    unreadable = [e for e in logs if e["event"] == "market_csv_unreadable"]
    assert len(unreadable) == 1  # once per version of the file, however often it is asked for
    assert unreadable[0]["log_level"] == "warning"
    assert unreadable[0]["file"] == str(tmp_path / "BAD.csv")
    assert "row 2 has Close 'abc'" in unreadable[0]["error"]


async def test_empty_directory(tmp_path: Path) -> None:
    src = CsvSource(tmp_path / "nowhere")
    assert list(src.intervals()) == []
    assert await src.search("bbca") == []
    with pytest.raises(NotFound) as err:
        await src.fetch(src.resolve("BBCA"), INTERVALS["1d"], Range("1mo"), LATER)
    assert err.value.hint == "available: none"


@pytest.mark.parametrize(
    ("target", "base", "ok"),
    [
        ("4h", "1h", True),
        ("1d", "1h", True),
        ("1w", "1d", True),
        ("1mo", "1d", True),
        ("1mo", "1w", False),
        ("1h", "1d", False),
        ("2h", "30m", True),
        ("1d", "1d", True),
    ],
)
def test_can_derive(target: str, base: str, ok: bool) -> None:
    assert can_derive(target, base) is ok


async def test_interval_outside_the_canonical_set_is_invalid(sample: CsvSource) -> None:
    from datetime import timedelta

    from core.market.types import Interval

    with pytest.raises(Invalid) as err:
        await sample.fetch(sample.resolve("BBCA"), Interval("6h", timedelta(hours=6)), Range("1mo"), LATER)
    assert err.value.hint == "BBCA intervals: 1h 2h 4h 1d 1w 1mo"
