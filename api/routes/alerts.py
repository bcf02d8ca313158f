"""Alerts: a live stream of the token owner's own alerts, as server-sent events.

``GET /v1/alerts/stream`` (a ``read`` token) stays open and sends each alert the jobs produce for
the owner as it happens (deployment fills, pauses and the other trade events; watch crossings):
the same alerts their chats receive, with the chat's text. Each is an SSE event::

    event: filled
    id: 3f2c...
    data: {"kind": "filled", "deployment_id": 7, "ticker": "BTCUSDT", "text": "...", "time": "...", "price": ...}

The subscription is made before the answer starts (a first comment line, ``: stream open``, says it
is), so an alert produced after that line is never missed. A comment line (``: ping``) every
``API_STREAM_HEARTBEAT_S`` (15 s) keeps proxies from closing an idle connection and notices a client
that left; leaving, or the server stopping, ends the subscription. Nothing is replayed: alerts
produced while disconnected are in the chats only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.common import Reader, core_of
from core.state.alert_stream import LiveAlert, Subscription

router = APIRouter(prefix="/v1", tags=["Alerts"])

SSE = {"content": {"text/event-stream": {}}, "description": "server-sent events, one per alert, until the client leaves"}


def sse(alert: LiveAlert) -> str:
    """One alert as an SSE event (its JSON on one line: a ``data:`` line cannot hold a newline)."""
    return f"event: {alert.kind.value}\nid: {alert.id}\ndata: {json.dumps(alert.to_json(), ensure_ascii=False)}\n\n"


class _Stream(StreamingResponse):
    """Closes the subscription however the answer ends: finished, failed, or never started."""

    def __init__(self, content: AsyncIterator[str], subscription: contextlib.AsyncExitStack) -> None:
        super().__init__(content, media_type="text/event-stream",
                         headers={"cache-control": "no-cache", "x-accel-buffering": "no"})  # proxies must not buffer it
        self.subscription = subscription

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.subscription.aclose()


async def _events(request: Request, subscription: Subscription) -> AsyncIterator[str]:
    heartbeat = core_of(request).settings.api_stream_heartbeat_s
    closing: asyncio.Event = request.app.state.closing
    yield ": stream open\n\n"
    closed = asyncio.ensure_future(closing.wait())
    arriving: asyncio.Future[LiveAlert] | None = None
    try:
        while True:
            if arriving is None:
                arriving = asyncio.ensure_future(subscription.next())
            either: set[asyncio.Future[Any]] = {arriving, closed}
            done, _ = await asyncio.wait(either, timeout=heartbeat, return_when=asyncio.FIRST_COMPLETED)
            if closed in done:
                return  # the server is stopping
            if arriving in done:
                alert, arriving = arriving.result(), None
                yield sse(alert)
            elif await request.is_disconnected():
                return
            else:
                yield ": ping\n\n"
    finally:
        for waiting in (arriving, closed):
            if waiting is not None:
                waiting.cancel()
                with contextlib.suppress(BaseException):
                    await waiting


@router.get("/alerts/stream", summary="Stream My Alerts", response_class=StreamingResponse, responses={200: SSE})
async def stream_alerts(request: Request, caller: Reader) -> StreamingResponse:
    """Your own alerts as they happen (server-sent events): trade fills and pauses of your
    deployments, and your watchlist's crossings, with the text your chats show."""
    stack = contextlib.AsyncExitStack()
    subscription = await stack.enter_async_context(core_of(request).state.alerts.subscribe(caller.actor.user_id))
    return _Stream(_events(request, subscription), stack)
