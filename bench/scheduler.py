"""Benchmark one deployment tick: 10,000 deployments over 500 series on the paper broker.

Every deployment is due (its last bar is the one before the bar that just closed), so the tick
fetches each series once, evaluates every deployment on closed bars, claims every bar and places
the orders the signals call for through the real paper broker (SQLite by default, or any
``--database-url``). The market is an in-memory stub that counts fetches; nothing touches the
network. One user in ten thousand holds ten deployments, as the per-user limits allow.

    .venv/bin/python bench/scheduler.py [--deployments 10000] [--series 500] [--distinct-inputs]
                                        [--distinct-scripts] [--busy] [--database-url postgresql+asyncpg://...]
                                        [--compute local|inline|queue] [--workers 1,2]

Models: three EMA-cross variants and an RSI model (signals on a few % of bars, as real models).
``--busy`` swaps the RSI model for "buy green, sell red", which trades about half the series every
bar: the order path under load (on SQLite each order is a few transactions on the one writer).
``--distinct-inputs`` gives every deployment its own inputs, so no evaluation is shared;
``--distinct-scripts`` gives every deployment its own script text (RSI lengths and thresholds, EMA
lengths and stop losses: 10,000 different programs, each parsed and evaluated once).

``--compute queue --workers 1,2`` runs the tick once per worker count, each on a fresh database,
with that many ``stoxlify worker`` processes (one pool process each) reading the Redis at
``--redis`` under a random prefix, and prints the speed-up of each count over the first.

Targets (issue 5): under 10 s wall, under 1 GiB peak memory, fetches equal to the series count.
Issue 11: 10,000 distinct scripts under 10 s with 2 queue workers, 2 workers at least 1.8x one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "bench"))

from workers import cleanup, start_workers, stop_workers  # noqa: E402

WALL_TARGET_S = 10.0
MEMORY_TARGET_MB = 1024.0
BARS = 300
T0 = datetime(2026, 1, 5, tzinfo=UTC)
EMA = 'f = ema(close, input("fast", 8))\ns = ema(close, input("slow", 21))\nbuy = crossover(f, s)\nsell = crossunder(f, s)\n'
RSI = 'r = rsi(close, input("length", 14))\nbuy = crossover(r, 30)\nsell = crossunder(r, 70)\n'
CANDLE = "buy = close > open\nsell = close < open\n"  # --busy: trades about half the series every bar
MODELS = [(EMA, {"fast": 5}), (EMA, {"fast": 8}), (EMA, {"fast": 12, "slow": 26}), (RSI, {})]


def distinct_script(i: int) -> str:
    """The ``i``-th of 24,336 RSI and 90,000 EMA-cross programs, no two alike (``i`` < 48,672)."""
    k = i // 2
    if i % 2 == 0:
        length, low, high = 5 + k % 36, 15 + k // 36 % 26, 60 + k // 936 % 26
        return f"r = rsi(close, {length})\nbuy = crossover(r, {low})\nsell = crossunder(r, {high})\n"
    fast, slow, stop = 3 + k % 18, 21 + k // 18 % 100, 0.01 + k // 1800 % 50 / 1000
    return (f"f = ema(close, {fast})\ns = ema(close, {slow})\nbuy = crossover(f, s)\nsell = crossunder(f, s)\n"
            f"stop_loss = {stop:.3f}\n")


class CountingSource:
    """Pre-built hourly frames per ticker; counts provider calls."""

    from core.market.types import Source

    source = Source.BINANCE
    provider = "bench"

    def __init__(self, tickers: list[str]) -> None:
        rng = np.random.default_rng(7)
        # BARS closed bars and the forming one (only its open known): paper orders fill at that open
        index = pd.DatetimeIndex([T0 + timedelta(hours=i) for i in range(BARS + 1)], name="time")
        self.frames: dict[str, pd.DataFrame] = {}
        for ticker in tickers:
            close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, BARS + 1)))
            open_ = np.concatenate([[100.0], close[:-1]])
            close[-1] = open_[-1]
            high = np.maximum(open_, close) * 1.002
            low = np.minimum(open_, close) * 0.998
            high[-1] = low[-1] = open_[-1]
            self.frames[ticker] = pd.DataFrame(
                {"open": open_, "high": high, "low": low, "close": close, "volume": 1000.0}, index=index
            )
        self.fetches = 0

    def intervals(self) -> list[str]:
        return ["1h"]

    def resolve(self, ticker: str):
        from core.market.types import Instrument, Source

        return Instrument(Source.BINANCE, f"{ticker[:-4]}/USDT", ticker, currency="USDT")

    async def fetch(self, instrument, interval, range_, now):
        from core.market.types import Candles

        self.fetches += 1
        return Candles(instrument, interval, self.frames[instrument.display], self.provider)

    async def search(self, query: str, limit: int = 10) -> list:
        return []


def machine_cpu() -> float:
    """CPU seconds every process on the machine has used so far (Linux ``/proc/stat``; 0 elsewhere):
    how close a run came to the cores it had."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


