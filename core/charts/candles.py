"""Candlestick chart PNGs for chat: price with overlays, volume, one panel per oscillator.

Rendering draws with matplotlib directly (no mplfinance, no pyplot) on Agg figures kept per layout
between renders: candles, volume and histograms one collection each, panels at fixed positions,
date ticks computed once, labels drawn one bitmap per string, the PNG written without PIL's slow
filters. A /market chart takes about 55 ms where mplfinance took 200 (bench/market.py). matplotlib
is imported on first render only (start-up time matters and most replies carry no chart). It is
not thread-safe, so the async entry point runs every render on one dedicated worker thread, off
the event loop.

The picture has to read well as a Telegram photo on a phone: a white background (the same in
light and dark mode), TradingView-like green/red candles, a legend on every panel (in rows above
the data: the panel's range makes room, so it never covers a candle or a line), prices with
thousands separators on the right-hand axis (no label reaching into the next panel), and a two-line heading that always says when the
bars are sample data. Sizes stay far inside Telegram's photo limits (< 10 MB, width + height
<= 10,000, aspect ratio <= 20); a typical chart is 100-200 KB. How each indicator is drawn (on the
price panel or in its own, which fields, guide lines, a histogram) is its catalogue entry's
``Drawing`` (``core.market.indicator_catalogue``): the chart keeps no table of its own.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, partial
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from core.charts.ichimoku import draw_ichimoku, ichimoku_layout
from core.errors import Invalid
from core.market.types import (
    CANDLE_COLUMNS,
    Candles,
    Instrument,
    default_range,
    exchange_time,
    exchange_timezone,
    format_price,
    timezone_label,
)
from core.script.limits import MAX_PLOTS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from core.market.indicator_compute import IndicatorResult

UP = "#26a69a"  # teal-green: legible on white, and not confused with the red for colour-blind readers
DOWN = "#ef5350"
PALETTE = ("#2962ff", "#ff6d00", "#8e24aa", "#00897b", "#c2185b", "#6d4c41", "#546e7a", "#f9a825")
GUIDE = "#9e9e9e"
DPI = 100
MAX_OSCILLATORS = 5
MAX_OVERLAYS = 8
MAX_LINES = MAX_PLOTS  # a script's plots are the chart's lines
EQUITY = "#1565c0"

# Telegram photo limits, with margin.
MAX_SIDE_SUM = 10_000
MAX_ASPECT = 20.0
MIN_SIDE = 300


@dataclass(frozen=True, slots=True)
class ChartMarker:
    """A buy or sell mark on a bar (a backtest fill, an alert): ▲ under the low, ▼ over the high."""

    at: datetime | pd.Timestamp
    side: Literal["buy", "sell"]
    price: float | None = None  # where to put it; None: just outside the bar


@dataclass(frozen=True, slots=True)
class ChartLine:
    """A model's ``plot(series, title)``: on the price panel when ``overlay``, else in the model's panel."""

    title: str
    values: pd.Series  # aligned to the candles' index (or a longer history containing it)
    overlay: bool = True


@dataclass(frozen=True, slots=True)
class ChartThreshold:
    """A level a condition compares against (an alert's ``rsi<30``), drawn as a horizontal line across
    the panel of the series it ``follows``: an indicator's spec text (``rsi:14``), a line's title, or
    None for the price panel."""

    value: float
    label: str
    follows: str | None = None


THRESHOLD = "#d81b60"


@dataclass(slots=True)
class _Panel:
    """One indicator panel below volume: what was drawn, for the legend and guide lines."""

    number: int
    legend: list[tuple[str, str]]  # (label, colour)
    guides: tuple[float, ...] = ()
    limits: tuple[float, float] | None = None
    bars: np.ndarray | None = None  # a histogram field (macd hist), drawn as one collection
    equity: bool = False  # the backtest's equity curve: compact money ticks


@dataclass(frozen=True, slots=True)
class ChartData:
    """What a chart shows, decided before anything is drawn (pure, so tests read it directly).

    ``frame`` holds the candles drawn: the charted bars themselves, or, when the range has more
    bars than fit the picture, consecutive groups of ``per_candle`` bars aggregated into one candle
    (first open, highest high, lowest low, last close, summed volume; stamped with the group's first
    bar). ``last`` gives, for each candle, the position in ``bars_index`` of its last bar: lines,
    indicators and equity are read there. ``buys``/``sells`` count the fills on each candle and
    ``buy_at``/``sell_at`` say where their marks go. ``notes`` say what the picture leaves out.
    """

    frame: pd.DataFrame
    bars_index: pd.DatetimeIndex  # every charted bar, before aggregation
    last: np.ndarray
    per_candle: int
    total_bars: int  # bars in the series given; more than ``len(bars_index)`` when only the last ones fit
    buys: np.ndarray
    sells: np.ndarray
    buy_at: np.ndarray
    sell_at: np.ndarray
    markers_outside: int = 0
    equity: np.ndarray | None = None
    equity_start: float | None = None
    notes: tuple[str, ...] = ()

    def cut(self, series: pd.Series) -> np.ndarray:
        """A series over the bars (or a longer history containing them), read at each candle's last bar."""
        values = series.reindex(self.bars_index).to_numpy(dtype="float64")
        return values[self.last]

    @property
    def marked(self) -> int:
        """Fills that have a mark on the chart."""
        return int(self.buys.sum() + self.sells.sum())


def candles_that_fit(width_px: int, max_candles: int) -> int:
    """At most ``max_candles``, and no more than one candle per 3 pixels of width."""
    return max(2, min(max_candles, width_px // 3))


def prepare_chart(
    candles: Candles,
    *,
    width_px: int = 1200,
    max_candles: int = 300,
    whole: bool = False,
    markers: Sequence[ChartMarker] | None = None,
    equity: pd.Series | None = None,
    equity_start: float | None = None,
) -> ChartData:
    """The candles to draw and where each marker goes.

    ``whole``: every bar of the range is drawn, aggregated into coarser candles when there are more
    bars than fit; otherwise only the last ``max_candles`` bars are drawn (a quote's chart).
    """
    frame = candles.frame[CANDLE_COLUMNS].dropna(subset=["open", "high", "low", "close"])
    total = len(frame)
    room = candles_that_fit(width_px, max_candles) if whole else max_candles
    if not whole:
        frame = frame.iloc[-room:]
    if len(frame) < 2:
        usual = default_range(candles.interval).code
        raise Invalid(f"not enough bars to chart {candles.instrument.display}: that range holds "
                      f"{len(frame)} candle{'s' * (len(frame) != 1)} of {candles.interval}",
                      hint=f"a longer range shows more: {usual} is the usual for {candles.interval} candles")  # fmt: skip
    n = len(frame)
    per = max(1, math.ceil(n / room)) if whole else 1
    group = np.arange(n) // per
    if per > 1:
        grouped = frame.groupby(group)
        data = pd.DataFrame(
            {
                "open": grouped["open"].first().to_numpy(),
                "high": grouped["high"].max().to_numpy(),
                "low": grouped["low"].min().to_numpy(),
                "close": grouped["close"].last().to_numpy(),
                "volume": grouped["volume"].sum(min_count=1).to_numpy(),
            },
            index=frame.index[::per],
        )
    else:
        data = frame.copy()
    data["volume"] = data["volume"].fillna(0.0)
    last = np.minimum(np.arange(len(data)) * per + per - 1, n - 1)
    index = pd.DatetimeIndex(frame.index)

    buys = np.zeros(len(data), dtype=int)
    sells = np.zeros(len(data), dtype=int)
    buy_at = np.full(len(data), np.nan)
    sell_at = np.full(len(data), np.nan)
    outside = 0
    pad = float((data["high"] - data["low"]).median() or 0.0) * 0.8
    step = index[-1] - index[-2]
    for m in markers or ():
        at = pd.Timestamp(m.at)
        if index.tz is not None and at.tz is None:
            at = at.tz_localize(index.tz)
        pos = int(index.searchsorted(at, side="right")) - 1  # the bar that contains the moment
        if pos < 0 or (pos == n - 1 and at > index[-1] + step):
            outside += 1
            continue
        candle = pos // per
        if m.side == "buy":
            buys[candle] += 1
            if not np.isfinite(buy_at[candle]):
                buy_at[candle] = m.price if m.price is not None and per == 1 else float(data["low"].iloc[candle]) - pad
        else:
            sells[candle] += 1
            if not np.isfinite(sell_at[candle]):
                sell_at[candle] = (
                    m.price if m.price is not None and per == 1 else float(data["high"].iloc[candle]) + pad
                )

    chart = ChartData(
        frame=data, bars_index=index, last=last, per_candle=per, total_bars=total,
        buys=buys, sells=sells, buy_at=buy_at, sell_at=sell_at, markers_outside=outside,
    )  # fmt: skip
    values = None
    if equity is not None:
        values = chart.cut(equity)
        if equity_start is None:
            first = equity.reindex(index).dropna()
            equity_start = float(first.iloc[0]) if len(first) else None
    notes: list[str] = []
    if per > 1:
        notes.append(f"all {n:,} bars drawn as {len(data):,} candles of {per} bars")
    elif n < total:
        notes.append(f"last {n:,} of {total:,} bars")
    if int(max(buys.max(initial=0), sells.max(initial=0))) > 1:
        notes.append("a number by a mark counts the fills on that candle")
    if outside:
        notes.append(f"{outside} fill{'s' if outside > 1 else ''} outside the chart, not marked")
    return dataclasses.replace(chart, equity=values, equity_start=equity_start, notes=tuple(notes))


# --------------------------------------------------------------------------- public API


def render_candles(
    candles: Candles,
    indicators: Sequence[IndicatorResult] = (),
    *,
    title: str | None = None,
    subtitle: str | None = None,
    width_px: int = 1200,
    height_px: int = 800,
    max_candles: int = 300,
    whole: bool = False,
    markers: Sequence[ChartMarker] | None = None,
    lines: Sequence[ChartLine] = (),
    equity: pd.Series | None = None,
    equity_start: float | None = None,
    thresholds: Sequence[ChartThreshold] = (),
) -> bytes:
    """PNG bytes of the bars with the given indicators (computed on the full series).

    Without ``whole``, the last ``max_candles`` bars; with it, every bar, aggregated into coarser
    candles when there are more than fit (see ``prepare_chart``). ``lines`` are a model's plots;
    ``equity`` (a backtest's equity curve, drawn from ``equity_start``) gets a panel at the bottom;
    ``subtitle`` is a line under the heading (a backtest's key figures); ``thresholds`` are levels
    drawn across the panel of the series each follows (an alert's condition).
    """
    m = _mpl()
    with RENDER_LOCK, m.rc_context(_RC):  # the ticks are made while drawing: they read the style too
        fig = _build_figure(
            candles,
            indicators,
            title=title,
            subtitle=subtitle,
            width_px=width_px,
            height_px=height_px,
            max_candles=max_candles,
            whole=whole,
            markers=markers,
            lines=lines,
            equity=equity,
            equity_start=equity_start,
            thresholds=thresholds,
        )
        try:
            fig.canvas.draw()
            return _png(np.asarray(fig.canvas.buffer_rgba()))  # type: ignore[attr-defined]  # an Agg canvas
        finally:
            _release(m, fig)



def chart_heading(
    candles: Candles, title: str | None = None, subtitle: str | None = None, notes: Sequence[str] = ()
) -> tuple[str, ...]:
    """The heading lines: what is shown, where it came from (always naming sample data) and in which
    time zone, then the ``subtitle`` and a note of what the picture leaves out, when there are any."""
    inst = candles.instrument
    frame = candles.frame
    last = float(frame["close"].iloc[-1]) if len(frame) else float("nan")
    currency = f" {inst.currency}" if inst.currency else ""
    first = title or f"{inst.display} · {candles.interval}"
    first = f"{first} · last {format_price(last, inst)}{currency}"
    zone = exchange_timezone(inst)
    when = ""
    if len(frame):
        stamp = exchange_time(frame.index[-1:], inst, candles.interval.intraday)[0]
        when = stamp.strftime("%d %b %Y %H:%M" if candles.interval.intraday else "%d %b %Y")
    second = " · ".join(x for x in (candles.provider, candles.name or "", when, f"time {timezone_label(zone)}") if x)
    if candles.sample:
        second = f"{second} · SAMPLE DATA"
    out: tuple[str, ...] = (first, second)
    if subtitle:
        out += (subtitle,)
    if notes:
        out += ("Note: " + "; ".join(notes),)
    return out


# --------------------------------------------------------------------------- building the figure

# The look, applied while a chart is built and drawn: white panels on a light grid drawn under the
# data, no tick marks, 9 pt text in grey (the style these charts had under mplfinance's "default").
_RC: dict[str, Any] = {
    "axes.axisbelow": True,
    "axes.edgecolor": "#b0b0b0",
    "axes.facecolor": "white",
    "axes.grid": True,
    "axes.labelcolor": "#424242",
    "axes.labelsize": "large",
    "axes.linewidth": 0.8,
    "font.family": ["DejaVu Sans"],
    "font.size": 9.0,
    "grid.color": "#ececec",
    "grid.linestyle": "-",
    "legend.frameon": False,
    "lines.linewidth": 2.0,
    "lines.solid_capstyle": "round",
    "text.color": ".15",
    "xtick.color": "#424242",
    "ytick.color": "#424242",
    "xtick.major.size": 0.0,
    "ytick.major.size": 0.0,
    "xtick.minor.size": 0.0,
    "ytick.minor.size": 0.0,
}
# Candle body width by candles shown (mplfinance's table: wide bodies for few candles, narrow for many).
_BODY_N = (30, 60, 90, 120, 150, 180, 210, 240)
_BODY_W = (0.65, 0.575, 0.50, 0.445, 0.435, 0.425, 0.420, 0.415)
CANDLE_LINEWIDTH = 0.8
# Margins as fractions of the picture (room on the right for the price axis, on top for the heading).
_LEFT, _RIGHT, _BOTTOM = 0.027, 0.075, 0.099


@cache
def _mpl() -> SimpleNamespace:
    """The matplotlib parts the candle charts use: a plain Figure on an Agg canvas, no pyplot (no
    figure manager, nothing global to leak), imported on first render only."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.colors import to_rgba
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import (
        AutoLocator,
        FixedFormatter,
        FixedLocator,
        FuncFormatter,
        MaxNLocator,
        NullFormatter,
        ScalarFormatter,
    )
    from matplotlib.transforms import Bbox

    return SimpleNamespace(
        rc_context=matplotlib.rc_context, Canvas=_canvas_class(FigureCanvasAgg), Figure=Figure, Line2D=Line2D,
        LineCollection=LineCollection, PolyCollection=PolyCollection, to_rgba=to_rgba, Bbox=Bbox,
        AutoLocator=AutoLocator, FixedFormatter=FixedFormatter, FixedLocator=FixedLocator,
        FuncFormatter=FuncFormatter, MaxNLocator=MaxNLocator, NullFormatter=NullFormatter,
        ScalarFormatter=ScalarFormatter,
    )  # fmt: skip


def _canvas_class(base: Any) -> Any:
    """An Agg canvas whose renderer draws a plain string as one bitmap, as matplotlib did up to 3.10.

    matplotlib 3.11 rasterises text glyph by glyph in Python (a transform per glyph), which made
    the chart's thirty-odd labels a third of its drawing time. FreeType lays the string out and
    renders it in one call here, from the same whole-pixel origin: the same glyphs, at most a pixel
    apart (tests/core/test_charts.py compares them). Rotated text, mathtext and text with font
    features or a language take matplotlib's own way.
    """
    from matplotlib.backends.backend_agg import RendererAgg, get_hinting_flag
    from matplotlib.font_manager import fontManager, get_font

    heights: dict[tuple[int, float], tuple[float | None, float | None, float | None]] = {}
    texts: dict[tuple[Any, ...], tuple[np.ndarray, float, float]] = {}

    class Renderer(RendererAgg):
        def _get_font_height_metrics(self, prop: Any) -> tuple[float | None, float | None, float | None]:
            """A font's ascent, descent and line gap, as ``Text._get_layout`` works them out from the
            font's tables for every label at every draw, here once per font, size and dpi."""
            key = (hash(prop), self.dpi)
            found = heights.get(key)
            if found is None:
                found = (None, None, None)  # matplotlib measures the text instead
                font = get_font(fontManager._find_fonts_by_props(prop))
                for table_name, gap, ascent, descent in (
                    ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
                    ("hhea", "lineGap", "ascent", "descent"),
                ):
                    table: Any = font.get_sfnt_table(table_name)  # type: ignore[call-overload]  # a table name
                    if table is None:
                        continue
                    head: Any = font.get_sfnt_table("head")  # every font matplotlib loads has one
                    scale = 1 / head["unitsPerEm"] * prop.get_size_in_points() * self.dpi / 72
                    found = (table[ascent] * scale, -table[descent] * scale, table[gap] * scale)
                    break
                if len(heights) > 256:
                    heights.clear()
                heights[key] = found
            return found

        def draw_text(
            self, gc: Any, x: float, y: float, s: str, prop: Any, angle: float, ismath: Any = False, mtext: Any = None
        ) -> None:
            if ismath or angle or (mtext is not None and (mtext.get_fontfeatures() or mtext.get_language())):
                return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
            flags, antialiased = get_hinting_flag(), gc.get_antialiased()
            key = (s, hash(prop), self.dpi, flags, antialiased)
            found = texts.get(key)
            if found is None:  # the same labels come back render after render: keep their bitmaps
                font = self._prepare_font(prop)
                font.set_text(s, 0, flags=flags)
                font.draw_glyphs_to_bitmap(antialiased=antialiased)
                xo, yo = font.get_bitmap_offset()
                found = (np.array(font.get_image()), xo / 64.0, yo / 64.0 + font.get_descent() / 64.0)
                if len(texts) > 2048:
                    texts.clear()
                texts[key] = found
            image, dx, dy = found
            self._renderer.draw_text_image(image, round(x + dx), round(y + dy) + 1, 0, gc)
            return None

    class Canvas(base):
        def get_renderer(self) -> Any:
            key = (*self.get_width_height(physical=True), self.figure.dpi)
            if getattr(self, "_chart_key", None) != key:
                self.renderer = Renderer(*key)
                self._chart_key = key
            return self.renderer

    return Canvas


# Figures kept between renders, by layout (size, panel ratios, heading lines): making the axes and
# their ticks is most of a fresh figure's cost, so a render takes a free one of its layout, draws
# into it, and hands it back emptied (``_release``). About 4 MB each (the Agg buffer of 1200x800):
# one per layout, for the last four layouts drawn.
_FREE: OrderedDict[tuple[Any, ...], list[Figure]] = OrderedDict()
_FREE_KEPT = 4
_FREE_LOCK = threading.Lock()
# matplotlib's state is process-wide (rcParams, pyplot's figures, the text bitmaps kept here): one
# render at a time per process. A pool worker has one thread anyway; threads (COMPUTE=inline, tests,
# `stoxlify say`) take turns, or concurrent charts came out different.
RENDER_LOCK = threading.RLock()


def one_render_at_a_time[**P, R](draw: Callable[P, R]) -> Callable[P, R]:
    """``draw`` holding ``RENDER_LOCK``: for the charts drawn with pyplot (its figures are global)."""

    @functools.wraps(draw)
    def locked(*args: P.args, **kwargs: P.kwargs) -> R:
        with RENDER_LOCK:
            return draw(*args, **kwargs)

    return locked


def _figure(m: SimpleNamespace, width_px: int, height_px: int, ratios: list[float], heading_lines: int) -> Figure:
    """An empty figure with one axes per panel: a kept one of this layout, or a new one."""
    key = (width_px, height_px, tuple(ratios), heading_lines)
    with _FREE_LOCK:
        free = _FREE.get(key)
        if free:
            return free.pop()
    fig = m.Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI, facecolor="white")
    m.Canvas(fig)
    fig.chart_layout = key
    # Panels stacked without gaps at fixed positions (no layout engine to run), prices on the right.
    # room for the heading: its lines are 0.3 inch apart from the top (``_decorate``), so a short
    # picture needs a larger share of its height for them
    lines_in = 0.01 * height_px / DPI + 0.3 * (heading_lines - 0.8) + 0.25
    top = max(0.12 * (0.75 + 0.3 * (heading_lines - 2)), lines_in * DPI / height_px)
    height = 1.0 - _BOTTOM - top
    y = 1.0 - top
    for ratio in ratios:
        y -= height * ratio / sum(ratios)
        ax = fig.add_axes((_LEFT, y, 1.0 - _LEFT - _RIGHT, height * ratio / sum(ratios)))
        ax.yaxis.tick_right()
    return fig


def _release(m: SimpleNamespace, fig: Figure) -> None:
    """Empty a rendered figure back to what ``_figure`` made, and keep it for the next render of its
    layout (the same bars give the same bytes either way: tests/core/test_charts.py checks)."""
    for text in list(fig.texts):
        text.remove()
    for ax in fig.axes:
        for artist in (*ax.lines, *ax.collections, *ax.texts, *ax.patches):
            artist.remove()
        if ax.legend_ is not None:
            ax.legend_.remove()
        ax.set_xlabel("")
        ax.yaxis.set_major_locator(m.AutoLocator())
        ax.yaxis.set_major_formatter(m.ScalarFormatter())
        ax.dataLim.set_points(m.Bbox.null().get_points())
        ax.ignore_existing_data_limits = True
        ax.autoscale(True, axis="y")
    key = fig.chart_layout  # type: ignore[attr-defined]
    with _FREE_LOCK:
        free = _FREE.setdefault(key, [])
        _FREE.move_to_end(key)
        if not free:  # one render at a time (RENDER_LOCK): one figure per layout is enough
            free.append(fig)
        while len(_FREE) > _FREE_KEPT:
            _FREE.popitem(last=False)


@cache
def _pyplot() -> Any:
    """pyplot on the Agg backend (no window, works in any thread), for the charts built with it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt



def _png(rgba: np.ndarray, level: int = 3) -> bytes:
    """An RGB PNG of an opaque RGBA pixel buffer, written directly: no row filters and a fast zlib
    level, about 7 ms for 1200x800 where PIL's adaptive filters take 30 ms, and no larger (charts are
    mostly flat white). Deterministic: the same pixels give the same bytes."""
    height, width = rgba.shape[:2]
    raw = np.empty((height, width * 3 + 1), dtype=np.uint8)
    raw[:, 0] = 0  # filter type None on every row
    rgb = raw[:, 1:].reshape(height, width, 3)
    for channel in range(3):  # one plane at a time: several times faster than copying rgba[..., :3]
        rgb[:, :, channel] = rgba[:, :, channel]

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, not interlaced
    pixels = chunk(b"IDAT", zlib.compress(raw, level))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + pixels + chunk(b"IEND", b"")


def _check_size(width_px: int, height_px: int) -> None:
    if min(width_px, height_px) < MIN_SIDE or width_px + height_px > MAX_SIDE_SUM:
        raise Invalid(
            f"chart size {width_px}x{height_px} is out of range ({MIN_SIDE}px per side, {MAX_SIDE_SUM} in all)"
        )
    if max(width_px, height_px) / min(width_px, height_px) > MAX_ASPECT:
        raise Invalid(f"chart size {width_px}x{height_px} is too narrow (aspect ratio over {MAX_ASPECT:g})")


def _build_figure(
    candles: Candles,
    indicators: Sequence[IndicatorResult],
    *,
    title: str | None,
    width_px: int,
    height_px: int,
    max_candles: int,
    markers: Sequence[ChartMarker] | None,
    lines: Sequence[ChartLine] = (),
    equity: pd.Series | None = None,
    subtitle: str | None = None,
    whole: bool = False,
    equity_start: float | None = None,
    thresholds: Sequence[ChartThreshold] = (),
) -> Figure:
    """The whole chart as a matplotlib Figure on an Agg canvas (``render_candles`` draws and encodes it).

    ``fig.axes`` are the panels top to bottom: price, volume (when the bars have any), one per
    oscillator, the model's own lines, equity.
    """
    _check_size(width_px, height_px)
    if max_candles < 2:
        raise Invalid("a chart needs at least 2 candles")
    overlays = [r for r in indicators if r.overlay]
    oscillators = [r for r in indicators if not r.overlay]
    if len(lines) > MAX_LINES:
        raise Invalid(f"at most {MAX_LINES} plots fit on one chart, got {len(lines)}")
    if len(oscillators) > MAX_OSCILLATORS:
        raise Invalid(f"at most {MAX_OSCILLATORS} indicator panels fit on one chart, got {len(oscillators)}")
    if len(overlays) > MAX_OVERLAYS:
        raise Invalid(f"at most {MAX_OVERLAYS} price-panel indicators fit on one chart, got {len(overlays)}")

    chart = prepare_chart(
        candles, width_px=width_px, max_candles=max_candles, whole=whole, markers=markers,
        equity=equity, equity_start=equity_start,
    )  # fmt: skip
    frame = chart.frame
    has_volume = bool((frame["volume"] > 0).any())
    on_price: list[tuple[ChartLine, np.ndarray]] = []
    own_panel: list[tuple[ChartLine, np.ndarray]] = []
    for line in lines:
        values = chart.cut(line.values)
        # a 0..100 plot on a model marked overlay would flatten the candles: it gets the model's panel
        (on_price if line.overlay and _price_scale(values, frame) else own_panel).append((line, values))
    own_panel = [item for item in own_panel if not item[0].overlay] + [item for item in own_panel if item[0].overlay]

    panels: list[_Panel] = []
    first_panel = 2 if has_volume else 1
    for result in oscillators:
        drawing = result.info.drawing
        panels.append(_Panel(first_panel + len(panels), [], drawing.guides, drawing.limits))
    if own_panel:
        panels.append(_Panel(first_panel + len(panels), []))
    if chart.equity is not None:
        label = "Equity" if chart.equity_start is None else f"Equity (start {_compact(chart.equity_start)})"
        panels.append(_Panel(first_panel + len(panels), [(label, EQUITY)], equity=True))

    m = _mpl()
    heading = chart_heading(candles, title, subtitle, chart.notes)
    ratios = [6.0] + ([1.3] if has_volume else []) + [2.0] * len(panels)
    n = len(frame)
    x = np.arange(n, dtype=float)
    # Ichimoku's spans run kijun - 1 bars past the last candle: the picture widens to show them
    clouds = {id(r): ichimoku_layout(r, candles.frame, chart) for r in overlays if r.info.drawing.style == "ichimoku"}
    right = max([n - 1.0, *(layout.right for layout in clouds.values())])
    spacing = (n - 1) / n  # the x range padded like mplfinance's: a candle's spacing plus 5 % each side
    span = right + 2 * spacing
    with m.rc_context(_RC):
        fig = _figure(m, width_px, height_px, ratios, len(heading))
        axes = fig.axes
        for ax in axes:
            ax.set_xlim(-spacing - 0.05 * span, right + spacing + 0.05 * span)
        main = axes[0]

        _draw_candles(m, main, frame)
        price_legend: list[tuple[str, str]] = []
        colours = iter(PALETTE * 4)
        for result in overlays:
            if id(result) in clouds:
                draw_ichimoku(main, clouds[id(result)], result.label, price_legend)
                continue
            _draw_overlay(main, x, result, chart, colours, price_legend)
        for line, values in on_price:
            colour = next(colours)
            main.plot(x, values, color=colour, linewidth=1.1)
            price_legend.append((_label(line.title), colour))
        if markers:
            for prices, marker, colour in ((chart.buy_at, "^", UP), (chart.sell_at, "v", DOWN)):
                if np.isfinite(prices).any():
                    main.scatter(x, prices, s=70, marker=marker, color=colour)
        for counts, prices, above in ((chart.buys, chart.buy_at, False), (chart.sells, chart.sell_at, True)):
            for at in np.flatnonzero(counts > 1):
                main.annotate(
                    str(int(counts[at])), (float(at), float(prices[at])), xytext=(6, 6 if above else -10),
                    textcoords="offset points", fontsize=7.5, fontweight="bold", color=UP if not above else DOWN,
                )  # fmt: skip

        if has_volume:
            volume = frame["volume"].to_numpy(dtype=float)
            rising = (frame["close"] >= frame["open"]).to_numpy()
            _draw_bars(axes[1], volume, rising, alpha=0.55)
            axes[1].set_ylim(0, float(volume.max()) * 1.05)
        for result, panel in zip(oscillators, panels, strict=False):
            _draw_oscillator(axes[panel.number], x, result, chart, panel)
        if own_panel:
            panel = panels[len(oscillators)]
            line_colours = iter(PALETTE * 3)
            for line, values in own_panel:
                colour = next(line_colours)
                axes[panel.number].plot(x, values, color=colour, linewidth=1.1)
                panel.legend.append((_label(line.title), colour))
        for panel in panels:
            if panel.bars is not None:
                values = np.nan_to_num(panel.bars)
                _draw_bars(axes[panel.number], values, values >= 0, alpha=0.55)
            if panel.equity and chart.equity is not None:
                _draw_equity(axes[panel.number], chart.equity, chart.equity_start)

        _draw_thresholds(axes, thresholds, oscillators, panels, own_panel, price_legend, has_volume)
        _decorate(m, fig, axes, candles, heading, price_legend, panels, has_volume)
        axes[-1].set_xlabel(
            f"time: {timezone_label(exchange_timezone(candles.instrument))}", fontsize=8, color="#616161"
        )
        _time_axis(m, axes, candles, chart, width_px)
    return fig


def _draw_thresholds(
    axes: Sequence[Any],
    thresholds: Sequence[ChartThreshold],
    oscillators: Sequence[IndicatorResult],
    panels: list[_Panel],
    own_panel: list[tuple[ChartLine, np.ndarray]],
    price_legend: list[tuple[str, str]],
    has_volume: bool,
) -> None:
    """Each threshold as a dash-dot line on the panel of the series it follows: an oscillator's
    panel, the panel of the model's own lines, volume, or (otherwise) the price panel."""
    own_titles = {line.title for line, _ in own_panel}
    for level in thresholds:
        if not math.isfinite(level.value):
            continue
        legend = price_legend
        ax = axes[0]
        spot = next((i for i, r in enumerate(oscillators) if level.follows in (r.spec.text, r.label)), None)
        if spot is not None:
            ax, legend = axes[panels[spot].number], panels[spot].legend
        elif level.follows is not None and level.follows in own_titles:
            panel = panels[len(oscillators)]
            ax, legend = axes[panel.number], panel.legend
        elif level.follows == "volume" and has_volume:
            ax, legend = axes[1], []
        ax.axhline(level.value, color=THRESHOLD, linewidth=1.2, linestyle="-.")
        low, high = ax.get_ylim()
        if not low <= level.value <= high and legend is not price_legend:  # keep it in sight
            ax.set_ylim(min(low, level.value), max(high, level.value))
        legend.append((_label(level.label), THRESHOLD))


def _time_axis(m: SimpleNamespace, axes: Sequence[Any], candles: Candles, chart: ChartData, width_px: int) -> None:
    """Date labels under the bottom panel at fixed candle positions (computed once here, not by a
    locator at draw time), in the exchange's time zone; the panels above share the grid lines."""
    frame = chart.frame
    n = len(frame)
    lo, hi = axes[0].get_xlim()
    stamps = exchange_time(frame.index, candles.instrument, candles.interval.intraday)
    spans_days = (stamps[-1] - stamps[0]) > pd.Timedelta(days=3)
    if candles.interval.intraday and (not spans_days or chart.per_candle == 1):
        form = "%d %b %H:%M"
    else:
        form = "%d %b %y"
    # as many dates as fit side by side: a 9 pt character is at most 0.6 em wide, and a gap between
    label_px = len(stamps[-1].strftime(form)) * 9.0 * DPI / 72 * 0.6 + 16
    room = int(width_px * (1.0 - _LEFT - _RIGHT) // label_px)
    ticks = m.MaxNLocator(nbins=max(1, min(9, room)), steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
    ticks = [float(t) for t in ticks if 0 <= t <= n - 1]
    labels = [stamps[round(t)].strftime(form) for t in ticks]
    for ax in axes:
        ax.xaxis.set_major_locator(m.FixedLocator(ticks))
        ax.xaxis.set_major_formatter(m.NullFormatter())
    axes[-1].xaxis.set_major_formatter(m.FixedFormatter(labels))


def _draw_candles(m: SimpleNamespace, ax: Any, frame: pd.DataFrame) -> None:
    """Wicks as one LineCollection and bodies as one PolyCollection: green when the close is above
    the open, red otherwise, bodies slightly translucent with a solid edge."""
    opens, highs, lows, closes = (frame[k].to_numpy(dtype=float) for k in ("open", "high", "low", "close"))
    n = len(opens)
    x = np.arange(n, dtype=float)
    edge = np.where((opens < closes)[:, None], m.to_rgba(UP), m.to_rgba(DOWN))
    face = edge.copy()
    face[:, 3] = 0.95
    wicks = np.stack([np.column_stack([x, lows]), np.column_stack([x, highs])], axis=1)
    half = float(np.interp(n, _BODY_N, _BODY_W)) / 2
    left, right = x - half, x + half
    bodies = np.stack(
        [np.column_stack(p) for p in ((left, opens), (left, closes), (right, closes), (right, opens))], axis=1
    )
    ax.add_collection(m.LineCollection(wicks, colors=edge, linewidths=CANDLE_LINEWIDTH))
    ax.add_collection(m.PolyCollection(bodies, facecolors=face, edgecolors=edge, linewidths=CANDLE_LINEWIDTH))


def _draw_equity(ax: Any, values: np.ndarray, start: float | None) -> None:
    """The equity curve, beginning at the starting cash half a candle before the first close, with
    a dashed guide at the starting cash."""
    x: np.ndarray = np.arange(len(values), dtype=float)
    y: np.ndarray = np.asarray(values, dtype=float)
    if start is not None:
        x = np.concatenate([[-0.5], x])
        y = np.concatenate([[start], y])
        ax.axhline(start, color=GUIDE, linewidth=0.7, linestyle="--")
    ax.plot(x, y, color=EQUITY, linewidth=1.3)
    if not np.isfinite(y).any():
        return
    lo, hi = float(np.nanmin(y)), float(np.nanmax(y))
    pad = (hi - lo) * 0.08 or abs(hi) * 0.01 or 1.0
    ax.set_ylim(lo - pad, hi + pad)


def _draw_bars(ax: Any, values: np.ndarray, up: np.ndarray, *, width: float = 0.7, alpha: float) -> None:
    """Bars from zero at x = 0..n-1 (the candle positions), as a single artist: green where ``up``,
    red elsewhere."""
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import to_rgba

    x = np.arange(len(values), dtype=float)
    heights = np.nan_to_num(values)
    left, right = x - width / 2, x + width / 2
    zeros = np.zeros_like(heights)
    verts = np.stack(
        [np.column_stack(pair) for pair in ((left, zeros), (left, heights), (right, heights), (right, zeros))],
        axis=1,
    )
    colours = np.where(np.asarray(up, dtype=bool)[:, None], to_rgba(UP), to_rgba(DOWN))
    ax.add_collection(PolyCollection(list(verts), facecolors=colours, edgecolors="none", alpha=alpha))


def _draw_overlay(
    ax: Any, x: np.ndarray, result: IndicatorResult, chart: ChartData, colours: Any, legend: list[tuple[str, str]]
) -> None:
    """An indicator on the price panel: bands filled between their edges, long/short stops in the
    candle colours (parabolic SAR as dots), other fields as lines."""
    drawing = result.info.drawing
    wanted = drawing.fields or result.info.fields
    series = {f: chart.cut(result.fields[f]) for f in wanted if f in result.fields}
    series = {f: v for f, v in series.items() if _price_scale(v, chart.frame)}
    if not series:
        return
    if drawing.style in ("stops", "dots"):
        for f, v in series.items():
            colour = UP if f == "long" else DOWN
            if not np.isfinite(v).any():
                continue
            if drawing.style == "dots":
                ax.scatter(x, v, s=6, marker=".", color=colour)
            else:
                ax.plot(x, v, color=colour, linewidth=1.2)
        legend.append((result.label, UP))
        return
    colour = next(colours)
    if drawing.style == "band" and len(series) >= 2:
        names = list(series)
        upper, lower = series[names[0]], series[names[-1]]
        for f, v in series.items():
            dashed = f not in (names[0], names[-1])
            ax.plot(x, v, color=colour, linewidth=0.9, linestyle="--" if dashed else "-")
        ax.fill_between(x, lower, upper, alpha=0.06, color=colour)
        legend.append((result.label, colour))
        return
    for i, (f, v) in enumerate(series.items()):
        c = colour if i == 0 else next(colours)
        ax.plot(x, v, color=c, linewidth=1.1)
        label = result.label if len(series) == 1 else f"{result.label} {f}"
        legend.append((label, c))


def _label(title: str) -> str:
    """A user's plot title as a legend label: short, and with ``$`` escaped so it is never mathtext."""
    title = " ".join(str(title).split())
    title = title if len(title) <= 40 else title[:39] + "…"
    return (title.lstrip("_") or "plot").replace("$", r"\$")  # "_x" labels are hidden by matplotlib


def _price_scale(values: np.ndarray, window: pd.DataFrame) -> bool:
    """True when a series lives on the price axis (keeps a stray 0..1 field from flattening the candles)."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return False
    lo, hi = float(window["low"].min()), float(window["high"].max())
    span = hi - lo or abs(hi) or 1.0
    median = float(np.median(finite))
    return lo - 2 * span <= median <= hi + 2 * span


def _draw_oscillator(ax: Any, x: np.ndarray, result: IndicatorResult, chart: ChartData, panel: _Panel) -> None:
    """An oscillator's fields as lines in its panel; a histogram field (MACD's) is kept in
    ``panel.bars`` and drawn as one collection."""
    drawing = result.info.drawing
    wanted = drawing.fields or _non_flag_fields(result)
    hist_field = drawing.histogram
    colours = iter(PALETTE)
    for f in wanted:
        v = chart.cut(result.fields[f])
        if f == hist_field:
            panel.bars = np.asarray(v, dtype=float)
            continue
        c = next(colours)
        ax.plot(x, v, color=c, linewidth=1.1)
        label = result.label if f == result.info.fields[0] or len(wanted) == 1 else f
        panel.legend.append((label, c))
    if not panel.legend:
        panel.legend.append((result.label, UP))


def _non_flag_fields(result: IndicatorResult) -> tuple[str, ...]:
    """All fields but 0/1 flags (squeeze on/off), which say nothing drawn as lines."""
    keep = []
    for f, s in result.fields.items():
        values = s.dropna().unique()
        if len(values) <= 2 and set(values.tolist()) <= {0.0, 1.0}:
            continue
        keep.append(f)
    return tuple(keep) or tuple(result.fields)[:1]


def _decorate(
    m: SimpleNamespace,
    fig: Figure,
    axes: Sequence[Any],
    candles: Candles,
    heading: Sequence[str],
    price_legend: list[tuple[str, str]],
    panels: list[_Panel],
    has_volume: bool,
) -> None:
    """Heading, legends, guide lines and readable tick labels."""
    main = axes[0]
    first, second, *more = heading
    left = _LEFT
    line = 0.3 / fig.get_figheight()  # 0.3 inch a line, whatever the picture's height
    fig.text(left, 0.99, first, ha="left", va="top", fontsize=13, fontweight="bold", color="#212121")
    fig.text(
        left, 0.99 - line * 1.2, second, ha="left", va="top", fontsize=9.5,
        color="#c62828" if candles.sample else "#616161",
        fontweight="bold" if candles.sample else "normal",
    )  # fmt: skip
    for number, text in enumerate(more):
        note = text.startswith("Note: ")
        fig.text(
            left, 0.99 - line * (2.2 + number), text, ha="left", va="top", fontsize=9 if note else 10,
            color="#6d4c41" if note else "#212121", fontstyle="italic" if note else "normal",
        )  # fmt: skip

    inst = candles.instrument
    main.yaxis.set_major_formatter(m.FuncFormatter(partial(_axis_price, main, inst)))
    main.axhline(candles.last_close, color="#757575", linewidth=0.6, linestyle=":")

    if has_volume:
        axes[1].yaxis.set_major_formatter(m.FuncFormatter(lambda y, _pos: _compact(y)))
    for panel in panels:
        ax = axes[panel.number]
        for level in panel.guides:
            ax.axhline(level, color=GUIDE, linewidth=0.7, linestyle="--")
        if panel.limits:
            lo, hi = panel.limits
            ax.set_ylim(lo, hi)
            ax.set_yticks(sorted({*panel.guides, (lo + hi) / 2}))
        if panel.equity:
            ax.yaxis.set_major_formatter(m.FuncFormatter(lambda y, _pos: _compact(y)))
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]  # an Agg canvas
    if price_legend:
        _legend_over_the_data(m, main, price_legend, renderer)
    for panel in panels:
        _legend_over_the_data(m, axes[panel.number], panel.legend, renderer)
    _tick_labels_inside(m, axes)


# Between a legend and the highest data under it, in pixels.
LEGEND_GAP_PX = 2.0
# A y tick label reaches this far above and below its tick (9 pt text: 15 px tall, and a pixel spare).
TICK_LABEL_HALF_PX = 9.0 * DPI / 72 * 0.6 + 1.0


# A legend's columns and height by its labels and the panel's width: the same chart drawn again for
# a new candle lays out the same legends, so each is measured once (measuring lays its text out).
_LEGEND_SIZES: dict[tuple[tuple[str, ...], int], tuple[int, float]] = {}


def _legend_over_the_data(m: SimpleNamespace, ax: Any, items: list[tuple[str, str]], renderer: Any) -> None:
    """The legend in rows across the top of the panel, with the panel's y range raised so that the
    data (candles, lines, bars) stays below it: a legend never covers what it names. Drawn in as
    many columns as fit the panel's width, so it takes one or two rows rather than a column."""
    if not items:
        return
    handles = [m.Line2D([], [], color=c, linewidth=2, label=label) for label, c in items]
    width = ax.bbox.width
    key = (tuple(label for label, _ in items), round(width))

    def place(columns: int) -> Any:
        return ax.legend(
            handles=handles, loc="upper left", ncols=columns, fontsize=8, frameon=False, borderpad=0.2,
            borderaxespad=0.2, columnspacing=1.2, handlelength=1.6,
        )  # fmt: skip

    known = _LEGEND_SIZES.get(key)
    if known is not None:
        columns, tall = known
        place(columns)
    else:
        columns = len(handles)
        for _ in range(3):  # one row if it fits, else as many columns as the widest row allows
            box = place(columns).get_window_extent(renderer)
            if box.width <= width * 0.98 or columns == 1:
                break
            columns = max(1, min(columns - 1, int(columns * width * 0.95 / box.width)))
        tall = box.height
        if len(_LEGEND_SIZES) > 512:
            _LEGEND_SIZES.clear()
        _LEGEND_SIZES[key] = (columns, tall)
    room = tall + LEGEND_GAP_PX + 0.2 * 8 * DPI / 72  # + borderaxespad
    height = ax.bbox.height
    lo, hi = ax.get_ylim()
    if room >= height * 0.6:  # a tiny panel: better a covered corner than a squashed panel
        return
    ax.set_ylim(lo, lo + (hi - lo) * height / (height - room))


def _tick_labels_inside(m: SimpleNamespace, axes: Sequence[Any]) -> None:
    """Drop the y ticks whose labels would reach over a panel's edge into the panel next to it, so
    the labels of stacked panels never run into each other where the panels meet (the top panel's
    top and the bottom panel's bottom have no neighbour and keep theirs)."""
    last = len(axes) - 1
    for number, ax in enumerate(axes):
        lo, hi = ax.get_ylim()
        if not hi > lo:
            continue
        height = ax.bbox.height
        locs = [float(t) for t in ax.yaxis.get_major_locator()() if lo <= t <= hi]
        kept = []
        for loc in locs:
            y = (loc - lo) / (hi - lo) * height
            if number > 0 and y + TICK_LABEL_HALF_PX > height:
                continue
            if number < last and y - TICK_LABEL_HALF_PX < 0:
                continue
            kept.append(loc)
        if len(kept) != len(locs):
            ax.yaxis.set_major_locator(m.FixedLocator(kept))


def _axis_price(ax: Any, instrument: Instrument, value: float, _pos: object) -> str:
    """Tick labels with thousands separators and only the decimals the tick step needs."""
    if instrument.is_idx:
        return f"{value:,.0f}"
    locs = ax.yaxis.get_majorticklocs()
    step = float(np.min(np.abs(np.diff(locs)))) if len(locs) > 1 else 0.0
    decimals = next(
        (d for d in range(11) if all(abs(round(x, d) - x) <= step * 1e-6 for x in locs)),
        10,
    )
    return f"{value:,.{decimals}f}"


def _compact(value: float) -> str:
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.0f}"
