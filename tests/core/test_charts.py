"""Candlestick chart PNGs: valid images inside Telegram's limits, panels, headings, no leaks."""

from __future__ import annotations

import asyncio
import itertools
from io import BytesIO

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from core.charts import ChartMarker, chart_heading, format_price, render_candles
from core.charts.candles import _build_figure, _pyplot
from core.errors import Invalid
from core.market.indicator_compute import IndicatorResult, compute_many
from core.market.types import INTERVALS, Candles, Instrument, Source
from tests.sample_bars import sample_bars

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def load_sample(name: str) -> pd.DataFrame:
    ticker, _, interval = name.removesuffix(".csv").partition("_")
    return sample_bars(ticker, interval or "1d")


@pytest.fixture(scope="module")
def bbca() -> Candles:
    inst = Instrument(Source.YFINANCE, "BBCA.JK", "BBCA", currency="IDR", lot_size=100)
    return Candles(inst, INTERVALS["1d"], load_sample("BBCA.csv"), provider="YFinance", sample=True)


@pytest.fixture(scope="module")
def btc() -> Candles:
    inst = Instrument(Source.BINANCE, "BTC/USDT", "BTCUSDT", currency="USDT")
    return Candles(inst, INTERVALS["1h"], load_sample("BTCUSDT_1h.csv"), provider="Binance")


@pytest.fixture(scope="module")
def three(bbca: Candles) -> list[IndicatorResult]:
    """One overlay and two oscillators, computed on the full series."""
    return compute_many(bbca.frame, ["ema:20", "rsi:14", "macd"])


def open_png(data: bytes) -> Image.Image:
    assert data[:8] == PNG_MAGIC
    image = Image.open(BytesIO(data))
    image.load()
    return image


def panel_count(fig: object) -> int:
    """Panels = distinct axes rectangles."""
    return len({tuple(round(v, 4) for v in ax.get_position().bounds) for ax in fig.axes})  # type: ignore[attr-defined]


def close(fig: object) -> None:
    fig.clear()  # type: ignore[attr-defined]  # a plain Figure: nothing registered anywhere to close


def test_renders_a_png_within_telegram_photo_limits(bbca: Candles, three: list[IndicatorResult]) -> None:
    data = render_candles(bbca, three)
    image = open_png(data)
    assert image.size == (1200, 800)
    width, height = image.size
    assert width + height <= 10_000 and max(width, height) / min(width, height) <= 20
    assert len(data) < 1_000_000  # far below Telegram's 10 MB


def test_size_is_what_was_asked(btc: Candles) -> None:
    assert open_png(render_candles(btc, width_px=800, height_px=600)).size == (800, 600)
    with pytest.raises(Invalid):
        render_candles(btc, width_px=9000, height_px=2000)
    with pytest.raises(Invalid):
        render_candles(btc, width_px=6100, height_px=300)


def test_panels_price_and_volume_without_indicators(bbca: Candles) -> None:
    fig = _build_figure(bbca, (), title=None, width_px=1200, height_px=800, max_candles=120, markers=None)
    try:
        assert panel_count(fig) == 2
    finally:
        close(fig)


def test_an_overlay_shares_the_price_panel_and_each_oscillator_gets_its_own(
    bbca: Candles, three: list[IndicatorResult]
) -> None:
    fig = _build_figure(bbca, three, title=None, width_px=1200, height_px=800, max_candles=120, markers=None)
    try:
        assert panel_count(fig) == 4  # price (+EMA), volume, RSI, MACD
        main = fig.axes[0]
        assert [t.get_text() for t in main.get_legend().get_texts()] == ["EMA(20)"]
        rsi_panel = fig.axes[2]
        lo, hi = rsi_panel.get_ylim()
        assert lo == 0.0 and hi > 100.0  # the whole 0..100, and room above it for the legend
        assert {30.0, 70.0} <= {
            round(line.get_ydata()[0], 6) for line in rsi_panel.get_lines() if len(set(line.get_ydata())) == 1
        }
        from matplotlib.collections import PolyCollection

        macd_panel = fig.axes[3]
        [hist] = [c for c in macd_panel.collections if isinstance(c, PolyCollection)]
        assert len(hist.get_paths()) == 120  # one histogram bar per candle drawn
        assert len({tuple(c) for c in hist.get_facecolors()}) == 2  # rising and falling colours
        volume_panel = fig.axes[1]
        [volume] = [c for c in volume_panel.collections if isinstance(c, PolyCollection)]
        assert len(volume.get_paths()) == 120
        assert volume_panel.get_ylim()[0] == 0
    finally:
        close(fig)


