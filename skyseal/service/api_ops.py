"""Health, Prometheus metrics and the web page: none of them needs a key."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import __version__
from .models import Health

router = APIRouter()

# The page loads only its own script and style, and shows videos from blob: URLs it makes itself.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
            "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")


@router.get("/healthz", response_model=Health, tags=["ops"], summary="Liveness and queue depth")
def healthz(request: Request) -> Health:
    ctx = request.app.state.ctx
    counts = ctx.jobs.counts()
    return Health(status="ok", version=__version__, queued=counts.get("queued", 0), running=counts.get("running", 0),
                  workers=ctx.settings.service.workers)


@router.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text format."}})
def metrics(request: Request) -> Response:
    ctx = request.app.state.ctx
    counts = ctx.jobs.counts()
    ctx.metrics.jobs_pending.set(counts.get("queued", 0) + counts.get("running", 0))
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/", include_in_schema=False)
def page() -> HTMLResponse:
    html = resources.files(__package__).joinpath("static/index.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers={"Content-Security-Policy": PAGE_CSP})
