"""Errors as problem details (RFC 9457), mapped from the core's error hierarchy.

A client reads ``status``, ``title`` and ``detail`` (the same message a chat user reads) and, for
a limit, ``Retry-After``. Anything that is not a ``StoxlifyError`` is a bug: the client gets 500
with a reference to quote, never the exception's text or a stack trace.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import Conflict, Forbidden, Invalid, LimitExceeded, NotFound, StoxlifyError, Unavailable
from core.logging import get_logger
from core.message import new_ref, went_wrong

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


class FieldProblem(BaseModel):
    """One field of the request that is wrong, as a form would show it next to the field."""

    field: str = Field(description="the field's path, dotted (products.0.product_id); query and path names as sent")
    message: str


class Problem(BaseModel):
    """Every error answer (RFC 9457 problem details, ``application/problem+json``)."""

    type: str = "about:blank"
    title: str = Field(description="the status's name")
    status: int
    detail: str | None = Field(default=None, description="what went wrong, the same sentence a chat user reads")
    hint: str | None = Field(default=None, description="what to do about it")
    errors: list[FieldProblem] | None = Field(default=None, description="422 on bad input: each field's problem")
    ref: str | None = Field(default=None, description="500: the reference to quote to the team")


_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}},
    429: {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds until the token may call again"}},
}
# The answers any route may give besides its own: the token's (401, 403, 429), the body's (400, 413, 422),
# the core's errors (404, 409, 503; STATUS). Routers declare them (responses=PROBLEMS), so the OpenAPI
# document lists each and a client (or schemathesis) can check an error answer like any other.
PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": description, **({"headers": _HEADERS[code]} if code in _HEADERS else {})}
    for code, description in ((400, "Bad Request: a body that cannot be read (JSON nested too deeply)"),
                              (401, "Unauthorized: no token, or one unknown, revoked or expired"),
                              (403, "Forbidden: the token's scope is too small, or not yours to do"),
                              (404, "Not Found"), (409, "Conflict: it exists already, or it is in use"),
                              (413, "Content Too Large: the body is over the limit"),
                              (422, "Unprocessable Content: bad input, each field's problem in errors"),
                              (429, "Too Many Requests: the token's rate, or a quota of the plan"),
                              (503, "Service Unavailable: a data source or exchange does not answer"))
}  # fmt: skip


def documented(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with its problems under ``application/problem+json``, the type they
    are sent with (FastAPI files a response model under the route's own type, application/json)."""
    if app.openapi_schema is None:
        document = FastAPI.openapi(app)
        ref = "#/components/schemas/Problem"
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                for answer in operation.get("responses", {}).values():
                    content = answer.get("content", {})
                    if content.get("application/json", {}).get("schema", {}).get("$ref") == ref:
                        content[MEDIA_TYPE] = content.pop("application/json")
    return app.openapi_schema or {}


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
    ref = new_ref()
    log.error("api_request_failed", ref=ref, error=type(exc).__name__, exc_info=exc)
    return problem(500, "Internal Server Error", went_wrong(ref), ref=ref)


_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           413: "Content Too Large", 415: "Unsupported Media Type", 429: "Too Many Requests"}  # fmt: skip

HANDLERS = ((StoxlifyError, _domain), (RequestValidationError, _validation), (StarletteHTTPException, _http),
            (Exception, _bug))  # fmt: skip