def test_only_the_last_max_candles_are_drawn(bbca: Candles, three: list[IndicatorResult]) -> None:
    fig = _build_figure(bbca, three, title=None, width_px=1200, height_px=800, max_candles=50, markers=None)
    try:
        bodies = [len(c.get_paths()) for c in fig.axes[0].collections]
        assert bodies == [50, 50]  # wicks and bodies: one collection each, one path per candle
        ema_line = fig.axes[0].get_lines()[0]
        assert len(ema_line.get_xdata()) == 50
        assert float(ema_line.get_ydata()[-1]) == pytest.approx(float(three[0].primary.iloc[-1]))
    finally:
        close(fig)


def test_heading_names_ticker_interval_price_provider_and_sample(bbca: Candles, btc: Candles) -> None:
    first, second = chart_heading(bbca)
    assert first.startswith("BBCA · 1d") and "last 8,775 IDR" in first
    assert "YFinance" in second and "SAMPLE DATA" in second
    first, second = chart_heading(btc, "EMA cross")
    assert first.startswith("EMA cross") and "111,184.78" in first
    assert "Binance" in second and "SAMPLE DATA" not in second

    fig = _build_figure(bbca, (), title=None, width_px=1200, height_px=800, max_candles=100, markers=None)
    try:
        assert any("SAMPLE DATA" in t.get_text() for t in fig.texts)
    finally:
        close(fig)


def test_overlays_markers_and_an_intraday_crypto_chart(btc: Candles) -> None:
    results = compute_many(btc.frame, ["bbands:20:2", "supertrend:7:3", "psar", "vwap", "stoch", "adx"])
    idx = btc.frame.index
    markers = [ChartMarker(idx[-40], "buy"), ChartMarker(idx[-12].to_pydatetime(), "sell", price=60_000.0)]
    image = open_png(render_candles(btc, results, max_candles=150, markers=markers))
    assert image.size == (1200, 800)


def test_too_many_oscillator_panels_is_refused(bbca: Candles) -> None:
    many = compute_many(bbca.frame, ["rsi", "macd", "stoch", "adx", "cci", "mfi"])
    with pytest.raises(Invalid, match="at most 5"):
        render_candles(bbca, many)


def test_many_renders_leave_no_figure_open(bbca: Candles, three: list[IndicatorResult]) -> None:
    plt = _pyplot()
    render_candles(bbca, three, max_candles=60)
    before = len(plt.get_fignums())
    for _ in range(5):
        render_candles(bbca, three, max_candles=60)
    with pytest.raises(Invalid):
        render_candles(bbca, compute_many(bbca.frame, ["rsi"] * 6))
    assert len(plt.get_fignums()) == before == 0


async def test_renders_on_the_compute_plane_in_threads_at_once_share_kept_figures_safely(
    bbca: Candles, three: list[IndicatorResult]
) -> None:
    from functools import partial

    from core.compute import InlineCompute
    from core.config import Settings

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        compute = InlineCompute(Settings(_env_file=None), slots=3)
        job = partial(render_candles, bbca, tuple(three), max_candles=80)
        images = await asyncio.gather(*(compute.run(job) for _ in range(3)))
    finally:
        task.cancel()
    assert all(open_png(png).size == (1200, 800) for png in images)
    assert images[0] == images[1] == images[2] == render_candles(bbca, three, max_candles=80)
    assert ticks > 0  # the loop kept running while the charts were drawn


def test_format_price() -> None:
    idr = Instrument(Source.YFINANCE, "BBCA.JK", "BBCA", currency="IDR")
    usdt = Instrument(Source.BINANCE, "BTC/USDT", "BTCUSDT", currency="USDT")
    usd = Instrument(Source.YFINANCE, "AAPL", "AAPL", currency="USD")
    assert format_price(9375.0, idr) == "9,375"
    assert format_price(1234567.0, idr) == "1,234,567"
    assert format_price(91002.49, usdt) == "91,002.49"
    assert format_price(1.23456, usdt) == "1.2346"
    assert format_price(0.000012345, usdt) == "0.00001234"
    assert format_price(187.5, usd) == "187.50"
    assert format_price(float("nan"), usd) == "-"


