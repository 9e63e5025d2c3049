"""Invisible video watermarks: embed a payload in every frame, pool evidence to detect it.

Backends share one interface (``embed(frames, payload) -> frames`` and
``detect(frames) -> WatermarkResult``) so the pipeline and the detector do not
care which algorithm marked a video.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .errors import ProvenanceError
from .payload import PAYLOAD_BITS, bits_to_payload, payload_is_valid, payload_to_bits
from .wm_result import WatermarkResult
from .wm_skyseal import SkysealWatermarker

# Probability that a random 64-bit string passes the payload's CRC-16.
CRC_FALSE_ACCEPT = 2.0**-16


class Watermarker(Protocol):
    algorithm: str

    def embed(self, frames: np.ndarray, payload_hex: str) -> np.ndarray: ...

    def detect(self, frames: np.ndarray) -> WatermarkResult: ...


class DwtDctSvdWatermarker:
    """The invisible-watermark package's dwtDctSvd, per frame, majority vote over frames.

    It survives high-quality encodes and JPEG 75 but not H.264 at CRF >= 23 or
    crops: a baseline, kept for comparison and for still images.
    """

    algorithm = "invisible-watermark/dwtDctSvd"
    MIN_PIXELS = 256 * 256  # the package refuses smaller images

    def __init__(self, *, min_agreement: float = 0.75, max_frames: int = 32) -> None:
        self.min_agreement = min_agreement
        self.max_frames = max_frames

    def embed(self, frames: np.ndarray, payload_hex: str) -> np.ndarray:
        from imwatermark import WatermarkEncoder

        if frames.shape[1] * frames.shape[2] < self.MIN_PIXELS:
            raise ProvenanceError(f"{self.algorithm} needs frames of at least 256x256 pixels, got {frames.shape[2]}x{frames.shape[1]}")
        bits = payload_to_bits(payload_hex).tolist()
        encoder = WatermarkEncoder()
        encoder.set_watermark("bits", bits)
        out = np.empty_like(frames)
        for i, frame in enumerate(frames):
            # The package works in BGR order (OpenCV's); flipping channels keeps it honest.
            out[i] = encoder.encode(np.ascontiguousarray(frame[..., ::-1]), "dwtDctSvd")[..., ::-1]
        return out

    def detect(self, frames: np.ndarray) -> WatermarkResult:
        from imwatermark import WatermarkDecoder

        decoder = WatermarkDecoder("bits", PAYLOAD_BITS)
        idx = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), self.max_frames)).round().astype(int))
        if frames.shape[1] * frames.shape[2] < self.MIN_PIXELS:
            return WatermarkResult(False, None, 0.0, 1.0, self.algorithm, 0)
        decoded = np.array(
            [np.asarray(decoder.decode(np.ascontiguousarray(frames[i][..., ::-1]), "dwtDctSvd"), dtype=np.uint8) for i in idx]
        )
        majority = (decoded.mean(axis=0) >= 0.5).astype(np.uint8)
        agreement = (decoded == majority).mean(axis=1)
        payload = bits_to_payload(majority)
        confidence = float(agreement.mean())
        valid = payload_is_valid(payload)
        found = valid and confidence >= self.min_agreement
        return WatermarkResult(
            found=found,
            payload=payload if found else None,
            confidence=confidence,
            p_value=CRC_FALSE_ACCEPT if valid else 1.0,
            algorithm=self.algorithm,
            frames_checked=len(idx),
            per_frame_agreement=agreement.tolist(),
            raw_payload=payload,
        )


# "skyseal" is the default: robust to re-encoding, resizing and crops (see wm_skyseal).
BACKENDS: dict[str, type] = {"skyseal": SkysealWatermarker, "dwtDctSvd": DwtDctSvdWatermarker}
DEFAULT_BACKEND = "skyseal"


def get_watermarker(name: str = DEFAULT_BACKEND, **options) -> Watermarker:
    try:
        return BACKENDS[name](**options)
    except KeyError:
        raise ValueError(f"unknown watermark backend {name!r}; choose from {sorted(BACKENDS)}") from None
