"""One executor for all CPU work, so the event loop only waits and no user can stall another.

``Compute.run(fn, *args, task=Task(user_id, limit_s, label))`` runs a module-level function on
picklable arguments somewhere else and returns its result. Three guarantees hold for every
implementation:

- **Fair shares.** Each user's tasks wait in the user's own queue; a free worker takes the next
  task round-robin across users, so one user's burst queues behind itself, not in front of others.
  A user runs at most ``COMPUTE_TASKS_PER_USER`` tasks at once and spends at most
  ``COMPUTE_CPU_S_PER_MINUTE`` CPU seconds in any minute; past it the call is refused at once with
  ``ComputeLimit`` (the user is told when to try again) and everyone else is served as before.
- **Hard limits.** A task running past ``limit_s`` is stopped and the caller gets ``Invalid``
  naming the limit. In the process pool the worker running it is killed and replaced (an indicator
  call inside a script cannot be interrupted any other way), and each worker's memory is bounded
  (``COMPUTE_MEMORY_MB``), so a runaway task costs at most its limit and a small margin.
- **Nothing lost silently.** A worker that dies under a task (killed, out of memory) gives the
  caller an error saying so; the task is never dropped without an answer.

``ProcessCompute`` (the embedded default, ``COMPUTE=local``) is a pebble process pool sized to the
machine (two workers per core), started on first use, its workers warm (the heavy libraries imported once, in the
fork server they are forked from). ``InlineCompute`` (``COMPUTE=inline``) runs tasks in threads of
this process, for tests and debugging: the same fairness and budgets, but a thread past its limit
can only be abandoned, not killed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import math
import os
import time
from collections import OrderedDict, defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from core.errors import Invalid, LimitExceeded, TooLong, Unavailable
from core.logging import get_logger

if TYPE_CHECKING:
    from core.config import Settings

log = get_logger(__name__)

SYSTEM = 0  # the budget key of work no user asked for (a tick's shared series, start-up)
WINDOW_S = 60.0

# Imported once per worker (in the fork server every worker is forked from), so no task pays them.
WARM_MODULES = (
    "numpy", "pandas", "talib", "matplotlib", "core.market.indicator_compute", "core.market.conditions",
    "core.script", "core.backtest.engine", "core.charts.candles",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Task:
    """Who a task is for and how long it may run."""

    user_id: int | None = None  # whose budget it counts against; None: the system's
    limit_s: float | None = None  # stopped past this (None: the settings' default)
    label: str = "the computation"  # how the user reads it in a refusal: "the script", "the chart"


class ComputeLimit(LimitExceeded):
    """The user's compute budget for this minute is spent (others are unaffected)."""


class Compute(Protocol):
    async def run[R](self, fn: Callable[..., R], *args: Any, task: Task = ...) -> R: ...

    async def warm(self) -> None:
        """Start now, off the event loop, what the first task would otherwise start on it."""
        ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    task: Task
    limit_s: float
    done: asyncio.Future[Any]


@dataclass(slots=True)
class _Ledger:
    """CPU seconds spent per user in the last minute, and tasks running per user."""

    spent: defaultdict[int, deque[tuple[float, float]]] = field(default_factory=lambda: defaultdict(deque))
    running: defaultdict[int, int] = field(default_factory=lambda: defaultdict(int))

    def used(self, user: int, now: float) -> float:
        entries = self.spent[user]
        while entries and now - entries[0][0] >= WINDOW_S:
            entries.popleft()
        return sum(cost for _, cost in entries)

    def wait_s(self, user: int, now: float, budget: float) -> float:
        """Seconds until enough of the window has passed for the user to be under ``budget`` again."""
        entries, over = self.spent[user], self.used(user, now) - budget
        for at, cost in entries:
            over -= cost
            if over < 0:
                return max(1.0, WINDOW_S - (now - at))
        return 1.0


Budget = Callable[[int], Awaitable[float]]  # a user's CPU seconds a minute (their plan's); 0: unbounded
STARTUP_TIMEOUT_S = 120.0  # the forkserver imports pandas and friends once, then forks each worker
BUDGET_TTL_S = 60.0  # a plan's budget is looked up at most once a minute per user


