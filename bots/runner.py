"""``stoxlify run``: the configured chat transports and the jobs (when ``JOBS_ENABLED``) in one process.

One HTTP server (``api.server``, on ``API_LISTEN:API_PORT``) runs beside them when anything needs
it: the API (``API_ENABLED``), Telegram's webhook (``TELEGRAM_MODE=webhook``) or Mayar's
(``MAYAR_WEBHOOK_ENABLED``). It serves the API's routes only with ``API_ENABLED``.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from bots.bootstrap import build, prepare_to_serve
from bots.registry import Registry
from core.app import Core
from core.config import Settings
from core.logging import get_logger

log = get_logger(__name__)

Serve = Callable[[Core, Registry, asyncio.Event], Coroutine[Any, Any, None]]  # a coroutine: each runs as a task


def configured_transports(settings: Settings) -> dict[str, Serve]:
    """The transports whose token is set (and the HTTP server when the API or a webhook is enabled),
    by name; imported only when configured."""
    transports: dict[str, Serve] = {}
    if settings.telegram_token is not None:
        from bots.telegram.app import serve as serve_telegram

        transports["telegram"] = serve_telegram
    if settings.discord_token is not None:
        from bots.discord.client import serve as serve_discord

        transports["discord"] = serve_discord
    telegram_webhook = settings.telegram_token is not None and settings.telegram_mode == "webhook"
    mayar_webhook = settings.mayar_webhook_enabled and bool(transports)  # payment events, beside a chat transport
    if mayar_webhook:
        from api.webhooks.mayar import check_settings

        check_settings(settings)  # refused before anything starts: an open webhook takes anyone's events
    if settings.api_enabled or telegram_webhook or mayar_webhook:  # one server, one port, same core
        transports["api"] = serve_api
    return transports


async def serve_api(core: Core, _registry: Registry, stop: asyncio.Event) -> None:
    """The HTTP server: the API's routes when ``API_ENABLED``, and the configured webhooks."""
    from api.server import serve

    await serve(core, stop, routes=core.settings.api_enabled)


async def run(settings: Settings) -> int:
    transports = configured_transports(settings)
    if not transports:
        from bots.console import DEFAULT_OUT
        from bots.console.transport import chat

        log.info("no_chat_token", detail="TELEGRAM_TOKEN and DISCORD_TOKEN are unset: starting the console chat")
        return await chat(DEFAULT_OUT)

    app = await build(settings)
    await prepare_to_serve(app)
    core, registry = app.core, app.registry
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("starting", transports=sorted(transports))
    scheduler = None
    tasks: list[asyncio.Task[None]] = []
    try:
        # The transports first: each registers its notifier as it starts, and the scheduler's alerts
        # (its start-up reconciliation runs a few seconds after it starts) are delivered through them.
        tasks = [asyncio.create_task(serve(core, registry, stop), name=name) for name, serve in transports.items()]
        await asyncio.sleep(0)  # let each transport begin before the jobs do
        if settings.jobs_enabled:  # deployed models at candle close; claims in the DB keep replicas apart
            from jobs.scheduler import start_scheduler

            scheduler = await start_scheduler(core)
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        failed = [t for t in done if t.exception() is not None]
        for task in failed:
            log.error("transport_failed", transport=task.get_name(), error=str(task.exception()))
        stop.set()  # one transport failing stops the others cleanly
        await asyncio.gather(*tasks, return_exceptions=True)
        return 1 if failed else 0
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        if scheduler is not None:
            await scheduler.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await app.close()
