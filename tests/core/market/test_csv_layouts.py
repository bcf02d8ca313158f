"""The CSV layouts people actually have, and what a CSV ticker is (exchange, currency, lot)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from structlog.testing import capture_logs

from core.config import SAMPLE_DATA_DIR
from core.market.sources.csv import CsvSource
from core.market.types import INTERVALS, Range, Source

LATER = datetime(2030, 1, 1, tzinfo=UTC)
DAYS = pd.date_range("2026-03-02", periods=3, freq="D", tz="UTC")
EXPECTED = [[10.0, 12.0, 9.0, 11.0, 100.0], [11.0, 13.0, 10.0, 12.0, 200.0], [12.0, 14.0, 11.0, 13.0, 300.0]]


def _frame(index: pd.Index) -> pd.DataFrame:
    return pd.DataFrame(
        {"Open": [10, 11, 12], "High": [12, 13, 14], "Low": [9, 10, 11], "Close": [11, 12, 13], "Volume": [100, 200, 300]},
        index=index,
    )


async def _bars(directory: Path, ticker: str) -> pd.DataFrame:
    src = CsvSource(directory)
    return (await src.fetch(src.resolve(ticker), INTERVALS["1d"], Range("max"), LATER)).frame


def _same(frame: pd.DataFrame) -> None:
    assert list(frame.index) == list(DAYS)
    assert frame.to_numpy().tolist() == EXPECTED


async def test_pandas_default_export_with_an_unnamed_index(tmp_path: Path) -> None:
    _frame(DAYS.tz_localize(None)).to_csv(tmp_path / "AAPL.csv")  # header ",Open,High,..."
    assert (tmp_path / "AAPL.csv").read_text().startswith(",Open,High,Low,Close,Volume")
    _same(await _bars(tmp_path, "AAPL"))


async def test_pandas_export_of_a_tz_aware_index(tmp_path: Path) -> None:
    _frame(DAYS.tz_convert("Asia/Jakarta")).to_csv(tmp_path / "AAPL.csv")
    frame = await _bars(tmp_path, "AAPL")
    assert frame.to_numpy().tolist() == EXPECTED
    assert frame.index[0] == DAYS[0]  # the offset is honoured: 07:00 in Jakarta is midnight UTC


@pytest.mark.parametrize("header", ["Date", "Datetime", "timestamp", "DATE", "date", "Open Time"])
async def test_named_date_columns(tmp_path: Path, header: str) -> None:
    frame = _frame(DAYS.tz_localize(None))
    frame.index.name = header
    frame.to_csv(tmp_path / "MSFT.csv")
    _same(await _bars(tmp_path, "MSFT"))


@pytest.mark.parametrize("unit", ["s", "ms"])
async def test_epoch_timestamps(tmp_path: Path, unit: str) -> None:
    scale = 1 if unit == "s" else 1000
    lines = ["timestamp,open,high,low,close,volume"]
    for day, row in zip(DAYS, EXPECTED, strict=True):
        lines.append(f"{int(day.timestamp()) * scale}," + ",".join(f"{v:g}" for v in row))
    (tmp_path / "BTCUSDT.csv").write_text("\n".join(lines) + "\n")
    _same(await _bars(tmp_path, "BTCUSDT"))


async def test_headers_in_any_case(tmp_path: Path) -> None:
    (tmp_path / "ABC.csv").write_text(
        "DATE,OPEN,High,low,ClOsE,VOLUME\n"
        + "".join(f"{d:%Y-%m-%d}," + ",".join(f"{v:g}" for v in row) + "\n" for d, row in zip(DAYS, EXPECTED, strict=True))
    )
    _same(await _bars(tmp_path, "ABC"))


async def test_adj_close_present_is_ignored_for_close(tmp_path: Path) -> None:
    frame = _frame(DAYS.tz_localize(None))
    frame.insert(4, "Adj Close", [1.0, 2.0, 3.0])
    frame.index.name = "Date"
    frame.to_csv(tmp_path / "GOOG.csv")
    _same(await _bars(tmp_path, "GOOG"))


async def test_adj_close_alone_is_the_close(tmp_path: Path) -> None:
    frame = _frame(DAYS.tz_localize(None)).rename(columns={"Close": "Adj Close"})
    frame.index.name = "Date"
    frame.to_csv(tmp_path / "GOOG.csv")
    _same(await _bars(tmp_path, "GOOG"))


async def test_yfinance_multi_level_export(tmp_path: Path) -> None:
    """yfinance's download(...).to_csv(): a Price header, then Ticker and Date rows, then the bars."""
    rows = "".join(
        f"{d:%Y-%m-%d},{row[3]:g},{row[3]:g},{row[1]:g},{row[2]:g},{row[0]:g},{row[4]:g}\n"
        for d, row in zip(DAYS, EXPECTED, strict=True)
    )
    (tmp_path / "NVDA.csv").write_text(
        "Price,Adj Close,Close,High,Low,Open,Volume\nTicker,NVDA,NVDA,NVDA,NVDA,NVDA,NVDA\nDate,,,,,,\n" + rows
    )
    _same(await _bars(tmp_path, "NVDA"))


