"""Pydantic models for every request and response body of the service.

They are the API's contract: the OpenAPI schema is generated from them, so a
field added to a verdict or a job shows up in the schema and the tests that
check responses against it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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

class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=2000, description="What the video should show.")
    seed: int | None = Field(None, ge=0, lt=2**31, description="Seed for reproducible output; random when omitted.")


class PromptRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=2000)


class ServerPathRequest(BaseModel):
    """A file already on the server, inside one of the folders `service.allowed_paths` names."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=4096)


# --- responses ----------------------------------------------------------------------------------

class FindingOut(BaseModel):
    category: str
    score: float
    source: str
    evidence: str


class DecisionOut(BaseModel):
    action: Literal["allow", "review", "block"]
    stage: Literal["prompt", "output"]
    policy_version: str
    categories: dict[str, float]
    reasons: list[str]
    findings: list[FindingOut]


class C2paOut(BaseModel):
    state: Literal["Trusted", "Valid", "Invalid", "absent"]
    failures: list[str] = []
    successes: list[str] = []
    manifest_label: str | None = None
    issuer: str | None = None
    common_name: str | None = None
    claim_generator: str | None = None
    title: str | None = None
    digital_source_type: str | None = None
    watermark_payload: str | None = None
    watermark_algorithm: str | None = None
    error: str | None = None


class WatermarkOut(BaseModel):
    found: bool
    payload: str | None
    confidence: float
    p_value: float
    algorithm: str
    frames_checked: int
    per_frame_agreement: list[float] = []


class LedgerMatchOut(BaseModel):
    kind: Literal["sha256", "payload", "none"]
    payload: str | None = None
    model_version: str | None = None
    created_at: str | None = None


class MediaOut(BaseModel):
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
    evidence: list[str]
    c2pa: C2paOut
    watermark: WatermarkOut
    ledger: LedgerMatchOut
    media: MediaOut


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
    payload: str | None = None
    sha256: str | None = None
    model_version: str | None = None
    reason: str | None = Field(None, description="Why a job was blocked, held or failed.")
    prompt_decision: DecisionOut | None = None
    output_decision: DecisionOut | None = None
    manifest: C2paOut | None = None
    video_url: str | None = Field(None, description="Set once the signed MP4 can be downloaded.")


class GenerationRecordOut(BaseModel):
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
