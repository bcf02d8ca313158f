"""``stoxlify run``: the configured chat transports and the jobs (when ``JOBS_ENABLED``) in one process."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from bots.bootstrap import build
from bots.registry import Registry
from core.app import Core
from core.config import Settings
from core.logging import get_logger

log = get_logger(__name__)

Serve = Callable[[Core, Registry, asyncio.Event], Coroutine[Any, Any, None]]  # a coroutine: each runs as a task


def configured_transports(settings: Settings) -> dict[str, Serve]:
    """The transports whose token is set (and the HTTP API when enabled), by name; imported only
    when configured."""
    transports: dict[str, Serve] = {}
    if settings.telegram_token is not None:
        from bots.telegram.app import serve as serve_telegram

        transports["telegram"] = serve_telegram
    if settings.discord_token is not None:
        from bots.discord.client import serve as serve_discord

        transports["discord"] = serve_discord
    if settings.api_enabled:  # the HTTP API in this process, on the same core
        transports["api"] = serve_api
    if settings.mayar_webhook_enabled and transports:  # payment events, beside a chat transport
        from bots.webhooks import check_settings
        from bots.webhooks import serve as serve_webhooks

        check_settings(settings)  # refused before anything starts: an open webhook takes anyone's events

        transports["mayar_webhook"] = serve_webhooks
    return transports


async def serve_api(core: Core, _registry: Registry, stop: asyncio.Event) -> None:
    from api.server import serve

    await serve(core, stop)


async def run(settings: Settings) -> int:
    transports = configured_transports(settings)
    if not transports:
        from bots.console import DEFAULT_OUT
        from bots.console.transport import chat

        log.info("no_chat_token", detail="TELEGRAM_TOKEN and DISCORD_TOKEN are unset: starting the console chat")
        return await chat(DEFAULT_OUT)

    app = await build(settings)
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
