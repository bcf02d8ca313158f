"""COMPUTE=queue against the real Redis, with `stoxlify worker` processes started by the tests."""

from __future__ import annotations

import asyncio
import signal
import subprocess

import pytest

from core.compute import ComputeLimit, Task
from core.compute.queue import QueueCompute
from core.config import Settings
from core.errors import Invalid
from tests import compute_probe as probe
from tests.workers import start_worker, stop_worker


def _settings(redis_env: dict[str, str], **values: object) -> Settings:
    return Settings(_env_file=None, compute="queue", **redis_env, **values)  # type: ignore[arg-type]


def _worker(redis_env: dict[str, str], retry_s: float = 30.0) -> subprocess.Popen:
    return start_worker(redis_env["redis_url"], redis_env["redis_prefix"], compute_queue_retry_s=retry_s,
                        compute_task_limit_s=5)  # fmt: skip


def _stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    stop_worker(process, sig)


async def test_workers_compute_and_a_runaway_is_killed_on_its_worker(redis_env):
    workers = [_worker(redis_env), _worker(redis_env)]
    compute = QueueCompute(_settings(redis_env, compute_cpu_s_per_minute=0.5))
    try:
        answers = await asyncio.gather(*(compute.run(probe.square, n, task=Task(user_id=n + 10)) for n in range(8)))
        assert answers == [n * n for n in range(8)]
        with pytest.raises(Invalid, match=r"the script ran past its 1 s limit and was stopped"):
            await compute.run(probe.spin, 30.0, task=Task(user_id=1, limit_s=1.0, label="the script"))
        assert await compute.run(probe.square, 12, task=Task(user_id=2)) == 144  # the workers go on
        with pytest.raises(ComputeLimit):  # the second CPU-heavy second of one user is over its budget
            await compute.run(probe.square, 1, task=Task(user_id=1))
    finally:
        await compute.close()
        for worker in workers:
            _stop(worker)


async def test_a_killed_workers_task_is_taken_by_another_worker_not_lost(redis_env):
    from redis.asyncio import Redis

    first = _worker(redis_env, retry_s=2)
    compute = QueueCompute(_settings(redis_env, compute_queue_retry_s=2, compute_task_limit_s=5))
    second = None
    redis = Redis.from_url(redis_env["redis_url"])
    stream, group = f"{redis_env['redis_prefix']}compute", f"{redis_env['redis_prefix']}compute-workers"
    try:
        # limit 20 s: the bot then waits 32 s for the answer, room for the second worker to start
        # (imports, its pool) on a loaded machine; the task itself spins 2 s
        job = asyncio.create_task(compute.run(probe.spin, 2.0, task=Task(user_id=5, limit_s=20)))

        async def taken() -> None:
            while not (await redis.exists(stream)) or (await redis.xpending(stream, group))["pending"] == 0:  # noqa: ASYNC110
                await asyncio.sleep(0.05)

        await asyncio.wait_for(taken(), 60)  # the first worker has it
        _stop(first, signal.SIGKILL)  # killed in the middle of it
        second = _worker(redis_env, retry_s=2)
        assert await asyncio.wait_for(job, 90) == 2.0  # the second worker ran it again and answered
    finally:
        await compute.close()
        await redis.aclose()
        _stop(first, signal.SIGKILL)
        if second is not None:
            _stop(second)


async def test_an_answer_whose_announcement_is_missed_is_still_read(queue_workers):
    """Results are announced on a channel; a waiter that never hears one reads the result backend."""
    compute = QueueCompute(Settings(_env_file=None, compute="queue", compute_cpu_s_per_minute=0, **queue_workers))
    compute._waiters.channel += "-nobody-publishes-here"  # subscribed where no announcement comes
    try:
        assert await asyncio.wait_for(compute.run(probe.square, 9, task=Task(user_id=3)), 30) == 81
    finally:
        await compute.close()


async def test_announced_answers_arrive_without_polling(queue_workers, monkeypatch):
    compute = QueueCompute(Settings(_env_file=None, compute="queue", compute_cpu_s_per_minute=0, **queue_workers))
    monkeypatch.setattr(compute._waiters, "POLL_S", 60.0)  # a poll would take a minute: only the announcement is quick
    try:
        answers = await asyncio.wait_for(asyncio.gather(*(compute.run(probe.square, n, task=Task(user_id=n))
                                                          for n in range(6))), 30)  # fmt: skip
        assert answers == [n * n for n in range(6)]
    finally:
        await compute.close()