def test_rendering_is_deterministic(bbca: Candles, three: list[IndicatorResult]) -> None:
    """The same bars give the same bytes, so a rendered chart can be reused for every user asking
    (timing lives in bench/market.py: tests never time things)."""
    first = render_candles(bbca, three, max_candles=120)
    assert render_candles(bbca, three, max_candles=120) == first


def test_model_lines_and_the_equity_curve_get_their_panels(bbca: Candles) -> None:
    from matplotlib.colors import to_hex

    from core.charts.candles import EQUITY, MAX_LINES, ChartLine
    from core.script.limits import MAX_PLOTS

    close_ = bbca.frame["close"]
    lines = [
        ChartLine("fast", close_.rolling(5).mean()),  # price scale: on the price panel
        ChartLine("score", (close_.pct_change() * 0 + 50.0), overlay=True),  # 0..100 marked overlay: moved
        ChartLine("spread", close_.diff(), overlay=False),
    ]
    equity = pd.Series([1_000_000.0 + i for i in range(len(close_))], index=close_.index)
    fig = _build_figure(
        bbca, (), title=None, width_px=1200, height_px=800, max_candles=120, markers=None, lines=lines, equity=equity
    )
    try:
        assert panel_count(fig) == 4  # price (+fast), volume, the model's own panel, equity
        assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["fast"]
        own = fig.axes[2]
        assert [t.get_text() for t in own.get_legend().get_texts()] == ["spread", "score"]
        equity_panel = fig.axes[3]
        assert [t.get_text() for t in equity_panel.get_legend().get_texts()] == ["Equity (start 1M)"]
        [curve] = [ln for ln in equity_panel.get_lines() if to_hex(ln.get_color()) == EQUITY]
        assert curve.get_ydata()[-1] == pytest.approx(equity.iloc[-1])
    finally:
        close(fig)

    assert MAX_LINES == MAX_PLOTS  # a model may plot as many lines as its script allows
    too_many = [ChartLine(f"l{i}", close_) for i in range(MAX_LINES + 1)]
    with pytest.raises(Invalid, match=f"at most {MAX_LINES} plots"):
        _build_figure(
            bbca, (), title=None, width_px=1200, height_px=800, max_candles=120, markers=None, lines=too_many
        )


def test_candles_markers_bands_and_dates_are_drawn(btc: Candles) -> None:
    """What the picture shows, read from the figure before it is encoded."""
    from matplotlib.collections import LineCollection, PathCollection, PolyCollection
    from matplotlib.colors import to_rgba

    from core.charts.candles import DOWN, UP

    results = compute_many(btc.frame, ["bbands:20:2", "psar", "rsi"])
    idx = btc.frame.index
    markers = [ChartMarker(idx[-40], "buy"), ChartMarker(idx[-40], "buy"), ChartMarker(idx[-12], "sell")]
    fig = _build_figure(btc, results, title=None, width_px=1200, height_px=800, max_candles=150, markers=markers)
    try:
        main, volume, rsi = fig.axes
        wicks = next(c for c in main.collections if isinstance(c, LineCollection))
        bodies = next(c for c in main.collections if isinstance(c, PolyCollection))
        assert len(wicks.get_segments()) == len(bodies.get_paths()) == 150
        frame = btc.frame.iloc[-150:]
        rising = (frame["close"] > frame["open"]).to_numpy()
        edges = [tuple(c) for c in bodies.get_edgecolors()]
        assert edges == [to_rgba(UP) if up else to_rgba(DOWN) for up in rising]  # green up, red down
        band = [c for c in main.collections if isinstance(c, PolyCollection) and c.get_alpha() == 0.06]
        assert len(band) == 1  # the Bollinger band's fill
        shapes = [c for c in main.collections if isinstance(c, PathCollection)]
        assert len(shapes) == 4  # PSAR long and short dots, the buy and the sell marks
        assert [t.get_text() for t in main.texts] == ["2"]  # two fills share a candle
        assert [t.get_text() for t in main.get_legend().get_texts()] == ["BBANDS(20,2)", "PSAR(0.02,0.2)"]
        assert rsi.get_ylim()[0] == 0.0 and rsi.get_ylim()[1] > 100.0 and volume.get_ylim()[0] == 0
        fig.canvas.draw()
        dates = [t.get_text() for t in rsi.get_xticklabels() if t.get_text()]
        assert len(dates) >= 4 and all(len(d.split()) == 3 for d in dates)  # "18 Nov 02:00"
        assert not [t.get_text() for ax in (main, volume) for t in ax.get_xticklabels() if t.get_text()]
        assert rsi.get_xlabel() == "time: UTC"
    finally:
        close(fig)


