"""Benchmark ``/market`` with a chart and three indicators, and start-up to the first reply.

Runs offline on the shipped sample data with a throw-away SQLite database, so the figures
measure our own work (cache, indicators, chart, registry), not a provider's latency.

    .venv/bin/python bench/market.py [--runs 50] [--no-peer] [--no-startup]

Targets (issue 2): warm median under 300 ms; a fresh process to its first reply under 3 s.
Issue 11: the reply with its chart re-rendered (what a new candle costs) under 100 ms median. The
previous renderer on mplfinance (``bench/mplfinance_chart.py``) is timed in the same run, run for
run alternating with ours on the same bars, and the ratio printed (``--no-peer`` skips it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's code, not whichever one the venv has installed
LINE = "/market BBCA 1d 1y rsi macd ema:50"
WARM_TARGET_MS = 300.0
RERENDER_TARGET_MS = 100.0
STARTUP_TARGET_S = 3.0


def _peer() -> object | None:
    """The mplfinance renderer, when mplfinance is installed."""
    try:
        sys.path.insert(0, str(ROOT / "bench"))
        import mplfinance_chart
    except ImportError:
        return None
    return mplfinance_chart.render_candles


async def in_process(
    runs: int, workdir: Path, peer: object | None
) -> tuple[float, list[float], list[float], list[float], dict[str, list[float]]]:
    os.environ["DATABASE_URL"] = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    os.environ["RATE_LIMIT_PER_MINUTE"] = "0"  # one user firing 50 charts: measure, do not throttle
    from bots.console.transport import Console
    from core.app import Core

    started = time.perf_counter()
    core = await Core.start()
    console = await Console.open(core, workdir / "out")
    reply = await console.handle(LINE)
    cold = time.perf_counter() - started
    assert not reply.error and reply.images, reply.text
    timings = []
    for _ in range(runs):
        t0 = time.perf_counter()
        reply = await console.handle(LINE)
        timings.append((time.perf_counter() - t0) * 1000)
        assert reply.images
    from core.charts import candles as charts

    ours = charts.render_candles
    rendered: list[float] = []  # the same, but the chart is drawn every time (what a new candle costs)
    old: list[float] = []  # ... by the mplfinance renderer, alternating run for run with ours
    for _ in range(runs):
        for renderer, times in ((ours, rendered), (peer, old)):
            if renderer is None:
                continue
            charts.render_candles = renderer  # render_candles_async looks it up at each call
            core.charts.forget()
            t0 = time.perf_counter()
            reply = await console.handle(LINE)
            times.append((time.perf_counter() - t0) * 1000)
            assert reply.images
    charts.render_candles = ours
    fetches = core.market.cache.fetches
    chart_only = await _chart_only(core, runs, peer)
    await core.close()
    assert fetches == 1, f"warm runs fetched again ({fetches} fetches)"
    return cold, timings, rendered, old, chart_only


async def _chart_only(core: object, runs: int, peer: object | None) -> dict[str, list[float]]:
    """The chart of the same reply alone (same bars, same indicators), ours and the peer's."""
    from core.charts.candles import render_candles
    from core.market.indicator_compute import compute_many

    candles = await core.market.candles("BBCA", "1d", "1y")  # type: ignore[attr-defined]
    results = compute_many(candles.frame, ["rsi", "macd", "ema:50"])
    settings = core.settings  # type: ignore[attr-defined]
    size = {"width_px": settings.chart_width_px, "height_px": settings.chart_height_px,
            "max_candles": settings.chart_max_candles}  # fmt: skip
    out: dict[str, list[float]] = {"ours": [], "mplfinance": []}
    for _ in range(runs):
        for name, renderer in (("ours", render_candles), ("mplfinance", peer)):
            if renderer is None:
                continue
            t0 = time.perf_counter()
            renderer(candles, results, **size)  # type: ignore[operator]
            out[name].append((time.perf_counter() - t0) * 1000)
    return out


def startup(workdir: Path, runs: int = 5) -> list[float]:
    exe = ROOT / ".venv" / "bin" / "stoxlify"
    # without this checkout's own venv (a git worktree), the running interpreter on this checkout
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "bots.cli"]
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'startup.db'}"}
    if not exe.exists():
        env["PYTHONPATH"] = str(ROOT)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run(
            [*command, "say", "/market BBCA 1d", "--out", str(workdir / "say")],
            env=env, capture_output=True, text=True, cwd=workdir, check=False,
        )
        times.append(time.perf_counter() - t0)
        if done.returncode != 0:
            sys.exit(f"stoxlify say failed: {done.stdout}{done.stderr}")
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--no-peer", action="store_true", help="skip the mplfinance reference renderer")
    parser.add_argument("--no-startup", action="store_true", help="skip the fresh-process start-up runs")
    args = parser.parse_args()
    peer = None if args.no_peer else _peer()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        cold, warm, rendered, old, chart_only = asyncio.run(in_process(args.runs, workdir, peer))
        boots = [] if args.no_startup else startup(workdir)
    median = statistics.median(warm)
    drawn = statistics.median(rendered)
    print(f"/market with chart + 3 indicators ({LINE!r}), sample data, {args.runs} warm runs")
    print(f"  cold first call (core start + fetch + indicators + chart): {cold * 1000:8.1f} ms")
    print(f"  warm median: {median:8.1f} ms   p95: {p95(warm):8.1f} ms   "
          f"target {WARM_TARGET_MS:.0f} ms -> {median / WARM_TARGET_MS:.2f}x of budget")
    print(f"  warm, chart re-rendered each run: median {drawn:8.1f} ms   p95: {p95(rendered):8.1f} ms   "
          f"target {RERENDER_TARGET_MS:.0f} ms -> {drawn / RERENDER_TARGET_MS:.2f}x of budget")
    if old:
        before = statistics.median(old)
        print(f"    the same with the mplfinance renderer (same run, alternating): median {before:8.1f} ms   "
              f"p95: {p95(old):8.1f} ms   -> ours is {before / drawn:.2f}x faster")
    ours, theirs = chart_only["ours"], chart_only["mplfinance"]
    line = f"  chart alone (render_candles, same bars): median {statistics.median(ours):6.1f} ms"
    if theirs:
        line += (f"   mplfinance {statistics.median(theirs):6.1f} ms"
                 f"   -> {statistics.median(theirs) / statistics.median(ours):.2f}x faster")
    print(line)
    if not boots:
        return
    boot = statistics.median(boots)
    print(f"start-up to first reply (`stoxlify say \"/market BBCA 1d\"`, fresh process, median of {len(boots)}):")
    print(f"  {boot:6.2f} s (min {min(boots):.2f} s)   target {STARTUP_TARGET_S:.0f} s -> "
          f"{boot / STARTUP_TARGET_S:.2f}x of budget")


if __name__ == "__main__":
    main()
