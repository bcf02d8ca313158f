"""A metric over a grid of two inputs, as a PNG: /optimize's picture of where the good sets lie.

A broad bright plateau is a robust choice; a lone bright cell among dark ones is a set fitted to
noise. Drawn on the compute plane (matplotlib, imported on first use), one render at a time.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np

from core.charts.candles import DPI, RENDER_LOCK, _check_size

#: Cells labelled with their value when the grid has at most this many (else only the colours).
LABEL_CELLS = 150
#: Tick labels per axis at most (every n-th value beyond).
MAX_TICKS = 20


def _ticks(values: Sequence[float | int]) -> tuple[list[int], list[str]]:
    step = max(1, math.ceil(len(values) / MAX_TICKS))
    at = list(range(0, len(values), step))
    return at, [f"{values[i]:g}" for i in at]


def render_heatmap(
    x_name: str,
    x_values: Sequence[float | int],
    y_name: str,
    y_values: Sequence[float | int],
    values: np.ndarray,
    title: str,
    metric: str,
    width_px: int,
    height_px: int,
) -> bytes:
    """``values[row, col]`` is the metric at ``y_values[row]``, ``x_values[col]`` (NaN: not tested,
    drawn blank). The best cell is outlined. Exactly ``width_px`` x ``height_px`` pixels."""
    _check_size(width_px, height_px)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    grid = np.asarray(values, dtype=float)
    with RENDER_LOCK:
        fig = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI, facecolor="white")
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.08, 0.09, 0.80, 0.82))
        bar = fig.add_axes((0.90, 0.09, 0.02, 0.82))
        masked = np.ma.masked_invalid(grid)
        finite = grid[np.isfinite(grid)]
        # red below 0, green above, when the grid spans both: a losing set never looks green
        norm = TwoSlopeNorm(0.0) if len(finite) and finite.min() < 0 < finite.max() else None
        image = ax.imshow(masked, origin="lower", aspect="auto", cmap="RdYlGn", interpolation="nearest", norm=norm)
        fig.colorbar(image, cax=bar, label=metric)
        at, labels = _ticks(x_values)
        ax.set_xticks(at, labels, rotation=90 if len(at) > 12 else 0)
        at, labels = _ticks(y_values)
        ax.set_yticks(at, labels)
        ax.set_xlabel(x_name)
        ax.set_ylabel(y_name)
        ax.set_title(title, fontsize=11)
        if np.isfinite(grid).any():
            row, col = np.unravel_index(int(np.nanargmax(grid)), grid.shape)
            ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=2))
            if grid.size <= LABEL_CELLS:
                for (r, c), v in np.ndenumerate(grid):
                    if math.isfinite(v):
                        ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=7)
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=DPI)
        return out.getvalue()


__all__ = ["render_heatmap"]
