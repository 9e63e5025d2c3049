"""Settings for the whole road, from defaults, an optional YAML file and the environment.

Everything has an embedded default, so a fresh install runs with no file at
all: state (ledger, development CA, review queue) lives under ``home``, which
is the user's config directory unless ``SKYSEAL_HOME`` says otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

import yaml
from platformdirs import user_config_dir
from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, ValidationError

from .errors import ConfigError


class GeneratorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: Literal["procedural", "dit"] = "procedural"
    weights: Path | None = None  # DiT safetensors; None = the bundled weights
    delivery_size: int = Field(256, ge=64, le=2048, multiple_of=2)
    num_frames: int = Field(16, ge=1, le=512)
    fps: float = Field(8.0, gt=0, le=120)


class SafetySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: Path | None = None  # None = safety's bundled default policy
    output_sample_rate: float = Field(2.0, gt=0)  # frames per second of video checked
    review: Literal["hold", "deliver"] = "hold"  # what happens to outputs a human must review
    semantic: bool = True  # MiniLM semantic layer in the prompt filter (False: word lists only)
    nudity: bool = True  # NudeNet output classifier (AGPL-3.0 model)
    faces: bool = True  # Haar face detector for the likeness and minors rules
    # CLIP concept classifier: an open_clip model name (or "local-dir:/path"), with weights from a local
    # checkpoint path or a pretrained tag already in clip_cache_dir; None = not used.
    clip_model: str | None = None
    clip_pretrained: str | None = None
    clip_cache_dir: Path | None = None


TrainingUse = Literal["allowed", "notAllowed", "constrained"]


class TrainingMiningEntry(BaseModel):
    """One cawg.training-mining entry; constraint_info says what the constraint is."""

    model_config = ConfigDict(extra="forbid")

    use: TrainingUse
    constraint_info: str | None = None


# Generated video is kept out of model training by default (training on synthetic
# output degrades models); inference, e.g. by deepfake detectors, stays allowed.
DEFAULT_TRAINING_MINING: dict[str, TrainingUse] = {
    "cawg.ai_generative_training": "notAllowed", "cawg.ai_training": "notAllowed",
    "cawg.data_mining": "notAllowed", "cawg.ai_inference": "allowed",
}


class ProvenanceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    watermark: str = "skyseal"  # provenance.watermark.BACKENDS: "skyseal" (default) or "dwtDctSvd"
    watermark_key: SecretStr | None = None  # the "skyseal" mark's key; None = the public development key
    signer_chain: Path | None = None  # PEM, leaf first; None = the development CA
    signer_key: Path | None = None
    signing_algorithm: str = "es256"
    tsa_url: str | None = None
    trust_anchors: list[Path] = []  # extra PEM roots; the dev CA root is added while it signs
    # "package.module:function" taking the bytes to sign and returning the signature, so the
    # key can stay in a KMS/HSM; signer_chain holds its certificate chain, signer_key stays unset.
    signer_callback: str | None = Field(None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    # cawg.training-mining entries: a use (allowed / notAllowed / constrained) or {use, constraint_info}.
    training_mining: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][\w-]*\.[\w.-]+$")],
                          TrainingUse | TrainingMiningEntry] = Field(default_factory=lambda: dict(DEFAULT_TRAINING_MINING))
    crf: int = Field(18, ge=0, le=51)  # H.264 quality of delivered files
    # SQLAlchemy URL of a shared ledger (e.g. postgresql+psycopg://host/skyseal); None = SQLite at <home>/ledger.sqlite.
    ledger_url: str | None = None

    def training_mining_entries(self) -> dict[str, dict]:
        return {name: {"use": v} if isinstance(v, str) else v.model_dump(exclude_none=True)
                for name, v in self.training_mining.items()}


class ServiceSettings(BaseModel):
    """The HTTP service (``skyseal serve``): limits, queue, paths it may read, logging."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    max_upload_bytes: int = Field(200 * 1024 * 1024, ge=1024)
    queue_size: int = Field(16, ge=1, le=10_000)  # queued + running generate jobs before 429
    workers: int = Field(1, ge=1, le=64)  # generate worker threads, each with its own pipeline
    detect_concurrency: int = Field(2, ge=1, le=64)  # detect/verify calls in flight before 429
    allowed_paths: list[Path] = []  # server-side folders /v1/detect may read; empty = uploads only
    cors_origins: list[str] = []  # empty = CORS off
    log_prompts: bool = False  # prompt text in access logs
    default_rate_per_minute: int = Field(60, ge=1)  # per API key, unless the key sets its own
    retry_after_seconds: int = Field(5, ge=1)  # advertised when the job queue is full


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    home: Path = Field(default_factory=lambda: Path(os.environ.get("SKYSEAL_HOME") or user_config_dir("skyseal")))
    generator: GeneratorSettings = GeneratorSettings()
    safety: SafetySettings = SafetySettings()
    provenance: ProvenanceSettings = ProvenanceSettings()
    service: ServiceSettings = ServiceSettings()

    @property
    def ledger_path(self) -> Path:
        return self.home / "ledger.sqlite"

    @property
    def ledger_location(self) -> str | Path:
        """What ``provenance.Ledger`` opens: the configured URL, else the SQLite file under home."""
        return self.provenance.ledger_url or self.ledger_path

    @property
    def dev_ca_dir(self) -> Path:
        return self.home / "dev-ca"

    @property
    def review_dir(self) -> Path:
        return self.home / "review-queue"

    @property
    def uses_dev_ca(self) -> bool:
        return self.provenance.signer_chain is None


def load_settings(path: str | Path | None = None) -> Settings:
    """Settings from ``path``, else ``$SKYSEAL_CONFIG``, else ``<home>/config.yaml`` if it exists."""
    candidate = path or os.environ.get("SKYSEAL_CONFIG")
    if candidate is None:
        default = Settings()
        candidate = default.home / "config.yaml"
        if not Path(candidate).is_file():
            return default
    p = Path(candidate)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"config file {p} must hold a mapping")
        return Settings.model_validate(data)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {p} is not valid YAML: {str(exc).splitlines()[0]}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
        raise ConfigError(f"config file {p} is invalid: {problems}") from None
