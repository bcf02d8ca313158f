"""Serving the app with uvicorn inside the bot's own event loop (``stoxlify run``) or alone
(``stoxlify api``): the one HTTP server, whose port (``API_PORT``) serves the API and the webhooks.

uvicorn's access log stays off: it would log each URL with its query string, and Mayar's webhook
token travels in it (the webhook routes log their own requests without it)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from core.app import Core
from core.logging import get_logger

log = get_logger(__name__)


class _Embedded(uvicorn.Server):
    """uvicorn inside a process that owns its signals: the bot's own shutdown stops the server
    (``should_exit``), so uvicorn must not take SIGINT/SIGTERM for itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Open alert streams end first: uvicorn waits for every response to finish before it stops."""
        app = self.config.app
        if isinstance(app, FastAPI):
            app.state.closing.set()
        await super().shutdown(sockets)


def server(core: Core, *, host: str | None = None, port: int | None = None, routes: bool = True) -> uvicorn.Server:
    """The server of ``create_app(core, routes=routes)`` (``routes=False``: the webhooks alone)."""
    settings = core.settings
    config = uvicorn.Config(create_app(core, routes=routes), host=host or settings.api_listen, port=settings.api_port if port is None
                            else port, log_config=None, access_log=False, lifespan="off", server_header=False)  # fmt: skip
    return _Embedded(config)


async def serve(core: Core, stop: asyncio.Event | None = None, *, routes: bool = True) -> None:
    """Serve until ``stop`` is set (or the task is cancelled)."""
    http = server(core, routes=routes)
    task = asyncio.create_task(http.serve())
    log.info("api_started", listen=core.settings.api_listen, port=core.settings.api_port, api_routes=routes)
    try:
        if stop is None:
            await task
        else:
            await stop.wait()
    finally:
        http.should_exit = True
        await asyncio.wait_for(task, 10)
