"""``COMPUTE=queue``: the compute plane spread over machines through taskiq and Redis.

The bot keeps the fair shares (``core.compute.executor._Fair``): at most ``COMPUTE_QUEUE_SLOTS``
tasks are on the queue at once, taken from users' queues least recently served first, so the
broker's own FIFO never lets one user's burst pass the others. Each task goes to a Redis stream
(``RedisStreamBroker``) that every ``stoxlify worker`` reads as one consumer group; a worker runs
it in its own warm process pool (``ProcessCompute``), so the time limit kills a runaway there as it
does locally, and stores the result (``RedisAsyncResultBackend``).

A message is acknowledged only once its result is saved. A worker killed under a task leaves it
unacknowledged, and another worker claims it after ``COMPUTE_QUEUE_RETRY_S`` (never before the
longest task limit has passed, so a live worker's task is not run twice): the task is retried,
and the bot, waiting for its result, answers when that arrives, or says no worker answered when
the wait passes the task's limit and the retry, never silently.

Tasks and results travel pickled (inside taskiq's JSON messages): the workers, the bot and the Redis they share are one
installation's, with the same trust as its database (a writer to that Redis can run code on
the workers, as a writer to the database can move its money). Keep that Redis private.
"""

from __future__ import annotations

import asyncio
import base64
import pickle
from typing import TYPE_CHECKING, Any

from core.compute.executor import Budget, ProcessCompute, Task, _Fair, _Job, measured
from core.errors import StoxlifyError, Unavailable
from core.logging import get_logger

if TYPE_CHECKING:
    from core.config import Settings

log = get_logger(__name__)

TASK_NAME = "stoxlify.compute"


def pack(value: Any) -> str:
    """Tasks and results cross the queue as pickles in text (taskiq's messages are JSON)."""
    return base64.b64encode(pickle.dumps(value)).decode("ascii")


def unpack(text: str) -> Any:
    return pickle.loads(base64.b64decode(text))


def broker_url(settings: Settings) -> str:
    url = settings.compute_broker_url or settings.redis_url
    if not url:
        raise Unavailable("COMPUTE=queue needs COMPUTE_BROKER_URL (or REDIS_URL): the Redis the workers read")
    return url


def retry_after_s(settings: Settings) -> float:
    """How long a task taken by a worker may go unanswered before another worker takes it: never
    before a live worker could have finished it (the longest task limit, and a margin)."""
    return max(settings.compute_queue_retry_s, settings.compute_task_limit_s + 2.0)


def _stream_broker() -> type:
    """taskiq-redis's stream broker, reclaiming a dead worker's tasks even when nothing new arrives
    (its own loop looks for them only after a read that returned new messages)."""
    from redis.asyncio import Redis
    from taskiq import AckableMessage
    from taskiq_redis import RedisStreamBroker

    class Stream(RedisStreamBroker):  # type: ignore[misc]
        async def listen(self) -> Any:
            async with Redis(connection_pool=self.connection_pool) as redis:
                while True:
                    fresh = await redis.xreadgroup(self.consumer_group_name, self.consumer_name,
                                                   {self.queue_name: ">"}, block=self.block, count=self.count)  # fmt: skip
                    _, claimed, _ = await redis.xautoclaim(self.queue_name, self.consumer_group_name,
                                                           self.consumer_name, min_idle_time=self.idle_timeout,
                                                           count=self.unacknowledged_batch_size)  # fmt: skip
                    for _, messages in [*(fresh or []), (self.queue_name, claimed)]:
                        for message_id, fields in messages:
                            if fields:  # a message deleted meanwhile comes back empty
                                yield AckableMessage(data=fields[b"data"],
                                                     ack=self._ack_generator(id=message_id, queue_name=self.queue_name))  # fmt: skip

    return Stream


