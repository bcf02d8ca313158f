"""Benchmark ``/market`` with a chart and three indicators, and start-up to the first reply.

Runs offline on the shipped sample data with a throw-away SQLite database, so the figures
measure our own work (cache, indicators, chart, registry), not a provider's latency.

    .venv/bin/python bench/market.py [--runs 50]

Targets (issue 2): warm median under 300 ms; a fresh process to its first reply under 3 s.
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
LINE = "/market BBCA 1d 1y rsi macd ema:50"
WARM_TARGET_MS = 300.0
STARTUP_TARGET_S = 3.0


async def in_process(runs: int, workdir: Path) -> tuple[float, list[float], list[float]]:
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
    rendered = []  # the same, but the chart is drawn every time (what a new candle costs)
    for _ in range(runs):
        core.market._charts.clear()
        t0 = time.perf_counter()
        reply = await console.handle(LINE)
        rendered.append((time.perf_counter() - t0) * 1000)
    fetches = core.market.cache.fetches
    await core.close()
    assert fetches == 1, f"warm runs fetched again ({fetches} fetches)"
    return cold, timings, rendered


def startup(workdir: Path, runs: int = 5) -> list[float]:
    exe = ROOT / ".venv" / "bin" / "stoxlify"
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'startup.db'}"}
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run(
            [str(exe), "say", "/market BBCA 1d", "--out", str(workdir / "say")],
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        cold, warm, rendered = asyncio.run(in_process(args.runs, workdir))
        boots = startup(workdir)
    median = statistics.median(warm)
    boot = statistics.median(boots)
    print(f"/market with chart + 3 indicators ({LINE!r}), sample data, {args.runs} warm runs")
    print(f"  cold first call (core start + fetch + indicators + chart): {cold * 1000:8.1f} ms")
    print(f"  warm median: {median:8.1f} ms   p95: {p95(warm):8.1f} ms   "
          f"target {WARM_TARGET_MS:.0f} ms -> {median / WARM_TARGET_MS:.2f}x of budget")
    print(f"  warm, chart re-rendered each run: median {statistics.median(rendered):8.1f} ms   "
          f"p95: {p95(rendered):8.1f} ms   -> {statistics.median(rendered) / WARM_TARGET_MS:.2f}x of budget")
    print(f"start-up to first reply (`stoxlify say \"/market BBCA 1d\"`, fresh process, median of {len(boots)}):")
    print(f"  {boot:6.2f} s (min {min(boots):.2f} s)   target {STARTUP_TARGET_S:.0f} s -> "
          f"{boot / STARTUP_TARGET_S:.2f}x of budget")


if __name__ == "__main__":
    main()
