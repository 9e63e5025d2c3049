"""The app factory: ``create_app(settings)`` wires the routes to one ServiceContext."""

from __future__ import annotations

import contextlib
from importlib import resources

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..config import Settings
from . import api_jobs, api_media, api_ops, api_policy
from .context import ServiceContext
from .errors import install_error_handlers
from .models import ErrorBody
from .observability import AccessLogMiddleware

DESCRIPTION = """Generate signed, watermarked videos through the safety policy; ask what is known about a file's origin.

Authenticate with an API key (`skyseal keys create`) in the `X-API-Key` header or as `Authorization: Bearer <key>`.
Scopes: `generate` (generate, jobs, moderate), `detect` (detect, verify), `audit` (ledger), `admin` (all).
"""


class SecurityHeaders:
    """nosniff and no-referrer on every response; the page adds its own CSP."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + [
                    (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
            await send(message)

        await self.app(scope, receive, send_wrapper)


class _BodyTooLarge(StarletteHTTPException):
    # An HTTPException, so FastAPI's body reader lets it through (it turns other errors into 400)
    # and the app's handler answers it in the usual error shape.
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes", headers={"Connection": "close"})


class DeclaredBodyLimit:
    """413 for a non-multipart body over ``limit`` bytes: at once when its Content-Length says so,
    and as soon as the count passes the limit when it streams in without one (chunked).

    JSON bodies here are a prompt or a path: kilobytes.  Uploads (multipart) have their own, streamed limit.
    """

    def __init__(self, app, limit: int = 1 << 20) -> None:
        self.app = app
        self.limit = limit

    async def _too_large(self, scope, receive, send) -> None:
        from fastapi.responses import JSONResponse

        body = ErrorBody(error="too_large", message=f"request body larger than {self.limit} bytes")
        await JSONResponse(body.model_dump(), status_code=413, headers={"Connection": "close"})(scope, receive, send)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if headers.get(b"content-type", b"").split(b";")[0].strip().lower() == b"multipart/form-data":
            return await self.app(scope, receive, send)
        length = headers.get(b"content-length", b"0")
        if length.isdigit() and int(length) > self.limit:
            return await self._too_large(scope, receive, send)
        received, started = 0, False

        async def counting_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge(self.limit)
            return message

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if started:  # a streaming handler already answered; nothing better to send
                raise
            await self._too_large(scope, receive, send)


def create_app(settings: Settings) -> FastAPI:
    ctx = ServiceContext.build(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        ctx.start()
        try:
            yield
        finally:
            ctx.close()

    # FastAPI's /docs page loads Swagger UI from a CDN; the machines this runs on often reach none,
    # so fastapi-offline serves the same files from the wheel (under /static-offline-docs).
    app = FastAPIOffline(title="Skyseal", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                         docs_url="/docs", redoc_url=None)
    app.state.ctx = ctx
    install_error_handlers(app)
    for module in (api_jobs, api_media, api_policy, api_ops):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=str(resources.files(__package__).joinpath("static"))), name="static")
    if settings.service.cors_origins:  # off unless an operator names the origins
        app.add_middleware(CORSMiddleware, allow_origins=settings.service.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["X-API-Key", "Authorization", "Content-Type"], allow_credentials=False)
    app.add_middleware(DeclaredBodyLimit)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(AccessLogMiddleware, metrics=ctx.metrics, log_prompts=settings.service.log_prompts)
    return app
