"""Perceptual video hashes (PDQ per frame, matched the vPDQ way) for re-linking altered copies.

PDQ is the 256-bit image hash trust-and-safety teams exchange (Meta
ThreatExchange); vPDQ hashes a video as the PDQ of its frames and calls two
videos a match when enough frames of one lie within a Hamming distance of a
frame of the other.  We compute the PDQ hashes with the ``pdqhash`` wheel (the
reference C++ implementation) and do the vPDQ bookkeeping here, on the frames
the caller already decoded: the ``vpdq`` wheel decodes files itself with a
system FFmpeg, which would double the decoding work and needs FFmpeg headers to
build.  ``VideoHash.to_vpdq`` writes the vPDQ text format, so hashes can be
exchanged with other vPDQ tools.

Matching survives re-encoding and resizing (a few to ~30 bits change); it does
not survive cropping (PDQ is not crop-invariant) — the watermark covers that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HASH_BITS = 256
# vPDQ's default tolerance: pairs of frames within 31 bits are the same picture.
DISTANCE_THRESHOLD = 31
# PDQ's quality is a gradient-energy score (0-100).  Near-flat frames (a black
# frame, a uniform sky) all hash alike, so they are never used as evidence.
# Rendered frames are smoother than photographs (quality 10-30), hence lower
# than vPDQ's default of 50.
MIN_QUALITY = 8
# Work size before hashing: PDQ downsamples to 64x64 internally, and a
# 512-pixel copy keeps the result while hashing 720p/1080p frames fast.
_WORK_SIZE = 512
# Bands for the multi-index lookup: 16 bands of 16 bits.  Two hashes within 31
# bits differ in at most one bit in at least one band (pigeonhole: 16 bands x
# 2 bits = 32 > 31), so probing each band with its 17 one-bit neighbours finds
# every candidate, exactly.
BANDS = 16
BAND_BITS = HASH_BITS // BANDS


@dataclass(frozen=True)
class FrameHash:
    frame: int  # index in the decoded sequence
    timestamp: float  # seconds
    quality: int  # PDQ quality, 0-100
    hash: str  # 64 hex digits

    def bits(self) -> np.ndarray:
        return np.unpackbits(np.frombuffer(bytes.fromhex(self.hash), dtype=np.uint8))


@dataclass(frozen=True)
class VideoHash:
    frames: tuple[FrameHash, ...]
    algorithm: str = "pdq"

    def __len__(self) -> int:
        return len(self.frames)

    def informative(self, min_quality: int = MIN_QUALITY) -> "VideoHash":
        return VideoHash(tuple(f for f in self.frames if f.quality >= min_quality), self.algorithm)

    def matrix(self) -> np.ndarray:
        """The hashes as a (frames x 256) uint8 bit matrix."""
        if not self.frames:
            return np.zeros((0, HASH_BITS), dtype=np.uint8)
        raw = np.frombuffer(bytes.fromhex("".join(f.hash for f in self.frames)), dtype=np.uint8)
        return np.unpackbits(raw.reshape(len(self.frames), HASH_BITS // 8), axis=1)

    def to_dict(self) -> dict:
        return {"algorithm": self.algorithm, "frames": [[f.frame, f.timestamp, f.quality, f.hash] for f in self.frames]}

    @classmethod
    def from_dict(cls, data: dict) -> "VideoHash":
        return cls(tuple(FrameHash(int(i), float(t), int(q), str(h)) for i, t, q, h in data["frames"]), data.get("algorithm", "pdq"))

    def to_vpdq(self) -> str:
        """vPDQ's text format: one ``frame,quality,hash,timestamp`` line per frame."""
        return "".join(f"{f.frame},{f.quality},{f.hash},{f.timestamp:.3f}\n" for f in self.frames)

    @classmethod
    def from_vpdq(cls, text: str) -> "VideoHash":
        frames = []
        for line in text.splitlines():
            if line.strip():
                i, q, h, t = line.split(",")
                frames.append(FrameHash(int(i), float(t), int(q), h.strip().lower()))
        return cls(tuple(frames))


@dataclass(frozen=True)
class PerceptualMatch:
    """How a query video lines up with one reference video."""

    query_matched: float  # share of the query's informative frames with a reference frame within the threshold
    reference_matched: float  # share of the reference's informative frames matched by some query frame
    matched_frames: int
    distance: float  # mean Hamming distance of the matched frame pairs (bits of 256)
    query_segment: tuple[float, float]  # seconds in the query covered by matched frames
    reference_segment: tuple[float, float]  # seconds in the reference they match

    def to_dict(self) -> dict:
        return {
            "query_matched": round(self.query_matched, 4), "reference_matched": round(self.reference_matched, 4),
            "matched_frames": self.matched_frames, "distance": round(self.distance, 2),
            "query_segment": [round(x, 3) for x in self.query_segment],
            "reference_segment": [round(x, 3) for x in self.reference_segment],
        }