class _Fair:
    """Round-robin over users' queues, ``slots`` tasks at a time, with per-user budgets."""

    def __init__(
        self, settings: Settings, slots: int, clock: Callable[[], float] = time.monotonic, budget: Budget | None = None
    ) -> None:
        self.settings = settings
        self._budget = budget
        self._budgets: dict[int, tuple[float, float]] = {}  # user -> (looked up at, budget)
        self.slots = max(1, slots)
        self.clock = clock
        self.queues: OrderedDict[int, deque[_Job]] = OrderedDict()
        self.ledger = _Ledger()
        self.in_flight = 0
        self._served: dict[int, int] = {}  # user -> when last served (a counter): the least recent goes next
        self._turn = 0

    async def run[R](self, fn: Callable[..., R], *args: Any, task: Task = Task()) -> R:
        user = task.user_id if task.user_id is not None else SYSTEM
        budget = await self.budget_of(user)
        now = self.clock()
        if user != SYSTEM and budget > 0 and self.ledger.used(user, now) >= budget:
            wait = math.ceil(self.ledger.wait_s(user, now, budget))
            raise ComputeLimit(
                f"you have used your {budget:g} s of computing for this minute",
                hint=f"try again in {wait} s; /plans raise the budget",
            )
        limit = task.limit_s if task.limit_s is not None else self.settings.compute_task_limit_s
        job = _Job(fn, args, task, limit, asyncio.get_running_loop().create_future())
        self.queues.setdefault(user, deque()).append(job)
        self._pump()
        return await job.done

    async def budget_of(self, user: int) -> float:
        """The user's CPU seconds a minute: their plan's when a lookup was given, else the setting's."""
        if self._budget is None or user == SYSTEM:
            return self.settings.compute_cpu_s_per_minute
        now = self.clock()
        cached = self._budgets.get(user)
        if cached is None or now - cached[0] > BUDGET_TTL_S:
            cached = self._budgets[user] = (now, await self._budget(user))
        return cached[1]

    def _pump(self) -> None:
        """Start queued jobs while slots are free, taking users in turn (skipping those at their cap)."""
        per_user = max(1, self.settings.compute_tasks_per_user)
        while self.in_flight < self.slots and self.queues:
            ready = [u for u in self.queues if u == SYSTEM or self.ledger.running[u] < per_user]
            if not ready:
                return
            user = min(ready, key=lambda u: self._served.get(u, -1))  # a newcomer before the one just served
            queue = self.queues[user]
            job = queue.popleft()
            if not queue:
                del self.queues[user]
            if job.done.cancelled():
                continue
            self._turn += 1
            self._served[user] = self._turn
            self.in_flight += 1
            self.ledger.running[user] += 1
            asyncio.get_running_loop().create_task(self._start(user, job))

    async def _start(self, user: int, job: _Job) -> None:
        started = self.clock()
        cost = 0.0
        try:
            cost, result = await self._execute(job)
        except BaseException as exc:  # the caller gets every failure, cancellation included
            cost = self.clock() - started
            if not job.done.done():
                job.done.set_exception(exc)
        else:
            if not job.done.done():
                job.done.set_result(result)
        finally:
            self.in_flight -= 1
            self.ledger.running[user] -= 1
            self.ledger.spent[user].append((self.clock(), cost))
            self._pump()

    async def _execute(self, job: _Job) -> tuple[float, Any]:  # pragma: no cover - implemented below
        raise NotImplementedError


def measured[R](fn: Callable[..., R], *args: Any) -> tuple[float, R]:
    """Run ``fn`` and return the CPU seconds it took with its result (runs in the worker)."""
    start = time.process_time()
    result = fn(*args)
    return time.process_time() - start, result


def _too_long(job: _Job) -> TooLong:
    return TooLong(f"{job.task.label} ran past its {job.limit_s:g} s limit and was stopped",
                   hint="make it lighter: fewer or shorter indicators, a shorter range")  # fmt: skip


class InlineCompute(_Fair):
    """Threads of this process: fairness and budgets as everywhere, limits by abandoning the thread."""

    def __init__(self, settings: Settings, slots: int | None = None, budget: Budget | None = None) -> None:
        super().__init__(settings, slots or max(2, os.cpu_count() or 2), budget=budget)

    async def warm(self) -> None:
        return None  # threads start as they are needed

    async def _execute(self, job: _Job) -> tuple[float, Any]:
        try:
            return await asyncio.wait_for(asyncio.to_thread(measured, job.fn, *job.args), job.limit_s)
        except TimeoutError:
            raise _too_long(job) from None

    async def close(self) -> None:
        return None


#: glibc ``mallopt`` parameters (malloc.h) and the values a worker sets.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
KEPT_FREE_BYTES = 64 * 1024 * 1024  # freed memory a worker keeps at its heap's top instead of unmapping
HEAP_UP_TO_BYTES = 16 * 1024 * 1024  # blocks up to this size come from the heap, not a mapping of their own


