"""Benchmark the HTTP API against a bare FastAPI "hello" app served the same way, in the same run.

Each server runs in its own process (uvicorn, one worker, loopback); this process is the load
generator: ``--connections`` clients (httpx, keep-alive) send requests back to back for
``--seconds`` per scenario and every latency is recorded. Scenarios:

- ``hello``: ``GET /hello`` on a bare FastAPI app returning ``{"hello": "world"}`` (the baseline);
- ``market info``: ``POST /v1/market/info`` for BBCA 1d with RSI (JSON, cached bars: what a
  dashboard polling a quote costs), with a read token;
- ``execute``: ``POST /v1/scripts/execute``, an EMA cross over about 500 daily bars (the
  backtest's key figures; compute runs in the server's process pool as ``make run`` has it).

Printed: requests per second and its ratio to hello, p50 and p99 latency. Targets (issue 14):
market info at least 50 % of hello's rate, p99 under 50 ms.

    .venv/bin/python bench/http_api.py [--seconds 8] [--connections 100] [--quick]

(Not ``bench/http.py``: the other benchmarks put ``bench/`` on the path, where a module named
``http`` would hide the standard library's.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RATE_TARGET = 0.5
P99_TARGET_MS = 50.0
CROSS = 'f = ema(close, 10)\ns = ema(close, 30)\nbuy = crossover(f, s)\nsell = crossunder(f, s)\n'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(kind: str, port: int, workdir: Path) -> None:
    """The server process: the bot's API over a fresh database (printing a token), or hello."""
    import uvicorn
    from fastapi import FastAPI

    if kind == "hello":
        app = FastAPI()

        @app.get("/hello")
        async def hello() -> dict[str, str]:
            return {"hello": "world"}

        print("ready", flush=True)
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        return

    async def main() -> None:
        from api.server import server
        from core.account.service import actor_for
        from core.app import Core
        from core.config import Settings
        from core.tokens.service import Scope, create_token

        settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{workdir / 'api.db'}",
                            market_offline=True, sample_live=False, jobs_enabled=False, api_rate_limit_per_minute=0,
                            rate_limit_per_minute=0, compute_cpu_s_per_minute=0)  # fmt: skip
        core = await Core.start(settings)
        actor = await actor_for(core.db, platform="console", external_id="bench", display_name="bench")
        token = await create_token(core.db, settings, actor, f"bench-{port}", Scope.READ)
        http = server(core, host="127.0.0.1", port=port)
        task = asyncio.create_task(http.serve())
        while not http.started:  # noqa: ASYNC110 - uvicorn says it is listening only through this flag
            await asyncio.sleep(0.01)
        print(f"ready {token.secret}", flush=True)
        await task

    asyncio.run(main())


def start(kind: str, workdir: Path) -> tuple[subprocess.Popen[str], int, str]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port", str(port), "--workdir", str(workdir)],
                            env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    if not line or line[0] != "ready":
        stop(proc)
        raise SystemExit(f"the {kind} server did not start")
    return proc, port, line[1] if len(line) > 1 else ""


def stop(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


async def load(url: str, method: str, body: dict | None, headers: dict[str, str], seconds: float,
               connections: int) -> tuple[list[float], int]:  # fmt: skip
    """Back-to-back requests from ``connections`` clients for ``seconds``: latencies, failures."""
    import httpx

    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=60, headers=headers) as client:
        for _ in range(3):  # warm: the first requests build caches and start the pool
            await client.request(method, url, json=body)
        end = time.perf_counter() + seconds

        async def one_client() -> None:
            nonlocal failures
            while time.perf_counter() < end:
                started = time.perf_counter()
                answer = await client.request(method, url, json=body)
                if answer.status_code == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    failures += 1

        await asyncio.gather(*(one_client() for _ in range(connections)))
    return latencies, failures


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="3 s per scenario")
    parser.add_argument("--serve", choices=["hello", "api"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.workdir)
        return 0
    seconds = 3.0 if args.quick else args.seconds
    results: dict[str, tuple[list[float], int, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        scenarios = [
            ("hello", "hello", "GET", "/hello", None),
            ("market info", "api", "POST", "/v1/market/info", {"ticker": "BBCA", "interval": "1d", "indicator": "rsi"}),
            ("execute", "api", "POST", "/v1/scripts/execute",
             {"script": {"source": CROSS}, "ticker": "BBCA", "interval": "1d", "range": "2y"}),
        ]  # fmt: skip
        for name, kind, method, path, body in scenarios:
            proc, port, token = start(kind, Path(tmp))
            try:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                started = time.perf_counter()
                latencies, failures = asyncio.run(load(f"http://127.0.0.1:{port}{path}", method, body, headers,
                                                       seconds, args.connections))  # fmt: skip
                results[name] = (latencies, failures, time.perf_counter() - started)
            finally:
                stop(proc)
    print(f"HTTP API (issue 14): {args.connections} connections, {seconds:g} s a scenario, loopback, "
          f"{os.cpu_count()} cores; the load generator in its own process")
    hello_rate = len(results["hello"][0]) / results["hello"][2]
    ok = True
    for name, (latencies, failures, wall) in results.items():
        rate = len(latencies) / wall
        p50, p99 = pct(latencies, 0.5) * 1000, pct(latencies, 0.99) * 1000
        ratio = rate / hello_rate if hello_rate else float("nan")
        print(f"  {name:<12} {rate:8.1f} req/s  ({ratio:5.0%} of hello)  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms"
              f"  failures {failures}")  # fmt: skip
        if name == "market info":
            passed = ratio >= RATE_TARGET and p99 < P99_TARGET_MS
            ok = ok and passed
            print(f"    target: >= {RATE_TARGET:.0%} of hello and p99 < {P99_TARGET_MS:g} ms: {'PASS' if passed else 'FAIL'}")
    if results["hello"][0]:
        print(f"  (hello median {statistics.median(results['hello'][0]) * 1000:.1f} ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
