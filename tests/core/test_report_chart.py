"""Backtest charts tell the whole story: every bar of the range, every fill, equity from the
starting cash, the range and key figures in the heading, time in the exchange's zone."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from core.backtest.report import report_title
from core.charts.candles import EQUITY, ChartMarker, _build_figure, candles_that_fit, prepare_chart
from core.config import Settings
from core.market.types import (
    INTERVALS,
    Candles,
    Instrument,
    Source,
    exchange_time,
    exchange_timezone,
    format_price,
    timezone_label,
)
from tests.core.test_charts import close, load_sample, open_png

SCRIPT = "fast = ema(close, 5)\nslow = ema(close, 20)\nbuy = crossover(fast, slow)\nsell = crossunder(fast, slow)"


@pytest.fixture(scope="module")
def btc() -> Candles:
    inst = Instrument(Source.BINANCE, "BTC/USDT", "BTCUSDT", currency="USDT")
    return Candles(inst, INTERVALS["1h"], load_sample("BTCUSDT_1h.csv"), provider="Binance")


@pytest.fixture(scope="module")
def bbca() -> Candles:
    inst = Instrument(Source.YFINANCE, "BBCA.JK", "BBCA", currency="IDR", lot_size=100)
    return Candles(inst, INTERVALS["1d"], load_sample("BBCA.csv"), provider="YFinance", sample=True)


def test_whole_range_is_aggregated_into_candles_that_fit(btc: Candles) -> None:
    bars = btc.frame
    chart = prepare_chart(btc, width_px=1200, max_candles=300, whole=True)
    assert len(bars) > 300 and chart.per_candle > 1
    frame = chart.frame
    assert len(frame) <= candles_that_fit(1200, 300)
    # the first candle starts at the first bar, the last one ends at the last bar
    assert frame.index[0] == bars.index[0] and chart.bars_index[chart.last[-1]] == bars.index[-1]
    assert frame["open"].iloc[0] == bars["open"].iloc[0] and frame["close"].iloc[-1] == bars["close"].iloc[-1]
    assert frame["high"].max() == bars["high"].max() and frame["low"].min() == bars["low"].min()
    assert frame["volume"].sum() == pytest.approx(bars["volume"].sum())
    k = chart.per_candle
    assert frame["high"].iloc[1] == bars["high"].iloc[k : 2 * k].max()
    assert any(f"all {len(bars):,} bars drawn as {len(frame):,} candles of {k} bars" in n for n in chart.notes)


def test_a_narrow_picture_aggregates_more(btc: Candles) -> None:
    wide = prepare_chart(btc, width_px=1200, max_candles=1000, whole=True)
    narrow = prepare_chart(btc, width_px=600, max_candles=1000, whole=True)
    assert len(narrow.frame) <= 200 < len(wide.frame) <= 400


def test_short_ranges_are_drawn_bar_for_bar_without_a_note(bbca: Candles) -> None:
    short = replace(bbca, frame=bbca.frame.iloc[-120:])
    chart = prepare_chart(short, whole=True)
    assert chart.per_candle == 1 and len(chart.frame) == 120 and chart.notes == ()


def test_a_quote_chart_says_when_it_shows_only_the_last_bars(bbca: Candles) -> None:
    chart = prepare_chart(bbca, max_candles=100)
    assert len(chart.frame) == 100 and chart.notes == (f"last 100 of {len(bbca.frame):,} bars",)


def test_every_fill_is_marked_on_the_candle_that_holds_it(btc: Candles) -> None:
    index = btc.frame.index
    picks = [3, 4, 5, 400, 1200, len(index) - 1]
    markers = [ChartMarker(index[i], "buy" if n % 2 == 0 else "sell") for n, i in enumerate(picks)]
    chart = prepare_chart(btc, whole=True, markers=markers)
    k = chart.per_candle
    assert chart.marked == len(markers) and chart.markers_outside == 0
    assert chart.buys[3 // k] + chart.sells[3 // k] >= 2  # bars 3, 4 and 5 share a candle (k >= 3)
    for n, i in enumerate(picks):
        counts, at = (chart.buys, chart.buy_at) if n % 2 == 0 else (chart.sells, chart.sell_at)
        assert counts[i // k] >= 1 and np.isfinite(at[i // k])
    assert any("a number by a mark counts the fills" in n for n in chart.notes)
    before = prepare_chart(btc, whole=True, markers=[ChartMarker(index[0] - pd.Timedelta(days=2), "buy")])
    assert before.marked == 0 and before.markers_outside == 1
    assert any("1 fill outside the chart" in n for n in before.notes)


def test_equity_starts_at_the_starting_cash(bbca: Candles) -> None:
    cash = 100_000_000.0
    equity = pd.Series(np.linspace(cash * 1.02, cash * 1.3, len(bbca.frame)), index=bbca.frame.index)
    chart = prepare_chart(bbca, whole=True, equity=equity, equity_start=cash)
    assert chart.equity_start == cash and chart.equity[-1] == equity.iloc[-1]
    fig = _build_figure(
        bbca, (), title="t", width_px=1200, height_px=800, max_candles=300, markers=None,
        equity=equity, equity_start=cash, whole=True,
    )  # fmt: skip
    try:
        [curve] = [ln for ax in fig.axes for ln in ax.get_lines() if to_hex(ln.get_color()) == EQUITY]
        assert curve.get_ydata()[0] == cash and curve.get_xdata()[0] < 0  # before the first candle
        assert curve.get_ydata()[-1] == equity.iloc[-1]
        assert len(curve.get_ydata()) == len(chart.frame) + 1
        legend = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
        assert "Equity (start 100M)" in legend
    finally:
        close(fig)


def test_heading_names_ticker_interval_range_dates_and_key_figures(btc: Candles) -> None:
    stats = {"Return [%]": 12.345, "Buy & Hold Return [%]": -3.2, "Max. Drawdown [%]": -8.1, "# Trades": 14,
             "Win Rate [%]": 57.14}  # fmt: skip
    title, figures = report_title("ema_cross", btc, "3mo", stats)
    first, last = btc.frame.index[0], btc.frame.index[-1]
    assert title == f"ema_cross · BTCUSDT · 1h · 3mo · {first:%Y-%m-%d %H:%M} – {last:%Y-%m-%d %H:%M}"
    assert figures == (
        "Return +12.35 % · Buy & Hold -3.20 % · Max drawdown -8.10 % · Trades 14 · Win rate 57.1 %"
    )
    default, _ = report_title("x", replace(btc, interval=INTERVALS["1d"]), None, None)
    assert " · 6mo · " in default  # the range used when none was asked


def test_axis_is_in_the_exchange_zone_and_says_which(btc: Candles, bbca: Candles) -> None:
    for candles, label in ((btc, "time: UTC"), (bbca, "time: WIB (Asia/Jakarta)")):
        fig = _build_figure(candles, (), title=None, width_px=1200, height_px=800, max_candles=100, markers=None)
        try:
            assert label in [ax.get_xlabel() for ax in fig.axes]
            texts = [t.get_text() for t in fig.texts]
            assert any(label.removeprefix("time: ") in t for t in texts)
        finally:
            close(fig)


def test_exchange_time_zones() -> None:
    idx = Instrument(Source.YFINANCE, "BBCA.JK", "BBCA", currency="IDR")
    jkse = Instrument(Source.YFINANCE, "^JKSE", "JKSE", currency="IDR")
    btc = Instrument(Source.BINANCE, "BTC/USDT", "BTCUSDT", currency="USDT")
    aapl = Instrument(Source.YFINANCE, "AAPL", "AAPL.US", currency="USD")
    eur = Instrument(Source.YFINANCE, "EURUSD=X", "EURUSD", currency="USD")
    assert [exchange_timezone(i) for i in (idx, jkse, btc, aapl, eur)] == [
        "Asia/Jakarta", "Asia/Jakarta", "UTC", "America/New_York", "UTC",
    ]  # fmt: skip
    assert timezone_label("Asia/Jakarta") == "WIB (Asia/Jakarta)" and timezone_label("UTC") == "UTC"
    stamps = pd.DatetimeIndex(["2026-12-07 07:05"], tz="UTC")
    assert exchange_time(stamps, idx)[0] == pd.Timestamp("2026-12-07 14:05")
    assert exchange_time(stamps, aapl)[0] == pd.Timestamp("2026-12-07 02:05")
    midnight = pd.DatetimeIndex(["2026-12-07"], tz="UTC")  # a daily bar keeps its date west of UTC
    assert exchange_time(midnight, aapl, intraday=False)[0] == pd.Timestamp("2026-12-07")


def test_prices_print_with_the_instruments_precision() -> None:
    eur = Instrument(Source.YFINANCE, "EURUSD=X", "EURUSD", currency="USD")
    jpy = Instrument(Source.YFINANCE, "USDJPY=X", "USDJPY", currency="JPY")
    idx = Instrument(Source.YFINANCE, "BBCA.JK", "BBCA", currency="IDR")
    btc = Instrument(Source.BINANCE, "BTC/USDT", "BTCUSDT", currency="USDT")
    assert format_price(1.2345, eur) == "1.2345"
    assert format_price(1.23456, eur) == "1.2346"
    assert format_price(155.234, jpy) == "155.23"
    assert format_price(9375.0, idx) == "9,375"
    assert format_price(91002.494, btc) == "91,002.49"
    assert format_price(0.000012345, btc) == "0.00001234"
    assert format_price(1.2345, symbol="EURUSD=X") == "1.2345"
    assert format_price(2.5, symbol="SOL/USDT") == "2.5000"  # a crypto pair's price
    assert format_price(2.5, currency="USDT") == "2.50"  # money in a currency: cents


async def test_run_chart_gets_every_bar_every_fill_and_the_cash(tmp_path, monkeypatch) -> None:
    """What /run hands the renderer: the whole traded range, a marker per fill, the title and figures."""
    from core.app import Core
    from core.charts import candles as charts
    from core.model.execute import ScriptRun, execute_script

    seen: dict = {}

    real = charts.render_candles

    def spy(candles, indicators=(), **kwargs):
        seen.update(kwargs, candles=candles)
        return real(candles, indicators, **kwargs)

    monkeypatch.setattr(charts, "render_candles", spy)
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 't.db'}", market_offline=True)
    core = await Core.start(settings)
    try:
        run = await execute_script(core, None, ScriptRun(SCRIPT, "BTCUSDT", "1h", "3mo", label="cross"))
    finally:
        await core.close()
    result = run.backtest
    assert seen["whole"] is True and seen["equity_start"] == run.config.cash
    assert seen["candles"].frame.index.equals(run.candles.frame.index)
    fills = 2 * len(result.trades) + (result.open_trade is not None)
    assert len(seen["markers"]) == fills > 20
    chart = prepare_chart(
        seen["candles"], width_px=seen["width_px"], max_candles=seen["max_candles"], whole=True,
        markers=seen["markers"], equity=seen["equity"], equity_start=seen["equity_start"],
    )  # fmt: skip
    assert chart.marked == fills and chart.per_candle > 1
    assert chart.frame.index[0] == run.candles.frame.index[0]
    assert chart.bars_index[chart.last[-1]] == run.candles.frame.index[-1]
    assert seen["title"].startswith("cross · BTCUSDT · 1h · 3mo · ")
    assert re.search(r"Return [+-]\d+\.\d\d % .* Trades \d+ · Win rate", seen["subtitle"])
    assert f"Trades {len(result.trades)}" in seen["subtitle"]
    image = open_png(run.chart)
    assert image.size == (settings.chart_width_px, settings.chart_height_px)