def keep_freed_memory() -> bool:
    """Make this process's allocator keep the memory numpy frees, so the next array of that size
    reuses it (glibc only; False elsewhere, where nothing changes).

    A backtest on 100,000 bars makes and drops some twenty arrays of 800 kB. glibc maps each such
    block from the kernel and unmaps it on free (or trims the heap's top once 2 x 800 kB lies free
    there), so every new array faulted its pages in again, zeroed by the kernel: in an optimiser's
    grid a third of each set's time went to page faults (bench/optimize.py). Blocks up to
    :data:`HEAP_UP_TO_BYTES` now come from the heap and up to :data:`KEPT_FREE_BYTES` of free heap
    stays mapped: a worker's resident size stays up to that much higher between tasks."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, HEAP_UP_TO_BYTES) and mallopt(_M_TRIM_THRESHOLD, KEPT_FREE_BYTES))


def _warm(memory_mb: int) -> None:
    """Each worker's start: bound its memory (a task past it gets MemoryError, not the machine),
    and keep the modules it was forked with out of the cyclic collector's walks: a task allocates
    thousands of small objects (tokens, nodes, Series), and each full collection would otherwise
    walk pandas' and matplotlib's few hundred thousand objects again."""
    import gc
    import resource

    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    keep_freed_memory()
    os.environ.setdefault("MPLBACKEND", "Agg")
    gc.collect()
    gc.freeze()


class ProcessCompute(_Fair):
    """A warm pebble process pool; a task past its limit kills its worker, which is replaced."""

    def __init__(self, settings: Settings, workers: int | None = None, budget: Budget | None = None) -> None:
        # two per core: a light task finds a worker while heavy ones run (the OS shares the cores), where
        # one per core made /watchlist wait whole seconds behind two heavy charts (bench/responsiveness.py)
        size = workers or settings.compute_workers or 2 * max(1, os.cpu_count() or 1)
        super().__init__(settings, size, budget=budget)
        self._pool: Any = None
        self._starting: asyncio.Future[None] | None = None

    async def warm(self) -> None:
        """Start the workers in a thread: the forkserver importing pandas and forking each worker
        takes a second or more, which the event loop would otherwise spend on the first request."""
        if self._starting is None:
            self._starting = asyncio.ensure_future(asyncio.to_thread(self._start_pool))
        await asyncio.shield(self._starting)

    def _start_pool(self) -> None:
        import multiprocessing

        from pebble import ProcessPool

        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(WARM_MODULES))
        pool = ProcessPool(max_workers=self.slots, initializer=_warm, initargs=(self.settings.compute_memory_mb,),
                           context=context)  # fmt: skip
        pool.schedule(os.getpid).result(timeout=STARTUP_TIMEOUT_S)  # pebble starts its workers on the first task
        self._pool = pool

    async def _execute(self, job: _Job) -> tuple[float, Any]:
        from pebble import ProcessExpired

        if self._pool is None:
            await self.warm()
        future = self._pool.schedule(measured, args=(job.fn, *job.args), timeout=job.limit_s)
        try:
            return await asyncio.wrap_future(future)
        except concurrent.futures.TimeoutError:
            log.warning("compute_task_killed", label=job.task.label, limit_s=job.limit_s, user=job.task.user_id)
            raise _too_long(job) from None
        except ProcessExpired as exc:
            log.error("compute_worker_died", label=job.task.label, exitcode=exc.exitcode, user=job.task.user_id)
            raise Unavailable(f"{job.task.label} stopped: its worker died (exit {exc.exitcode}); nothing was "
                              "kept, try again") from None  # fmt: skip
        except MemoryError:
            raise Invalid(f"{job.task.label} needed more memory than a task may use "
                          f"({self.settings.compute_memory_mb} MB)", hint="try a shorter range") from None  # fmt: skip
        except asyncio.CancelledError:
            future.cancel()  # pebble stops the worker running it
            raise

    async def close(self) -> None:
        starting, self._starting = self._starting, None
        if starting is not None:
            with contextlib.suppress(Exception):
                await starting
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()
            await asyncio.to_thread(pool.join, 10)


def open_compute(settings: Settings, budget: Budget | None = None) -> Compute:
    """The executor the settings choose (``COMPUTE``): the ``local`` process pool, ``inline`` threads,
    or the ``queue`` of ``stoxlify worker`` processes on any machine (``core.compute.queue``);
    ``budget`` gives each user's plan budget (the settings' for everyone when None)."""
    if settings.compute == "inline":
        return InlineCompute(settings, budget=budget)
    if settings.compute == "queue":
        from core.compute.queue import QueueCompute

        return QueueCompute(settings, budget=budget)
    return ProcessCompute(settings, budget=budget)
