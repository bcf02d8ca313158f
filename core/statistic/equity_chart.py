"""The dashboard's equity chart: cumulative realised P&L over the window, one panel per currency.

Drawn with plain matplotlib on the candle charts' Agg backend, on the compute plane, one render at a
time per process (``core.charts.candles.RENDER_LOCK``), in the same look: white background, a
bold heading with a grey second line, a legend, money with thousands separators on the right.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from io import BytesIO
from typing import Any

from core.charts.candles import DOWN, DPI, EQUITY, UP, _pyplot, one_render_at_a_time
from core.market.symbols import money_decimals

Curve = list[tuple[datetime, float]]


@one_render_at_a_time
def render_equity(
    curves: dict[str, Curve],
    *,
    title: str,
    subtitle: str = "",
    width_px: int = 1200,
    height_px: int = 800,
) -> bytes:
    """PNG bytes of each currency's curve (steps at each closing fill), on its own axis."""
    if not curves:
        raise ValueError("no equity curve to draw")
    plt = _pyplot()
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.ticker import FuncFormatter

    fig, axes = plt.subplots(
        len(curves), 1, figsize=(width_px / DPI, height_px / DPI), sharex=True, squeeze=False, facecolor="white"
    )
    try:
        for ax, (currency, curve) in zip(axes[:, 0], curves.items(), strict=True):
            _draw(ax, currency, curve, FuncFormatter(partial(_money, _decimals(currency, curve))))
        bottom = axes[-1, 0]
        locator = AutoDateLocator()
        bottom.xaxis.set_major_locator(locator)
        bottom.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        fig.text(0.06, 0.985, title, ha="left", va="top", fontsize=13, fontweight="bold", color="#212121")
        if subtitle:
            fig.text(0.06, 0.95, subtitle, ha="left", va="top", fontsize=9.5, color="#616161")
        fig.subplots_adjust(left=0.06, right=0.9, top=0.9, bottom=0.08, hspace=0.25)
        buf = BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
        return buf.getvalue()
    finally:
        plt.close(fig)



def _draw(ax: Any, currency: str, curve: Curve, formatter: Any) -> None:
    times = [at for at, _ in curve]
    values = [value for _, value in curve]
    label = f"Realised P&L ({currency})" if currency else "Realised P&L"
    ax.set_facecolor("white")
    ax.step(times, values, where="post", color=EQUITY, linewidth=1.6, label=label)
    ax.fill_between(times, values, 0, step="post", where=[v >= 0 for v in values], color=UP, alpha=0.12)
    ax.fill_between(times, values, 0, step="post", where=[v < 0 for v in values], color=DOWN, alpha=0.12)
    ax.axhline(0, color="#757575", linewidth=0.7, linestyle=":")
    ax.scatter(times[1:-1], values[1:-1], s=14, color=EQUITY, zorder=3)  # one dot per closing fill
    ax.yaxis.tick_right()
    ax.yaxis.set_major_formatter(formatter)
    ax.grid(True, color="#ececec", linewidth=0.8)
    for side in ("top", "left"):
        ax.spines[side].set_visible(False)
    for side in ("right", "bottom"):
        ax.spines[side].set_color("#b0b0b0")
    ax.tick_params(colors="#424242", labelsize=9)
    ax.legend(loc="upper left", fontsize=8, frameon=True, framealpha=0.8, edgecolor="#e0e0e0")


def _decimals(currency: str, curve: Curve) -> int:
    """Cents only where they matter: never for rupiah, not once the curve reaches the thousands."""
    biggest = max((abs(value) for _, value in curve), default=0.0)
    return 0 if money_decimals(currency) == 0 or biggest >= 1000 else 2


def _money(decimals: int, value: float, _pos: object) -> str:
    return f"{value:,.{decimals}f}"