# --- what an instrument from CSV is ------------------------------------------------------------


def _daily(directory: Path, name: str) -> None:
    frame = _frame(DAYS.tz_localize(None))
    frame.index.name = "Date"
    frame.to_csv(directory / name)


def test_four_letters_are_not_an_idx_stock(tmp_path: Path) -> None:
    """GOOG.csv was once priced in rupiah in lots of 100."""
    _daily(tmp_path, "GOOG.csv")
    inst = CsvSource(tmp_path).resolve("GOOG")
    assert (inst.currency, inst.lot_size) == (None, 1)


def test_naming_rule(tmp_path: Path) -> None:
    _daily(tmp_path, "BBCA.JK.csv")
    _daily(tmp_path, "ETHUSDT.csv")
    src = CsvSource(tmp_path)
    bbca = src.resolve("BBCA")
    assert (bbca.symbol, bbca.source, bbca.currency, bbca.lot_size) == ("BBCA", Source.YFINANCE, "IDR", 100)
    assert src.resolve("bbca.jk") == bbca
    eth = src.resolve("ETHUSDT")
    assert (eth.source, eth.currency, eth.lot_size) == (Source.BINANCE, "USDT", 1)


async def test_metadata_file(tmp_path: Path) -> None:
    for name in ("GOOG.csv", "BBRI.csv", "JKSE.csv", "SOLIDR.csv", "ODD.csv"):
        _daily(tmp_path, name)
    (tmp_path / "instruments.csv").write_text(
        "Ticker,Name,Exchange,Kind,Currency,Lot\n"
        "GOOG,Alphabet Inc.,NASDAQ,equity,USD,\n"
        "BBRI,Bank Rakyat Indonesia,IDX,,,\n"
        "JKSE,IDX Composite,IDX,index,,\n"
        "SOLIDR,Solana/Rupiah,Crypto,,IDR,\n"
    )
    src = CsvSource(tmp_path)
    shapes = {t: (i.source, i.currency, i.lot_size) for t in ("GOOG", "BBRI", "JKSE", "SOLIDR", "ODD") if (i := src.resolve(t))}
    assert shapes == {
        "GOOG": (Source.YFINANCE, "USD", 1),
        "BBRI": (Source.YFINANCE, "IDR", 100),
        "JKSE": (Source.YFINANCE, "IDR", 1),
        "SOLIDR": (Source.BINANCE, "IDR", 1),
        "ODD": (Source.YFINANCE, None, 1),  # not listed: whole units, no currency
    }
    assert [(h.symbol, h.name, h.exchange, h.kind) for h in await src.search("alphabet")] == [
        ("GOOG", "Alphabet Inc.", "NASDAQ", "EQUITY")
    ]
    candles = await src.fetch(src.resolve("GOOG"), INTERVALS["1d"], Range("max"), LATER)
    assert candles.name == "Alphabet Inc."
    assert "INSTRUMENTS" not in [h.symbol for h in await src.search("instruments")]  # not a ticker


def test_unreadable_metadata_file_is_logged_and_ignored(tmp_path: Path) -> None:
    _daily(tmp_path, "GOOG.csv")
    (tmp_path / "instruments.csv").write_text("Exchange,Currency\nNASDAQ,USD\n")
    with capture_logs() as logs:
        inst = CsvSource(tmp_path).resolve("GOOG")
    assert (inst.currency, inst.lot_size) == (None, 1)
    assert [(e["event"], e["file"]) for e in logs] == [("market_csv_unreadable", str(tmp_path / "instruments.csv"))]


def test_the_sample_folder_describes_its_tickers() -> None:
    src = CsvSource(SAMPLE_DATA_DIR, sample=True)
    assert {t: (src.resolve(t).currency, src.resolve(t).lot_size) for t in ("BBCA", "GOTO", "JKSE", "BTCUSDT")} == {
        "BBCA": ("IDR", 100),
        "GOTO": ("IDR", 100),
        "JKSE": ("IDR", 1),
        "BTCUSDT": ("USDT", 1),
    }
