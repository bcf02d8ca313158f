"""Optimise a model's inputs: a grid of values, each set backtested, ranked in-sample, checked out-of-sample.

``/optimize ema_cross BBCA 1d 2y fast=5..50 slow=10..200:5 by=sharpe`` backtests every combination of
the ranged inputs on the same bars ``/run`` would use. The traded range is split in time: the sets are
ranked by the chosen metric on the first :data:`IN_SAMPLE` share of it (in-sample) and the ranking is
then checked on the rest (out-of-sample), which was not used to pick them; a set that only shines
in-sample is fitted to noise, and the reply says so. The best sets' figures over the whole range are
computed exactly as ``/run`` computes them (same history, signals, engine and account), so what
``/optimize`` shows for a set is what ``/run`` with those inputs shows.

The grid runs on the compute plane in chunks (:func:`evaluate_grid`, several tasks a user's budget
counts), so the event loop only waits; each chunk evaluates the script once per set with indicators
shared between sets (an ``sma(close, 20)`` is computed once per chunk, whatever the other inputs), and
backtests it with ``backtest_stats``: the engine's run and statistics on its arrays, without the trades
frame, equity series and table ``run_backtest`` builds around the same figures (a set of the grid shows
none of them, and on a grid they cost more than the backtest).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.actor import Actor
from core.backtest.engine import (
    BacktestConfig,
    BacktestResult,
    PreparedBars,
    backtest_stats,
    prepare_bars,
    run_backtest,
)
from core.backtest.report import config_for, key_stats, trading_start
from core.compute import Compute, Task
from core.errors import Invalid
from core.labels import did_you_mean
from core.market.types import Candles
from core.model.service import ModelView
from core.services import Services

#: Most combinations one /optimize may test (each is a backtest of the whole range).
MAX_COMBOS = 2_000
#: Share of the traded range the sets are ranked on; the rest is the out-of-sample check.
IN_SAMPLE = 0.7
#: Bars the out-of-sample part needs at least, so a split means something.
MIN_SPLIT_BARS = 20
#: Sets per compute task: small enough that a chunk ends well within the task time limit.
CHUNK_COMBOS = 125
#: Best sets a reply lists by default, and at most.
DEFAULT_TOP, MAX_TOP = 5, 10
#: Fewer closed trades than this in-sample: the figures are noise, the reply warns.
FEW_TRADES = 10
#: Out-of-sample below this share of the in-sample metric (when that is positive) reads as overfitted.
HOLDS_SHARE = 0.5


class Metric(enum.Enum):
    """What the sets are ranked by; every one is better when higher (drawdowns are negative)."""

    SHARPE = ("sharpe", "Sharpe Ratio", "Sharpe")
    SORTINO = ("sortino", "Sortino Ratio", "Sortino")
    CALMAR = ("calmar", "Calmar Ratio", "Calmar")
    RETURN = ("return", "Return [%]", "Return %")
    PROFIT_FACTOR = ("profit_factor", "Profit Factor", "Profit factor")
    WIN_RATE = ("win_rate", "Win Rate [%]", "Win rate %")
    SQN = ("sqn", "SQN", "SQN")
    EXPECTANCY = ("expectancy", "Expectancy [%]", "Expectancy %")
    DRAWDOWN = ("drawdown", "Max. Drawdown [%]", "Max drawdown %")

    def __init__(self, code: str, stat: str, title: str) -> None:
        self.code = code
        self.stat = stat
        self.title = title

    @classmethod
    def of(cls, code: str) -> Metric:
        for metric in cls:
            if metric.code == code.strip().lower():
                return metric
        names = ", ".join(m.code for m in cls)
        raise Invalid(f"unknown metric '{code}'{did_you_mean(code, [m.code for m in cls])} (by= one of {names})")


#: Figures kept for each set and part of the range (besides every metric's).
FIGURES = ("Return [%]", "# Trades", "Max. Drawdown [%]")
_KEPT = tuple(dict.fromkeys((*FIGURES, *(m.stat for m in Metric))))

Figures = dict[str, float | int | None]


@dataclass(frozen=True, slots=True)
class Grid:
    """The ranged inputs (name and values, in the order given), the fixed ones, and the sets to test."""

    ranges: dict[str, tuple[float | int, ...]]
    fixed: dict[str, Any]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.ranges)

    @property
    def size(self) -> int:
        return math.prod(len(v) for v in self.ranges.values())

    def combos(self) -> list[tuple[float | int, ...]]:
        """Every set of the ranged inputs' values, skipping those where ``fast >= slow`` when the
        script has both (a fast average at or above the slow one is the same cross, mirrored)."""
        names = self.names
        out = list(itertools.product(*self.ranges.values()))
        if "fast" in names and "slow" in names:
            f, s = names.index("fast"), names.index("slow")
            out = [c for c in out if c[f] < c[s]]
        elif "fast" in self.fixed and "slow" in names:
            s = names.index("slow")
            out = [c for c in out if self.fixed["fast"] < c[s]]
        elif "slow" in self.fixed and "fast" in names:
            f = names.index("fast")
            out = [c for c in out if c[f] < self.fixed["slow"]]
        return out


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise Invalid(f"{name}: '{text}' is not a number") from None
    if not math.isfinite(value):
        raise Invalid(f"{name}: '{text}' is not a finite number")
    return value


def parse_grid(declared: Mapping[str, Any], words: Sequence[str]) -> Grid:
    """``fast=5..50 slow=10..200:5 stop=0.02..0.1:0.02 filter=true`` against the script's inputs:
    ranges ``a..b`` with an optional ``:step`` (1 for whole-number inputs, required for fractional
    ones), or single values. ``Invalid`` names the first word that does not fit."""
    ranges: dict[str, tuple[float | int, ...]] = {}
    fixed: dict[str, Any] = {}
    for word in words:
        name, eq, text = word.partition("=")
        if not eq or not name or not text:
            raise Invalid(f"'{word}' is not an input range: write name=from..to, e.g. fast=5..50")
        if name not in declared:
            known = ", ".join(declared) or "none"
            raise Invalid(f"the model has no input '{name}'{did_you_mean(name, declared, case_sensitive=True)} "
                          f"(inputs: {known})")  # fmt: skip
        if name in ranges or name in fixed:
            raise Invalid(f"input {name} is given twice")
        default = declared[name]
        whole = isinstance(default, int) and not isinstance(default, bool)
        if ".." not in text:
            if isinstance(default, bool):
                if text.lower() not in ("true", "false"):
                    raise Invalid(f"input {name} is true or false, not '{text}'")
                fixed[name] = text.lower() == "true"
            else:
                value = _number(name, text)
                fixed[name] = int(value) if whole and value.is_integer() else value
            continue
        if isinstance(default, bool):
            raise Invalid(f"input {name} is true or false: it has no range (write {name}=true or {name}=false)")
        span, colon, step_text = text.partition(":")
        low_text, _, high_text = span.partition("..")
        low, high = _number(name, low_text), _number(name, high_text)
        step = _number(name, step_text) if colon else (1.0 if whole else math.nan)
        if math.isnan(step):
            raise Invalid(f"input {name} takes fractions: give the range a step, e.g. {name}={low_text}..{high_text}:0.01")
        if step <= 0:
            raise Invalid(f"the step of {name} must be above 0, got {step_text}")
        if low > high:
            raise Invalid(f"the range {name}={text} runs backwards: write {name}={high_text}..{low_text}")
        if whole and not (low.is_integer() and high.is_integer() and step.is_integer()):
            raise Invalid(f"input {name} is a whole number: its range and step must be whole numbers, not {text}")
        count = math.floor((high - low) / step + 1e-9) + 1
        if count > MAX_COMBOS:
            raise Invalid(_too_many(count))
        if whole:
            ranges[name] = tuple(int(low) + i * int(step) for i in range(count))
        else:
            ranges[name] = tuple(round(low + i * step, 10) for i in range(count))
    if not ranges:
        raise Invalid("give at least one input a range to optimise, e.g. fast=5..50")
    grid = Grid(ranges, fixed)
    if grid.size > MAX_COMBOS:
        raise Invalid(_too_many(grid.size))
    return grid


def _too_many(count: int) -> str:
    return (f"{count:,} combinations is too many: at most {MAX_COMBOS:,}. Narrow a range or give it a step, "
            "e.g. fast=5..50:5")  # fmt: skip


# --- on the compute plane ---------------------------------------------------------------------------


def _figures(stats: pd.Series | Mapping[str, Any], keys: Sequence[str] = _KEPT) -> Figures:
    out: Figures = {}
    for key in keys:
        value = stats.get(key)
        if isinstance(value, (int, np.integer)):
            out[key] = int(value)
        else:
            number = float(value) if isinstance(value, (float, np.floating)) else math.nan
            out[key] = number if math.isfinite(number) else None
    return out


def _part_signals(bars: PreparedBars, lo: int, result: Any, config: BacktestConfig) -> tuple[Any, ...]:
    """The backtest arguments of the bars ``bars`` (``[lo, lo + len)`` of the evaluated history), as
    ``/run`` trades its range (``core.backtest.report.backtest_report``): the signals over those bars,
    trading from the script's warm-up when it lies inside them."""
    part = bars.frame
    hi = lo + len(part)
    first = max(0, min(result.warmup - lo, len(part) - 1))
    buy, sell, short, cover = (None if s is None else np.asarray(s, dtype=bool)[lo:hi] for s in
                               (result.buy, result.sell, result.short, result.cover))  # fmt: skip
    run_config = dataclasses.replace(config, stop_loss=result.stop_loss, take_profit=result.take_profit)
    return part, buy, sell, short, cover, run_config, first


