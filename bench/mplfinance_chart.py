"""The chart renderer /market used before issue 11, on mplfinance: the reference peer of
``bench/market.py`` (``--mplfinance`` times it in the same run as ours, on the same bars).

Kept only for the benchmark: the bot draws with ``core.charts.candles``. It is the previous
``render_candles`` as it was, sharing the unchanged helpers (bar preparation, heading, price ticks).
mplfinance applies its style to matplotlib's global rcParams; ``core.charts.candles`` sets every
parameter it depends on while it draws, so running both in one process changes neither picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, partial
from io import BytesIO
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.charts.candles import (
    DOWN,
    DPI,
    EQUITY,
    GUIDE,
    MAX_LINES,
    MAX_OSCILLATORS,
    MAX_OVERLAYS,
    PALETTE,
    UP,
    ChartData,
    ChartLine,
    ChartMarker,
    _axis_price,
    _check_size,
    _compact,
    _draw_bars,
    _draw_equity,
    _label,
    _non_flag_fields,
    _Panel,
    _price_scale,
    chart_heading,
    prepare_chart,
)
from core.errors import Invalid
from core.market.types import Candles, exchange_time, exchange_timezone, timezone_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from core.market.indicator_compute import IndicatorResult


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
) -> bytes:
    """PNG bytes of the bars with the given indicators (computed on the full series).

    Without ``whole``, the last ``max_candles`` bars; with it, every bar, aggregated into coarser
    candles when there are more than fit (see ``prepare_chart``). ``lines`` are a model's plots;
    ``equity`` (a backtest's equity curve, drawn from ``equity_start``) gets a panel at the bottom;
    ``subtitle`` is a line under the heading (a backtest's key figures).
    """
    _, plt = _libs()
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
    )
    try:
        buf = BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
        return buf.getvalue()
    finally:
        plt.close(fig)



@cache
def _libs() -> tuple[Any, Any]:
    """mplfinance and pyplot, on the Agg backend (no window, works in any thread)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplfinance as mpf

    return mpf, plt


@cache
def _style() -> Any:
    mpf, _ = _libs()
    colors = mpf.make_marketcolors(
        up=UP, down=DOWN, edge="inherit", wick="inherit", volume="inherit", alpha=0.95
    )
    return mpf.make_mpf_style(
        base_mpf_style="default",
        marketcolors=colors,
        facecolor="white",
        figcolor="white",
        edgecolor="#b0b0b0",
        gridcolor="#ececec",
        gridstyle="-",
        y_on_right=True,
        rc={
            "font.family": "DejaVu Sans",
            "font.size": 9,
            "font.weight": "normal",
            "axes.labelweight": "normal",
            "axes.titleweight": "bold",
            "axes.labelcolor": "#424242",
            "xtick.color": "#424242",
            "ytick.color": "#424242",
            "axes.linewidth": 0.8,
        },
    )



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
) -> Figure:
    """The whole chart as a matplotlib Figure (the caller saves and closes it)."""
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
    has_volume = bool((chart.frame["volume"] > 0).any())
    data = chart.frame.copy()
    data.index = exchange_time(data.index, candles.instrument, candles.interval.intraday)

    mpf, _ = _libs()
    plots: list[dict[str, Any]] = []
    price_legend: list[tuple[str, str]] = []
    colours = iter(PALETTE * 4)
    for result in overlays:
        plots += _overlay_plots(mpf, result, chart, colours, price_legend)
    own_panel = [line for line in lines if not line.overlay]
    for line in lines:
        if line.overlay:
            values = chart.cut(line.values)
            if _price_scale(values, chart.frame):
                colour = next(colours)
                plots.append(mpf.make_addplot(values, panel=0, color=colour, width=1.1, secondary_y=False))
                price_legend.append((_label(line.title), colour))
            else:  # a 0..100 plot on a model marked overlay would flatten the candles
                own_panel.append(line)
    if markers:
        plots += _marker_plots(mpf, chart)

    first_panel = 2 if has_volume else 1
    panels: list[_Panel] = []
    for offset, result in enumerate(oscillators):
        drawing = result.info.drawing
        panel = _Panel(first_panel + offset, [], drawing.guides, drawing.limits)
        plots += _oscillator_plots(mpf, result, chart, panel)
        panels.append(panel)
    if own_panel:
        panel = _Panel(first_panel + len(panels), [])
        line_colours = iter(PALETTE * 3)
        for line in own_panel:
            colour = next(line_colours)
            values = chart.cut(line.values)
            plots.append(mpf.make_addplot(values, panel=panel.number, color=colour, width=1.1, secondary_y=False))
            panel.legend.append((_label(line.title), colour))
        panels.append(panel)
    if chart.equity is not None:
        label = "Equity" if chart.equity_start is None else f"Equity (start {_compact(chart.equity_start)})"
        panel = _Panel(first_panel + len(panels), [(label, EQUITY)])
        # An invisible line sizes the panel; the curve itself is drawn from the starting cash below.
        plots.append(
            mpf.make_addplot(chart.equity, panel=panel.number, color=GUIDE, alpha=0.0, secondary_y=False)
        )
        panel.equity = True
        panels.append(panel)

    if has_volume:  # drawn by _decorate as one collection; this line only sizes the panel
        plots.append(mpf.make_addplot(data["volume"], panel=1, color=UP, alpha=0.0, secondary_y=False))
    ratios = [6.0] + ([1.3] if has_volume else []) + [2.0] * len(panels)
    options: dict[str, Any] = {}
    if plots:
        options["addplot"] = plots
    if len(ratios) > 1:
        options["panel_ratios"] = tuple(ratios)
        options["num_panels"] = len(ratios)
    heading = chart_heading(candles, title, subtitle, chart.notes)
    spans_days = (data.index[-1] - data.index[0]) > pd.Timedelta(days=3)
    fig, axes = mpf.plot(
        data,
        type="candle",
        volume=False,
        style=_style(),
        returnfig=True,
        figsize=(width_px / DPI, height_px / DPI),
        main_panel=0,
        ylabel="",
        ylabel_lower="",
        datetime_format=(
            ("%d %b %H:%M" if not spans_days or chart.per_candle == 1 else "%d %b %y")
            if candles.interval.intraday
            else "%d %b %y"
        ),
        xrotation=0,
        scale_padding={"left": 0.15, "right": 0.75, "top": 0.75 + 0.3 * (len(heading) - 2), "bottom": 0.55},
        warn_too_much_data=len(data) + 1,
        update_width_config={"candle_linewidth": 0.8},
        **options,
    )
    _decorate(fig, axes, candles, heading, price_legend, panels, has_volume)
    if has_volume:
        rising = (data["close"] >= data["open"]).to_numpy()
        _draw_bars(axes[2], data["volume"].to_numpy(dtype=float), rising, alpha=0.55)
        axes[2].set_ylim(0, float(data["volume"].max()) * 1.05)
    for panel in panels:
        if panel.bars is not None:
            values = np.nan_to_num(panel.bars)
            _draw_bars(axes[2 * panel.number], values, values >= 0, alpha=0.55)
        if panel.equity and chart.equity is not None:
            _draw_equity(axes[2 * panel.number], chart.equity, chart.equity_start)
    main = axes[0]
    for counts, prices, above in ((chart.buys, chart.buy_at, False), (chart.sells, chart.sell_at, True)):
        for x in np.flatnonzero(counts > 1):
            main.annotate(
                str(int(counts[x])), (float(x), float(prices[x])), xytext=(6, 6 if above else -10),
                textcoords="offset points", fontsize=7.5, fontweight="bold", color=UP if not above else DOWN,
            )  # fmt: skip
    axes[-2].set_xlabel(f"time: {timezone_label(exchange_timezone(candles.instrument))}", fontsize=8, color="#616161")
    return fig



def _overlay_plots(
    mpf: Any, result: IndicatorResult, chart: ChartData, colours: Any, legend: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    drawing = result.info.drawing
    wanted = drawing.fields or result.info.fields
    series = {f: chart.cut(result.fields[f]) for f in wanted if f in result.fields}
    series = {f: v for f, v in series.items() if _price_scale(v, chart.frame)}
    if not series:
        return []
    plots: list[dict[str, Any]] = []
    if drawing.style in ("stops", "dots"):
        for f, v in series.items():
            colour = UP if f == "long" else DOWN
            if not np.isfinite(v).any():
                continue
            if drawing.style == "dots":
                plots.append(
                    mpf.make_addplot(
                        v, panel=0, type="scatter", markersize=6, marker=".", color=colour, secondary_y=False
                    )
                )
            else:
                plots.append(mpf.make_addplot(v, panel=0, color=colour, width=1.2, secondary_y=False))
        legend.append((result.label, UP))
        return plots
    colour = next(colours)
    if drawing.style == "band" and len(series) >= 2:
        names = list(series)
        upper, lower = series[names[0]], series[names[-1]]
        for f, v in series.items():
            dashed = f not in (names[0], names[-1])
            plots.append(
                mpf.make_addplot(
                    v, panel=0, color=colour, width=0.9, linestyle="--" if dashed else "-", secondary_y=False
                )
            )
        plots[-1]["fill_between"] = {"y1": lower, "y2": upper, "alpha": 0.06, "color": colour}
        legend.append((result.label, colour))
        return plots
    for i, (f, v) in enumerate(series.items()):
        c = colour if i == 0 else next(colours)
        plots.append(mpf.make_addplot(v, panel=0, color=c, width=1.1, secondary_y=False))
        label = result.label if len(series) == 1 else f"{result.label} {f}"
        legend.append((label, c))
    return plots



def _oscillator_plots(
    mpf: Any, result: IndicatorResult, chart: ChartData, panel: _Panel
) -> list[dict[str, Any]]:
    drawing = result.info.drawing
    wanted = drawing.fields or _non_flag_fields(result)
    hist_field = drawing.histogram
    plots: list[dict[str, Any]] = []
    colours = iter(PALETTE)
    for f in wanted:
        v = chart.cut(result.fields[f])
        if f == hist_field:
            # An invisible line sizes the panel; _decorate draws the bars as one collection
            # (matplotlib's bar() makes an artist per bar, the slowest part of a chart).
            plots.append(mpf.make_addplot(v, panel=panel.number, color=UP, alpha=0.0, secondary_y=False))
            panel.bars = np.asarray(v, dtype=float)
            continue
        c = next(colours)
        plots.append(mpf.make_addplot(v, panel=panel.number, color=c, width=1.1, secondary_y=False))
        label = result.label if f == result.info.fields[0] or len(wanted) == 1 else f
        panel.legend.append((label, c))
    if not panel.legend:
        panel.legend.append((result.label, UP))
    return plots



def _marker_plots(mpf: Any, chart: ChartData) -> list[dict[str, Any]]:
    """One ▲/▼ per candle holding fills (the count is written beside it when several share one)."""
    plots = []
    for prices, marker, colour in ((chart.buy_at, "^", UP), (chart.sell_at, "v", DOWN)):
        if np.isfinite(prices).any():
            plots.append(
                mpf.make_addplot(
                    prices, panel=0, type="scatter", marker=marker, markersize=70, color=colour, secondary_y=False
                )
            )
    return plots


def _decorate(
    fig: Figure,
    axes: Sequence[Any],
    candles: Candles,
    heading: Sequence[str],
    price_legend: list[tuple[str, str]],
    panels: list[_Panel],
    has_volume: bool,
) -> None:
    """Heading, legends, guide lines and readable tick labels, after mplfinance has laid out the panels."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter

    main = axes[0]
    first, second, *more = heading
    left = main.get_position().x0
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
    main.yaxis.set_major_formatter(FuncFormatter(partial(_axis_price, main, inst)))
    last = candles.last_close
    main.axhline(last, color="#757575", linewidth=0.6, linestyle=":")

    def legend(ax: Any, items: list[tuple[str, str]], loc: str = "upper left") -> None:
        handles = [Line2D([], [], color=c, linewidth=2, label=label) for label, c in items]
        ax.legend(
            handles=handles, loc=loc, fontsize=8, frameon=True, framealpha=0.8, edgecolor="#e0e0e0"
        )

    if price_legend:
        legend(main, price_legend)
    if has_volume:
        axes[2].yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: _compact(y)))
        axes[2].set_ylabel("")
    for panel in panels:
        ax = axes[2 * panel.number]
        for level in panel.guides:
            ax.axhline(level, color=GUIDE, linewidth=0.7, linestyle="--")
        if panel.limits:
            lo, hi = panel.limits
            ax.set_ylim(lo, hi)
            ax.set_yticks(
                sorted({*panel.guides, (lo + hi) / 2})
            )  # no tick on the edge next to the panel above
        ax.set_ylabel("")
        if panel.equity:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: _compact(y)))
        legend(ax, panel.legend, "lower left" if panel.equity else "upper left")

