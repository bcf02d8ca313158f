"""What every webhook receiver checks before it spends memory on a request.

A webhook listens on a public address, so anyone may post to it. Tornado's default would buffer
a body of up to 100 MB before any handler runs; a ``GuardedHandler`` instead streams the body and
decides from the request line and headers alone, before reading a byte of it:

- ``authorized()`` (a secret header, a token in the URL): else 403, and the connection is closed
  unread;
- a declared ``Content-Length`` over ``max_bytes``: 413, unread; a body that grows past it while
  streaming (chunked) is cut off the same way.

The body, once in, is parsed by ``parse_json``: anything that is not JSON, or nests deeper than
any real event does (a deep document would otherwise raise RecursionError, a 500), is a
``ValueError`` the handler answers with 400.
"""

from __future__ import annotations

import json
from typing import Any

import tornado.web

MAX_JSON_DEPTH = 32  # Telegram's updates and Mayar's events nest a handful of levels


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


@tornado.web.stream_request_body
class GuardedHandler(tornado.web.RequestHandler):
    """A POST receiver that checks who asks and how much they send before reading the body."""

    SUPPORTED_METHODS = ("POST",)
    max_bytes: int = 64 * 1024

    def authorized(self) -> bool:
        """Whether the request line and headers show the caller may post here."""
        raise NotImplementedError

    def answer(self, status: int, body: dict[str, Any]) -> None:
        """A short JSON answer that tells a prober nothing."""
        if self._finished:
            return
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def prepare(self) -> None:
        self._body = bytearray()
        if not self.authorized():
            return self.answer(403, {"ok": False})
        declared = self.request.headers.get("Content-Length", "0").strip()
        if not declared.isdigit() or int(declared) > self.max_bytes:
            return self.answer(413, {"ok": False, "error": "too large"})
        # a chunked body is capped by the connection too: it stops reading past the limit
        self.request.connection.set_max_body_size(self.max_bytes)  # type: ignore[union-attr]
        return None

    def data_received(self, chunk: bytes) -> None:
        if self._finished:
            return  # answered already (403, 413): the rest is dropped as it arrives
        if len(self._body) + len(chunk) > self.max_bytes:
            self.answer(413, {"ok": False, "error": "too large"})
            return
        self._body += chunk

    def json_body(self) -> Any:
        """The body as JSON; ``ValueError`` for anything else (answer 400)."""
        return parse_json(bytes(self._body or b"null"))