def _backtest_part(bars: PreparedBars, lo: int, result: Any, config: BacktestConfig) -> BacktestResult:
    """``/run``'s backtest of the part (see :func:`_part_signals`)."""
    part, buy, sell, short, cover, run_config, first = _part_signals(bars, lo, result, config)
    return run_backtest(part, buy, sell, short, cover, run_config, warmup=first, prepared=bars)


def _part_stats(bars: PreparedBars, lo: int, result: Any, config: BacktestConfig) -> dict[str, Any]:
    """The statistics of :func:`_backtest_part` (``backtest_stats``: the same run and figures, without
    the trades frame and equity series a grid's set does not show)."""
    part, buy, sell, short, cover, run_config, first = _part_signals(bars, lo, result, config)
    return backtest_stats(part, buy, sell, short, cover, run_config, warmup=first, prepared=bars)


def evaluate_grid(
    source: str,
    frame: pd.DataFrame,
    fixed: Mapping[str, Any],
    names: Sequence[str],
    combos: Sequence[Sequence[float | int]],
    parts: Sequence[tuple[int, int]],
    config: BacktestConfig,
    keys: Sequence[str] = _KEPT,
) -> list[tuple[Figures, ...] | None]:
    """Each set's figures (``keys`` of the statistics) on each part ``[lo, hi)`` of ``frame``, the
    script evaluated on all of it: for /optimize the in-sample and out-of-sample parts of the traded
    range. None for a set the script refuses (e.g. a length of 0). Runs in a compute worker.

    The script is evaluated once per set, its indicators shared between sets (the memo); each part's
    bars are checked and read once (``prepare_bars``). Every figure is the engine's own, as a backtest
    of that part alone gives it."""
    from core.script import ScriptError, evaluate, program_of

    program = program_of(source)
    memo: dict[tuple[Any, ...], Any] = {}  # indicators shared by every set of this chunk
    prepared = [(lo, prepare_bars(frame.iloc[lo:hi])) for lo, hi in parts]
    out: list[tuple[Figures, ...] | None] = []
    for values in combos:
        try:
            result = evaluate(program, frame, {**fixed, **dict(zip(names, values, strict=True))}, memo=memo)
        except ScriptError:
            out.append(None)
            continue
        out.append(tuple(_figures(_part_stats(bars, lo, result, config), keys) for lo, bars in prepared))
    return out


