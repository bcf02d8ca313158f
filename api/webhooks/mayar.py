"""Mayar's payment webhook, a route of the API's server, mounted only when ``MAYAR_WEBHOOK_ENABLED``.

Mayar signs nothing, so the body is only a hint: ``core.purchase.settle`` stores it (only when it is
about a purchase of ours) and reads the invoice back before crediting anything. The route is not
mounted without ``MAYAR_WEBHOOK_TOKEN`` (``check_settings`` refuses to start): Mayar's dashboard URL
ends in ``?token=<it>``, and a request without it is turned away before its body is read, as is one
over ``MAYAR_WEBHOOK_MAX_BYTES`` (``api.webhooks.guard``). Read-backs are rate-limited per invoice
and overall (429 with ``Retry-After``, the event kept). Answers carry no detail (``{"ok": true}``) so
a prober learns nothing; 503 asks Mayar to retry when the read-back (or the database) failed.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.webhooks.guard import Refused, logged, parse_json, read_body, same_secret
from core.app import Core
from core.config import Settings
from core.errors import Invalid, LimitExceeded, Unavailable
from core.logging import get_logger
from core.purchase.readbacks import ReadBackLimiter
from core.purchase.settle import handle_mayar_event

log = get_logger(__name__)


def check_settings(settings: Settings) -> None:
    """Refuse to serve an open webhook: without a token anyone could post events (each stored, each
    costing a read-back)."""
    if settings.mayar_webhook_token is None:
        raise Invalid(
            "MAYAR_WEBHOOK_ENABLED=true needs MAYAR_WEBHOOK_TOKEN: set it to a long random string and end the "
            "webhook URL in Mayar's dashboard with ?token=<it>"
        )


def limiter(core: Core) -> ReadBackLimiter:
    """Read-backs counted in the shared state: one count across replicas with Redis."""
    return ReadBackLimiter(core.settings, core.state.rate_limits.storage)


async def _receive(request: Request) -> Response:
    core: Core = request.app.state.core
    settings = core.settings
    token = settings.mayar_webhook_token
    given = request.query_params.get("token", "")
    authorized = token is not None and same_secret(given, token.get_secret_value())
    body = await read_body(request, authorized=authorized, max_bytes=settings.mayar_webhook_max_bytes)
    try:
        payload = parse_json(body or b"null")
    except ValueError as exc:
        raise Refused(400, {"ok": False, "error": str(exc)}) from None
    try:
        outcome = await handle_mayar_event(core.db, settings, payload, limiter=request.app.state.mayar_readbacks)
    except Invalid as exc:
        raise Refused(400, {"ok": False, "error": exc.message}) from None
    except LimitExceeded:  # the event is kept: Mayar's retry or the status poll settles it
        raise Refused(429, headers={"retry-after": "60"}) from None
    except Unavailable:  # Mayar or the database: Mayar retries
        raise Refused(503) from None
    log.info("mayar_webhook", mayar_event=str(payload.get("event") if isinstance(payload, dict) else "")[:64],
             outcome=outcome)  # fmt: skip
    return JSONResponse({"ok": True})


receive = logged("mayar", _receive)
