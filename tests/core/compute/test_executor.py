"""The compute plane: fair shares, budgets, and limits that hold, on the real process pool."""

from __future__ import annotations

import asyncio
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from core.compute import ComputeLimit, InlineCompute, ProcessCompute, Task
from core.config import Settings
from core.errors import Invalid, Unavailable
from tests import compute_probe as probe

ROOT = Path(__file__).resolve().parents[3]


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture
async def pool():
    compute = ProcessCompute(_settings(compute_memory_mb=512), workers=2)
    yield compute
    await compute.close()


async def test_a_runaway_task_is_killed_at_its_limit_and_its_worker_replaced():
    compute = ProcessCompute(_settings(), workers=1)
    try:
        before = await compute.run(probe.pid)
        with pytest.raises(Invalid, match=r"the script ran past its 0\.5 s limit and was stopped"):
            await compute.run(probe.spin, 30.0, task=Task(user_id=7, limit_s=0.5, label="the script"))
        after = await compute.run(probe.pid)
        assert after != before  # the only worker was killed and a new one took its place
        assert [await compute.run(probe.square, n) for n in range(3)] == [0, 1, 4]
    finally:
        await compute.close()


async def test_memory_is_bounded_per_worker_and_the_task_is_told(pool):
    with pytest.raises(Invalid, match="needed more memory than a task may use \\(512 MB\\)"):
        await pool.run(probe.allocate, 1024)
    assert await pool.run(probe.square, 3) == 9


async def test_a_worker_that_dies_under_a_task_is_reported_never_lost(pool):
    with pytest.raises(Unavailable, match="its worker died"):
        await pool.run(probe.die)
    assert await pool.run(probe.square, 5) == 25


async def test_one_users_burst_queues_behind_itself_not_in_front_of_others():
    compute = InlineCompute(_settings(compute_tasks_per_user=1), slots=1)
    order: list[str] = []

    async def job(user: int, name: str) -> None:
        await compute.run(probe.spin, 0.01, task=Task(user_id=user))
        order.append(name)

    burst = [asyncio.create_task(job(1, f"a{i}")) for i in range(5)]
    await asyncio.sleep(0)  # the burst is queued (a0 running)
    late = asyncio.create_task(job(2, "b"))
    await asyncio.gather(*burst, late)
    assert order.index("b") <= 1  # right after the task that was running when it came, not after a4
    assert order[-1] == "a4"


async def test_a_user_over_budget_is_told_when_to_come_back_and_others_are_served():
    compute = InlineCompute(_settings(compute_cpu_s_per_minute=0.2), slots=2)
    await compute.run(probe.spin, 0.3, task=Task(user_id=1))
    with pytest.raises(ComputeLimit, match=r"used your 0\.2 s of computing for this minute") as refused:
        await compute.run(probe.square, 2, task=Task(user_id=1))
    assert "try again in" in (refused.value.hint or "")
    assert await compute.run(probe.square, 2, task=Task(user_id=2)) == 4
    assert await compute.run(probe.square, 3) == 9  # the system's work has no per-user budget


async def test_the_event_loop_answers_a_light_command_while_a_heavy_indicator_runs(tmp_path):
    """/market with a 1,000-bar weighted average on 17,520 hourly bars computed on the loop froze every
    chat for its whole run; on the pool the loop stays free: /help answers while it runs."""
    from bots.console.transport import Console
    from core.app import Core

    settings = _settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", market_offline=True,
                         sample_live=False, compute="local", compute_workers=1, rate_limit_per_minute=0)  # fmt: skip
    core = await Core.start(settings)
    try:
        assert isinstance(core.compute, ProcessCompute)
        console = await Console.open(core, tmp_path / "out")
        await core.compute.run(probe.square, 1)  # the pool is up
        heavy = asyncio.create_task(console.handle("/market BTCUSDT 1h max pwma:1000"))

        async def on_a_worker() -> None:
            while core.compute.in_flight == 0:  # noqa: ASYNC110 - polls another object's counter
                await asyncio.sleep(0.01)

        await asyncio.wait_for(on_a_worker(), 60)  # the indicator went to the pool
        light = await console.handle("/help")
        assert not light.error and "/market" in light.text
        assert not heavy.done()  # answered while the heavy one was still being computed
        reply = await heavy
        assert not reply.error and "PWMA" in reply.text.upper() and reply.images
    finally:
        await core.close()


async def test_workers_start_in_a_thread_once_and_the_first_task_finds_them_running(monkeypatch):
    """Starting the pool (the forkserver importing pandas, a fork per worker) happens off the event
    loop's thread, once however many ask, and the first task then runs on the started workers."""
    import threading

    compute = ProcessCompute(_settings(), workers=2)
    started_on: list[threading.Thread] = []
    real = ProcessCompute._start_pool

    def recorded(self: ProcessCompute) -> None:
        started_on.append(threading.current_thread())
        real(self)

    monkeypatch.setattr(ProcessCompute, "_start_pool", recorded)
    try:
        *_, result = await asyncio.gather(compute.warm(), compute.warm(), compute.run(probe.square, 4))
        assert result == 16
        assert len(started_on) == 1 and started_on[0] is not threading.current_thread()
        pids = {await compute.run(probe.pid) for _ in range(6)}
        assert 1 <= len(pids) <= 2 and os.getpid() not in pids
    finally:
        await compute.close()


_FAULTS = """
import resource, sys
import numpy as np
from core.compute.executor import keep_freed_memory
kept = sys.argv[1] == "kept" and keep_freed_memory()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(30):  # a backtest's way: several 800 kB arrays alive at once, then all freed
    arrays = [np.ones(100_000) for _ in range(6)]
    del arrays
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_a_worker_keeps_freed_memory_for_its_next_arrays():
    # a worker's start keeps the heap glibc would give back, so the next task's arrays reuse it
    # instead of faulting their pages in again (a third of an optimiser grid's time)
    def faults(mode: str) -> tuple[str, int]:
        out = subprocess.run([sys.executable, "-c", _FAULTS, mode], capture_output=True, text=True, check=True,
                             cwd=ROOT).stdout.split()  # fmt: skip
        return out[0], int(out[1])

    kept, with_kept = faults("kept")
    plain, without = faults("plain")
    assert (kept, plain) == ("True", "False")
    assert without > 30 * 6 * 100  # each array's ~195 pages faulted in again, round after round
    assert with_kept < without // 10
