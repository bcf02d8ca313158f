"""Benchmark one deployment tick: 10,000 deployments over 500 series on the paper broker.

Every deployment is due (its last bar is the one before the bar that just closed), so the tick
fetches each series once, evaluates every deployment on closed bars, claims every bar and places
the orders the signals call for through the real paper broker (SQLite by default, or any
``--database-url``). The market is an in-memory stub that counts fetches; nothing touches the
network. One user in ten thousand holds ten deployments, as the per-user limits allow.

    .venv/bin/python bench/scheduler.py [--deployments 10000] [--series 500] [--distinct-inputs]
                                        [--busy] [--database-url postgresql+asyncpg://...]

Models: three EMA-cross variants and an RSI model (signals on a few % of bars, as real models).
``--busy`` swaps the RSI model for "buy green, sell red", which trades about half the series every
bar: the order path under load (on SQLite each order is a few transactions on the one writer).
``--distinct-inputs`` gives every deployment its own inputs, so no evaluation is shared.

Targets (issue 5): under 10 s wall, under 1 GiB peak memory, fetches equal to the series count.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WALL_TARGET_S = 10.0
MEMORY_TARGET_MB = 1024.0
BARS = 300
T0 = datetime(2026, 1, 5, tzinfo=UTC)
EMA = 'f = ema(close, input("fast", 8))\ns = ema(close, input("slow", 21))\nbuy = crossover(f, s)\nsell = crossunder(f, s)\n'
RSI = 'r = rsi(close, input("length", 14))\nbuy = crossover(r, 30)\nsell = crossunder(r, 70)\n'
CANDLE = "buy = close > open\nsell = close < open\n"  # --busy: trades about half the series every bar
MODELS = [(EMA, {"fast": 5}), (EMA, {"fast": 8}), (EMA, {"fast": 12, "slow": 26}), (RSI, {})]


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


async def populate(db, count: int, tickers: list[str], distinct: bool, busy: bool, last_bar: datetime) -> None:
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
            if busy and source == RSI:
                source, inputs = CANDLE, {}
            if distinct and source == EMA:
                inputs = {"fast": 3 + i % 9, "slow": 15 + i // 9 % 1000}
            rows.append({
                "user_id": i // 10 + 1, "credential_id": i // 10 + 1, "label": f"m{i % len(MODELS)}",
                "source": source, "inputs": inputs, "market": "Binance", "ticker": tickers[i // 20 % len(tickers)],
                "interval": "1h", "timing": "OnTime", "status": "NoPosition", "size": 0.1,
                "last_bar_at": last_bar, "created_at": now, "updated_at": now,
            })  # fmt: skip
        for start in range(0, len(rows), 2000):
            await session.execute(insert(Deployment), rows[start : start + 2000])


async def main(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-scheduler-"))
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    from core.compute import open_compute
    from core.config import Settings
    from core.db import Database
    from core.deployment.tick import Tick
    from core.market.service import MarketService
    from core.market.types import Source
    from core.trade.brokers import BrokerPool

    settings = Settings(_env_file=None, database_url=url, market_offline=False, compute=args.compute,
                        compute_cpu_s_per_minute=0)  # fmt: skip
    db = Database(url)
    await db.migrate()
    tickers = [f"C{n:03d}USDT" for n in range(args.series)]
    source = CountingSource(tickers)
    now = T0 + timedelta(hours=BARS, seconds=30)  # the last stub bar closed 30 s ago
    await populate(db, args.deployments, tickers, args.distinct_inputs, args.busy, T0 + timedelta(hours=BARS - 1))
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
    started = time.perf_counter()
    report = await tick.run(now)
    wall = time.perf_counter() - started
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    await compute.close()
    await db.dispose()

    print(f"deployments {args.deployments:,} over {args.series} series · {url.split(':')[0]} · COMPUTE={args.compute}")
    print(f"  wall time      {wall:6.2f} s   (target < {WALL_TARGET_S:.0f} s)")
    print(f"  peak RSS       {rss_peak:6.0f} MB  (before the tick {rss_before:.0f} MB; target < {MEMORY_TARGET_MB:.0f} MB)")
    print(f"  fetches        {source.fetches:6d}     (series due: {report.series})")
    print(f"  evaluated      {report.evaluated:6d}     (script runs: {report.evaluations})")
    print(f"  bars claimed   {report.claimed:6d}")
    print(f"  orders         {report.orders:6d}     ({sum(e.kind == 'filled' for e in report.events)} filled)")
    ok = (wall < WALL_TARGET_S and rss_peak < MEMORY_TARGET_MB and source.fetches == args.series
          and report.claimed == args.deployments)  # fmt: skip
    print("  PASS" if ok else "  FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=10_000)
    parser.add_argument("--series", type=int, default=500)
    parser.add_argument("--distinct-inputs", action="store_true")
    parser.add_argument("--busy", action="store_true")
    parser.add_argument("--compute", choices=["local", "inline"], default="local",
                        help="where scripts are evaluated: the process pool (as make run), or threads")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    sys.exit(asyncio.run(main(parser.parse_args())))
