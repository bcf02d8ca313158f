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
import contextlib
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

    class Stream(RedisStreamBroker):
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
    broker = broker.with_result_backend(results).with_middlewares(_announce(url, done_channel(settings)))
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

    broker.stoxlify_compute = compute
    broker.stoxlify_local = local
    return broker


def done_channel(settings: Settings) -> str:
    return f"{settings.redis_prefix}compute-done"


def _announcer() -> type:
    from redis.asyncio import Redis
    from taskiq import TaskiqMiddleware

    class Announce(TaskiqMiddleware):
        """On a worker: once a result is stored, say so on the done channel, so the bot waiting
        for it reads it at once instead of polling the result backend."""

        def __init__(self, url: str, channel: str) -> None:
            super().__init__()
            self.url, self.channel = url, channel
            self.redis: Redis | None = None

        async def post_save(self, message: Any, result: Any) -> None:
            if self.redis is None:
                self.redis = Redis.from_url(self.url)
            # the packed answer rides along (a few KB), so the waiter need not read it back
            answer = result.return_value if not result.is_err and isinstance(result.return_value, str) else ""
            try:
                await self.redis.publish(self.channel, f"{message.task_id} {answer}")
            except Exception as exc:  # the waiter's slow poll still finds the result
                log.warning("compute_announce_failed", error=repr(exc))

        async def shutdown(self) -> None:
            if self.redis is not None:
                await self.redis.aclose()

    return Announce


def _announce(url: str, channel: str) -> Any:
    """The ``Announce`` middleware (its class is built on first use: taskiq is imported late)."""
    return _announcer()(url, channel)


class _WorkerFailed(Exception):
    """The task itself raised on the worker (not a user's error, which comes back as an answer)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(repr(error))
        self.error = error


class _Waiters:
    """The bot's side of the done channel: one subscription, a future per task in flight.

    A result is read when its task is announced; should an announcement be missed (the channel
    re-subscribing, a worker's publish failing), each waiter also looks at the result backend
    every ``POLL_S``, so nothing waits forever on a lost message."""

    POLL_S = 0.5

    def __init__(self, url: str, channel: str) -> None:
        self.url, self.channel = url, channel
        self.pending: dict[str, asyncio.Future[str | None]] = {}  # the packed answer, when announced with it
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen())
        await self._ready.wait()

    async def _listen(self) -> None:
        """Subscribed until closed; a lost connection is re-made (meanwhile the waiters poll)."""
        from redis.asyncio import Redis
        from redis.exceptions import RedisError

        while True:
            redis = Redis.from_url(self.url)
            pubsub = redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._ready.set()
                while True:
                    message = await pubsub.get_message(timeout=5.0)
                    if message is not None:
                        self._announced(message["data"].decode())
            except (RedisError, OSError) as exc:
                log.warning("compute_announcements_lost", error=repr(exc))
                self._ready.set()  # waiters fall back on polling until the channel is back
                await asyncio.sleep(1.0)
            finally:
                await pubsub.aclose()
                await redis.aclose()

    def _announced(self, text: str) -> None:
        task_id, _, answer = text.partition(" ")
        waiter = self.pending.get(task_id)
        if waiter is not None and not waiter.done():
            waiter.set_result(answer or None)

    def expect(self, task_id: str) -> asyncio.Future[str | None]:
        """Registered before the task is sent, so its announcement cannot come first."""
        future = self.pending[task_id] = asyncio.get_running_loop().create_future()
        return future

    async def result(self, handle: Any, within_s: float) -> str:
        """The task's packed answer: from its announcement, else read from the result backend
        (an answer announced without it, a missed announcement, or a task that failed)."""
        from taskiq.exceptions import TaskiqResultTimeoutError

        future = self.pending[handle.task_id]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        try:
            while True:
                try:
                    answer = await asyncio.wait_for(asyncio.shield(future), self.POLL_S)
                    if answer:
                        return answer
                    break
                except TimeoutError:
                    if await handle.is_ready():
                        break
                    if loop.time() > deadline:
                        raise TaskiqResultTimeoutError(timeout=within_s) from None
            result = await handle.get_result()
            if result.is_err:
                raise _WorkerFailed(result.error)
            return result.return_value
        finally:
            self.pending.pop(handle.task_id, None)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None


class QueueCompute(_Fair):
    """The bot's side: fair dispatch onto the queue, and the wait for each result."""

    def __init__(self, settings: Settings, budget: Budget | None = None) -> None:
        super().__init__(settings, settings.compute_queue_slots, budget=budget)
        self._broker: Any = None
        self._waiters = _Waiters(broker_url(settings), done_channel(settings))

    async def warm(self) -> None:
        return None  # connecting to the broker is waiting, not work: the first task connects

    async def _ensure_broker(self) -> Any:
        if self._broker is None:
            broker = make_broker(self.settings)
            await broker.startup()
            await self._waiters.start()
            self._broker = broker
        return self._broker

    async def _execute(self, job: _Job) -> tuple[float, Any]:
        from taskiq.exceptions import TaskiqResultTimeoutError

        broker = await self._ensure_broker()
        task_id = broker.id_generator()
        self._waiters.expect(task_id)
        try:
            handle = await broker.stoxlify_compute.kicker().with_task_id(task_id).kiq(
                pack((job.fn, job.args, job.limit_s, job.task.label)))  # fmt: skip
        except BaseException:
            self._waiters.pending.pop(task_id, None)
            raise
        wait = retry_after_s(self.settings) + job.limit_s + 5.0  # time for a retry after a dead worker
        try:
            answer = await self._waiters.result(handle, wait)
        except TaskiqResultTimeoutError:
            log.error("compute_task_unanswered", label=job.task.label, waited_s=wait)
            raise Unavailable(f"no compute worker answered for {job.task.label} within {wait:g} s; "
                              "try again in a moment") from None  # fmt: skip
        except _WorkerFailed as failed:
            raise Unavailable(f"{job.task.label} failed on a worker ({type(failed.error).__name__})") from None
        kind, value = unpack(answer)
        if kind == "error":
            raise value
        return value

    async def close(self) -> None:
        broker, self._broker = self._broker, None
        await self._waiters.close()
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
