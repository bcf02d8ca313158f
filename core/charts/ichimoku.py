"""Ichimoku on a candle chart: where each of its five lines goes, and the cloud between the spans.

The senkou spans are displaced ``kijun`` bars ahead (26 for 9/26/52), counted as Hosoda, pandas-ta
and TradingView count it, the bar they are worked out on being the first: drawn ``kijun - 1`` bars
later, so the last ``kijun - 1`` of them lie past the last candle and the cloud shows where support
will be. The chikou span is the close drawn as many bars back. Only the chart shows those future
spans and the chikou span; the indicator's values (text, scripts, backtests) are pandas-ta's, causal:
a span on a bar is the one displaced onto it, and chikou is left out.

``ichimoku_layout`` is pure (tests read it directly); ``draw_ichimoku`` puts it on an axes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from core.charts.candles import ChartData
    from core.market.indicator_compute import IndicatorResult

# Tenkan and kijun in two blues, the spans in the candle colours (the cloud's colour says which leads),
# chikou in purple: TradingView's habits.
TENKAN = "#2962ff"
KIJUN = "#b71c1c"
CHIKOU = "#8e24aa"
CLOUD_UP = "#26a69a"
CLOUD_DOWN = "#ef5350"


@dataclass(frozen=True, slots=True)
class IchimokuLayout:
    """Ichimoku's lines in the chart's candle positions (x = 0 is the first candle drawn).

    ``span_x`` runs from the first candle to ``shift`` bars past the last one; ``span_a[i]`` and
    ``span_b[i]`` at ``span_x[i]`` are the spans worked out ``shift`` bars before it:
    ``span_a = (tenkan + kijun) / 2`` and ``span_b = (highest high + lowest low) / 2`` over ``senkou``
    bars. ``chikou`` (the close) at ``chikou_x`` is ``shift`` bars before its own bar.
    """

    tenkan_period: int
    displacement: int  # kijun: the spans' displacement as traders name it (the bar itself counted)
    shift: int  # kijun - 1: how many bars later a span is drawn than the bar it is worked out on
    senkou_period: int
    per_candle: int
    x: np.ndarray  # the candles, for tenkan and kijun
    tenkan: np.ndarray
    kijun: np.ndarray
    span_x: np.ndarray
    span_a: np.ndarray
    span_b: np.ndarray
    chikou_x: np.ndarray
    chikou: np.ndarray

    @property
    def right(self) -> float:
        """The last x the chart must show: the furthest span."""
        return float(self.span_x[-1]) if len(self.span_x) else float(len(self.x) - 1)


def _periods(result: IndicatorResult) -> tuple[int, int, int]:
    info = result.info
    values: dict[str, Any] = {p.name: p.default for p in info.params}
    values.update(zip((p.name for p in info.params), result.spec.args, strict=False))
    return int(values.get("tenkan") or 9), int(values.get("kijun") or 26), int(values.get("senkou") or 52)


def _midprice(frame: pd.DataFrame, length: int) -> pd.Series:
    return (frame["high"].rolling(length).max() + frame["low"].rolling(length).min()) / 2


def ichimoku_layout(result: IndicatorResult, bars: pd.DataFrame, chart: ChartData) -> IchimokuLayout:
    """Where ``result``'s lines go on ``chart``. ``bars`` are the candles charted (the chart's bars
    and any before them): the spans of the last ``kijun`` bars, not yet on any bar, come from them."""
    tenkan_n, kijun_n, senkou_n = _periods(result)
    shift = kijun_n - 1
    history = pd.DatetimeIndex(result.fields["tenkan"].index)
    tenkan_h = result.fields["tenkan"].to_numpy(dtype="float64")
    kijun_h = result.fields["kijun"].to_numpy(dtype="float64")
    # each span as worked out on its own bar: A from the lines, B over the history (from the field
    # displaced onto later bars) and, for the last ``shift`` bars, from the bars' highs and lows
    raw_a = (tenkan_h + kijun_h) / 2
    raw_b = result.fields["span_b"].shift(-shift).to_numpy(dtype="float64")
    own_b = _midprice(bars, senkou_n).reindex(history).to_numpy(dtype="float64")
    raw_b = np.where(np.isfinite(raw_b), raw_b, own_b)

    per = chart.per_candle
    first = int(history.searchsorted(chart.bars_index[0]))
    n_bars = len(chart.bars_index)
    last_bar = first + n_bars - 1  # the last charted bar's position in the history
    # bar positions q, charted from the first bar to ``shift`` bars past the last, each showing the
    # span worked out on bar q - shift
    q = np.arange(first, last_bar + shift + 1)
    src = q - shift
    ok = (src >= 0) & (src < len(history))
    span_a = np.full(len(q), np.nan)
    span_b = np.full(len(q), np.nan)
    span_a[ok] = raw_a[src[ok]]
    span_b[ok] = raw_b[src[ok]]
    keep = _one_a_candle(q - first, per)
    span_x = _x((q - first)[keep], per)

    bar = np.arange(n_bars)
    closes = bars["close"].reindex(chart.bars_index).to_numpy(dtype="float64")
    shown = _one_a_candle(bar, per)
    x = np.arange(len(chart.frame), dtype=float)
    return IchimokuLayout(
        tenkan_n, kijun_n, shift, senkou_n, per, x, chart.cut(result.fields["tenkan"]), chart.cut(result.fields["kijun"]),
        span_x, span_a[keep], span_b[keep], _x(bar[shown] - shift, per), closes[shown],
    )  # fmt: skip


def _x(bar: np.ndarray, per: int) -> np.ndarray:
    """Candle positions of bar positions (relative to the first charted bar): a candle of ``per``
    bars stands at its last bar."""
    return (bar - (per - 1)) / per if per > 1 else bar.astype(float)


def _one_a_candle(bar: np.ndarray, per: int) -> np.ndarray:
    """Which bars to draw when candles aggregate ``per`` bars: the last of each candle's worth (and
    the very last), so the lines are as smooth as the candles rather than a scribble of every bar."""
    if per == 1 or not len(bar):
        return np.ones(len(bar), dtype=bool)
    keep = (bar - (per - 1)) % per == 0
    keep[-1] = True
    return keep


def draw_ichimoku(ax: Any, layout: IchimokuLayout, label: str, legend: list[tuple[str, str]]) -> None:
    """The cloud (green where span A leads, red where B does), the spans, tenkan, kijun and chikou."""
    a, b, sx = layout.span_a, layout.span_b, layout.span_x
    both = np.isfinite(a) & np.isfinite(b)
    ax.fill_between(sx, a, b, where=both & (a >= b), interpolate=True, color=CLOUD_UP, alpha=0.18, linewidth=0)
    ax.fill_between(sx, a, b, where=both & (a < b), interpolate=True, color=CLOUD_DOWN, alpha=0.18, linewidth=0)
    ax.plot(sx, a, color=CLOUD_UP, linewidth=0.8)
    ax.plot(sx, b, color=CLOUD_DOWN, linewidth=0.8)
    ax.plot(layout.x, layout.tenkan, color=TENKAN, linewidth=1.1)
    ax.plot(layout.x, layout.kijun, color=KIJUN, linewidth=1.1)
    ax.plot(layout.chikou_x, layout.chikou, color=CHIKOU, linewidth=0.9, alpha=0.8)
    legend.extend([
        (f"{label} tenkan", TENKAN), ("kijun", KIJUN), (f"span A (+{layout.displacement})", CLOUD_UP),
        (f"span B (+{layout.displacement})", CLOUD_DOWN), (f"chikou (−{layout.displacement})", CHIKOU),
    ])  # fmt: skip
