"""What every watermark backend's detector returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class WatermarkResult:
    found: bool
    payload: str | None  # hex, when a valid payload was recovered
    confidence: float  # agreement of the evidence with the mark, 0..1 (about 0.5 on unmarked video)
    p_value: float  # probability of this evidence on an unmarked video
    algorithm: str
    frames_checked: int
    per_frame_agreement: list[float] = field(default_factory=list)
    raw_payload: str | None = None  # the decoder's 64 bits as hex even when rejected (for bit-accuracy studies)

    def to_dict(self) -> dict:
        return {
            "found": self.found, "payload": self.payload, "confidence": round(self.confidence, 4),
            "p_value": self.p_value, "algorithm": self.algorithm, "frames_checked": self.frames_checked,
            "per_frame_agreement": [round(a, 4) for a in self.per_frame_agreement],
        }
