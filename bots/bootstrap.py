"""The composition root: the application built once, then handed to each entry point.

``build`` opens the core (settings, database, compute executor, shared state, market service) and
binds the chat commands to this application's rate limits (``core.state``: memory, or Redis shared
by the replicas). ``stoxlify run``, ``chat`` and ``say`` start from it; the scheduler and the
transports receive what it built, and nothing is wired at import time: the command modules only
declare their commands (``bots.commands``), each application gets its own registry over them.
``stoxlify worker`` needs none of this: it builds its broker and its pool from the settings alone.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

from bots.commands import load
from bots.registry import Registry
from core.app import Core
from core.config import Settings


@dataclass(slots=True)
class App:
    core: Core
    registry: Registry  # the declared commands, bound to this application's rate limits

    async def close(self) -> None:
        await self.core.close()


async def build(settings: Settings | None = None) -> App:
    core = await Core.start(settings)
    return App(core, load().bound(core.state.rate_limits))


async def prepare_to_serve(app: App) -> None:
    """The long-running entry points (``run``, ``api``), once built: the compute workers started
    off the event loop (else the first chart's request waits a second or more for them, and
    every other request with it), then what start-up made (modules, the registry, the core),
    which lives as long as the process, moved out of the cyclic collector's sight. Otherwise
    every full collection walks those ~200,000 objects again, a pause of 60 to 150 ms that lands
    on whichever requests are in flight (the API's slowest answers)."""
    await app.core.compute.warm()
    gc.collect()
    gc.freeze()