async def populate(db, count: int, tickers: list[str], args: argparse.Namespace, last_bar: datetime) -> None:
    from sqlalchemy import insert

    from core.account.models import User
    from core.broker.models import Credential
    from core.deployment.models import Deployment

    users = count // 10
    now = datetime.now(UTC)
    async with db.session() as session:
        await session.execute(insert(User), [{"id": u + 1, "name": f"u{u}", "created_at": now, "last_seen_at": now}
                                             for u in range(users)])  # fmt: skip
        await session.execute(insert(Credential), [
            {"id": u + 1, "user_id": u + 1, "broker": "Paper", "label": "paper", "label_key": "paper", "created_at": now}
            for u in range(users)
        ])  # fmt: skip
        rows = []
        for i in range(count):
            source, inputs = MODELS[i % len(MODELS)]
            if args.busy and source == RSI:
                source, inputs = CANDLE, {}
            if args.distinct_inputs and source == EMA:
                inputs = {"fast": 3 + i % 9, "slow": 15 + i // 9 % 1000}
            if args.distinct_scripts:
                source, inputs = distinct_script(i), {}
            rows.append({
                "user_id": i // 10 + 1, "credential_id": i // 10 + 1, "label": f"m{i % len(MODELS)}",
                "source": source, "inputs": inputs, "market": "Binance", "ticker": tickers[i // 20 % len(tickers)],
                "interval": "1h", "timing": "OnTime", "status": "NoPosition", "size": 0.1,
                "last_bar_at": last_bar, "created_at": now, "updated_at": now,
            })  # fmt: skip
        for start in range(0, len(rows), 2000):
            await session.execute(insert(Deployment), rows[start : start + 2000])


async def tick_once(args: argparse.Namespace, workers: int, prefix: str) -> dict[str, float | int | str]:
    """One tick on a fresh database; ``workers`` > 0: on the queue, read by that many workers."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-scheduler-"))
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    from core.broker.pool import BrokerPool
    from core.compute import open_compute
    from core.config import Settings
    from core.db import Database
    from core.deployment.tick import Tick
    from core.market.service import MarketService
    from core.market.types import Source

    settings = Settings(_env_file=None, database_url=url, market_offline=False, compute=args.compute,
                        compute_cpu_s_per_minute=0, redis_url=args.redis if workers else None,
                        redis_prefix=prefix)  # fmt: skip
    db = Database(url)
    await db.migrate()
    if args.database_url:  # a server database: start from empty tables
        from sqlalchemy import text

        async with db.session() as session:
            await session.execute(text("TRUNCATE users RESTART IDENTITY CASCADE"))
    tickers = [f"C{n:03d}USDT" for n in range(args.series)]
    source = CountingSource(tickers)
    now = T0 + timedelta(hours=BARS, seconds=30)  # the last stub bar closed 30 s ago
    await populate(db, args.deployments, tickers, args, T0 + timedelta(hours=BARS - 1))
    procs = start_workers(workers, args.redis, prefix, workdir) if workers else []
    try:
        compute = open_compute(settings)  # what `make run` uses: the local process pool (or --compute)
        market = MarketService(settings, sources={Source.BINANCE: source}, clock=lambda: now, compute=compute)
        tick = Tick(db, settings, market, BrokerPool(db, settings))

        # A running scheduler has its script and indicator libraries loaded: warm them (not the cache).
        from core.deployment.signals import last_bar_signals

        for model, inputs in [*MODELS, (CANDLE, {})]:
            last_bar_signals(model, source.frames[tickers[0]], inputs)
        await asyncio.gather(*(compute.run(last_bar_signals, model, source.frames[tickers[0]], inputs)
                               for model, inputs in [*MODELS, (CANDLE, {})] * 4))  # the pool's workers too
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        cpu0, machine0 = time.process_time(), machine_cpu()
        started = time.perf_counter()
        report = await tick.run(now)
        wall = time.perf_counter() - started
        bot_cpu = time.process_time() - cpu0
        machine = machine_cpu() - machine0
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        await compute.close()
    finally:
        stop_workers(procs)
    await db.dispose()
    return {"wall": wall, "bot_cpu": bot_cpu, "machine_cpu": machine, "rss_before": rss_before, "rss_peak": rss_peak,
            "fetches": source.fetches, "series": report.series, "evaluated": report.evaluated,
            "evaluations": report.evaluations, "claimed": report.claimed, "orders": report.orders,
            "filled": sum(e.kind == "filled" for e in report.events), "db": url.split(":")[0]}  # fmt: skip


async def main(args: argparse.Namespace) -> int:
    counts = [int(n) for n in args.workers.split(",")] if args.compute == "queue" else [0]
    prefix = f"bench-scheduler-{secrets.token_hex(4)}:"
    results: list[tuple[int, dict]] = []
    try:
        for n in counts:
            results.append((n, await tick_once(args, n, prefix)))
            if n:
                cleanup(args.redis, prefix)
    finally:
        if args.compute == "queue":
            cleanup(args.redis, prefix)
    kind = "distinct scripts" if args.distinct_scripts else "distinct inputs" if args.distinct_inputs else "4 models"
    ok = True
    for n, r in results:
        where = f"queue, {n} worker{'s' * (n > 1)}" if n else f"COMPUTE={args.compute}"
        print(f"deployments {args.deployments:,} over {args.series} series ({kind}) · {r['db']} · {where}")
        print(f"  wall time      {r['wall']:6.2f} s   (target < {WALL_TARGET_S:.0f} s; the bot's own CPU {r['bot_cpu']:.1f} s)")
        busy = r["machine_cpu"] / (r["wall"] * (os.cpu_count() or 1))
        print(f"  machine CPU    {r['machine_cpu']:6.2f} s   ({busy:.0%} of {os.cpu_count()} cores busy during the tick: "
              "bot, workers and their pools together)")
        print(f"  peak RSS       {r['rss_peak']:6.0f} MB  (before the tick {r['rss_before']:.0f} MB; "
              f"target < {MEMORY_TARGET_MB:.0f} MB)")  # fmt: skip
        print(f"  fetches        {r['fetches']:6d}     (series due: {r['series']})")
        print(f"  evaluated      {r['evaluated']:6d}     (script runs: {r['evaluations']})")
        print(f"  bars claimed   {r['claimed']:6d}")
        print(f"  orders         {r['orders']:6d}     ({r['filled']} filled)")
        run_ok = (r["rss_peak"] < MEMORY_TARGET_MB and r["fetches"] == args.series
                  and r["claimed"] == args.deployments)  # fmt: skip
        if n in (0, 2):  # the wall target: the local pool, or 2 queue workers
            run_ok = run_ok and r["wall"] < WALL_TARGET_S
        print("  PASS" if run_ok else "  FAIL")
        ok = ok and run_ok
    if len(results) > 1:
        (n0, first), *rest = results
        for n, r in rest:
            ratio = first["wall"] / r["wall"]
            target = " (target >= 1.8x)" if (n0, n) == (1, 2) else ""
            print(f"  {n} workers vs {n0}: {ratio:.2f}x{target}")
            if (n0, n) == (1, 2):
                ok = ok and ratio >= 1.8
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=10_000)
    parser.add_argument("--series", type=int, default=500)
    parser.add_argument("--distinct-inputs", action="store_true")
    parser.add_argument("--distinct-scripts", action="store_true")
    parser.add_argument("--busy", action="store_true")
    parser.add_argument("--compute", choices=["local", "inline", "queue"], default="local",
                        help="where scripts are evaluated: the process pool (as make run), threads, or workers")
    parser.add_argument("--workers", default="1,2", help="--compute queue: worker counts to run, in order")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="the Redis of the queue (loopback)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    sys.exit(asyncio.run(main(parser.parse_args())))