def whole_range_figures(
    source: str, frame: pd.DataFrame, inputs: Sequence[Mapping[str, Any]], start: int, config: BacktestConfig,
) -> list[Figures]:  # fmt: skip
    """Each input set's figures over the whole traded range: ``/run``'s backtest of those inputs."""
    from core.script import evaluate, program_of

    program = program_of(source)
    memo: dict[tuple[Any, ...], Any] = {}
    bars = prepare_bars(frame.iloc[start:])
    out: list[Figures] = []
    for given in inputs:
        result = evaluate(program, frame, given, memo=memo)
        stats = _backtest_part(bars, start, result, config).stats
        out.append({**_figures(stats), **key_stats(stats)})
    return out


async def grid_figures(
    compute: Compute,
    user_id: int | None,
    source: str,
    frame: pd.DataFrame,
    fixed: Mapping[str, Any],
    names: Sequence[str],
    combos: Sequence[Sequence[float | int]],
    parts: Sequence[tuple[int, int]],
    config: BacktestConfig,
    keys: Sequence[str] = _KEPT,
) -> list[tuple[Figures, ...] | None]:
    """:func:`evaluate_grid` over every set, in chunks of :data:`CHUNK_COMBOS` on the compute plane
    (tasks of ``user_id``'s budget, as many at once as the executor gives a user)."""
    chunks = [combos[i:i + CHUNK_COMBOS] for i in range(0, len(combos), CHUNK_COMBOS)]
    found = await asyncio.gather(*(
        compute.run(evaluate_grid, source, frame, fixed, names, chunk, parts, config, keys,
                    task=Task(user_id, label="the optimisation"))
        for chunk in chunks
    ))  # fmt: skip
    return [figures for part in found for figures in part]


