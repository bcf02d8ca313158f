"""/optimize through the registry on the shipped sample data: the reply, its best set checked against
backtests of every set run one by one, the out-of-sample warning, the heatmap, and bad input."""

from __future__ import annotations

import io
import math
import re

import numpy as np
from PIL import Image as PILImage

from core.backtest.engine import run_backtest
from core.backtest.report import config_for, trading_start
from core.model.optimize import IN_SAMPLE
from core.script import evaluate_source

SMA_CROSS = 'f = sma(close, input("fast", 10))\ns = sma(close, input("slow", 30))\nbuy = crossover(f, s)\nsell = crossunder(f, s)\n'
USAGE = "Usage: /optimize NAME TICKER [INTERVAL] [RANGE] RANGES..."
_LINE = re.compile(r"^(\d+)\. fast=(\d+) slow=(\d+) · (.+?) in (\S+) / out (\S+) · Return (\S+) % · Trades (\d+) · "
                   r"Max drawdown (\S+) %$")  # fmt: skip


def _best_lines(text: str) -> list[re.Match[str]]:
    return [m for line in text.splitlines() if (m := _LINE.match(line))]


async def _in_sample_sharpes(console, fasts, slows) -> dict[tuple[int, int], float]:
    """Each set's in-sample Sharpe from its own backtest: the script evaluated alone (no shared
    indicators) on /run's history, the first 70 % of the traded range backtested with /run's account."""
    shown, history = await console.core.market.candles_with_history("BBCA", "1d", "2y")
    frame = history.frame
    start = trading_start(shown, frame)
    split = start + int((len(frame) - start) * IN_SAMPLE)
    config = config_for(shown.instrument, console.core.settings)
    out = {}
    for fast in fasts:
        for slow in slows:
            if fast >= slow:
                continue
            result = evaluate_source(SMA_CROSS, frame, {"fast": fast, "slow": slow})
            part = frame.iloc[start:split]
            first = max(0, min(result.warmup - start, len(part) - 1))
            buy, sell = (np.asarray(s, dtype=bool)[start:split] for s in (result.buy, result.sell))
            out[fast, slow] = float(run_backtest(part, buy, sell, config=config, warmup=first).stats["Sharpe Ratio"])
    return out


async def test_the_reply_ranks_the_sets_and_its_best_is_the_best(console):
    await console.handle("/model save smac\n" + SMA_CROSS)
    reply = await console.handle("/optimize smac BBCA 1d 2y fast=4..20:4 slow=10..60:10")
    assert not reply.error, reply.text
    lines = reply.text.splitlines()
    assert lines[0].startswith("Optimise smac · BBCA 1d · 2y")
    assert lines[1] == "Grid: fast (5) × slow (6): 26 set(s) tested, 4 with fast ≥ slow skipped."
    assert "Ranked by Sharpe on the first 70% (in-sample, before " in lines[2]
    best = _best_lines(reply.text)
    assert [int(m[1]) for m in best] == [1, 2, 3, 4, 5]
    sharpes = await _in_sample_sharpes(console, range(4, 21, 4), range(10, 61, 10))
    assert len(sharpes) == 26
    ranked = sorted(sharpes.items(), key=lambda kv: -kv[1] if math.isfinite(kv[1]) else math.inf)
    top = ranked[0]
    assert (int(best[0][2]), int(best[0][3])) == top[0]
    assert best[0][5] == f"{top[1]:.2f}"
    shown = [float(m[5]) for m in best]
    assert shown == sorted(shown, reverse=True)  # in-sample metric, best first
    assert [f"{v:.2f}" for _, v in ranked[:5]] == [m[5] for m in best]
    assert any(b.command == f"/run smac BBCA 1d 2y fast={best[0][2]} slow={best[0][3]}" for row in reply.buttons for b in row)

    # what /optimize shows for a set is what /run shows for it
    run = await console.handle(f"/run smac BBCA 1d 2y fast={best[0][2]} slow={best[0][3]}")
    assert f"Return {best[0][7]} %" in run.text
    assert f"Max drawdown {best[0][9]} % · Trades {best[0][8]} ·" in run.text


