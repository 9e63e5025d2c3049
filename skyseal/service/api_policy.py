"""Prompt moderation and the generation ledger."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from .auth import require
from .errors import ApiError
from .keys import ApiKey
from .models import DecisionOut, GenerationRecordOut, PromptRequest
from .responses import AUTH, errors

router = APIRouter(prefix="/v1")


@router.post("/moderate/prompt", response_model=DecisionOut, responses=errors(*AUTH, 400, 413, 422), tags=["policy"],
             summary="The safety policy's decision on a prompt, with the reasons")
def moderate_prompt(body: PromptRequest, request: Request, key: ApiKey = Depends(require("generate"))) -> DecisionOut:
    shared = request.app.state.ctx.shared()
    request.state.prompt = body.prompt
    try:
        with shared["prompt_filter_lock"]:
            decision = shared["prompt_filter"].check(body.prompt)
    except ValueError as exc:  # the safety stage's "cannot check this prompt" (blank, invisible-only, ...)
        raise ApiError(422, f"prompt refused: {str(exc).splitlines()[0][:200]}", code="invalid_prompt") from None
    return DecisionOut.model_validate(decision.to_dict())


@router.get("/ledger/{payload}", response_model=GenerationRecordOut, responses=errors(*AUTH, 404, 422), tags=["audit"],
            summary="The generation record for a watermark payload (audit scope: it holds the prompt)")
def ledger_record(
    payload: Annotated[str, Path(pattern=r"^[0-9a-fA-F]{16}$", description="16 hex digits, as the detector reports it.")],
    request: Request, key: ApiKey = Depends(require("audit")),
) -> GenerationRecordOut:
    from provenance import payload_is_valid

    if not payload_is_valid(payload.lower()):
        raise ApiError(422, "not a Skyseal payload (its checksum does not match)")
    record = request.app.state.ctx.shared()["ledger"].by_payload(payload.lower())
    if record is None:
        raise ApiError(404, "no generation with that payload in this ledger")
    return GenerationRecordOut.model_validate(record.to_dict())
