"""A tiny HTTP server for Mayar's payment webhook, started only when ``MAYAR_WEBHOOK_ENABLED``.

Mayar signs nothing, so the body is only a hint: core.purchase.settle stores it once and reads
the invoice back before crediting anything. ``MAYAR_WEBHOOK_TOKEN`` (a ``?token=`` in the URL set
in Mayar's dashboard) turns away strangers before they cost a read-back. Answers carry no detail
(``{"ok": true}``) so a prober learns nothing; 503 asks Mayar to retry when the read-back failed.

``serve`` has the transports' signature (``bots.runner``), so the runner can start it alongside them.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import TYPE_CHECKING, Any

import tornado.httpserver
import tornado.netutil
import tornado.web

from core.errors import Invalid, Unavailable
from core.logging import get_logger
from core.purchase.settle import handle_mayar_event

if TYPE_CHECKING:
    from bots.registry import Registry
    from core.app import Core

log = get_logger(__name__)
MAX_BODY = 64 * 1024


class MayarWebhook(tornado.web.RequestHandler):
    def initialize(self, core: Core) -> None:
        self.core = core

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    async def post(self) -> None:
        token = self.core.settings.mayar_webhook_token
        if token is not None and not hmac.compare_digest(
            self.get_query_argument("token", "").encode(), token.get_secret_value().encode()
        ):
            return self._answer(403, {"ok": False})
        try:
            payload = json.loads(self.request.body or b"null")
        except ValueError:
            return self._answer(400, {"ok": False, "error": "not JSON"})
        try:
            outcome = await handle_mayar_event(self.core.db, self.core.settings, payload)
        except Invalid as exc:
            return self._answer(400, {"ok": False, "error": exc.message})
        except Unavailable:
            return self._answer(503, {"ok": False})
        log.info("mayar_webhook", mayar_event=payload.get("event"), outcome=outcome)
        return self._answer(200, {"ok": True})

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Tornado's own logs the full URI, token included: log the path and the error only."""
        log.error("webhook_failed", path=self.request.path, error=repr(value), exc_info=(typ, value, tb))


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """Access log without the query string, which holds the webhook token."""
    log.info("webhook_request", method=handler.request.method, path=handler.request.path,
             status=handler.get_status(), ms=round(handler.request.request_time() * 1000))


def make_app(core: Core) -> tornado.web.Application:
    return tornado.web.Application(
        [(core.settings.mayar_webhook_path, MayarWebhook, {"core": core})], log_function=_log_request
    )


def start(core: Core, host: str | None = None, port: int | None = None) -> tuple[tornado.httpserver.HTTPServer, int]:
    """Listen on the event loop already running; returns the server and the bound port (0 picks one)."""
    settings = core.settings
    server = tornado.httpserver.HTTPServer(make_app(core), max_body_size=MAX_BODY)
    sockets = tornado.netutil.bind_sockets(
        settings.mayar_webhook_port if port is None else port, settings.mayar_webhook_listen if host is None else host
    )
    server.add_sockets(sockets)
    return server, sockets[0].getsockname()[1]


async def serve(core: Core, registry: Registry, stop: asyncio.Event) -> None:
    """Serve the webhook until ``stop`` is set."""
    server, port = start(core)
    log.info("mayar_webhook_listening", port=port, path=core.settings.mayar_webhook_path)
    try:
        await stop.wait()
    finally:
        server.stop()
        await server.close_all_connections()