async def test_the_heatmap_is_a_png_of_the_chart_size(console):
    await console.handle("/model save smac\n" + SMA_CROSS)
    reply = await console.handle("/optimize smac BBCA 1d 2y fast=4..20:4 slow=10..60:10 by=return top=3")
    assert not reply.error, reply.text
    assert "Ranked by Return % on the first 70%" in reply.text and len(_best_lines(reply.text)) == 3
    [image] = reply.images
    picture = PILImage.open(io.BytesIO(image.data))
    assert picture.format == "PNG"
    assert picture.size == (console.core.settings.chart_width_px, console.core.settings.chart_height_px)
    assert image.caption == "In-sample Return % over fast and slow"
    # the picture is not blank: the grid's colours span red to green
    pixels = np.asarray(picture.convert("RGB"), dtype=int)
    assert (pixels[..., 0] - pixels[..., 1] > 80).any() and (pixels[..., 1] - pixels[..., 0] > 80).any()


async def test_one_range_gives_no_heatmap(console):
    await console.handle("/model save smac\n" + SMA_CROSS)
    reply = await console.handle("/optimize smac BBCA 1d 2y fast=4..12:2 slow=40")
    assert not reply.error, reply.text
    assert reply.images == [] and "Grid: fast (5): 5 set(s) tested." in reply.text


async def test_a_set_that_fails_out_of_sample_is_flagged(console):
    await console.handle("/model save smac\n" + SMA_CROSS)
    reply = await console.handle("/optimize smac BBCA 1d 2y fast=4..20:4 slow=10..60:10")
    best = _best_lines(reply.text)[0]
    in_sample, out_sample = float(best[5]), float(best[6]) if best[6] != "n/a" else math.nan
    # on the sample data the in-sample winner does not hold up: the reply must say so
    assert in_sample > 0 and not out_sample >= in_sample * 0.5
    assert f"⚠ out-of-sample Sharpe {best[6]} against {best[5]} in-sample" in reply.text
    assert "likely fitted to noise" in reply.text


async def test_too_few_trades_are_flagged(console):
    await console.handle("/model save smac\n" + SMA_CROSS)
    reply = await console.handle("/optimize smac BBCA 1d 2y fast=40..50:10 slow=150..160:10")
    assert not reply.error, reply.text
    assert re.search(r"⚠ only \d trade\(s\) in-sample: too few", reply.text)


async def test_bad_input_replies_with_the_usage(console):
    await console.handle("/model save smac\n" + SMA_CROSS)
    cases = {
        "/optimize smac BBCA 1d 2y fast=50..5": "the range fast=50..5 runs backwards",
        "/optimize smac BBCA 1d 2y fast=1..100 slow=1..100": "10,000 combinations is too many: at most 2,000",
        "/optimize smac BBCA 1d 2y fsat=5..50": "the model has no input 'fsat' — did you mean 'fast'?",
        "/optimize smac BBCA 1d 2y fast=5..50 by=luck": "unknown metric 'luck'",
        "/optimize smac BBCA 1d 2y fast=5..50 top=99": "top= takes a whole number from 1 to 10",
        "/optimize smac BBCA 1d 2y": "missing RANGES: input ranges: fast=5..50",
        "/optimize smac BBCA 1d 2y fast=10": "give at least one input a range to optimise",
    }
    for command, says in cases.items():
        reply = await console.handle(command)
        assert reply.error, command
        assert says in reply.text, (command, reply.text)
        assert USAGE in reply.text, (command, reply.text)
    missing = await console.handle("/optimize nope BBCA 1d 2y fast=5..50")
    assert missing.error and "you have no model 'nope'" in missing.text
    await console.handle('/model save ind\nplot(sma(close, input("n", 5)))')
    indicator = await console.handle("/optimize ind BBCA 1d 2y n=5..10")
    assert indicator.error and "'ind' is an indicator model" in indicator.text
    short = await console.handle("/optimize smac BBCA 1d 1mo fast=5..10 slow=20")
    assert short.error and "too few to split" in short.text
