"""Telegram's webhook, a route of the API's server: ours, not python-telegram-bot's.

PTB's ``Updater.start_webhook`` serves updates through tornado on a port of its own, with a 100 MB
body limit, and checks the secret only once the whole body is in memory (six 95 MB posts from
anyone took the process from 152 MB to 1 GB). This route is served by the one HTTP server
(``API_LISTEN:API_PORT``) at the path of ``TELEGRAM_WEBHOOK_URL``; it checks
``X-Telegram-Bot-Api-Secret-Token`` from the headers and refuses (403) before reading any body,
refuses bodies over ``TELEGRAM_WEBHOOK_MAX_BYTES`` (413; updates are a few KB), answers malformed or
deeply nested JSON with 400, and hands each update to the running Application's queue exactly as
PTB's receiver does (``bots.telegram.webhook`` registers that hand-over as ``core.receivers``).
Until the transport has registered (or after it stopped) updates are answered 503: Telegram retries.
"""

from __future__ import annotations

from urllib.parse import urlparse

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.webhooks.guard import Refused, logged, parse_json, read_body, same_secret
from core.config import Settings
from core.logging import get_logger

log = get_logger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PLATFORM = "telegram"


def enabled(settings: Settings) -> bool:
    return settings.telegram_token is not None and settings.telegram_mode == "webhook"


def path(settings: Settings) -> str:
    """The route's path: the path of the public URL Telegram is told to post to."""
    return "/" + urlparse(settings.telegram_webhook_url or "").path.lstrip("/")


async def _receive(request: Request) -> Response:
    receiver = request.app.state.core.receivers.get(PLATFORM)
    if receiver is None:
        raise Refused(503)  # the transport is not (yet, or any more) running here: Telegram retries
    given = request.headers.get(SECRET_HEADER, "")
    body = await read_body(request, authorized=same_secret(given, receiver.secret), max_bytes=receiver.max_bytes)
    try:
        accepted = await receiver.receive(parse_json(body or b"null"))
    except Exception as exc:  # not JSON, too deep, or not an update: never logged with its content
        log.warning("telegram_webhook_bad_update", error=type(exc).__name__)
        raise Refused(400) from None
    if not accepted:
        raise Refused(400)
    return JSONResponse({"ok": True})


receive = logged(PLATFORM, _receive, level="debug")  # one request per update: logged at DEBUG
