"""What every webhook route checks before it spends memory on a request.

A webhook listens on a public address, so anyone may post to it. A guarded route decides from the
request line and headers alone, before reading a byte of the body:

- the caller's secret (a header, a ``?token=`` in the URL), compared in constant time: else 403,
  and the connection is closed unread;
- a declared ``Content-Length`` over the route's limit: 413, unread. A body without a declared
  length (chunked) is refused with 400 the same way: Telegram and Mayar always declare it, and a
  chunk's own announced size is not visible to an ASGI app, so it could not be refused unread.
  A body that turns out longer than it declared is cut off at the limit (413).

These routes are exempt from the API's own ``BodyLimit`` (``api.limits``): their limits are their
own, and their secret is checked first. The body, once in, is parsed by ``parse_json``: anything
that is not JSON, or nests deeper than any real event does (a deep document would otherwise raise
RecursionError), is a 400.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core.logging import get_logger

log = get_logger(__name__)

MAX_JSON_DEPTH = 32  # Telegram's updates and Mayar's events nest a handful of levels


class Refused(Exception):
    """A short JSON answer that tells a prober nothing; the connection is closed after it."""

    def __init__(self, status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body if body is not None else {"ok": False}
        self.headers = headers or {}

    def response(self) -> Response:
        return JSONResponse(self.body, self.status, headers={"connection": "close", **self.headers})


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison, so response times leak nothing of the secret."""
    return hmac.compare_digest(given.encode(), expected.encode())


def _depth(value: Any) -> int:
    """How deeply ``value`` nests lists and objects, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item)
    return deepest


def parse_json(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON document in ``body``; ``ValueError`` when it is not one or nests too deeply."""
    try:
        value = json.loads(body)
    except RecursionError:  # the decoder's own guard against deep nesting
        raise ValueError("JSON nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError("not JSON") from exc
    if _depth(value) > max_depth:
        raise ValueError("JSON nested too deeply")
    return value


async def read_body(request: Request, *, authorized: bool, max_bytes: int) -> bytes:
    """The body, once the caller is authorized and it fits ``max_bytes``; else ``Refused``."""
    if not authorized:
        raise Refused(403)
    declared = request.headers.get("content-length", "").strip()
    if not declared.isdigit():
        raise Refused(400, {"ok": False, "error": "send the body with a Content-Length"})
    if int(declared) > max_bytes:
        raise Refused(413, {"ok": False, "error": "too large"})
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise Refused(413, {"ok": False, "error": "too large"})
    return bytes(body)


Handler = Callable[[Request], Awaitable[Response]]


def logged(name: str, handler: Handler, *, level: str = "info") -> Handler:
    """The route's own access log (uvicorn's is off): method, path and status, never the query
    string (Mayar's token travels in it) nor headers (Telegram's secret travels in one); any
    failure is a 500 logged with its path and error alone. ``level="debug"`` for a busy webhook
    (Telegram's: one request per update)."""

    async def endpoint(request: Request) -> Response:
        started = time.monotonic()
        try:
            response = await handler(request)
        except Refused as refused:
            response = refused.response()
        except Exception as exc:
            log.error("webhook_failed", webhook=name, path=request.url.path, error=type(exc).__name__)
            response = Refused(500).response()
        ms = round((time.monotonic() - started) * 1000)
        getattr(log, level)("webhook_request", webhook=name, method=request.method, path=request.url.path,
                            status=response.status_code, ms=ms)  # fmt: skip
        return response

    return endpoint
