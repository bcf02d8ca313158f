"""The webhooks, served by the API's own server on its port (``API_LISTEN:API_PORT``).

``mount(app, core)`` adds each configured one as a plain route: Telegram's at the path of
``TELEGRAM_WEBHOOK_URL`` when ``TELEGRAM_MODE=webhook``, Mayar's at ``MAYAR_WEBHOOK_PATH`` when
``MAYAR_WEBHOOK_ENABLED``. They are outside the API's bearer auth, its schema, its dependencies and
its body limit: each checks its own secret first, then its own size limit, before reading a byte
(``api.webhooks.guard``). Their paths are returned, for ``BodyLimit`` to leave them alone.
"""

from __future__ import annotations

from fastapi import FastAPI

from api.webhooks import mayar, telegram
from core.app import Core


def mount(app: FastAPI, core: Core) -> frozenset[str]:
    """Add the configured webhook routes to ``app``; their paths."""
    settings = core.settings
    paths: set[str] = set()
    if telegram.enabled(settings):
        app.add_route(telegram.path(settings), telegram.receive, methods=["POST"], include_in_schema=False)
        paths.add(telegram.path(settings))
    if settings.mayar_webhook_enabled:
        mayar.check_settings(settings)
        app.state.mayar_readbacks = mayar.limiter(core)
        app.add_route(settings.mayar_webhook_path, mayar.receive, methods=["POST"], include_in_schema=False)
        paths.add(settings.mayar_webhook_path)
    return frozenset(paths)
