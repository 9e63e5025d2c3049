"""One verdict about a file's origin, from evidence gathered separately then combined.

Evidence, each read on its own:

- the C2PA manifest (state, failure codes, issuer, claimed source type, the
  watermark payload its soft binding names);
- the invisible watermark (payload, p-value, per-frame agreement);
- the ledger: the exact file hash, the watermark or manifest payload, or a
  perceptual (PDQ/vPDQ) match of the frames, with its distance and segment;
- optionally a passive probe's "generated" score, which is reported but never
  decides a "generated here" label.

The label says what that evidence supports and nothing more: "no evidence
found" is not "authentic".  Every label names the evidence that produced it
(``Evidence.supports``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from provenance import C2paReport, Ledger, Watermarker, WatermarkResult, verify_file
from provenance.c2pa import TRAINED_ALGORITHMIC_MEDIA
from provenance.perceptual import hash_frames, is_same_video

from .media import sample_media
from .pipeline import sha256_file

GENERATED_INTACT = "generated_here_intact"
GENERATED_STRIPPED = "generated_here_credentials_stripped_or_reencoded"
GENERATED_TAMPERED = "generated_here_tampered"
OTHER_ISSUER_AI = "other_issuer_claims_ai_generation"
NO_EVIDENCE = "no_evidence_found"
LABELS = (GENERATED_INTACT, GENERATED_STRIPPED, GENERATED_TAMPERED, OTHER_ISSUER_AI, NO_EVIDENCE)
GENERATED_HERE = (GENERATED_INTACT, GENERATED_STRIPPED, GENERATED_TAMPERED)

# Frames decoded per file: detection cost follows this, not the file size.
MAX_FRAMES = 64
# A keyed watermark this unlikely on unmarked video says "marked with our key" by itself, even when
# its payload cannot be read back or is in no ledger this detector can see.
WATERMARK_ALONE_P = 1e-6
# Bit errors tolerated when matching a damaged payload to the ledger's (see Ledger.nearest_payload).
PAYLOAD_BIT_ERRORS = 4
# Frames hashed for the perceptual lookup (PDQ at 720p costs ~10-30 ms a frame).
PERCEPTUAL_FRAMES = 16
# IPTC source types that say "made by a generative model" (in whole or in part).
AI_SOURCE_TYPES = {
    TRAINED_ALGORITHMIC_MEDIA,
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia",
    "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia",
}


class FrameProbe(Protocol):
    def predict_proba(self, frames: np.ndarray) -> np.ndarray: ...


@dataclass
class Evidence:
    source: str  # "c2pa" | "watermark" | "ledger" | "perceptual" | "probe"
    finding: str  # a short machine-readable finding, e.g. "Trusted", "found", "sha256", "none"
    detail: str  # one sentence for people
    supports: bool = False  # whether the label rests on this

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def __str__(self) -> str:
        return self.detail


@dataclass
class LedgerMatch:
    kind: str  # "sha256" | "payload" | "payload_nearest" | "manifest_payload" | "perceptual" | "none"
    payload: str | None = None
    model_version: str | None = None
    created_at: str | None = None
    manifest_label: str | None = None  # the credentials this generation was signed with
    manifest_store_bytes: int | None = None  # size of the stored manifest store (for soft-binding resolution)
    perceptual: dict | None = None  # PerceptualMatch.to_dict() when matched by frames
    payload_bit_errors: int | None = None  # for "payload_nearest": bits the read payload differs by

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Verdict:
    file: str
    sha256: str
    label: str
    evidence: list[Evidence]
    c2pa: C2paReport
    watermark: WatermarkResult
    ledger: LedgerMatch
    media: dict = field(default_factory=dict)
    probe: dict | None = None

    @property
    def basis(self) -> list[Evidence]:
        return [e for e in self.evidence if e.supports]

    def to_dict(self) -> dict:
        return {
            "file": self.file, "sha256": self.sha256, "label": self.label,
            "evidence": [e.to_dict() for e in self.evidence],
            "c2pa": self.c2pa.to_dict(), "watermark": self.watermark.to_dict(), "ledger": self.ledger.to_dict(),
            "probe": self.probe, "media": self.media,
        }


def _ledger_match(ledger: Ledger, digest: str, mark: WatermarkResult, c2pa: C2paReport, frames: np.ndarray,
                  times: np.ndarray) -> LedgerMatch:
    def found(kind, record, perceptual=None, bit_errors=None):
        return LedgerMatch(kind, record.payload, record.model_version, record.created_at, record.manifest_label,
                           len(record.manifest_store) if record.manifest_store else None, perceptual, bit_errors)

    record = ledger.by_sha256(digest)
    if record is not None:
        return found("sha256", record)
    if mark.found and mark.payload:
        record = ledger.by_payload(mark.payload)
        if record is not None:
            return found("payload", record)
    raw = getattr(mark, "raw_payload", None) or mark.payload
    if mark.found and raw:
        near = ledger.nearest_payload(raw, max_bits=PAYLOAD_BIT_ERRORS)
        if near is not None:
            return found("payload_nearest", near[0], bit_errors=near[1])
    if c2pa.present and c2pa.watermark_payload:
        record = ledger.by_payload(c2pa.watermark_payload)
        if record is not None:
            return found("manifest_payload", record)
    # vPDQ hashes about a frame a second; 16 frames spread over the sample are plenty to match on.
    pick = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), PERCEPTUAL_FRAMES)).round().astype(int))
    query = hash_frames(frames[pick], fps=0, timestamps=np.asarray(times)[pick])
    informative = len(query.informative())
    for hit in ledger.by_perceptual(query):
        if is_same_video(hit.match, query_frames=informative):
            return found("perceptual", hit.record, hit.match.to_dict())
    return LedgerMatch("none")


def detect_file(path: str | Path, *, watermarker: Watermarker, ledger: Ledger, trust_anchors_pem: str | None,
                probe: FrameProbe | None = None, max_frames: int = MAX_FRAMES) -> Verdict:
    """The verdict for one file; raises MediaError when it is not readable media."""
    path = Path(path)
    clip, times = sample_media(path, max_frames=max_frames)  # a clear MediaError first for bad input
    digest = sha256_file(path)
    c2pa = verify_file(path, trust_anchors_pem=trust_anchors_pem)
    mark = watermarker.detect(clip.frames)
    match = _ledger_match(ledger, digest, mark, c2pa, clip.frames, times)
    probe_out = None
    if probe is not None:
        score = float(np.mean(probe.predict_proba(clip.frames)[:, 1]))
        probe_out = {"generated_score": round(score, 4), "model": type(probe).__name__}
    label, evidence = combine(c2pa, mark, match, probe_out)
    media = {"frames_read": int(len(clip.frames)), "width": int(clip.frames.shape[2]), "height": int(clip.frames.shape[1]),
             "fps": round(clip.fps, 3), "sampled_seconds": [round(float(times[0]), 3), round(float(times[-1]), 3)]}
    return Verdict(str(path), digest, label, evidence, c2pa, mark, match, media, probe_out)


def combine(c2pa: C2paReport, mark: WatermarkResult, match: LedgerMatch, probe: dict | None = None) -> tuple[str, list[Evidence]]:
    """The label and the evidence behind it; only the items marked ``supports`` decided the label."""
    ev_c2pa = Evidence("c2pa", c2pa.state, _c2pa_detail(c2pa))
    if mark.found:
        ev_mark = Evidence("watermark", "found", f"watermark payload {mark.payload} ({mark.algorithm}, p={mark.p_value:.1e}, "
                                                 f"confidence {mark.confidence:.2f}, {mark.frames_checked} frames)")
    else:
        ev_mark = Evidence("watermark", "not_found", f"no watermark found ({mark.algorithm}, {mark.frames_checked} frames)")
    if match.kind == "none":
        ev_ledger = Evidence("ledger", "none", "no ledger match (file hash, payload or frames)")
    elif match.kind == "perceptual":
        m = match.perceptual or {}
        ev_ledger = Evidence("perceptual", "match",
                             f"frames match generation {match.payload} by PDQ hash: mean distance {m.get('distance')} of 256 bits, "
                             f"{m.get('matched_frames')} frames ({100 * m.get('query_matched', 0):.0f}% of the file), "
                             f"file {m.get('query_segment')} s = original {m.get('reference_segment')} s")
    else:
        how = {"sha256": "exact file hash", "payload": "watermark payload", "manifest_payload": "the manifest's soft-binding payload",
               "payload_nearest": f"watermark payload read with {match.payload_bit_errors} bit errors"}
        ev_ledger = Evidence("ledger", match.kind, f"ledger match by {how[match.kind]}: generation {match.payload} "
                                                   f"({match.model_version}, {match.created_at}, credentials {match.manifest_label})")
    evidence = [ev_c2pa, ev_mark, ev_ledger]
    if mark.found and match.kind == "none":
        ev_mark.detail += "; no generation in this ledger carries it" if mark.payload else "; its payload could not be read"
    if probe is not None:
        evidence.append(Evidence("probe", "score", f"passive probe: generated score {probe['generated_score']:.2f} "
                                                   f"(informative only, never decides the label)"))

    marked_by_us = mark.found and mark.p_value <= WATERMARK_ALONE_P
    ours = match.kind != "none" or marked_by_us
    if ours:
        ev_ledger.supports = match.kind != "none"
        if marked_by_us or (mark.found and mark.payload == match.payload):
            ev_mark.supports = True
        disagree = bool(mark.found and mark.payload and c2pa.watermark_payload and mark.payload != c2pa.watermark_payload)
        if c2pa.state == "Invalid" or disagree:
            ev_c2pa.supports = True
            if disagree:
                ev_c2pa.detail += f"; its payload {c2pa.watermark_payload} disagrees with the watermark's {mark.payload}"
            return GENERATED_TAMPERED, evidence
        if c2pa.state in ("Trusted", "Valid") and (match.kind == "sha256" or (c2pa.state == "Trusted" and c2pa.watermark_payload == match.payload)):
            ev_c2pa.supports = True
            return GENERATED_INTACT, evidence
        ev_c2pa.supports = True  # absent, or not binding these bytes: part of the finding
        return GENERATED_STRIPPED, evidence
    if c2pa.state in ("Trusted", "Valid") and c2pa.digital_source_type in AI_SOURCE_TYPES:
        ev_c2pa.supports = True
        return OTHER_ISSUER_AI, evidence
    return NO_EVIDENCE, evidence


def _c2pa_detail(c2pa: C2paReport) -> str:
    if c2pa.state == "unsupported":
        return f"C2PA not checked: {c2pa.error or 'format not supported by the C2PA SDK'}"
    if not c2pa.present:
        return "no C2PA manifest"
    text = f"C2PA manifest {c2pa.state}"
    if c2pa.failures:
        text += f" ({', '.join(c2pa.failures)})"
    if c2pa.issuer:
        text += f", issuer {c2pa.issuer}"
    if c2pa.claim_generator:
        text += f", claim generator {c2pa.claim_generator}"
    if c2pa.digital_source_type:
        text += f", source {c2pa.digital_source_type.rsplit('/', 1)[-1]}"
    return text


__all__ = ["Evidence", "LABELS", "LedgerMatch", "MAX_FRAMES", "Verdict", "combine", "detect_file"]