def test_a_kept_figure_draws_the_same_bytes_as_a_new_one(bbca: Candles, btc: Candles) -> None:
    """Renders reuse a figure of the same layout; whatever it drew before leaves no trace."""
    from core.charts import candles as charts

    three = compute_many(bbca.frame, ["ema:20", "rsi:14", "macd"])
    other = compute_many(btc.frame, ["bbands:20:2", "stoch", "adx"])
    markers = [ChartMarker(btc.frame.index[-30], "buy")]
    charts._FREE.clear()
    fresh = render_candles(bbca, three, max_candles=120)
    assert sum(len(free) for free in charts._FREE.values()) == 1  # kept for the next render
    render_candles(btc, other, max_candles=120, markers=markers)  # the same layout, other contents
    render_candles(bbca, (), max_candles=120)
    assert render_candles(bbca, three, max_candles=120) == fresh


def test_text_is_drawn_like_matplotlibs_own() -> None:
    """The chart canvas draws each string as one bitmap: the same ink as matplotlib's glyph-by-glyph
    drawing, at most a pixel apart."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from core.charts.candles import _mpl

    def ink(canvas: type) -> np.ndarray:
        fig = Figure(figsize=(4, 1.2), dpi=100, facecolor="white")
        canvas(fig)
        fig.text(0.02, 0.9, "BBCA · 1d · last 8,775 IDR", fontsize=13, fontweight="bold", va="top")
        fig.text(0.37, 0.45, "Note: last 300 of 783 bars", fontsize=9, fontstyle="italic")
        fig.text(0.513, 0.1, "29 Sep 25 · 10,500", fontsize=9, color="#c62828")
        fig.canvas.draw()
        return 255 - np.asarray(fig.canvas.buffer_rgba())[:, :, 1].astype(int)

    ours, theirs = ink(_mpl().Canvas), ink(FigureCanvasAgg)

    def box(a: np.ndarray) -> tuple[int, ...]:
        rows, cols = np.nonzero(a > 60)
        return rows.min(), rows.max(), cols.min(), cols.max()

    assert max(abs(a - b) for a, b in zip(box(ours), box(theirs), strict=True)) <= 1
    assert abs(ours.sum() - theirs.sum()) <= 0.03 * theirs.sum()


def test_charts_need_no_mplfinance_or_pyplot() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys\n"
        "from tests.core.test_charts import load_sample\n"
        "from core.charts import render_candles\n"
        "from core.market.types import INTERVALS, Candles, Instrument, Source\n"
        "inst = Instrument(Source.BINANCE, 'BTC/USDT', 'BTCUSDT', currency='USDT')\n"
        "render_candles(Candles(inst, INTERVALS['1h'], load_sample('BTCUSDT_1h.csv'), provider='Binance'))\n"
        "print([m for m in ('mplfinance', 'matplotlib.pyplot') if m in sys.modules])\n"
    )
    root = Path(__file__).resolve().parents[2]  # this checkout, whatever the venv has installed
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120, cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )  # fmt: skip
    assert done.stdout.strip() == "[]"


# -- Ichimoku, legends and tick labels (issue 15) ------------------------------------------------


def _vertices(collection: object) -> set[tuple[float, float]]:
    return {(float(x), round(float(y), 6)) for path in collection.get_paths() for x, y in path.vertices}  # type: ignore[attr-defined]


def _midprice(frame: pd.DataFrame, n: int) -> pd.Series:
    return (frame["high"].rolling(n).max() + frame["low"].rolling(n).min()) / 2


def test_ichimoku_spans_run_kijun_bars_past_the_last_candle_with_the_cloud_between(bbca: Candles) -> None:
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import to_rgba

    from core.charts.candles import prepare_chart
    from core.charts.ichimoku import CLOUD_DOWN, CLOUD_UP, ichimoku_layout

    [ichi] = compute_many(bbca.frame, ["ichimoku"])
    frame = bbca.frame
    # worked out here from the bars: A = (tenkan + kijun) / 2, B = the 52-bar midprice, each displaced 26
    # as traders count it (the bar itself the first): drawn 25 bars on, as pandas-ta and TradingView do
    raw_a = (_midprice(frame, 9) + _midprice(frame, 26)) / 2
    raw_b = _midprice(frame, 52)
    n = 120
    chart = prepare_chart(bbca, max_candles=n)
    layout = ichimoku_layout(ichi, frame, chart)
    assert (layout.displacement, layout.shift) == (26, 25) and layout.span_x.tolist() == list(range(n + 25))
    want_a = raw_a.shift(25).iloc[-n:].tolist() + raw_a.iloc[-25:].tolist()  # the last 25: past the last candle
    want_b = raw_b.shift(25).iloc[-n:].tolist() + raw_b.iloc[-25:].tolist()
    assert layout.span_a.tolist() == pytest.approx(want_a)
    assert layout.span_b.tolist() == pytest.approx(want_b)
    # the values the text and scripts read are the ones drawn on each candle
    assert ichi.fields["span_a"].iloc[-n:].tolist() == pytest.approx(want_a[:n])
    assert ichi.fields["span_b"].iloc[-n:].tolist() == pytest.approx(want_b[:n])
    assert layout.chikou_x.tolist() == [x - 25.0 for x in range(n)]  # the close, displaced 26 back
    assert layout.chikou.tolist() == frame["close"].iloc[-n:].tolist()

    fig = _build_figure(bbca, [ichi], title=None, width_px=1200, height_px=800, max_candles=n, markers=None)
    try:
        main = fig.axes[0]
        assert main.get_xlim()[1] > n - 1 + 25  # the picture reaches the furthest span
        for ax in fig.axes:
            assert ax.get_xlim() == main.get_xlim()  # every panel keeps the candles' x positions
        fills = {tuple(c.get_facecolor()[0][:3]): c for c in main.collections
                 if isinstance(c, PolyCollection) and c.get_alpha() == 0.18}  # fmt: skip
        green, red = fills[to_rgba(CLOUD_UP)[:3]], fills[to_rgba(CLOUD_DOWN)[:3]]
        a, b, xs = layout.span_a, layout.span_b, layout.span_x
        leads_a = int(np.flatnonzero(a > b)[0])  # span A above B: the green cloud
        leads_b = int(np.flatnonzero((a < b) & (xs > n))[0])  # B above A past the last candle: the red cloud
        assert (float(xs[leads_a]), round(float(a[leads_a]), 6)) in _vertices(green)
        assert (float(xs[leads_a]), round(float(a[leads_a]), 6)) not in _vertices(red)
        assert (float(xs[leads_b]), round(float(b[leads_b]), 6)) in _vertices(red)
        assert (float(xs[leads_b]), round(float(b[leads_b]), 6)) not in _vertices(green)
        labels = [t.get_text() for t in main.get_legend().get_texts()]
        assert labels == ["ICHIMOKU(9,26,52) tenkan", "kijun", "span A (+26)", "span B (+26)", "chikou (−26)"]
    finally:
        close(fig)


def _visible_tick_labels(ax: object, renderer: object) -> list[object]:
    lo, hi = ax.get_ylim()  # type: ignore[attr-defined]
    ticks = ax.yaxis.get_major_ticks()  # type: ignore[attr-defined]
    locs = ax.yaxis.get_majorticklocs()  # type: ignore[attr-defined]
    return [
        t.label2.get_window_extent(renderer) for t, loc in zip(ticks, locs, strict=False)
        if lo <= loc <= hi and t.label2.get_visible() and t.label2.get_text()
    ]  # fmt: skip


CROWDED = [
    ["ichimoku", "bbands", "rsi", "macd", "stoch"],
    ["ema:20", "rsi:14", "macd", "atr", "obv"],
    ["sma:50", "cci", "mfi", "adx"],
]


@pytest.mark.parametrize("specs", CROWDED, ids=lambda s: "+".join(s))
@pytest.mark.parametrize("size", [(1200, 800), (800, 600)])
def test_legends_never_cover_the_data(bbca: Candles, btc: Candles, specs: list[str], size: tuple[int, int]) -> None:
    for candles in (bbca, btc):
        results = compute_many(candles.frame, specs)
        fig = _build_figure(candles, results, title=None, width_px=size[0], height_px=size[1], max_candles=150,
                            markers=None)  # fmt: skip
        try:
            fig.canvas.draw()
            renderer = fig.canvas.get_renderer()
            legends = 0
            for ax in fig.axes:
                legend = ax.get_legend()
                if legend is None:
                    continue
                legends += 1
                box = legend.get_window_extent(renderer)
                assert box.x1 <= ax.bbox.x1 and box.y1 <= ax.bbox.y1 + 0.5  # inside its panel
                for artist in (*ax.collections, *(line for line in ax.get_lines() if len(set(line.get_ydata())) > 1)):
                    covered = artist.get_window_extent(renderer)
                    assert box.y0 >= covered.y1 or not box.overlaps(covered), (specs, artist)
            assert legends == len(fig.axes) - 1  # every panel but volume names what it shows
        finally:
            close(fig)


@pytest.mark.parametrize("specs", CROWDED, ids=lambda s: "+".join(s))
@pytest.mark.parametrize("size", [(1200, 800), (800, 600), (600, 900)])
def test_tick_labels_of_stacked_panels_never_meet(
    bbca: Candles, btc: Candles, specs: list[str], size: tuple[int, int]
) -> None:
    for candles in (bbca, btc):
        results = compute_many(candles.frame, specs)
        fig = _build_figure(candles, results, title=None, width_px=size[0], height_px=size[1], max_candles=150,
                            markers=None)  # fmt: skip
        try:
            fig.canvas.draw()
            renderer = fig.canvas.get_renderer()
            labels = [_visible_tick_labels(ax, renderer) for ax in fig.axes]
            for upper, lower in itertools.pairwise(labels):
                for a in upper:
                    for b in lower:
                        assert not a.overlaps(b), (specs, size, a, b)
            assert all(labels), "every panel keeps some labels"
        finally:
            close(fig)


def test_ichimoku_on_aggregated_candles_draws_one_point_a_candle(btc: Candles) -> None:
    from core.charts.candles import prepare_chart
    from core.charts.ichimoku import ichimoku_layout

    [ichi] = compute_many(btc.frame, ["ichimoku"])
    chart = prepare_chart(btc, whole=True)
    per, bars = chart.per_candle, len(chart.bars_index)
    assert per > 1
    layout = ichimoku_layout(ichi, btc.frame, chart)
    assert len(chart.frame) <= len(layout.span_x) <= len(chart.frame) + 2  # not one point per hour
    assert (np.diff(layout.span_x) > 0).all()
    assert layout.span_x[-1] == (bars - 1 + 25 - (per - 1)) / per  # the last span, 25 hours past the last bar
    raw_a = (_midprice(btc.frame, 9) + _midprice(btc.frame, 26)) / 2
    assert layout.span_a[-1] == pytest.approx(raw_a.iloc[-1])


@pytest.mark.parametrize("size", [(1200, 800), (800, 600), (600, 400)])
def test_heading_and_dates_never_run_into_the_chart_or_each_other(btc: Candles, size: tuple[int, int]) -> None:
    results = compute_many(btc.frame, ["sma:50", "bbands", "cci"])
    fig = _build_figure(btc, results, title=None, subtitle="Return +3.2% · 12 trades", width_px=size[0],
                        height_px=size[1], max_candles=150, markers=None)  # fmt: skip
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        main = fig.axes[0]
        heading = [t.get_window_extent(renderer) for t in fig.texts]
        assert len(heading) == 4  # title, source, subtitle, the note of what is left out
        top = main.get_window_extent(renderer).y1
        assert all(box.y0 >= top for box in heading), size  # above the price panel (and its legend)
        dates = [t.get_window_extent(renderer) for t in fig.axes[-1].get_xticklabels() if t.get_text()]
        assert len(dates) >= 2
        for a, b in itertools.pairwise(sorted(dates, key=lambda box: box.x0)):
            assert a.x1 < b.x0, size
    finally:
        close(fig)
