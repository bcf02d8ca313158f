"""Several replicas over one Redis (REDIS_URL): a button works on any of them and after a
restart, and a user's rate limit holds across them. Runs against a real Redis (``redis_env``)."""

from __future__ import annotations

import copy
from contextlib import AsyncExitStack, asynccontextmanager

import pytest

from bots.commands import load
from bots.telegram.app import build_application
from core.app import Core
from core.config import Settings
from tests.bots.telegram.conftest import Harness, RecordingRequest


def methods(calls) -> list[str]:
    return [c.method for c in calls]


@pytest.fixture
async def replicas(tmp_path, redis_env):
    """``start()`` builds one more replica: its own Core (over the shared database and Redis),
    registry and bot, as ``stoxlify run`` wires them; ``stop(h)`` shuts one down."""
    async with _replicas(tmp_path, redis_env) as built:
        yield built


@pytest.fixture
async def queue_replicas(tmp_path, queue_workers):
    """Replicas as above whose compute goes to the queue's two workers (``COMPUTE=queue``)."""
    async with _replicas(tmp_path, queue_workers, compute="queue", compute_cpu_s_per_minute=0) as built:
        yield built


@asynccontextmanager
async def _replicas(tmp_path, redis: dict[str, str], **values: object):
    async with AsyncExitStack() as stack:
        settings = Settings(
            _env_file=None,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}",
            market_offline=True,
            **redis,
            **values,  # type: ignore[arg-type]
        )

        class Replicas:
            rate_limit = settings.rate_limit_per_minute

            async def start(self) -> Harness:
                core = await Core.start(settings.model_copy(update={"rate_limit_per_minute": self.rate_limit}))
                registry = copy.copy(load())  # one registry per process
                registry.rate_limiter = core.state.rate_limits
                rec = RecordingRequest()
                app = build_application(
                    core, registry, token="123456:TEST-token", request=rec, get_updates_request=RecordingRequest()
                )
                await app.initialize()
                harness = Harness(app, rec, core)
                stack.push_async_callback(self.stop, harness)
                return harness

            async def stop(self, harness: Harness) -> None:
                if not getattr(harness, "stopped", False):
                    harness.stopped = True
                    await harness.app.shutdown()
                    await harness.core.close()

        yield Replicas()


async def test_a_button_sent_by_one_replica_works_on_another_and_after_a_restart(replicas):
    a, b = await replicas.start(), await replicas.start()
    photo = (await a.say("/market BBCA 1d rsi"))[-1]
    token = photo.token("1w")

    calls = await b.push(token)  # the press reaches the other replica
    assert methods(calls) == ["answerCallbackQuery", "sendChatAction", "editMessageMedia"]
    assert "1w" in str(calls[-1].params["media"])  # the weekly chart, in place

    refused = await b.push(token, user=b.BOB)
    assert methods(refused) == ["answerCallbackQuery"]
    assert "belongs to the person who asked" in refused[0].params["text"]

    await replicas.stop(a)
    await replicas.stop(b)
    restarted = await replicas.start()
    calls = await restarted.push(token)
    assert methods(calls) == ["answerCallbackQuery", "sendChatAction", "editMessageMedia"]
    expired = await restarted.push("b:gone-for-good")
    assert "expired" in expired[0].params["text"]


async def test_replicas_computing_on_the_queue_serve_a_button_pressed_on_the_other(queue_replicas):
    from core.compute.queue import QueueCompute

    a, b = await queue_replicas.start(), await queue_replicas.start()
    assert isinstance(a.core.compute, QueueCompute) and isinstance(b.core.compute, QueueCompute)
    photo = (await a.say("/market BBCA 1d rsi"))[-1]
    assert photo.method == "sendPhoto"  # charted by a worker
    calls = await b.push(photo.token("1w"))
    assert methods(calls) == ["answerCallbackQuery", "sendChatAction", "editMessageMedia"]
    assert "1w" in str(calls[-1].params["media"])


async def test_a_users_chart_limit_holds_across_replicas(replicas):
    replicas.rate_limit = 1
    a, b = await replicas.start(), await replicas.start()
    assert "BBCA" in (await a.say("/market BBCA"))[-1].text
    slowed = (await b.say("/market BBCA"))[-1]
    assert "You're going fast: please wait" in slowed.text
    other = await b.say("/market BBCA", user=b.BOB, chat={"id": b.BOB["id"], "type": "private", "first_name": "Bob"})
    assert "BBCA" in other[-1].text and "going fast" not in other[-1].text
