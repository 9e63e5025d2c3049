"""Pydantic models for every request and response body of the service.

They are the API's contract: the OpenAPI schema is generated from them, so a
field added to a verdict or a job shows up in the schema and the tests that
check responses against it.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from provenance import C2paReport

Scope = Literal["generate", "detect", "audit", "admin"]
JobStatus = Literal["queued", "running", "delivered", "held_for_review", "blocked", "failed"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"delivered", "held_for_review", "blocked", "failed"})


class ErrorBody(BaseModel):
    error: str = Field(description="A stable machine-readable code, e.g. `unauthorized`, `queue_full`.")
    message: str = Field(description="One line for a person; never a stack trace, a server path or key material.")
    request_id: str | None = None


class ValidationProblem(BaseModel):
    loc: list[str | int]
    msg: str


class ValidationErrorBody(ErrorBody):
    problems: list[ValidationProblem] = []


# --- requests -----------------------------------------------------------------------------------

# Control characters (other than tab and newlines) have no place in a prompt and are a way to split words
# for a matcher: the API refuses them at the door, in the schema, as the safety stage would.
PROMPT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"


class GenerateOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    num_frames: int | None = Field(None, ge=4, le=64, description="Frames to generate; default: the server's generator.num_frames.")


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=2000, pattern=PROMPT_PATTERN, description="What the video should show.")
    seed: int | None = Field(None, ge=0, lt=2**31, description="Seed for reproducible output; random when omitted.")
    options: GenerateOptions = GenerateOptions()


class PromptRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=2000, pattern=PROMPT_PATTERN)


class ServerPathRequest(BaseModel):
    """A file already on the server, inside one of the folders `service.allowed_paths` names."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=4096)


# --- responses ----------------------------------------------------------------------------------
# Evidence models name the fields a client can rely on and let further fields through (extra="allow"):
# the detector and the credentials reader grow new evidence, and a new field must not turn into a 500.

class Open(BaseModel):
    model_config = ConfigDict(extra="allow")

class FindingOut(Open):
    category: str
    score: float
    source: str
    evidence: str


class DecisionOut(Open):
    action: Literal["allow", "review", "block"]
    stage: Literal["prompt", "output"]
    policy_version: str
    categories: dict[str, float]
    reasons: list[str]
    findings: list[FindingOut]


def _model_of(record: type, name: str, base: type[BaseModel], **overrides) -> type[BaseModel]:
    """A response model with one field per field of the dataclass ``record``, so the two cannot drift
    apart; ``overrides`` narrow a field (``name=(type, default)``)."""
    hints = typing.get_type_hints(record)
    fields = {}
    for f in dataclasses.fields(record):
        if f.default_factory is not dataclasses.MISSING:
            default = Field(default_factory=f.default_factory)
        else:
            default = ... if f.default is dataclasses.MISSING else f.default
        fields[f.name] = (hints[f.name], default)
    return create_model(name, __base__=base, __module__=__name__, **{**fields, **overrides})


C2paOut = _model_of(
    C2paReport, "C2paOut", Open,
    state=(Literal["Trusted", "Valid", "Invalid", "absent", "unsupported"], ...),
    failure_details=(list[dict], Field(default_factory=list, description="{code, url, explanation} per failed check.")),
)


class WatermarkOut(Open):
    found: bool
    payload: str | None
    confidence: float
    p_value: float
    algorithm: str
    frames_checked: int
    per_frame_agreement: list[float] = []


class LedgerMatchOut(Open):
    kind: Literal["sha256", "payload", "manifest_payload", "perceptual", "none"]
    payload: str | None = None
    model_version: str | None = None
    created_at: str | None = None
    manifest_label: str | None = None
    perceptual: dict | None = Field(None, description="Distance and matched segments when matched by frames.")


class EvidenceOut(Open):
    source: str = Field(description="c2pa, watermark, ledger, perceptual or probe.")
    finding: str
    detail: str = Field(description="One sentence for a person.")
    supports: bool = Field(description="Whether the label rests on this piece of evidence.")


class MediaOut(Open):
    frames_read: int
    width: int
    height: int
    fps: float


class VerdictOut(BaseModel):
    file: str = Field(description="The uploaded file's name, or the path as the request gave it.")
    content_type: str = Field(description="The type sniffed from the bytes (the extension is not trusted).")
    sha256: str
    label: Literal["generated_here_intact", "generated_here_credentials_stripped_or_reencoded", "generated_here_tampered",
                   "other_issuer_claims_ai_generation", "no_evidence_found"]
    evidence: list[EvidenceOut]
    c2pa: C2paOut
    watermark: WatermarkOut
    ledger: LedgerMatchOut
    media: MediaOut
    probe: dict | None = None


class VerifyOut(BaseModel):
    file: str
    content_type: str
    sha256: str
    c2pa: C2paOut


class JobAccepted(BaseModel):
    id: str
    status: JobStatus
    url: str = Field(description="Where to poll the job.")


class JobOut(BaseModel):
    id: str
    status: JobStatus
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    seed: int | None = None
    options: GenerateOptions = GenerateOptions()
    payload: str | None = None
    sha256: str | None = None
    model_version: str | None = None
    reason: str | None = Field(None, description="Why a job was blocked, held or failed.")
    prompt_decision: DecisionOut | None = None
    output_decision: DecisionOut | None = None
    manifest: C2paOut | None = None
    video_url: str | None = Field(None, description="Set once the signed MP4 can be downloaded.")


class GenerationRecordOut(Open):
    payload: str
    sha256: str
    created_at: str
    model_version: str
    seed: int | None
    prompt: str | None
    file_name: str | None
    manifest_label: str | None
    watermark_algorithm: str
    decisions: dict
    extra: dict
    manifest_json: str | None = None
    manifest_store: int | None = Field(None, description="Size in bytes of the stored manifest store.")
    perceptual: dict | None = None


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    queued: int
    running: int
    workers: int


class KeyInfo(BaseModel):
    id: str
    name: str
    scopes: list[Scope]
    rate_per_minute: int | None
    created_at: str
    revoked_at: str | None = None
