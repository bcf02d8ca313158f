"""``stoxlify worker`` processes for the benchmarks that measure the queue (``COMPUTE=queue``).

Each worker is ``python -m bots.cli worker`` with ``COMPUTE_WORKERS=1`` (one pool process: on this
2-core machine, N workers are N cores' worth of compute), in its own process group so stopping it
stops its pool too, against the Redis given, under the benchmark's own ``REDIS_PREFIX`` (its keys
are deleted by ``cleanup``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_workers(count: int, redis_url: str, prefix: str, logdir: Path) -> list[subprocess.Popen[bytes]]:
    """``count`` workers, returned once each is listening (else the first would take every task)."""
    env = {**os.environ, "REDIS_URL": redis_url, "REDIS_PREFIX": prefix, "COMPUTE": "queue",
           "COMPUTE_WORKERS": "1", "PYTHONPATH": str(ROOT),
           "MARKET_OFFLINE": "true", "SAMPLE_LIVE": "false", "LOG_LEVEL": "INFO",
           "DATABASE_URL": f"sqlite+aiosqlite:///{logdir / 'w.db'}"}  # fmt: skip
    procs = []
    for n in range(count):
        log = (logdir / f"worker{count}-{n}.log").open("wb")
        procs.append(subprocess.Popen([sys.executable, "-m", "bots.cli", "worker"], env=env, cwd=ROOT,
                                      stdout=log, stderr=subprocess.STDOUT, start_new_session=True))  # fmt: skip
    deadline = time.monotonic() + 60
    for n, proc in enumerate(procs):
        path = logdir / f"worker{count}-{n}.log"
        while b"compute_worker_started" not in path.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_workers(procs)
                raise SystemExit(f"worker {n} did not start: {path.read_text()[-2000:]}")
            time.sleep(0.1)
    return procs


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    for proc in procs:  # the workers' pool processes share the group: none may outlive the run
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def cleanup(redis_url: str, prefix: str) -> int:
    """Delete the benchmark's keys; how many there were."""
    from redis import Redis

    client = Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
    return len(keys)
