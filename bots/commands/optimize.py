"""/optimize: a grid of a model's inputs backtested, the best sets ranked in-sample and checked out-of-sample."""

from __future__ import annotations

import math

from bots.commands import registry
from bots.commands.market import INTERVAL, RANGE, TICKER
from bots.commands.results import bar_time, heading
from bots.registry import Arg, Context, UsageError
from core import format as fmt
from core.message import Button, Image, Message
from core.model import service as models
from core.model.optimize import (
    DEFAULT_TOP,
    IN_SAMPLE,
    MAX_COMBOS,
    MAX_TOP,
    Candidate,
    Metric,
    Optimization,
    metric_value,
    optimize,
)

METRICS = ", ".join(m.code for m in Metric)


def _options(words: list[str]) -> tuple[list[str], Metric, int]:
    """``by=`` and ``top=`` taken out of the grid's words."""
    metric, top, rest = Metric.SHARPE, DEFAULT_TOP, []
    for word in words:
        key, eq, value = word.partition("=")
        if eq and key.lower() == "by":
            metric = Metric.of(value)
        elif eq and key.lower() == "top":
            if not value.isdigit() or not 1 <= int(value) <= MAX_TOP:
                raise UsageError(f"top= takes a whole number from 1 to {MAX_TOP}, not '{value}'")
            top = int(value)
        else:
            rest.append(word)
    if not rest:
        raise UsageError("give at least one input a range to optimise, e.g. fast=5..50")
    return rest, metric, top


@registry.command(
    "optimize",
    "Backtest a grid of a model's inputs: the best sets, a heatmap and an overfitting check",
    Arg("name", "the model's name (see /models)", suggest="model"),
    TICKER,
    INTERVAL,
    RANGE,
    Arg("ranges", f"input ranges: fast=5..50 slow=10..200:5 (at most {MAX_COMBOS:,} sets); by={METRICS} "
        f"(default sharpe); top=1..{MAX_TOP}", many=True, default=[]),
    group="Models",
    examples=("/optimize ema_cross BBCA 1d 2y fast=5..30 slow=20..100:5",
              "/optimize ema_cross BTCUSDT 4h 1y fast=5..50:5 slow=10..200:10 by=return top=3"),
    expensive=True,
)
async def optimize_(ctx: Context, name: str, ticker: str, interval: str, range: str | None, ranges: list[str]) -> Message:
    words, metric, top = _options(ranges)
    view = await models.get_model(ctx.core.db, ctx.actor, name)
    found = await optimize(ctx.core, ctx.actor, view, ticker, interval, range, words, metric=metric, top=top)
    reply = render_optimization(found, range)
    best = found.best[0]
    run = run_command(found, best, ticker, interval, range)
    return Message(reply.text, images=reply.images, buttons=[[Button("Run the best set", run)]])


def values_text(found: Optimization, candidate: Candidate) -> str:
    return " ".join(f"{name}={value:g}" for name, value in zip(found.names, candidate.values, strict=True))


def run_command(found: Optimization, candidate: Candidate, ticker: str, interval: str, range_: str | None) -> str:
    return " ".join(p for p in ("/run", found.label, ticker, interval, range_ or "", values_text(found, candidate)) if p)


def _num(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else "n/a"


def render_optimization(found: Optimization, range_: str | None) -> Message:
    """The best sets, one line each: the metric in-sample and out-of-sample, then the whole range's
    return, trades and drawdown (``/run``'s figures for that set); the warnings; the heatmap."""
    candles = found.candles
    metric = found.metric
    sizes = " × ".join(f"{name} ({len(values)})" for name, values in found.grid.ranges.items())
    lines = [f"Optimise {heading(found.label, candles, range_)}",
             f"Grid: {sizes}: {found.tested:,} set(s) tested"
             + (f", {found.skipped:,} with fast ≥ slow skipped" if found.skipped else "")
             + (f", {found.refused} refused by the model" if found.refused else "") + "."]  # fmt: skip
    split = bar_time(found.split_at, candles, zone=True)  # in the exchange's time, as the heading
    lines.append(f"Ranked by {metric.title} on the first {IN_SAMPLE:.0%} (in-sample, before {split}); "
                 "out-of-sample is the rest, unseen when ranking.")  # fmt: skip
    lines.append("")
    for rank, c in enumerate(found.best, 1):
        whole = c.whole
        lines.append(
            f"{rank}. {values_text(found, c)} · {metric.title} in {_num(metric_value(c.in_sample, metric))}"
            f" / out {_num(metric_value(c.out_sample, metric))}"
            f" · Return {fmt.signed(whole.get('Return [%]'), 2, ' %')}"
            f" · Trades {whole.get('# Trades', 0)}"
            f" · Max drawdown {fmt.signed(whole.get('Max. Drawdown [%]'), 2, ' %')}"
        )  # fmt: skip
    lines.append("")
    lines.append("Return, trades and drawdown are over the whole range, as /run shows them.")
    for warning in found.warnings:
        lines.append(f"⚠ {warning}")
    if candles.sample:
        lines.append(fmt.SAMPLE_NOTE)
    images = []
    if found.heatmap:
        x, y = found.names[0], found.names[1]
        images.append(Image(found.heatmap, f"{found.label}_{candles.instrument.display}_heatmap.png",
                            f"In-sample {metric.title} over {x} and {y}"))  # fmt: skip
    return Message("\n".join(lines), images=images)
