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
        from bots.bootstrap import App, prepare_to_serve
        from bots.commands import load
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
        await prepare_to_serve(App(core, load()))  # as ``stoxlify api`` does once built
        http = server(core, host="127.0.0.1", port=port)
        task = asyncio.create_task(http.serve())
        while not http.started:  # noqa: ASYNC110 - uvicorn says it is listening only through this flag
            await asyncio.sleep(0.01)
        print(f"ready {token.secret}", flush=True)
        await task

    from bots.cli import serve_forever

    serve_forever(main())  # the loop ``stoxlify api`` runs on


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


async def load(port: int, method: str, path: str, body: dict | None, headers: dict[str, str], seconds: float,
               connections: int) -> tuple[list[float], int, float]:  # fmt: skip
    """Back-to-back requests on ``connections`` keep-alive connections for ``seconds``: latencies,
    failures and the time they took.

    HTTP/1.1 written and read by hand on asyncio streams (uvloop): a client library's own cost
    would otherwise cap the rate measured and hide the server's."""
    import json
    import re

    payload = json.dumps(body).encode() if body is not None else b""
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: keep-alive",
            *(f"{k}: {v}" for k, v in headers.items())]  # fmt: skip
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + payload
    length_of = re.compile(rb"(?i)\r\ncontent-length:\s*(\d+)")
    latencies: list[float] = []
    failures = 0

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
        writer.write(request)
        answer = await reader.readuntil(b"\r\n\r\n")
        found = length_of.search(answer)
        await reader.readexactly(int(found.group(1)) if found else 0)
        return int(answer[9:12])

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(2):  # warm: the first requests build caches and start the pool
            await one(reader, writer)
        return reader, writer

    async def one_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, end: float) -> None:
        nonlocal failures
        try:
            while (started := time.perf_counter()) < end:
                if await one(reader, writer) == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    failures += 1
        finally:
            writer.close()

    await connect()  # the first request alone: starting the compute pool is no part of the rate
    opened = await asyncio.gather(*(connect() for _ in range(connections)))
    began = time.perf_counter()
    await asyncio.gather(*(one_client(reader, writer, began + seconds) for reader, writer in opened))
    return latencies, failures, time.perf_counter() - began


def generate(args: argparse.Namespace) -> None:
    """The load generator's process: prints its latencies as JSON."""
    import json

    import uvloop

    spec = json.loads(args.load)
    latencies, failures, wall = uvloop.run(load(spec["port"], spec["method"], spec["path"], spec["body"], spec["headers"],
                                          spec["seconds"], spec["connections"]))  # fmt: skip
    Path(spec["out"]).write_text(json.dumps({"latencies": latencies, "failures": failures, "wall": wall}))


def run_load(port: int, method: str, path: str, body: dict | None, headers: dict[str, str], seconds: float,
             connections: int) -> tuple[list[float], int, float]:  # fmt: skip
    """The load generator in its own process (its CPU is not the server's): latencies, failures, wall time."""
    import json

    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        spec = {"port": port, "method": method, "path": path, "body": body, "headers": headers, "seconds": seconds,
                "connections": connections, "out": out.name}  # fmt: skip
        subprocess.run([sys.executable, __file__, "--load", json.dumps(spec)], check=True, timeout=seconds + 120)
        found = json.loads(Path(out.name).read_text())
    return found["latencies"], found["failures"], found["wall"]


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
    parser.add_argument("--load", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        generate(args)
        return 0
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
                results[name] = run_load(port, method, path, body, headers, seconds, args.connections)
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
