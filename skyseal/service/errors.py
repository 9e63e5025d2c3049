"""One error shape for every failure, and handlers that never leak internals.

A response says what went wrong in one line.  Stack traces, server paths and
key material stay out of it; unexpected errors are logged in full on the
server under a request id the client can quote.
"""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .models import ErrorBody, ValidationErrorBody, ValidationProblem

log = logging.getLogger("skyseal.service")

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid_request",
          429: "too_many_requests", 500: "internal_error", 503: "unavailable"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, code: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.headers = headers or {}


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = request.state.request_id = uuid.uuid4().hex[:16]
    return rid


def error_response(request: Request, status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    # 422 is documented with the validation shape; an empty problem list keeps every 422 in that shape.
    model = ValidationErrorBody if status == 422 else ErrorBody
    body = model(error=code, message=message, request_id=request_id(request))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error_response(request, exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        return error_response(request, exc.status_code, _CODES.get(exc.status_code, "error"), message,
                              getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        # pydantic's default error echoes the input back; the input may be a prompt or a path, so leave it out.
        problems = [ValidationProblem(loc=[str(p) if not isinstance(p, int) else p for p in e.get("loc", ())],
                                      msg=str(e.get("msg", "invalid"))) for e in exc.errors()[:10]]
        first = problems[0] if problems else None
        message = f"{'.'.join(map(str, first.loc))}: {first.msg}" if first else "invalid request"
        body = ValidationErrorBody(error="invalid_request", message=message, request_id=request_id(request), problems=problems)
        return JSONResponse(body.model_dump(), status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        rid = request_id(request)
        log.error("unhandled error", exc_info=exc, extra={"request_id": rid})
        # This response is made outside the app's middleware, so it carries its own request id header.
        return error_response(request, 500, "internal_error", f"internal error; quote request id {rid} to the operator",
                              {"X-Request-ID": rid, "X-Content-Type-Options": "nosniff"})
