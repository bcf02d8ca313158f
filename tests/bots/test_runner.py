"""``stoxlify run``: the transports start before the scheduler, and stopping stops both."""

from __future__ import annotations

import asyncio

import pytest

from bots import runner
from core.config import Settings
from core.state import memory_state


class FakeCore:
    def __init__(self, steps: list[str]) -> None:
        self.steps = steps
        self.state = memory_state()
        self.compute = self

    async def warm(self) -> None:  # the compute plane's workers, started before anything serves
        self.steps.append("compute warmed")

    async def close(self) -> None:
        self.steps.append("core closed")


class FakeScheduler:
    def __init__(self, steps: list[str]) -> None:
        self.steps = steps

    async def stop(self) -> None:
        self.steps.append("scheduler stopped")


def _settings(**values: object) -> Settings:
    return Settings(**{"_env_file": None, "jobs_enabled": True, **values})  # type: ignore[arg-type]


@pytest.fixture
def steps(monkeypatch) -> list[str]:
    import jobs.scheduler

    steps: list[str] = []

    async def start(cls, settings, **kwargs):
        steps.append("core started")
        return FakeCore(steps)

    async def start_scheduler(core):
        steps.append("scheduler started")
        return FakeScheduler(steps)

    monkeypatch.setattr(runner.Core, "start", classmethod(start))
    monkeypatch.setattr(jobs.scheduler, "start_scheduler", start_scheduler)
    return steps


def _serve(name: str, steps: list[str], *, then_stop: bool = False, fail: bool = False):
    async def serve(core, registry, stop: asyncio.Event) -> None:
        steps.append(f"{name} started")  # where a transport registers its notifier
        if then_stop:
            await asyncio.sleep(0.01)
            steps.append(f"{name} asks to stop")
            if fail:
                raise RuntimeError("lost the connection")
            stop.set()
        await stop.wait()
        steps.append(f"{name} stopped")

    return serve


async def test_transports_start_before_the_scheduler_and_stop_stops_both(steps, monkeypatch):
    transports = {"telegram": _serve("telegram", steps), "discord": _serve("discord", steps, then_stop=True)}
    monkeypatch.setattr(runner, "configured_transports", lambda settings: transports)
    assert await runner.run(_settings()) == 0
    assert steps[:5] == ["core started", "compute warmed", "telegram started", "discord started", "scheduler started"]
    assert steps[5] == "discord asks to stop"
    assert set(steps[6:8]) == {"telegram stopped", "discord stopped"}
    assert steps[8:] == ["scheduler stopped", "core closed"]


async def test_a_failing_transport_stops_the_others_and_the_scheduler(steps, monkeypatch):
    transports = {"telegram": _serve("telegram", steps), "discord": _serve("discord", steps, then_stop=True, fail=True)}
    monkeypatch.setattr(runner, "configured_transports", lambda settings: transports)
    assert await runner.run(_settings()) == 1
    assert steps.index("scheduler started") > steps.index("discord started")
    assert "telegram stopped" in steps
    assert steps[-2:] == ["scheduler stopped", "core closed"]


async def test_without_jobs_no_scheduler_is_started(steps, monkeypatch):
    transports = {"telegram": _serve("telegram", steps, then_stop=True)}
    monkeypatch.setattr(runner, "configured_transports", lambda settings: transports)
    assert await runner.run(_settings(jobs_enabled=False)) == 0
    assert "scheduler started" not in steps and steps[-1] == "core closed"
