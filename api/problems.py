"""Errors as problem details (RFC 9457), mapped from the core's error hierarchy.

A client reads ``status``, ``title`` and ``detail`` (the same message a chat user reads) and, for
a limit, ``Retry-After``. Anything that is not a ``StoxlifyError`` is a bug: the client gets 500
with a reference to quote, never the exception's text or a stack trace.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import Conflict, Forbidden, Invalid, LimitExceeded, NotFound, StoxlifyError, Unavailable
from core.logging import get_logger

log = get_logger(__name__)

MEDIA_TYPE = "application/problem+json"
# The most specific class first: TooLong is an Invalid, ComputeLimit a LimitExceeded.
STATUS: tuple[tuple[type[StoxlifyError], int, str], ...] = (
    (NotFound, 404, "Not Found"),
    (Forbidden, 403, "Forbidden"),
    (Conflict, 409, "Conflict"),
    (LimitExceeded, 429, "Too Many Requests"),
    (Unavailable, 503, "Service Unavailable"),
    (Invalid, 422, "Unprocessable Content"),
)


def problem(status: int, title: str, detail: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    headers = {"WWW-Authenticate": 'Bearer realm="stoxlify"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def from_error(exc: StoxlifyError) -> JSONResponse:
    status, title = next(((code, name) for kind, code, name in STATUS if isinstance(exc, kind)), (400, "Bad Request"))
    extra: dict[str, Any] = {"hint": exc.hint} if exc.hint else {}
    response = problem(status, title, exc.message, **extra)
    retry = getattr(exc, "retry_after_s", None)
    if status == 429 and retry:
        response.headers["Retry-After"] = str(max(1, round(retry)))
    return response


async def _domain(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StoxlifyError)
    return from_error(exc)


async def _validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "message": e.get("msg", "")}
              for e in exc.errors()[:20]]  # fmt: skip
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)[:500]
    return problem(422, "Unprocessable Content", detail, errors=errors)


async def _http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    response = problem(exc.status_code, _TITLES.get(exc.status_code, "Error"), detail)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _bug(_request: Request, exc: Exception) -> JSONResponse:
    ref = secrets.token_hex(4)
    log.error("api_request_failed", ref=ref, error=type(exc).__name__, exc_info=exc)
    return problem(500, "Internal Server Error", f"something went wrong on our side (ref {ref})", ref=ref)


_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           413: "Content Too Large", 415: "Unsupported Media Type", 429: "Too Many Requests"}  # fmt: skip

HANDLERS = ((StoxlifyError, _domain), (RequestValidationError, _validation), (StarletteHTTPException, _http),
            (Exception, _bug))  # fmt: skip
