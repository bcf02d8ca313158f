"""Request bodies are bounded before they are read: a declared ``Content-Length`` over the limit is
answered 413 at once, and a streamed (chunked) body is cut off the moment it passes it."""

from __future__ import annotations

import json
from typing import Any

Scope = dict[str, Any]
Receive = Any
Send = Any


class BodyLimit:
    """Pure ASGI middleware (it sees the headers before any route reads the body)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await _too_large(send, self.max_bytes)
        seen = 0
        answered = False  # 413 sent: whatever the app sends after is dropped

        async def counted() -> dict[str, Any]:
            nonlocal seen, answered
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    if not answered:
                        answered = True
                        await _too_large(send, self.max_bytes)
                    return {"type": "http.disconnect"}  # the app stops reading, as if the client left
            return message

        async def tracked(message: dict[str, Any]) -> None:
            if not answered:
                await send(message)

        await self.app(scope, counted, tracked)


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"type": "about:blank", "title": "Content Too Large", "status": 413,
                       "detail": f"request bodies are limited to {limit:,} bytes"}).encode()  # fmt: skip
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})
