"""One verdict about a file's origin, from evidence gathered separately then combined.

Evidence: the C2PA manifest (state, codes, issuer, claimed source type, the
watermark payload it binds), the invisible watermark (payload, p-value) and the
ledger (exact file hash, or payload).  The label says what that evidence
supports and nothing more: "no evidence" is not "authentic".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from provenance import C2paReport, Ledger, Watermarker, WatermarkResult, verify_file
from provenance.credentials import TRAINED_ALGORITHMIC_MEDIA

from .media import read_media
from .pipeline import sha256_file

GENERATED_INTACT = "generated_here_intact"
GENERATED_STRIPPED = "generated_here_credentials_stripped_or_reencoded"
GENERATED_TAMPERED = "generated_here_tampered"
OTHER_ISSUER_AI = "other_issuer_claims_ai_generation"
NO_EVIDENCE = "no_evidence_found"

# Frames decoded for the watermark: detection cost follows this, not the file size.
MAX_FRAMES = 64


@dataclass
class LedgerMatch:
    kind: str  # "sha256" | "payload" | "none"
    payload: str | None = None
    model_version: str | None = None
    created_at: str | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Verdict:
    file: str
    sha256: str
    label: str
    evidence: list[str]
    c2pa: C2paReport
    watermark: WatermarkResult
    ledger: LedgerMatch
    media: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "file": self.file, "sha256": self.sha256, "label": self.label, "evidence": self.evidence,
            "c2pa": self.c2pa.to_dict(), "watermark": self.watermark.to_dict(), "ledger": self.ledger.to_dict(),
            "media": self.media,
        }


def _ledger_match(ledger: Ledger, digest: str, payloads: list[str]) -> LedgerMatch:
    record = ledger.by_sha256(digest)
    if record is not None:
        return LedgerMatch("sha256", record.payload, record.model_version, record.created_at)
    for payload in payloads:
        record = ledger.by_payload(payload)
        if record is not None:
            return LedgerMatch("payload", record.payload, record.model_version, record.created_at)
    return LedgerMatch("none")


def detect_file(path: str | Path, *, watermarker: Watermarker, ledger: Ledger, trust_anchors_pem: str | None) -> Verdict:
    """The verdict for one file; raises MediaError when it is not readable media."""
    path = Path(path)
    clip = read_media(path, max_frames=MAX_FRAMES)  # raises a clear MediaError first for bad input
    digest = sha256_file(path)
    c2pa = verify_file(path, trust_anchors_pem=trust_anchors_pem)
    mark = watermarker.detect(clip.frames)
    payloads = [p for p in (mark.payload, c2pa.watermark_payload) if p]
    match = _ledger_match(ledger, digest, payloads)
    label, evidence = _combine(c2pa, mark, match)
    media = {"frames_read": int(len(clip.frames)), "width": int(clip.frames.shape[2]), "height": int(clip.frames.shape[1]),
             "fps": round(clip.fps, 3)}
    return Verdict(str(path), digest, label, evidence, c2pa, mark, match, media)


def _combine(c2pa: C2paReport, mark: WatermarkResult, match: LedgerMatch) -> tuple[str, list[str]]:
    evidence: list[str] = []
    if c2pa.present:
        evidence.append(f"C2PA manifest {c2pa.state}" + (f" ({', '.join(c2pa.failures)})" if c2pa.failures else "")
                        + (f", issuer {c2pa.issuer}" if c2pa.issuer else ""))
    else:
        evidence.append("no C2PA manifest")
    if mark.found:
        evidence.append(f"watermark payload {mark.payload} (p={mark.p_value:.1e}, confidence {mark.confidence:.2f})")
    else:
        evidence.append("no watermark found")
    if match.kind != "none":
        evidence.append(f"ledger match by {match.kind}: generation {match.payload} ({match.model_version}, {match.created_at})")
    else:
        evidence.append("no ledger match")

    ours = match.kind != "none"
    if ours and c2pa.state == "Invalid":
        return GENERATED_TAMPERED, evidence
    if ours and c2pa.state in ("Trusted", "Valid") and match.kind == "sha256":
        return GENERATED_INTACT, evidence
    if ours:
        return GENERATED_STRIPPED, evidence
    if c2pa.state in ("Trusted", "Valid") and c2pa.digital_source_type == TRAINED_ALGORITHMIC_MEDIA:
        return OTHER_ISSUER_AI, evidence
    return NO_EVIDENCE, evidence
