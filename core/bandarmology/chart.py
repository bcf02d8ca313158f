"""The broker summary as a PNG: top buyers against top sellers, the net flow and the verdict.

Two panels side by side with horizontal bars by value, buyers green on the left, sellers red
on the right, rank 1 at the top; the heading names the verdict and the net flow, and its second
line names the source and always says SAMPLE DATA for the synthetic sample. Drawn with plain
matplotlib on the compute plane, one render at a time per process (``core.charts.candles.RENDER_LOCK``:
matplotlib is not thread-safe).
"""

from __future__ import annotations

from datetime import datetime
from io import BytesIO
from typing import Any

from core.bandarmology.types import BrokerSummary, Player, Verdict
from core.charts.candles import DOWN, UP, _compact, _pyplot, one_render_at_a_time

DPI = 100
SHOWN = 10  # bars per side
VERDICT_COLOURS = {
    Verdict.BIG_ACC: "#1b5e20",
    Verdict.ACC: UP,
    Verdict.NEUTRAL: "#616161",
    Verdict.DIST: DOWN,
    Verdict.BIG_DIST: "#b71c1c",
}


@one_render_at_a_time
def render_summary(summary: BrokerSummary, *, width_px: int = 1200, height_px: int = 700) -> bytes:
    """PNG bytes of ``summary`` (see the module docstring)."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(width_px / DPI, height_px / DPI), dpi=DPI)
    try:
        fig.patch.set_facecolor("white")
        fig.subplots_adjust(left=0.08, right=0.97, top=0.80, bottom=0.08, wspace=0.35)
        idx = summary.market == "idx"
        slots = max(len(summary.buyers[:SHOWN]), len(summary.sellers[:SHOWN]), 5 if idx else 2)
        top = max([p.value for p in summary.buyers[:SHOWN] + summary.sellers[:SHOWN]] + [1.0])
        _bars(left, summary.buyers, UP, "Top buyers" if idx else "Taker buys", summary, slots, top)
        _bars(right, summary.sellers, DOWN, "Top sellers" if idx else "Taker sells", summary, slots, top)
        first, second = heading(summary)
        fig.text(0.08, 0.975, first, ha="left", va="top", fontsize=14, fontweight="bold",
                 color=VERDICT_COLOURS[summary.verdict])  # fmt: skip
        fig.text(0.08, 0.915, second, ha="left", va="top", fontsize=10,
                 color="#c62828" if summary.sample else "#616161",
                 fontweight="bold" if summary.sample else "normal")  # fmt: skip
        buf = BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
        return buf.getvalue()
    finally:
        plt.close(fig)



def heading(summary: BrokerSummary) -> tuple[str, str]:
    """The chart's two heading lines: verdict and net flow, then window and source."""
    sign = "+" if summary.net_value >= 0 else "-"
    who = "top 3" if summary.market == "idx" else "large takers"
    first = (
        f"{summary.ticker} · {summary.verdict.value} ({summary.verdict.meaning}) · "
        f"net {who} {sign}{_compact(abs(summary.net_value))} {summary.currency}"
    )
    second = f"{window_text(summary)} · {summary.provider}"
    if summary.foreign_net is not None:
        second += f" · foreign net {_signed(summary.foreign_net)}"
    if summary.sample:
        second += " · SAMPLE DATA (synthetic)"
    return first, second


def window_text(summary: BrokerSummary) -> str:
    start, end = summary.start, summary.end
    if isinstance(start, datetime) and isinstance(end, datetime):
        if start.date() == end.date():
            return f"{start:%d %b %Y %H:%M}–{end:%H:%M} UTC"
        return f"{start:%d %b %H:%M} – {end:%d %b %Y %H:%M} UTC"
    if start == end:
        return f"{start:%d %b %Y}"
    days = f" ({summary.days} days)" if summary.days else ""
    return f"{start:%d %b} – {end:%d %b %Y}{days}"


def _bars(
    ax: Any,
    players: tuple[Player, ...],
    colour: str,
    title: str,
    summary: BrokerSummary,
    slots: int,
    top: float,
) -> None:
    """One side's bars; both sides share ``slots`` rows and the x scale up to ``top``, so they compare."""
    from matplotlib.ticker import FuncFormatter

    rows = players[:SHOWN]
    ax.set_title(title, loc="left", fontsize=11, fontweight="bold", color="#212121")
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    ax.spines["left"].set_color("#b0b0b0")
    ax.spines["bottom"].set_color("#b0b0b0")
    ax.tick_params(colors="#424242", labelsize=9)
    if not rows:
        ax.text(0.5, 0.5, "none", ha="center", va="center", transform=ax.transAxes, color="#9e9e9e")
        ax.set_xticks([])
        ax.set_yticks([])
        return
    values = [p.value for p in rows]
    positions = [slots - 1 - i for i in range(len(rows))]  # rank 1 at the top
    ax.barh(positions, values, color=colour, alpha=0.9, height=0.7)
    ax.set_yticks(positions, [_label(p, summary) for p in rows])
    ax.set_ylim(-0.6, slots - 0.4)
    ax.set_xlim(0, top * 1.35)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _compact(x)))
    ax.grid(axis="x", color="#ececec")
    ax.set_axisbelow(True)
    for y, p in zip(positions, rows, strict=True):
        avg = f" @ {p.avg_price:,.0f}" if p.avg_price is not None and summary.market == "idx" else ""
        ax.text(
            p.value + top * 0.02, y, f"{_compact(p.value)}{avg}", va="center", fontsize=8.5, color="#424242"
        )


def _label(player: Player, summary: BrokerSummary) -> str:
    if summary.market == "crypto":
        return f"{player.code.title()} takers\n{player.trades or 0:,} trades"
    return f"{player.code} ({player.investor})" if player.investor else player.code


def _signed(value: float) -> str:
    return ("+" if value >= 0 else "-") + _compact(abs(value))
