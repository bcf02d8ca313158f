"""Benchmark a burst: 200 ``/market`` charts from 50 users, all fired at once.

Every request is a distinct chart (ticker, interval and indicator parameters vary, so neither the
chart cache nor the indicator results answer a repeat), e.g. ``/market BBRI 4h rsi:17 ema:27``.
The 50 users each have their own account and ``Console`` (one registry), so the commands go the
way Telegram/Discord send them, through the registry to ``MarketService.market_info`` and the
compute plane (two tasks a chart: the indicators, then the chart). Measured: each request's latency
from the moment the burst is fired (p50 / p95 / max) and charts per second (requests / time until
the last reply).

Executors, one after another in one invocation, each with a fresh ``Core``:

- ``COMPUTE=local``: the warm process pool of the bot, one worker per core;
- ``COMPUTE=queue`` with 1, 2 and 4 ``stoxlify worker`` processes (``python -m bots.cli worker``,
  ``COMPUTE_WORKERS=1`` each) started by this script against the Redis at ``--redis``, under a
  random ``REDIS_PREFIX`` whose keys are deleted at the end; workers are stopped (their process
  group) after each run;
- ``COMPUTE=inline``: threads of the bot's process, the peer.

Before each burst the executor is warmed (pool started, workers' pools started) with short
sleeping tasks (the script prints how many distinct worker processes those reached), then a few
other charts (each process builds its kept figures once); the bars are loaded before the clock starts.

    /work/main/.venv/bin/python bench/burst.py [--requests 200] [--users 50] [--workers 1,2,4]
                                               [--redis redis://127.0.0.1:6379/0] [--no-queue] [--quick]

Targets (issue 11): p95 < 10 s with the local pool; throughput grows with queue workers (on a
2-core machine 4 workers cannot beat 2: the output says so).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's code, not whichever one the venv has installed
sys.path.insert(1, str(ROOT / "bench"))  # bench/workers.py

from workers import cleanup, start_workers, stop_workers  # noqa: E402

P95_TARGET_S = 10.0
TICKERS = ("BTCUSDT", "ETHUSDT", "BBCA", "BBRI", "BMRI", "ASII", "TLKM", "GOTO", "JKSE")
INTERVALS = ("1h", "4h", "1d")


def lines(count: int, first: int = 0) -> list[str]:
    """``count`` distinct /market requests: every one has its own indicator parameters."""
    combos = itertools.cycle(itertools.product(INTERVALS, TICKERS))
    return [f"/market {ticker} {interval} rsi:{5 + i % 40} ema:{10 + first + i}"
            for i, (interval, ticker) in zip(range(count), combos, strict=False)]  # fmt: skip


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def burst(mode: str, args: argparse.Namespace, workdir: Path, redis_url: str, prefix: str,
                workers: int) -> dict[str, object]:  # fmt: skip
    from bots.commands import load
    from bots.console.transport import Console
    from core.account.service import actor_for
    from core.app import Core
    from core.compute import Task
    from core.config import Settings
    from tests.compute_probe import (
        nap_pid,  # importable by pool and queue workers (the root is on their path)
    )

    name = f"{mode}{workers or ''}"
    queue = mode == "queue"
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{workdir / f'{name}.db'}",
        redis_url=redis_url if queue else None, redis_prefix=prefix, market_offline=True, sample_live=False,
        jobs_enabled=False, rate_limit_per_minute=0, compute=mode, compute_cpu_s_per_minute=0,
    )  # fmt: skip
    core = await Core.start(settings)
    registry = load()
    registry.rate_limiter.per_minute = 0
    consoles = []
    for n in range(args.users):
        actor = await actor_for(core.db, platform="console", external_id=f"{name}-u{n}", display_name=f"u{n}")
        consoles.append(Console(core, actor, workdir / "out", registry))
    for ticker, interval in itertools.product(TICKERS, INTERVALS):  # bars loaded before the clock starts
        await core.market.candles_with_history(ticker, interval)
    t0 = time.perf_counter()
    naps = max(4, 4 * max(workers, 2))
    pids = await asyncio.gather(*(core.compute.run(nap_pid, 0.5, task=Task(1000 + i)) for i in range(naps)))
    requests = lines(args.requests)
    warm = lines(6 * max(workers, 2), first=len(requests))  # each process draws its kept figures once
    await asyncio.gather(*(consoles[i % len(consoles)].handle(line) for i, line in enumerate(warm)))
    warm_s = time.perf_counter() - t0

    async def one(console: Console, line: str, start: float) -> tuple[float, str | None]:
        reply = await console.handle(line)
        error = reply.text if reply.error or not reply.images else None
        return time.perf_counter() - start, error

    cpu0 = time.process_time()  # the bot's own process (its threads too, not its pool's processes)
    start = time.perf_counter()
    done = await asyncio.gather(*(one(consoles[i % len(consoles)], line, start) for i, line in enumerate(requests)))
    wall = time.perf_counter() - start
    bot_cpu = time.process_time() - cpu0
    await core.close()
    latencies = [t for t, _ in done]
    errors = [e for _, e in done if e]
    return {"latencies": latencies, "wall": wall, "errors": errors, "pids": len(set(pids)), "warm_s": warm_s,
            "bot_cpu": bot_cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--workers", default="1,2,4", help="queue worker counts to run, in order")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="the Redis of the queue (loopback)")
    parser.add_argument("--no-queue", action="store_true", help="only the local pool and inline threads")
    parser.add_argument("--quick", action="store_true", help="60 requests from 20 users, queue with 1 and 2 workers")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.users, args.workers = min(args.requests, 60), min(args.users, 20), "1,2"
    counts = [] if args.no_queue else [int(n) for n in args.workers.split(",") if n.strip()]
    prefix = f"bench-burst-{secrets.token_hex(4)}:"
    runs: list[tuple[str, int]] = [("local", 0), *(("queue", n) for n in counts), ("inline", 0)]
    results: dict[tuple[str, int], dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        try:
            for mode, n in runs:
                procs = start_workers(n, args.redis, prefix, workdir) if mode == "queue" else []
                try:
                    results[mode, n] = asyncio.run(burst(mode, args, workdir, args.redis, prefix, n))
                finally:
                    stop_workers(procs)
                if mode == "queue":
                    cleanup(args.redis, prefix)  # each worker count starts from an empty queue
        finally:
            if counts:
                cleanup(args.redis, prefix)
    cores = os.cpu_count() or 1
    print(f"Burst (issue 11): {args.requests} distinct /market charts (2 compute tasks each) from {args.users} users, "
          f"all fired at once; {cores} cores; sample data, offline")
    for (mode, n), r in results.items():
        lat: list[float] = r["latencies"]  # type: ignore[assignment]
        label = f"queue, {n} worker{'s' * (n > 1)}" if mode == "queue" else ("local pool" if mode == "local" else
                                                                             "inline threads (peer)")  # fmt: skip
        rate = len(lat) / r["wall"]  # type: ignore[operator]
        r["rate"] = rate
        print(f"  {label:<22} p50 {statistics.median(lat):6.2f} s   p95 {pct(lat, 0.95):6.2f} s   "
              f"max {max(lat):6.2f} s   {rate:6.1f} charts/s   errors {len(r['errors'])}   "  # type: ignore[arg-type]
              f"bot process CPU {r['bot_cpu']:5.1f} s ({r['bot_cpu'] / r['wall']:4.0%} of a core)   "  # type: ignore[operator]
              f"(warm-up {r['warm_s']:.1f} s reached {r['pids']} process(es))")
        for error in r["errors"][:3]:  # type: ignore[index]
            print(f"      error: {error[:200]!r}")
    local = results["local", 0]
    ok = pct(local["latencies"], 0.95) < P95_TARGET_S  # type: ignore[arg-type]
    print(f"  target: local pool p95 {pct(local['latencies'], 0.95):.2f} s < {P95_TARGET_S:g} s: "  # type: ignore[arg-type]
          f"{'PASS' if ok else 'FAIL'}")
    peer = results["inline", 0]
    print(f"  local pool against inline threads: {local['rate'] / peer['rate']:.2f}x the charts per second")  # type: ignore[operator]
    if ("queue", 1) in results:
        one = results["queue", 1]["rate"]
        for n in counts:
            if n != 1:
                print(f"  queue, {n} workers against 1: {results['queue', n]['rate'] / one:.2f}x the charts per second")  # type: ignore[operator]
        print(f"  queue, 1 worker against the local pool: {one / local['rate']:.2f}x")  # type: ignore[operator]
        if any(n > cores for n in counts):
            print(f"  note: this machine has {cores} cores; each worker's pool has one process, so more than {cores} "
                  "workers only share the same cores (and the bot's own process needs CPU too): past "
                  f"{cores} workers the throughput cannot grow here, only on more machines or cores")
        grew = all(results["queue", b]["rate"] > results["queue", a]["rate"]  # type: ignore[operator]
                   for a, b in itertools.pairwise([n for n in counts if n <= cores]))  # fmt: skip
        print(f"  target: throughput grows with workers (up to {cores}): {'PASS' if grew else 'FAIL'}")


if __name__ == "__main__":
    main()
