"""``stoxlify worker`` processes for the tests of ``COMPUTE=queue`` (started as an operator would)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_worker(redis_url: str, prefix: str, **settings: object) -> subprocess.Popen[bytes]:
    """One worker with one pool process, in its own process group (``stop_worker`` stops its pool too)."""
    env = {**os.environ, "REDIS_URL": redis_url, "REDIS_PREFIX": prefix, "COMPUTE": "queue", "COMPUTE_WORKERS": "1",
           "PYTHONPATH": str(ROOT), **{key.upper(): str(value) for key, value in settings.items()}}  # fmt: skip
    return subprocess.Popen([sys.executable, "-m", "bots.cli", "worker"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip


def stop_worker(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)  # the worker and its pool's processes
        process.wait(30)


def wait_listening(redis_url: str, prefix: str, count: int, within_s: float = 60.0) -> None:
    """Until ``count`` workers answer: rounds of concurrent naps until that many processes ran them
    (a worker registers with its stream's group only once it is handed a message)."""
    import asyncio

    from core.compute import Task
    from core.compute.queue import QueueCompute
    from core.config import Settings
    from tests import compute_probe as probe

    async def wait() -> None:
        compute = QueueCompute(Settings(_env_file=None, compute="queue", redis_url=redis_url, redis_prefix=prefix,
                                        compute_cpu_s_per_minute=0))  # fmt: skip
        deadline = time.monotonic() + within_s
        try:
            while time.monotonic() < deadline:
                pids = await asyncio.gather(*(compute.run(probe.nap_pid, 0.3, task=Task(n)) for n in range(2 * count)))
                if len(set(pids)) >= count:
                    return
            raise TimeoutError(f"{count} compute workers did not answer within {within_s:g} s")
        finally:
            await compute.close()

    asyncio.run(wait())
