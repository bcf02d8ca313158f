"""The dashboard's equity chart: per currency, equity (realised + unrealised P&L) and its drawdown.

Drawn with plain matplotlib on the candle charts' Agg backend, on the compute plane, one render at a
time per process (``core.charts.candles.RENDER_LOCK``), in the same look: white background, a
bold heading with a grey second line, money with thousands separators on the right. Each currency
gets two panels: the equity line (with the realised P&L as a dashed step line under it, so the gap
between them is what open positions are worth) and, below, the underwater curve (percent below the
running peak, or money when there was no capital to measure against). Legends sit above their
panel, outside the plotting area, so they never cover the curve.
"""

from __future__ import annotations

from functools import partial
from io import BytesIO
from typing import Any

import numpy as np

from core.charts.candles import DOWN, DPI, EQUITY, UP, _pyplot, one_render_at_a_time
from core.market.symbols import money_decimals
from core.statistic.equity import EquityCurve

REALISED = "#757575"


@one_render_at_a_time
def render_equity(
    curves: dict[str, EquityCurve],
    *,
    title: str,
    subtitle: str = "",
    width_px: int = 1200,
    height_px: int = 800,
) -> bytes:
    """PNG bytes: for each currency an equity panel and a drawdown panel under it."""
    fig = equity_figure(curves, title=title, subtitle=subtitle, width_px=width_px, height_px=height_px)
    try:
        buf = BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
        return buf.getvalue()
    finally:
        _pyplot().close(fig)


def equity_figure(
    curves: dict[str, EquityCurve], *, title: str, subtitle: str = "", width_px: int = 1200, height_px: int = 800
) -> Any:
    """The figure ``render_equity`` encodes (``fig.axes``: equity, drawdown, per currency); the caller
    closes it (``_pyplot().close``)."""
    if not curves:
        raise ValueError("no equity curve to draw")
    plt = _pyplot()
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ratios = [3.0, 1.4] * len(curves)
    fig, axes = plt.subplots(
        len(ratios), 1, figsize=(width_px / DPI, height_px / DPI), sharex=True, facecolor="white",
        gridspec_kw={"height_ratios": ratios}, squeeze=False,
    )  # fmt: skip
    panels = axes[:, 0]
    for number, (currency, curve) in enumerate(curves.items()):
        top, bottom = panels[2 * number], panels[2 * number + 1]
        money = FuncFormatter(partial(_money, _decimals(currency, curve)))
        _draw_equity(top, currency, curve, money)
        _draw_drawdown(bottom, curve, money)
        for ax in (top, bottom):
            # the lowest and highest ticks go: labels of stacked panels never meet at their edge
            ax.yaxis.set_major_locator(MaxNLocator(nbins=5 if ax is top else 3, prune="both"))
    locator = AutoDateLocator()
    panels[-1].xaxis.set_major_locator(locator)
    panels[-1].xaxis.set_major_formatter(ConciseDateFormatter(locator))
    fig.text(0.06, 0.985, title, ha="left", va="top", fontsize=13, fontweight="bold", color="#212121")
    if subtitle:
        fig.text(0.06, 0.95, subtitle, ha="left", va="top", fontsize=9.5, color="#616161")
    fig.subplots_adjust(left=0.06, right=0.9, top=0.87, bottom=0.08, hspace=0.32)
    return fig


def _style(ax: Any, formatter: Any) -> None:
    ax.set_facecolor("white")
    ax.yaxis.tick_right()
    ax.yaxis.set_major_formatter(formatter)
    ax.grid(True, color="#ececec", linewidth=0.8)
    for side in ("top", "left"):
        ax.spines[side].set_visible(False)
    for side in ("right", "bottom"):
        ax.spines[side].set_color("#b0b0b0")
    ax.tick_params(colors="#424242", labelsize=9)


def _legend_above(ax: Any) -> None:
    """The legend in one row just above the panel: outside the data, whatever the curve does."""
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=3, fontsize=8, frameon=False,
              borderaxespad=0.2, handlelength=1.6)  # fmt: skip


def _draw_equity(ax: Any, currency: str, curve: EquityCurve, formatter: Any) -> None:
    times = list(curve.times)
    equity = curve.equity
    suffix = f" ({currency})" if currency else ""
    ax.plot(times, equity, color=EQUITY, linewidth=1.6, label=f"Equity: realised + unrealised{suffix}")
    ax.step(times, curve.realised, where="post", color=REALISED, linewidth=1.0, linestyle="--",
            label="Realised P&L")  # fmt: skip
    ax.fill_between(times, equity, 0, where=equity >= 0, interpolate=True, color=UP, alpha=0.12)
    ax.fill_between(times, equity, 0, where=equity < 0, interpolate=True, color=DOWN, alpha=0.12)
    ax.axhline(0, color="#757575", linewidth=0.7, linestyle=":")
    _style(ax, formatter)
    _legend_above(ax)


def _draw_drawdown(ax: Any, curve: EquityCurve, money: Any) -> None:
    from matplotlib.ticker import FuncFormatter

    times = list(curve.times)
    pct = curve.drawdown_pct
    values = curve.drawdown if pct is None else pct
    worst = float(np.min(values, initial=0.0))
    if pct is None:
        label = f"Drawdown (max {money(worst, None)})"
        formatter = money
    else:
        label = f"Drawdown % below the peak (max {worst:.2f}%)"
        formatter = FuncFormatter(lambda v, _pos: f"{v:.1f}%")
    ax.fill_between(times, values, 0, color=DOWN, alpha=0.35, linewidth=0, label=label)
    ax.plot(times, values, color=DOWN, linewidth=0.9)
    ax.set_ylim(min(worst * 1.15, -1e-9) if worst < 0 else -1.0, 0.0)
    _style(ax, formatter)
    _legend_above(ax)


def _decimals(currency: str, curve: EquityCurve) -> int:
    """Cents only where they matter: never for rupiah, not once the curve reaches the thousands."""
    biggest = float(np.max(np.abs(curve.equity), initial=0.0))
    return 0 if money_decimals(currency) == 0 or biggest >= 1000 else 2


def _money(decimals: int, value: float, _pos: object) -> str:
    return f"{value:,.{decimals}f}"
