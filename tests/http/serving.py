"""A real uvicorn server on a loopback port for a core: the one the API and the webhooks share."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from api.server import server
from core.app import Core


@contextlib.asynccontextmanager
async def serving(core: Core, *, routes: bool = True) -> AsyncIterator[int]:
    """Serve ``create_app(core, routes=routes)`` on 127.0.0.1; yields the bound port."""
    http = server(core, host="127.0.0.1", port=0, routes=routes)
    task = asyncio.create_task(http.serve())
    while not http.started:  # uvicorn says it is listening only through this flag
        if task.done():
            task.result()  # it failed to start: say why
        await asyncio.sleep(0.01)
    try:
        yield http.servers[0].sockets[0].getsockname()[1]
    finally:
        http.should_exit = True
        await asyncio.wait_for(task, 10)


async def raw(port: int, head: str, body: bytes = b"") -> bytes:
    """Send a request head (and the start of a body) over a socket; the server's whole answer,
    read until it closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode() + body)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
