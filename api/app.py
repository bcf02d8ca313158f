"""The ASGI app: routes under ``/v1``, bearer tokens, problem details, bounded bodies.

``create_app(core)`` is all an entry point needs (``stoxlify api``, ``stoxlify run`` with
``API_ENABLED``, the tests); the core is the one the chat transports use, so chat and HTTP call the
same services and can never disagree. The same app serves the configured webhooks (Telegram's,
Mayar's: ``api.webhooks``) on the same port, so one server, one port and one proxy rule serve them
all; ``routes=False`` serves the webhooks (and the health check) without the API's own routes, for
``stoxlify run`` with webhooks but without ``API_ENABLED``.
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from api import problems
from api.auth import Grants, TooSmallScope, Unauthenticated
from api.limits import BodyLimit, RefuseNul
from api.routes import account, alerts, brokers, commerce, market, media, models, reference, strategies
from api.webhooks import mount as mount_webhooks
from core.app import Core
from core.state.ratelimit import RateLimiter

TITLE = "Stoxlify Core API"
VERSION = "1.0.0"


def create_app(core: Core, *, routes: bool = True) -> FastAPI:
    app = FastAPI(title=TITLE, version=VERSION, description=__doc__, openapi_url="/openapi.json", docs_url="/docs",
                  redoc_url=None)  # fmt: skip
    app.state.core = core
    app.state.closing = asyncio.Event()  # set as the server stops: open streams end (api.server)
    app.openapi = lambda: problems.documented(app)  # type: ignore[method-assign]  # error answers as sent
    app.state.grants = Grants()
    app.state.rate_limiter = RateLimiter(core.settings.api_rate_limit_per_minute, core.state.rate_limits.storage,
                                         namespace="api-token")  # fmt: skip
    for kind, handler in problems.HANDLERS:
        app.add_exception_handler(kind, handler)
    app.add_exception_handler(Unauthenticated, _unauthenticated)
    app.add_exception_handler(TooSmallScope, _too_small)
    app.add_exception_handler(RecursionError, _too_deep)
    app.get("/v1/health", summary="Health check", tags=["Health"])(_health)
    if routes:
        for module in (market, reference, models, strategies, account, brokers, media, commerce, alerts):
            app.include_router(module.router)
    own_limits = mount_webhooks(app, core)  # each checks its secret, then its own size limit
    app.add_middleware(RefuseNul, exempt=own_limits)  # inside BodyLimit: the bodies it reads are bounded
    app.add_middleware(BodyLimit, max_bytes=core.settings.api_max_body_bytes, exempt=own_limits)
    return app


async def _health() -> dict[str, str]:
    """No token needed: whether the server answers (for load balancers)."""
    return {"status": "ok"}


async def _unauthenticated(_request: object, exc: Exception) -> JSONResponse:
    return problems.problem(401, "Unauthorized", str(exc))


async def _too_small(_request: object, exc: Exception) -> JSONResponse:
    return problems.problem(403, "Forbidden", str(exc))


async def _too_deep(_request: object, _exc: Exception) -> JSONResponse:
    # JSON nested thousands deep makes the decoder recurse past Python's limit: bad input, not a bug
    return problems.problem(400, "Bad Request", "the JSON body is nested too deeply")
