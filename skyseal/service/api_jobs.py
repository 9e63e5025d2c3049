"""Generate jobs: submit (202), poll, download the signed MP4."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import FileResponse, JSONResponse

from .auth import require
from .errors import ApiError
from .jobs import Job, QueueFull
from .keys import ApiKey
from .models import GenerateRequest, JobAccepted, JobOut
from .responses import AUTH, errors

router = APIRouter(prefix="/v1", tags=["generate"])
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="The id /v1/generate returned.")]


def job_out(job: Job) -> JobOut:
    r = job.result or {}
    return JobOut(
        id=job.id, status=job.status, created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at,
        seed=r.get("seed", job.seed), options=job.options or {}, payload=r.get("payload"), sha256=r.get("sha256"), model_version=r.get("model_version"),
        reason=job.reason, prompt_decision=r.get("prompt_decision"), output_decision=r.get("output_decision"),
        manifest=r.get("manifest"), video_url=f"/v1/jobs/{job.id}/video" if job.video else None,
    )


def _own_job(request: Request, key: ApiKey, job_id: str) -> Job:
    job = request.app.state.ctx.jobs.get(job_id)
    # Another key's job is reported as absent, so ids cannot be probed.
    if job is None or (job.key_id != key.id and not key.allows("admin")):
        raise ApiError(404, "no such job")
    request.state.job_id = job.id
    return job


@router.post("/generate", status_code=202, response_model=JobAccepted, responses=errors(*AUTH, 400, 413, 422),
             summary="Queue a generation: prompt filter, generator, output classifiers, watermark, C2PA, ledger")
def generate(body: GenerateRequest, request: Request, key: ApiKey = Depends(require("generate"))):
    ctx = request.app.state.ctx
    request.state.prompt = body.prompt
    try:
        job = ctx.jobs.submit(key_id=key.id, prompt=body.prompt, seed=body.seed, limit=ctx.settings.service.queue_size,
                              options=body.options.model_dump(exclude_none=True))
    except QueueFull:
        ctx.metrics.jobs_rejected.inc()
        raise ApiError(429, "the generation queue is full; try again later", code="queue_full",
                       headers={"Retry-After": str(ctx.settings.service.retry_after_seconds)}) from None
    ctx.runner.notify()
    request.state.job_id = job.id
    url = f"/v1/jobs/{job.id}"
    return JSONResponse(JobAccepted(id=job.id, status=job.status, url=url).model_dump(), status_code=202,
                        headers={"Location": url})


@router.get("/jobs/{job_id}", response_model=JobOut, responses=errors(*AUTH, 404, 422), summary="A job's status and result")
def get_job(job_id: JobId, request: Request, key: ApiKey = Depends(require("generate"))) -> JobOut:
    return job_out(_own_job(request, key, job_id))


@router.get("/jobs/{job_id}/video", response_class=FileResponse, responses={
    200: {"content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}}, "description": "The signed MP4."},
    **errors(*AUTH, 404, 409, 422)}, summary="Stream the job's signed MP4")
def get_video(job_id: JobId, request: Request, key: ApiKey = Depends(require("generate"))):
    ctx = request.app.state.ctx
    job = _own_job(request, key, job_id)
    path = ctx.jobs.video_path(job)
    if path is None:
        state = job.status if job.status != "held_for_review" else "held for review (the video waits for a person)"
        raise ApiError(409, f"no video to download: the job is {state}")
    if not path.is_file():
        raise ApiError(404, "the video is no longer stored")
    return FileResponse(path, media_type="video/mp4", filename=f"skyseal-{job.id}.mp4")
