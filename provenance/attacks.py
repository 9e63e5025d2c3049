"""What happens to videos in the wild, as plain functions on uint8 RGB frames (T x H x W x 3).

The watermark benchmark and tests use these to check robustness.  H.264 goes
through a real libx264 encode and decode in memory (PyAV), so the codec's
quantisation, deadzone and motion compensation act on the mark as they would
on a re-uploaded file.  Provenance does not import the composition root, so it
carries its own small encode/decode helper here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

import cv2
import numpy as np

Frames = np.ndarray


def _even(frames: Frames) -> Frames:
    """yuv420p needs even sizes: drop a last row/column when odd."""
    _, h, w, _ = frames.shape
    return frames[:, : h - h % 2, : w - w % 2]


def h264(frames: Frames, crf: int, *, fps: float = 8.0, preset: str = "medium") -> Frames:
    """Encode with libx264 (yuv420p) at ``crf`` and decode back, all in memory."""
    import av

    frames = np.ascontiguousarray(_even(frames))
    _, h, w, _ = frames.shape
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    buf.seek(0)
    with av.open(buf, mode="r") as container:
        out = [f.to_ndarray(format="rgb24") for f in container.decode(container.streams.video[0])]
    return np.stack(out)


def resize(frames: Frames, scale: float, *, back: bool = False) -> Frames:
    """Downscale by ``scale`` (area filter); with ``back``, upscale to the original size again."""
    _, h, w, _ = frames.shape
    size = (max(2, round(w * scale)), max(2, round(h * scale)))
    small = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
    if not back:
        return small
    return np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR) for f in small])


def center_crop(frames: Frames, fraction: float) -> Frames:
    """Remove ``fraction`` of the width and of the height, evenly from both sides."""
    _, h, w, _ = frames.shape
    ch, cw = round(h * (1 - fraction)), round(w * (1 - fraction))
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(frames[:, y0 : y0 + ch, x0 : x0 + cw])


def brightness(frames: Frames, factor: float) -> Frames:
    return np.clip(frames.astype(np.float32) * factor + 0.5, 0, 255).astype(np.uint8)


def contrast(frames: Frames, factor: float) -> Frames:
    """Scale deviations from each frame's mean grey level (torchvision's definition)."""
    f = frames.astype(np.float32)
    grey = (f @ np.array([0.299, 0.587, 0.114], np.float32)).mean(axis=(1, 2))[:, None, None, None]
    return np.clip(grey + (f - grey) * factor + 0.5, 0, 255).astype(np.uint8)


def gaussian_noise(frames: Frames, sigma: float, *, seed: int = 0) -> Frames:
    noise = np.random.default_rng(seed).normal(0.0, sigma, frames.shape).astype(np.float32)
    return np.clip(frames.astype(np.float32) + noise + 0.5, 0, 255).astype(np.uint8)


def first_half(frames: Frames) -> Frames:
    return frames[: max(1, len(frames) // 2)]


def change_frame_rate(frames: Frames, ratio: float) -> Frames:
    """Resample in time by nearest frame: ratio 0.5 halves the frame rate, 1.5 duplicates frames."""
    n = max(1, round(len(frames) * ratio))
    idx = np.minimum(np.floor(np.arange(n) / ratio).astype(int), len(frames) - 1)
    return frames[idx]


def combination(frames: Frames, *, fps: float = 8.0) -> Frames:
    """Crop 10 %, downscale to 50 %, +10 % brightness, 2/3 frame rate, then H.264 CRF 28."""
    x = resize(center_crop(frames, 0.10), 0.5)
    x = change_frame_rate(brightness(x, 1.1), 2 / 3)
    return h264(x, 28, fps=fps * 2 / 3)


@dataclass(frozen=True)
class Attack:
    name: str
    apply: Callable[[Frames, float], Frames]  # (frames, fps) -> frames


def standard_attacks() -> list[Attack]:
    """The benchmark's attack list (the issue's list, in its order)."""
    return [
        Attack("none", lambda f, fps: f),
        *[Attack(f"h264_crf{c}", lambda f, fps, c=c: h264(f, c, fps=fps)) for c in (23, 28, 35, 40)],
        Attack("downscale_50", lambda f, fps: resize(f, 0.5)),
        Attack("downscale_50_back", lambda f, fps: resize(f, 0.5, back=True)),
        Attack("center_crop_10", lambda f, fps: center_crop(f, 0.10)),
        Attack("brightness_+20", lambda f, fps: brightness(f, 1.2)),
        Attack("brightness_-20", lambda f, fps: brightness(f, 0.8)),
        Attack("contrast_0.7", lambda f, fps: contrast(f, 0.7)),
        Attack("contrast_1.3", lambda f, fps: contrast(f, 1.3)),
        Attack("gauss_noise_8", lambda f, fps: gaussian_noise(f, 8.0)),
        Attack("first_half", lambda f, fps: first_half(f)),
        Attack("frame_rate_x0.5", lambda f, fps: change_frame_rate(f, 0.5)),
        Attack("frame_rate_x1.5", lambda f, fps: change_frame_rate(f, 1.5)),
        Attack("combination", lambda f, fps: combination(f, fps=fps)),
    ]
