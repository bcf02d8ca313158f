"""A tiny HTTP server for Mayar's payment webhook, started only when ``MAYAR_WEBHOOK_ENABLED``.

Mayar signs nothing, so the body is only a hint: core.purchase.settle stores it (only when it is
about a purchase of ours) and reads the invoice back before crediting anything. The receiver will
not start without ``MAYAR_WEBHOOK_TOKEN`` (a ``?token=`` in the URL set in Mayar's dashboard): a
request without it is turned away before its body is read, as is one over ``MAYAR_WEBHOOK_MAX_BYTES``
(``bots.webhook_guard``). Read-backs are rate-limited per invoice and overall (429, the event kept).
Answers carry no detail (``{"ok": true}``) so a prober learns nothing; 503 asks Mayar to retry when
the read-back (or the database) failed.

``serve`` has the transports' signature (``bots.runner``), so the runner can start it alongside them.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import TYPE_CHECKING, Any

import tornado.httpserver
import tornado.netutil
import tornado.web

from bots.webhook_guard import GuardedHandler
from core.config import Settings
from core.errors import Invalid, LimitExceeded, Unavailable
from core.logging import get_logger
from core.purchase.readbacks import ReadBackLimiter
from core.purchase.settle import handle_mayar_event

if TYPE_CHECKING:
    from bots.registry import Registry
    from core.app import Core

log = get_logger(__name__)


class MayarWebhook(GuardedHandler):
    def initialize(self, core: Core, limiter: ReadBackLimiter) -> None:
        self.core = core
        self.limiter = limiter
        self.max_bytes = core.settings.mayar_webhook_max_bytes

    def authorized(self) -> bool:
        token = self.core.settings.mayar_webhook_token
        given = self.get_query_argument("token", "")
        return token is not None and hmac.compare_digest(given.encode(), token.get_secret_value().encode())

    async def post(self) -> None:
        try:
            payload = self.json_body()
        except ValueError as exc:
            return self.answer(400, {"ok": False, "error": str(exc)})
        try:
            outcome = await handle_mayar_event(self.core.db, self.core.settings, payload, limiter=self.limiter)
        except Invalid as exc:
            return self.answer(400, {"ok": False, "error": exc.message})
        except LimitExceeded:  # the event is kept: Mayar's retry or the status poll settles it
            self.set_header("Retry-After", "60")
            return self.answer(429, {"ok": False})
        except Unavailable:  # Mayar or the database: Mayar retries
            return self.answer(503, {"ok": False})
        log.info("mayar_webhook", mayar_event=str(payload.get("event"))[:64], outcome=outcome)
        return self.answer(200, {"ok": True})

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Tornado's own logs the full URI, token included: log the path and the error only."""
        log.error("webhook_failed", path=self.request.path, error=repr(value), exc_info=(typ, value, tb))


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """Access log without the query string, which holds the webhook token."""
    log.info("webhook_request", method=handler.request.method, path=handler.request.path,
             status=handler.get_status(), ms=round(handler.request.request_time() * 1000))


def make_app(core: Core) -> tornado.web.Application:
    limiter = ReadBackLimiter(core.settings, core.state.rate_limits.storage)  # shared by replicas with Redis
    return tornado.web.Application(
        [(core.settings.mayar_webhook_path, MayarWebhook, {"core": core, "limiter": limiter})],
        log_function=_log_request,
    )


def check_settings(settings: Settings) -> None:
    """Refuse to serve an open webhook: without a token anyone could post events (each stored, each
    costing a read-back)."""
    if settings.mayar_webhook_token is None:
        raise Invalid(
            "MAYAR_WEBHOOK_ENABLED=true needs MAYAR_WEBHOOK_TOKEN: set it to a long random string and end the "
            "webhook URL in Mayar's dashboard with ?token=<it>"
        )


def start(core: Core, host: str | None = None, port: int | None = None) -> tuple[tornado.httpserver.HTTPServer, int]:
    """Listen on the event loop already running; returns the server and the bound port (0 picks one)."""
    settings = core.settings
    check_settings(settings)
    server = tornado.httpserver.HTTPServer(make_app(core), max_body_size=settings.mayar_webhook_max_bytes)
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
