"""core.market.symbols: the one place that reads instrument facts from a ticker's spelling."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.market.symbols import (
    CRYPTO_QUOTES,
    IDX_LOT,
    Market,
    Ticker,
    currency_of,
    is_idx_symbol,
    looks_like_pair,
    market_of,
    money_decimals,
    price_decimals,
    read_stock_ticker,
    split_pair,
    typed_stock_ticker,
    without_idx_suffix,
)
from core.market.types import Instrument, Source

ROOT = Path(__file__).resolve().parents[3]


def test_every_quote_comes_before_the_shorter_quotes_it_ends_with():
    # the first quote that fits wins, so USD listed before FDUSD would split BTCFDUSD as BTCFD/USD
    for i, earlier in enumerate(CRYPTO_QUOTES):
        for later in CRYPTO_QUOTES[i + 1 :]:
            assert not later.endswith(earlier), (earlier, later)
    assert len(set(CRYPTO_QUOTES)) == len(CRYPTO_QUOTES)


@pytest.mark.parametrize(
    ("text", "pair"),
    [
        ("BTCUSDT", ("BTC", "USDT")),
        ("btcusdt", ("BTC", "USDT")),
        ("BTC/USDT", ("BTC", "USDT")),
        ("BTC-USDT", ("BTC", "USDT")),
        (" eth/btc ", ("ETH", "BTC")),
        ("ETHBTC", ("ETH", "BTC")),
        ("BTCFDUSD", ("BTC", "FDUSD")),
        ("BTC/FDUSD", ("BTC", "FDUSD")),
        ("BTCBIDR", ("BTC", "BIDR")),
        ("BTCUSD", ("BTC", "USD")),
        ("1000SATSUSDT", ("1000SATS", "USDT")),
        ("BBCA.JK", None),
        ("BBCA", None),
        ("AAPL", None),
        ("^JKSE", None),
        ("USDT", None),  # a quote alone has no base
        ("XUSDT", None),  # nor does a one-letter base
        ("B/USDT", None),
        ("BTC/", None),
        ("", None),
        ("BTC USDT", None),
    ],
)
def test_split_pair(text: str, pair: tuple[str, str] | None):
    assert split_pair(text) == pair


@pytest.mark.parametrize(
    ("typed", "pair"),
    [
        ("BTCUSDT", True),
        ("btc/usdt", True),
        ("ETHBTC", True),
        ("BTCFDUSD", True),
        ("BTC-USDT", False),  # Yahoo spells its crypto rates with a dash (BTC-USD)
        ("BTC-USD", False),
        ("OPBTC", False),  # five characters: read as a stock code
        ("ABTC", False),  # a four-letter code is an IDX stock
        ("BBCA", False),
        ("BBCA.JK", False),
        ("^JKSE", False),
        ("AAPL.US", False),
        ("EURUSD=X", False),
        ("", False),
        ("???", False),
    ],
)
def test_looks_like_pair(typed: str, pair: bool):
    assert looks_like_pair(typed) is pair


@pytest.mark.parametrize(
    ("typed", "ticker"),
    [
        ("BBCA", Ticker(Market.IDX_STOCK, "BBCA.JK", "BBCA", "IDR", IDX_LOT)),
        ("bbca.jk", Ticker(Market.IDX_STOCK, "BBCA.JK", "BBCA", "IDR", IDX_LOT)),
        (" tlkm ", Ticker(Market.IDX_STOCK, "TLKM.JK", "TLKM", "IDR", IDX_LOT)),
        ("BBCA-R.JK", Ticker(Market.IDX_STOCK, "BBCA-R.JK", "BBCA-R.JK", "IDR", IDX_LOT)),
        ("^JKSE", Ticker(Market.IDX_INDEX, "^JKSE", "JKSE", "IDR", 1)),
        ("jkse", Ticker(Market.IDX_INDEX, "^JKSE", "JKSE", "IDR", 1)),
        ("IHSG", Ticker(Market.IDX_INDEX, "^JKSE", "JKSE", "IDR", 1)),
        ("Composite", Ticker(Market.IDX_INDEX, "^JKSE", "JKSE", "IDR", 1)),
        ("AAPL.US", Ticker(Market.US_STOCK, "AAPL", "AAPL", "USD", 1)),
        ("msft:us", Ticker(Market.US_STOCK, "MSFT", "MSFT", "USD", 1)),
        ("IBM", Ticker(Market.US_STOCK, "IBM", "IBM")),
        ("EURUSD=X", Ticker(Market.FOREX, "EURUSD=X", "EURUSD=X")),
        ("^GSPC", Ticker(Market.OTHER, "^GSPC", "^GSPC")),
        ("7203.T", Ticker(Market.OTHER, "7203.T", "7203.T")),
        ("BTC-USD", Ticker(Market.OTHER, "BTC-USD", "BTC-USD")),
        (".JK", Ticker(Market.OTHER, ".JK", ".JK")),
    ],
)
def test_read_stock_ticker(typed: str, ticker: Ticker):
    assert read_stock_ticker(typed) == ticker


@pytest.mark.parametrize(
    ("symbol", "typed"),
    [("BBCA.JK", "BBCA"), ("^JKSE", "JKSE"), ("MSFT", "MSFT.US"), ("IBM", "IBM"), ("BBCA-R.JK", "BBCA-R.JK")],
)
def test_typed_stock_ticker_reads_back(symbol: str, typed: str):
    assert typed_stock_ticker(symbol) == typed
    assert read_stock_ticker(typed).symbol == symbol


@pytest.mark.parametrize(
    ("symbol", "currency", "lot", "market"),
    [
        ("BBCA.JK", None, None, Market.IDX_STOCK),
        ("bbca.jk", None, None, Market.IDX_STOCK),
        ("BBCA", "IDR", 100, Market.IDX_STOCK),  # an offline file's IDX stock
        ("JKSE", "IDR", 1, Market.IDX_INDEX),
        ("LQ45", "idr", 1, Market.IDX_INDEX),
        ("^JKSE", None, None, Market.IDX_INDEX),
        ("BTC/USDT", "USDT", None, Market.CRYPTO),
        ("BTC/IDR", "IDR", None, Market.CRYPTO),  # a rupiah pair is still crypto
        ("AAPL", None, None, Market.US_STOCK),
        ("AAPL", "USD", None, Market.US_STOCK),
        ("EURUSD=X", None, None, Market.FOREX),
        ("USDIDR=X", "IDR", None, Market.FOREX),
        ("7203.T", "JPY", None, Market.OTHER),
        ("BTC-USD", "USD", None, Market.OTHER),
        ("", None, None, Market.OTHER),
    ],
)
def test_market_of(symbol: str, currency: str | None, lot: int | None, market: Market):
    assert market_of(symbol, currency, lot) is market


@pytest.mark.parametrize(
    ("symbol", "currency", "expected"),
    [
        ("BBCA.JK", None, "IDR"),
        ("^JKSE", None, "IDR"),
        ("BTC/USDT", None, "USDT"),
        ("BTC/USDT", "usdt", "USDT"),
        ("BTCUSDT", None, None),  # concatenated: no resolved symbol is spelt so
        ("AAPL", None, None),
        ("AAPL", "USD", "USD"),
    ],
)
def test_currency_of(symbol: str, currency: str | None, expected: str | None):
    assert currency_of(symbol, currency) == expected


def test_idx_suffix():
    assert is_idx_symbol("bbca.jk") and not is_idx_symbol(".JK") and not is_idx_symbol("BBCA")
    assert without_idx_suffix(" bbca.jk ") == "BBCA" and without_idx_suffix("BTC/USDT") == "BTC/USDT"


@pytest.mark.parametrize(
    ("value", "market", "currency", "decimals"),
    [
        (7125.0, Market.IDX_STOCK, None, 0),
        (7125.0, Market.OTHER, "IDR", 0),
        (91002.49, Market.CRYPTO, "USDT", 2),
        (3.2, Market.CRYPTO, "USDT", 4),
        (3.2, Market.US_STOCK, "USD", 2),
        (0.0001234, Market.CRYPTO, "USDT", 7),
        (1.2345, Market.FOREX, None, 4),
        (155.23, Market.FOREX, None, 2),
        (0.0, Market.OTHER, None, 2),
    ],
)
def test_price_decimals(value: float, market: Market, currency: str | None, decimals: int):
    assert price_decimals(value, market, currency) == decimals


def test_money_decimals():
    assert money_decimals("IDR") == 0 and money_decimals("idr") == 0
    assert money_decimals("USDT") == 2 and money_decimals(None) == 2


@pytest.mark.parametrize(
    ("instrument", "market", "currency"),
    [
        (Instrument(Source.YFINANCE, "BBCA.JK", "BBCA", "IDR", 100), Market.IDX_STOCK, "IDR"),
        (Instrument(Source.YFINANCE, "^JKSE", "JKSE", "IDR"), Market.IDX_INDEX, "IDR"),
        (Instrument(Source.YFINANCE, "AAPL", "AAPL", "USD"), Market.US_STOCK, "USD"),
        (Instrument(Source.BINANCE, "BTC/USDT", "BTCUSDT", "USDT"), Market.CRYPTO, "USDT"),
        (Instrument(Source.BINANCE, "BTC", "BTC"), Market.CRYPTO, None),  # quote settled at fetch time
        (Instrument(Source.BINANCE, "SOLIDR", "SOLIDR", "IDR"), Market.CRYPTO, "IDR"),
        (Instrument(Source.YFINANCE, "EURUSD=X", "EURUSD=X"), Market.FOREX, None),
    ],
)
def test_instrument_exposes_the_facts(instrument: Instrument, market: Market, currency: str | None):
    assert instrument.market is market
    assert instrument.is_idx is market.idx
    assert instrument.is_crypto is (market is Market.CRYPTO)
    assert instrument.price_currency == currency


def test_the_symbols_module_and_every_broker_module_load_no_pandas():
    # a broker (and the trade path through it) must stay usable without the data stack
    brokers = sorted(f"core.broker.{p.stem}" for p in (ROOT / "core" / "broker").glob("*.py") if p.stem != "__init__")
    modules = ["core.market.symbols", *brokers]
    probe = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(','.join(sorted(m for m in ('pandas', 'numpy') if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == ""
