"""Benchmark the bot's responsiveness while heavy commands from several users run at once.

Heavy load, each user repeating its command until the window ends (parameters change every time,
so no cache answers a repeat):

- two users charting ``/market BTCUSDT|ETHUSDT 1h max pwma:N pwma:N-1 pwma:N-2`` (about 17,500 bars
  and three very long Pascal-weighted averages: seconds of CPU each),
- one user's ``/watchlist`` of 50 heavy watches (``rsi:200<30``, ``close>ema:500``, ... on the sample
  tickers),
- one user's ``/run`` of a saved EMA-cross model on ``BBCA 1h max`` (4,698 bars), inputs changed each time.

(The deployment tick is not part of the load; ``bench/scheduler.py`` measures it.)

Measured during the load:

- the event loop's lag: a coroutine sleeps 10 ms over and over and records how late it wakes
  (p50 / p99 / max);
- light commands of two other users, fired over and over: ``/help`` (no compute) and ``/watchlist``
  of one plain watch (one tiny compute task): p50 / p95 latency, each counted from when the message
  was due (so time the loop spent blocked before taking it up counts).

Everything runs twice in one invocation: ``COMPUTE=local`` (the warm process pool) and
``COMPUTE=inline`` (threads of the bot's process: the peer, roughly what the bot did before the
pool), on the shipped sample data, offline, with a throw-away SQLite database, no rate limit and no
compute budget (so the load is measured, not refused). Commands go through the console transport,
one ``Console`` per user, exactly as Telegram/Discord drive the registry.

    /work/main/.venv/bin/python bench/responsiveness.py [--seconds 25] [--pwma 1400] [--quick]
                                                         [--modes local,inline,local:4]

Targets (issue 11, local pool): loop lag p99 < 50 ms and max < 250 ms; light command p95 < 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's code, not whichever one the venv has installed

LAG_P99_TARGET_MS = 50.0
LAG_MAX_TARGET_MS = 250.0
LIGHT_P95_TARGET_MS = 300.0
TICK_S = 0.010
LIGHT_PAUSE_S = 0.1

MODEL = ("/model save cross\nfast = ema(close, input(\"fast\", 12))\nslow = ema(close, input(\"slow\", 26))\n"
         "buy = crossover(fast, slow)\nsell = crossunder(fast, slow)")  # fmt: skip
WATCH_TICKERS = ("BTCUSDT", "ETHUSDT", "BBCA", "BBRI", "BMRI", "ASII", "TLKM", "GOTO", "JKSE")
WATCH_CONDITIONS = ("rsi:200<30", "close>ema:500", "ema:200>ema:400", "sma:300<close",
                    "bbands:200:2>close", "rsi:250<40")  # fmt: skip


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def scenario(mode: str, args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    from bots.bootstrap import App, prepare_to_serve
    from bots.commands import load
    from bots.console.transport import Console
    from core.account.service import actor_for
    from core.app import Core
    from core.config import Settings

    compute, _, workers = mode.partition(":")  # "local:4": the pool with 4 workers
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{workdir / f'{compute}{workers}.db'}",
        redis_url=None, market_offline=True, sample_live=False, jobs_enabled=False,
        rate_limit_per_minute=0, compute=compute, compute_workers=int(workers or 0), compute_cpu_s_per_minute=0,
        compute_task_limit_s=120.0,  # a GIL-bound thread runs far slower than its CPU time: no stops
    )  # fmt: skip
    core = await Core.start(settings)
    registry = load()
    registry.rate_limiter.per_minute = 0
    await prepare_to_serve(App(core, registry))  # as `make run` does: workers started, start-up frozen

    async def user(name: str) -> Console:
        actor = await actor_for(core.db, platform="console", external_id=name, display_name=name)
        return Console(core, actor, workdir / "out", registry)

    async def must(console: Console, line: str) -> float:
        t0 = time.perf_counter()
        reply = await console.handle(line)
        if reply.error:
            raise SystemExit(f"[{mode}] {line.splitlines()[0]!r} failed: {reply.text}")
        return time.perf_counter() - t0

    # set-up (not measured): the users, their watches, the model
    charters = [await user(f"charter{i}") for i in range(2)]
    watcher, runner, helper, light = [await user(n) for n in ("watcher", "runner", "helper", "light")]
    watches = 0
    for ticker, condition in itertools.product(WATCH_TICKERS, WATCH_CONDITIONS):
        if watches == 50:
            break
        reply = await watcher.handle(f"/watch {ticker} {condition}")
        watches += not reply.error
    await must(light, "/watch BBCA")
    await must(runner, MODEL)
    t0 = time.perf_counter()
    await asyncio.gather(must(light, "/watchlist"), must(runner, "/run cross BBCA 1h max"),
                         must(watcher, "/watchlist"))  # fmt: skip
    warm_s = time.perf_counter() - t0  # the pool's start (local) and the first imports

    stop = asyncio.Event()
    heavy: dict[str, list[float]] = {"market": [], "watchlist": [], "run": []}
    lags: list[float] = []
    light_ms: dict[str, list[float]] = {"/help": [], "/watchlist": []}

    async def repeat(kind: str, console: Console, lines: itertools.count) -> None:
        for line in lines:
            if stop.is_set():
                return
            heavy[kind].append(await must(console, line))

    length = args.pwma
    charts = [(f"/market {t} 1h max pwma:{n} pwma:{n - 1} pwma:{n - 2}" for n in range(length - k, 0, -2))
              for k, t in enumerate(("BTCUSDT", "ETHUSDT"))]  # fmt: skip
    runs = (f"/run cross BBCA 1h max fast={f} slow={s}" for s in range(27, 200) for f in range(5, 25))
    loaders = [asyncio.create_task(repeat("market", c, lines)) for c, lines in zip(charters, charts, strict=True)]
    loaders.append(asyncio.create_task(repeat("watchlist", watcher, itertools.repeat("/watchlist"))))
    loaders.append(asyncio.create_task(repeat("run", runner, runs)))
    await asyncio.sleep(0.5)  # let the heavy work start

    async def probe() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            await asyncio.sleep(TICK_S)
            lags.append((time.perf_counter() - t0 - TICK_S) * 1000)

    async def light_loop(console: Console, line: str) -> None:
        """Closed loop, a pause between calls; each latency counts from when the message was due (the
        pause's end), so a blocked loop's delay in taking the message up is part of it."""
        while not stop.is_set():
            due = time.perf_counter() + LIGHT_PAUSE_S
            await asyncio.sleep(LIGHT_PAUSE_S)
            await must(console, line)
            light_ms[line].append((time.perf_counter() - due) * 1000)

    probes = [asyncio.create_task(probe()), asyncio.create_task(light_loop(helper, "/help")),
              asyncio.create_task(light_loop(light, "/watchlist"))]  # fmt: skip
    await asyncio.sleep(args.seconds)
    stop.set()
    await asyncio.gather(*probes)
    t0 = time.perf_counter()
    await asyncio.gather(*loaders)  # the heavy commands in flight finish
    drain_s = time.perf_counter() - t0
    await core.close()
    return {"lags": lags, "light": light_ms, "heavy": heavy, "watches": watches, "warm_s": warm_s,
            "drain_s": drain_s}  # fmt: skip


def report(mode: str, result: dict[str, object], seconds: float) -> None:
    lags: list[float] = result["lags"]  # type: ignore[assignment]
    light: dict[str, list[float]] = result["light"]  # type: ignore[assignment]
    heavy: dict[str, list[float]] = result["heavy"]  # type: ignore[assignment]
    print(f"COMPUTE={mode}: {seconds:g} s under load (warm-up {result['warm_s']:.1f} s before it, "
          f"{result['drain_s']:.1f} s draining the heavy commands in flight after it)")
    done = ", ".join(f"{len(v)} {k} (median {statistics.median(v):.2f} s)" if v else f"0 {k}"
                     for k, v in heavy.items())  # fmt: skip
    print(f"  heavy commands completed: {done}; watchlist of {result['watches']} watches")
    print(f"  event-loop lag ({len(lags)} wake-ups of a 10 ms sleep): p50 {pct(lags, 0.5):7.1f} ms   "
          f"p99 {pct(lags, 0.99):7.1f} ms   max {max(lags):7.1f} ms")
    for line, values in light.items():
        print(f"  light {line:<11} ({len(values):4d} calls): p50 {pct(values, 0.5):7.1f} ms   "
              f"p95 {pct(values, 0.95):7.1f} ms   max {max(values):7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=25.0, help="length of the measured window per mode")
    parser.add_argument("--pwma", type=int, default=1400, help="the /market load's pwma length (CPU per chart)")
    parser.add_argument("--quick", action="store_true", help="10 s windows and lighter charts")
    parser.add_argument("--modes", default="local,inline",
                        help="executors in order: local, inline, local:N (the pool with N workers)")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.pwma = min(args.seconds, 10.0), min(args.pwma, 700)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in modes:
            results[mode] = asyncio.run(scenario(mode, args, Path(tmp)))
    print(f"Responsiveness under heavy load (issue 11): 2 users /market ... 1h max pwma:{args.pwma}x3, a /watchlist "
          "of 50 heavy watches, a /run on 4,698 bars, all repeating; sample data, offline")
    for mode in modes:
        report(mode, results[mode], args.seconds)
    if "local" in results:
        local = results["local"]
        lags: list[float] = local["lags"]  # type: ignore[assignment]
        light: dict[str, list[float]] = local["light"]  # type: ignore[assignment]
        checks = [(f"loop lag p99 {pct(lags, 0.99):.1f} ms < {LAG_P99_TARGET_MS:g} ms", pct(lags, 0.99) < LAG_P99_TARGET_MS),
                  (f"loop lag max {max(lags):.1f} ms < {LAG_MAX_TARGET_MS:g} ms", max(lags) < LAG_MAX_TARGET_MS)]  # fmt: skip
        checks += [(f"light {line} p95 {pct(v, 0.95):.1f} ms < {LIGHT_P95_TARGET_MS:g} ms",
                    pct(v, 0.95) < LIGHT_P95_TARGET_MS) for line, v in light.items()]  # fmt: skip
        print("targets (COMPUTE=local):")
        for text, ok in checks:
            print(f"  {'PASS' if ok else 'FAIL'}  {text}")
    if "local" in results and "inline" in results:
        ours, peer = results["local"], results["inline"]
        print("inline threads (the peer) against the local pool, same run (>1: the pool is better):")
        for name, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0)):
            a, b = pct(ours["lags"], q), pct(peer["lags"], q)  # type: ignore[arg-type]
            print(f"  loop lag {name}: inline {b:8.1f} ms / local {a:8.1f} ms = {b / max(a, 0.01):7.1f}x")
        for line in ("/help", "/watchlist"):
            a, b = pct(ours["light"][line], 0.95), pct(peer["light"][line], 0.95)  # type: ignore[index]
            print(f"  light {line} p95: inline {b:8.1f} ms / local {a:8.1f} ms = {b / max(a, 0.01):7.1f}x")
        for kind in ("market", "watchlist", "run"):
            a, b = len(ours["heavy"][kind]), len(peer["heavy"][kind])  # type: ignore[index]
            print(f"  heavy {kind} completed in the window: local {a}, inline {b}")


if __name__ == "__main__":
    main()
