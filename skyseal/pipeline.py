"""The road every video takes: filter -> generate -> classify -> watermark -> sign -> record.

``Pipeline.run`` reads top to bottom as that road.  Each component is
swappable (any object with the same call shape), and ``Pipeline.from_settings``
builds the defaults.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


from generator import GeneratedVideo, VideoGenerator, upscale
from provenance import (
    C2paReport, DecisionEntry, GenerationRecord, Ledger, Watermarker, build_manifest, hash_frames, make_payload, prompt_digest,
    read_manifest, sign_file, verify_file,
)
from safety import Decision, OutputClassifier, PromptFilter

from . import __version__
from .config import Settings
from .media import atomic_output, encode_mp4
from .signing import SigningSetup, signing_setup



@dataclass
class GenerationResult:
    status: str  # "delivered" | "blocked" | "held_for_review"
    prompt_decision: Decision
    output_decision: Decision | None = None
    payload: str | None = None
    path: Path | None = None
    sha256: str | None = None
    manifest: C2paReport | None = None
    model_version: str | None = None
    seed: int | None = None
    details: dict = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        return self.status == "blocked"

    @property
    def reason(self) -> str:
        decision = self.output_decision if self.output_decision and self.output_decision.action != "allow" else self.prompt_decision
        return "; ".join(decision.reasons) or decision.action

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "prompt_decision": self.prompt_decision.to_dict(),
            "output_decision": self.output_decision.to_dict() if self.output_decision else None,
            "payload": self.payload,
            "path": str(self.path) if self.path else None,
            "sha256": self.sha256,
            "manifest": self.manifest.to_dict() if self.manifest else None,
            "model_version": self.model_version,
            "seed": self.seed,
        }


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Pipeline:
    def __init__(
        self,
        *,
        prompt_filter: PromptFilter,
        generator: VideoGenerator,
        output_classifier: OutputClassifier,
        watermarker: Watermarker,
        signing: SigningSetup,
        ledger: Ledger,
        settings: Settings,
    ) -> None:
        self.prompt_filter = prompt_filter
        self.generator = generator
        self.output_classifier = output_classifier
        self.watermarker = watermarker
        self.signing = signing
        self.ledger = ledger
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: Settings) -> "Pipeline":
        from .components import build_generator, build_output_classifier, build_prompt_filter, build_watermarker

        return cls(
            prompt_filter=build_prompt_filter(settings),
            generator=build_generator(settings.generator),
            output_classifier=build_output_classifier(settings),
            watermarker=build_watermarker(settings.provenance),
            signing=signing_setup(settings),
            ledger=Ledger(settings.ledger_location),
            settings=settings,
        )

    def close(self) -> None:
        self.ledger.close()

    def __call__(self, prompt: str, *, output: str | Path, seed: int | None = None) -> GenerationResult:
        return self.run(prompt, output=output, seed=seed)

    def run(self, prompt: str, *, output: str | Path, seed: int | None = None, num_frames: int | None = None) -> GenerationResult:
        """``num_frames`` overrides ``generator.num_frames`` for this one video (the service's per-job option)."""
        seed = secrets.randbits(31) if seed is None else int(seed)

        # 1. Prompt filter: a blocked prompt never reaches the generator.
        prompt_decision = self.prompt_filter.check(prompt)
        if prompt_decision.blocked:
            self._record_decisions(prompt, "blocked", None, prompt_decision)
            return GenerationResult("blocked", prompt_decision, seed=seed)

        # 2. Generate, then bring to delivery size.
        gen_cfg = self.settings.generator
        video: GeneratedVideo = self.generator(prompt, seed=seed, num_frames=num_frames or gen_cfg.num_frames)
        frames = upscale(video.frames, gen_cfg.delivery_size)

        # 3. Output classifiers: a blocked output is never written as a deliverable.
        # The prompt's decision lets output rules combine (faces + a real person's name, minors + nudity).
        output_decision = self.output_classifier.classify(frames, video.fps, prompt_decision=prompt_decision)
        if output_decision.blocked:
            self._record_decisions(prompt, "blocked", None, prompt_decision, output_decision)
            return GenerationResult("blocked", prompt_decision, output_decision, model_version=video.model_version, seed=seed)

        held = "review" in (prompt_decision.action, output_decision.action) and self.settings.safety.review == "hold"
        payload = make_payload()
        destination = self.settings.review_dir / f"{payload}.mp4" if held else Path(output)

        # 4. Invisible watermark carrying the payload.
        marked = self.watermarker.embed(frames, payload)

        # 5. H.264 MP4, then C2PA signing; the file appears complete or not at all.
        manifest = build_manifest(
            title=destination.name, claim_generator="skyseal", version=__version__, model=video.model_version,
            watermark_payload=payload, watermark_algorithm=self.watermarker.algorithm, duration_s=len(marked) / video.fps,
            training_mining=self.settings.provenance.training_mining_entries(),
            prompt_sha256=prompt_digest(prompt), decisions=[prompt_decision, output_decision],
            extra_assertions=[{"label": "com.skyseal.generation", "data": {"model_version": video.model_version, "seed": seed}}],
        )
        with tempfile.TemporaryDirectory(prefix="skyseal-") as work, atomic_output(destination) as tmp_out:
            plain = Path(work) / "unsigned.mp4"
            encode_mp4(marked, plain, fps=video.fps, crf=self.settings.provenance.crf)
            sign_file(plain, tmp_out, manifest, self.signing.signer)
            report = verify_file(tmp_out, trust_anchors_pem=self.signing.trust_anchors_pem)
            digest = sha256_file(tmp_out)
            # The signed manifest and the frames' perceptual hashes go with the record, so a stripped,
            # re-encoded or trimmed copy can be re-linked to its credentials.
            manifest_json, manifest_store = read_manifest(tmp_out)
            perceptual = hash_frames(marked, fps=video.fps)
            # 6. Ledger record, before the file is visible: nothing we deliver goes unrecorded.
            self.ledger.add(
                GenerationRecord(
                    payload=payload, sha256=digest, created_at=dt.datetime.now(dt.timezone.utc).isoformat(),
                    model_version=video.model_version, seed=seed, prompt=prompt, file_name=destination.name,
                    manifest_label=report.manifest_label, watermark_algorithm=self.watermarker.algorithm,
                    decisions={"prompt": prompt_decision.to_dict(), "output": output_decision.to_dict()},
                    extra={"status": "held_for_review" if held else "delivered"},
                    manifest_json=manifest_json, manifest_store=manifest_store, perceptual=perceptual,
                )
            )
        status = "held_for_review" if held else "delivered"
        self._record_decisions(prompt, status, payload, prompt_decision, output_decision)
        return GenerationResult(status, prompt_decision, output_decision, payload=payload, path=destination, sha256=digest,
                                manifest=report, model_version=video.model_version, seed=seed, details=video.details)

    def _record_decisions(self, prompt: str, outcome: str, payload: str | None, *decisions: Decision) -> None:
        """Every decision reaches the ledger with its reasons, refusals included (they have no generation)."""
        now = dt.datetime.now(dt.timezone.utc).isoformat()
        self.ledger.add_decisions([
            DecisionEntry(created_at=now, stage=d.stage, action=d.action, policy_version=d.policy_version,
                          prompt_sha256=prompt_digest(prompt), payload=payload, outcome=outcome, decision=d.to_dict())
            for d in decisions
        ])


__all__ = ["GenerationResult", "Pipeline", "sha256_file"]