# --- the service call ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """One tested set: its ranged values, in-sample and out-of-sample figures, and (for the best
    sets) the whole range's, which are ``/run``'s."""

    values: tuple[float | int, ...]
    in_sample: Figures
    out_sample: Figures
    whole: Figures = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Optimization:
    label: str
    candles: Candles  # the traded range
    grid: Grid
    metric: Metric
    tested: int  # sets backtested (the grid less the fast >= slow ones)
    refused: int  # sets the script refused
    skipped: int  # sets left out of the grid (fast >= slow)
    split_at: pd.Timestamp  # the first out-of-sample bar
    best: list[Candidate]
    heatmap: bytes | None
    warnings: list[str]

    @property
    def names(self) -> tuple[str, ...]:
        return self.grid.names


def metric_value(figures: Figures, metric: Metric) -> float:
    value = figures.get(metric.stat)
    return float(value) if value is not None else math.nan


def _rank_key(candidate: Candidate, metric: Metric) -> tuple[int, float, float]:
    value = metric_value(candidate.in_sample, metric)
    ret = metric_value(candidate.in_sample, Metric.RETURN)
    return (0 if math.isfinite(value) else 1, -value if math.isfinite(value) else 0.0, -ret if math.isfinite(ret) else 0.0)


def overfitting_warnings(best: Candidate, metric: Metric) -> list[str]:
    """What a trader should doubt about the best set: too few trades to mean anything, or an
    out-of-sample figure far below the in-sample one it was picked on."""
    out = []
    trades = best.in_sample.get("# Trades") or 0
    if trades < FEW_TRADES:
        out.append(f"only {trades} trade(s) in-sample: too few for the figures to mean much; widen the range")
    ins, oos = metric_value(best.in_sample, metric), metric_value(best.out_sample, metric)
    ret_in = metric_value(best.in_sample, Metric.RETURN)
    ret_out = metric_value(best.out_sample, Metric.RETURN)
    worse = (math.isfinite(ins) and ins > 0 and (not math.isfinite(oos) or oos < ins * HOLDS_SHARE)) or (
        ret_in > 0 and ret_out < 0)
    if worse:
        out.append(f"out-of-sample {metric.title} {_short(oos)} against {_short(ins)} in-sample "
                   f"(return {_short(ret_out)} % against {_short(ret_in)} %): the best set is likely fitted to "
                   "noise")  # fmt: skip
    return out


def _short(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.2f}"


async def optimize(
    services: Services,
    actor: Actor | None,
    model: ModelView,
    ticker: str,
    interval: str,
    range_: str | None,
    words: Sequence[str],
    *,
    metric: Metric = Metric.SHARPE,
    top: int = DEFAULT_TOP,
) -> Optimization:
    """Backtest every set of ``words``' grid (see :func:`parse_grid`) of ``model`` on ``ticker``,
    rank them by ``metric`` in-sample and check the best ones out-of-sample."""
    from core.charts.heatmap import render_heatmap
    from core.script import program_of

    program = program_of(model.source)
    if program.is_indicator:
        raise Invalid(f"'{model.label}' is an indicator model: it has no trades to optimise")
    grid = parse_grid(program.inputs, words)
    grid = dataclasses.replace(grid, fixed={**model.inputs, **grid.fixed})
    combos = grid.combos()
    if not combos:
        raise Invalid("no combination is left: every one has fast at or above slow")
    market = services.market
    shown, history = await market.candles_with_history(ticker, interval, range_)
    frame = history.frame
    start = trading_start(shown, frame)
    bars = len(frame) - start
    split = start + int(bars * IN_SAMPLE)
    if bars - (split - start) < MIN_SPLIT_BARS or split - start < MIN_SPLIT_BARS:
        raise Invalid(f"{bars} bars are too few to split into in-sample and out-of-sample parts: "
                      "ask for a longer range (e.g. 2y)")  # fmt: skip
    config = config_for(shown.instrument, services.settings)
    user_id = actor.user_id if actor is not None else None
    compute = market.compute
    parts = ((start, split), (split, len(frame)))
    results = await grid_figures(compute, user_id, model.source, frame, grid.fixed, grid.names, combos, parts, config)
    candidates: list[Candidate] = []
    refused = 0
    for values, found in zip(combos, results, strict=True):
        if found is None:
            refused += 1
        else:
            candidates.append(Candidate(tuple(values), found[0], found[1]))
    if not candidates:
        raise Invalid(f"the model refused every combination ({refused}): check the ranges")
    candidates.sort(key=lambda c: _rank_key(c, metric))
    best = candidates[:max(1, min(top, MAX_TOP))]
    inputs = [{**grid.fixed, **dict(zip(grid.names, c.values, strict=True))} for c in best]
    whole = await compute.run(whole_range_figures, model.source, frame, inputs, start, config,
                              task=Task(user_id, label="the optimisation"))  # fmt: skip
    best = [dataclasses.replace(c, whole=w) for c, w in zip(best, whole, strict=True)]
    traded = dataclasses.replace(shown, frame=frame.iloc[start:])
    heatmap = None
    if len(grid.names) >= 2:
        x_name, y_name, x_values, y_values, cells = heatmap_grid(grid, candidates, metric)
        title = f"{model.label} · {shown.instrument.display} {shown.interval} · in-sample {metric.title}"
        heatmap = await compute.run(render_heatmap, x_name, x_values, y_name, y_values, cells, title, metric.title,
                                    services.settings.chart_width_px, services.settings.chart_height_px,
                                    task=Task(user_id, label="the heatmap"))  # fmt: skip
    return Optimization(
        label=model.label, candles=traded, grid=grid, metric=metric, tested=len(candidates) + refused,
        refused=refused, skipped=grid.size - len(combos), split_at=frame.index[split], best=best, heatmap=heatmap,
        warnings=overfitting_warnings(best[0], metric),
    )  # fmt: skip


def heatmap_grid(
    grid: Grid, candidates: Sequence[Candidate], metric: Metric,
) -> tuple[str, str, tuple[float | int, ...], tuple[float | int, ...], np.ndarray]:  # fmt: skip
    """The in-sample metric over the first two ranged inputs (x, y); with more ranged inputs each
    cell holds the best over the others. Cells never tested (fast >= slow, refused) are NaN."""
    names = grid.names
    x_name, y_name = names[0], names[1]
    x_values, y_values = grid.ranges[x_name], grid.ranges[y_name]
    xi = {v: i for i, v in enumerate(x_values)}
    yi = {v: i for i, v in enumerate(y_values)}
    values = np.full((len(y_values), len(x_values)), np.nan)
    for c in candidates:
        value = metric_value(c.in_sample, metric)
        if not math.isfinite(value):
            continue
        row, col = yi[c.values[1]], xi[c.values[0]]
        if not value <= values[row, col]:  # NaN (empty) or lower: keep the best
            values[row, col] = value
    return x_name, y_name, x_values, y_values, values


__all__ = [
    "MAX_COMBOS", "Candidate", "Grid", "Metric", "Optimization", "evaluate_grid", "grid_figures", "heatmap_grid",
    "optimize",
    "overfitting_warnings", "parse_grid", "whole_range_figures",
]