def make_broker(settings: Settings) -> Any:
    """The taskiq broker over a Redis stream, with its result backend."""
    from taskiq_redis import RedisAsyncResultBackend

    _Stream = _stream_broker()
    url = broker_url(settings)
    prefix = settings.redis_prefix
    results: Any = RedisAsyncResultBackend(url, result_ex_time=3600, prefix_str=f"{prefix}compute-result")
    broker = _Stream(
        url,
        queue_name=f"{prefix}compute",
        consumer_group_name=f"{prefix}compute-workers",
        idle_timeout=int(retry_after_s(settings) * 1000),
        xread_count=1,  # one message a read: a worker never holds tasks another idle worker could run
    )
    broker = broker.with_result_backend(results)
    local: dict[str, ProcessCompute] = {}

    @broker.task(task_name=TASK_NAME)
    async def compute(payload: str) -> str:
        """Runs on a worker: the task in the worker's own pool, killed past its limit there."""
        fn, args, limit_s, label = unpack(payload)
        pool = local.get("pool")
        if pool is None:
            pool = local["pool"] = ProcessCompute(settings)
        try:
            return pack(("ok", await pool.run(measured, fn, *args, task=Task(None, limit_s=limit_s, label=label))))
        except StoxlifyError as exc:  # the user's answer (past its limit, out of memory): carried back as it is
            return pack(("error", exc))

    broker.stoxlify_compute = compute  # type: ignore[attr-defined]
    broker.stoxlify_local = local  # type: ignore[attr-defined]
    return broker


async def _result(handle: Any, within_s: float) -> Any:
    """The task's result once stored. taskiq's result backends are polled: first every few
    milliseconds (most tasks are short, and a fixed 50 ms poll would cap each slot at 20 tasks a
    second), then less often, up to 50 ms, so a long task costs few reads."""
    from taskiq.exceptions import TaskiqResultTimeoutError

    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    pause = 0.002
    while not await handle.is_ready():
        if loop.time() > deadline:
            raise TaskiqResultTimeoutError(timeout=within_s)
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, 0.05)
    return await handle.get_result()


class QueueCompute(_Fair):
    """The bot's side: fair dispatch onto the queue, and the wait for each result."""

    def __init__(self, settings: Settings, budget: Budget | None = None) -> None:
        super().__init__(settings, settings.compute_queue_slots, budget=budget)
        self._broker: Any = None

    async def _ensure_broker(self) -> Any:
        if self._broker is None:
            broker = make_broker(self.settings)
            await broker.startup()
            self._broker = broker
        return self._broker

    async def _execute(self, job: _Job) -> tuple[float, Any]:
        from taskiq.exceptions import TaskiqResultTimeoutError

        broker = await self._ensure_broker()
        handle = await broker.stoxlify_compute.kiq(pack((job.fn, job.args, job.limit_s, job.task.label)))
        wait = retry_after_s(self.settings) + job.limit_s + 5.0  # time for a retry after a dead worker
        try:
            result = await _result(handle, wait)
        except TaskiqResultTimeoutError:
            log.error("compute_task_unanswered", label=job.task.label, waited_s=wait)
            raise Unavailable(f"no compute worker answered for {job.task.label} within {wait:g} s; "
                              "try again in a moment") from None  # fmt: skip
        if result.is_err:
            raise Unavailable(f"{job.task.label} failed on a worker ({type(result.error).__name__})")
        kind, value = unpack(result.return_value)
        if kind == "error":
            raise value
        return value

    async def close(self) -> None:
        broker, self._broker = self._broker, None
        if broker is not None:
            await broker.shutdown()


async def serve(settings: Settings) -> None:
    """``stoxlify worker``: read the compute queue until cancelled."""
    from taskiq.acks import AcknowledgeType
    from taskiq.api import run_receiver_task

    broker = make_broker(settings)
    broker.is_worker_process = True
    await broker.startup()
    log.info("compute_worker_started", queue=f"{settings.redis_prefix}compute")
    try:
        await run_receiver_task(broker, max_async_tasks=max(1, settings.compute_workers or 2) * 2,
                                ack_time=AcknowledgeType.WHEN_SAVED, run_startup=False)  # fmt: skip
    finally:
        pool = broker.stoxlify_local.get("pool")
        if pool is not None:
            await pool.close()
        await broker.shutdown()
