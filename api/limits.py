"""Request bodies are bounded before they are read: a declared ``Content-Length`` over the limit is
answered 413 at once, and a streamed (chunked) body is cut off the moment it passes it."""

from __future__ import annotations

import json
from typing import Any

from core.errors import Invalid

Scope = dict[str, Any]
Receive = Any
Send = Any


class BodyLimit:
    """Pure ASGI middleware (it sees the headers before any route reads the body). Paths in
    ``exempt`` (the webhooks) are left to enforce their own limits, after their own secrets."""

    def __init__(self, app: Any, max_bytes: int, exempt: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exempt:
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


NUL_REFUSED = "the request has a NUL character (\\u0000), which cannot be stored: remove it and send it again"


class RefuseNul:
    """A NUL in the path, the query or a JSON string is bad input (422), as the chat refuses it,
    not a database error (PostgreSQL cannot store or compare it). Pure ASGI middleware, inside
    ``BodyLimit`` (so a body reaches it bounded): the body is read here and handed on as read,
    which costs a route nothing, where an app-wide dependency cost every request a tenth of its
    time. Paths in ``exempt`` (the webhooks) read their own bodies, after their own secrets."""

    def __init__(self, app: Any, exempt: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exempt:
            return await self.app(scope, receive, send)
        if "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b""):
            return await _refused(scope, receive, send)
        messages: list[dict[str, Any]] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        if (b"\x00" in body or b"\\u0000" in body) and _json_has_nul(body):
            return await _refused(scope, receive, send)
        pending = iter(messages)

        async def replayed() -> dict[str, Any]:
            return next(pending, None) or await receive()

        await self.app(scope, replayed, send)


def _json_has_nul(body: bytes) -> bool:
    """Whether the body, read as JSON, holds a NUL in a key or a string (``\\\\u0000``, an escaped
    backslash before ``u0000``, holds none); a body that is not JSON is the route's to refuse."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return False
    return _has_nul(parsed)


async def _refused(scope: Scope, receive: Receive, send: Send) -> None:
    from api.problems import from_error

    await from_error(Invalid(NUL_REFUSED))(scope, receive, send)


def _has_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
