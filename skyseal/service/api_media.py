"""Detect and verify: a file in (upload or allowed server path), evidence out."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Depends, Request

from ..errors import MediaError
from .auth import require
from .errors import ApiError
from .keys import ApiKey
from .models import ServerPathRequest, VerdictOut, VerifyOut
from .responses import AUTH, errors
from .uploads import MULTIPART_FIELD, Media, media_from_request

router = APIRouter(prefix="/v1", tags=["detect"])

# The body is read by hand (streamed, size-checked), so the schema is declared here rather than inferred.
MEDIA_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": [MULTIPART_FIELD],
                           "properties": {MULTIPART_FIELD: {"type": "string", "format": "binary",
                                                            "description": "The video or image; its type is sniffed from its bytes."}}},
            },
            "application/json": {"schema": ServerPathRequest.model_json_schema()},
        },
    }
}
MEDIA_ERRORS = errors(*AUTH, 400, 404, 413, 415, 422)


async def _in_worker_thread(request: Request, fn, *args):
    """Run CPU-bound work off the event loop, at most ``detect_concurrency`` at once, 429 past a short wait list."""
    ctx = request.app.state.ctx
    cfg = ctx.settings.service
    if ctx.detect_waiting >= cfg.detect_concurrency + cfg.queue_size:
        raise ApiError(429, "the detector is busy; try again shortly", code="busy",
                       headers={"Retry-After": str(cfg.retry_after_seconds)})
    ctx.detect_waiting += 1
    try:
        return await anyio.to_thread.run_sync(fn, *args, limiter=ctx.detect_limiter)
    finally:
        ctx.detect_waiting -= 1


def _media_error(exc: MediaError, media: Media) -> ApiError:
    # MediaError names the file by its server path; say it with the client's name instead.
    text = str(exc).replace(str(media.path), media.name)
    return ApiError(422, text.splitlines()[0][:300], code="unreadable_media")


@router.post("/detect", response_model=VerdictOut, responses=MEDIA_ERRORS, openapi_extra=MEDIA_BODY,
             summary="The detector's verdict: C2PA, watermark and ledger evidence for a video or image")
async def detect(request: Request, key: ApiKey = Depends(require("detect"))) -> VerdictOut:
    from ..detect import detect_file

    ctx = request.app.state.ctx
    shared = ctx.shared()
    async with media_from_request(request, ctx.settings.service, ctx.upload_dir) as media:
        try:
            verdict = await _in_worker_thread(request, lambda: detect_file(
                media.path, watermarker=shared["watermarker"], ledger=shared["ledger"],
                trust_anchors_pem=shared["trust_anchors_pem"]))
        except MediaError as exc:
            raise _media_error(exc, media) from None
        ctx.metrics.upload_bytes.inc(media.path.stat().st_size)
    ctx.metrics.verdicts.labels(verdict.label).inc()
    data = verdict.to_dict()
    data.update(file=media.name, content_type=media.content_type)
    return VerdictOut.model_validate(data)


@router.post("/verify", response_model=VerifyOut, responses=MEDIA_ERRORS, openapi_extra=MEDIA_BODY,
             summary="C2PA verification report for a video or image, against the configured trust anchors")
async def verify(request: Request, key: ApiKey = Depends(require("detect"))) -> VerifyOut:
    from provenance import verify_file

    from ..pipeline import sha256_file

    ctx = request.app.state.ctx
    anchors = ctx.shared()["trust_anchors_pem"]
    async with media_from_request(request, ctx.settings.service, ctx.upload_dir) as media:
        report, digest = await _in_worker_thread(
            request, lambda: (verify_file(media.path, trust_anchors_pem=anchors), sha256_file(media.path)))
    data = report.to_dict()
    if data.get("error"):
        data["error"] = str(data["error"]).replace(str(media.path), media.name)
    return VerifyOut(file=media.name, content_type=media.content_type, sha256=digest, c2pa=data)
