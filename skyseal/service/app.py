"""The app factory: ``create_app(settings)`` wires the routes to one ServiceContext."""

from __future__ import annotations

import contextlib
from importlib import resources

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

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


class DeclaredBodyLimit:
    """413 for a non-multipart body that declares more than ``limit`` bytes, before the app reads any of it.

    JSON bodies here are a prompt or a path: kilobytes.  Uploads (multipart) have their own, streamed limit.
    """

    def __init__(self, app, limit: int = 1 << 20) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            length = headers.get(b"content-length", b"0")
            if ctype != b"multipart/form-data" and length.isdigit() and int(length) > self.limit:
                from fastapi.responses import JSONResponse

                body = ErrorBody(error="too_large", message=f"request body larger than {self.limit} bytes")
                return await JSONResponse(body.model_dump(), status_code=413, headers={"Connection": "close"})(scope, receive, send)
        await self.app(scope, receive, send)


def create_app(settings: Settings) -> FastAPI:
    ctx = ServiceContext.build(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        ctx.start()
        try:
            yield
        finally:
            ctx.close()

    app = FastAPI(title="Skyseal", version=__version__, description=DESCRIPTION, lifespan=lifespan,
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