def _pdq(frame: np.ndarray) -> tuple[str, int]:
    import pdqhash

    h, w = frame.shape[:2]
    if max(h, w) > _WORK_SIZE:
        import cv2

        scale = _WORK_SIZE / max(h, w)
        frame = cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    bits, quality = pdqhash.compute(np.ascontiguousarray(frame))
    return np.packbits(bits.astype(np.uint8)).tobytes().hex(), int(quality)


def hash_frames(frames: np.ndarray, fps: float, *, timestamps: np.ndarray | None = None, every_seconds: float = 0.0) -> VideoHash:
    """PDQ hash of each frame (uint8 T x H x W x 3 RGB); ``every_seconds`` > 0 keeps one frame per interval."""
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    if timestamps is None:
        timestamps = np.arange(len(frames)) / (fps or 1.0)
    out: list[FrameHash] = []
    next_t = -np.inf
    for i, (frame, t) in enumerate(zip(frames, timestamps)):
        if every_seconds > 0 and t < next_t:
            continue
        next_t = t + every_seconds
        digest, quality = _pdq(frame)
        out.append(FrameHash(i, round(float(t), 4), quality, digest))
    return VideoHash(tuple(out))


def distances(a: VideoHash, b: VideoHash) -> np.ndarray:
    """Hamming distances between every frame of ``a`` and every frame of ``b`` (len(a) x len(b))."""
    ma, mb = a.matrix().astype(np.int32), b.matrix().astype(np.int32)
    # Hamming distance through one matrix product: d = |a| + |b| - 2 a.b
    return ma.sum(1)[:, None] + mb.sum(1)[None, :] - 2 * ma @ mb.T


def match(query: VideoHash, reference: VideoHash, *, threshold: int = DISTANCE_THRESHOLD,
          min_quality: int = MIN_QUALITY) -> PerceptualMatch | None:
    """vPDQ-style comparison; None when no informative frame of the query lies within ``threshold`` of the reference."""
    q, r = query.informative(min_quality), reference.informative(min_quality)
    if not q.frames or not r.frames:
        return None
    d = distances(q, r)
    best = d.argmin(axis=1)
    best_d = d[np.arange(len(q.frames)), best]
    hit = best_d <= threshold
    if not hit.any():
        return None
    q_times = np.array([f.timestamp for f in q.frames])[hit]
    r_times = np.array([r.frames[j].timestamp for j in best[hit]])
    return PerceptualMatch(
        query_matched=float(hit.mean()),
        reference_matched=float((d.min(axis=0) <= threshold).mean()),
        matched_frames=int(hit.sum()),
        distance=float(best_d[hit].mean()),
        query_segment=(float(q_times.min()), float(q_times.max())),
        reference_segment=(float(r_times.min()), float(r_times.max())),
    )


def is_same_video(m: PerceptualMatch | None, *, min_query_matched: float = 0.5, min_frames: int = 2,
                  query_frames: int | None = None) -> bool:
    """The decision rule: most of the query's informative frames are in the reference (a still needs its one frame)."""
    if m is None:
        return False
    needed = min(min_frames, query_frames) if query_frames else min_frames
    return m.query_matched >= min_query_matched and m.matched_frames >= needed


def band_keys(hex_hash: str) -> list[int]:
    """The 16 band keys stored for one hash: ``band << 16 | value``."""
    raw = bytes.fromhex(hex_hash)
    return [(b << BAND_BITS) | int.from_bytes(raw[2 * b: 2 * b + 2], "big") for b in range(BANDS)]


def probe_keys(hex_hash: str) -> list[int]:
    """Every band key within one bit of this hash's bands: the complete candidate set for distance <= 31."""
    keys: list[int] = []
    for key in band_keys(hex_hash):
        keys.append(key)
        keys.extend(key ^ (1 << bit) for bit in range(BAND_BITS))
    return keys


__all__ = [
    "DISTANCE_THRESHOLD", "FrameHash", "MIN_QUALITY", "PerceptualMatch", "VideoHash", "band_keys", "distances",
    "hash_frames", "is_same_video", "match", "probe_keys",
]
