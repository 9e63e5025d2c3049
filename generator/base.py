"""What every generator returns, and the upscaler that brings clips to delivery size."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class GeneratedVideo:
    frames: np.ndarray  # uint8, T x H x W x 3, RGB
    fps: float
    model_version: str
    seed: int
    details: dict = field(default_factory=dict)  # backend-specific facts worth recording (steps, guidance...)


class VideoGenerator(Protocol):
    """A text-to-video model: same prompt and seed, same frames."""

    model_version: str

    def __call__(self, prompt: str, *, seed: int, num_frames: int = 16) -> GeneratedVideo: ...


def upscale(frames: np.ndarray, size: int) -> np.ndarray:
    """Resize T x h x w x 3 uint8 frames to T x size x size x 3 (bicubic, antialiased)."""
    import torch
    import torch.nn.functional as F

    if frames.shape[1] == size and frames.shape[2] == size:
        return frames
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    y = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=True)
    return y.clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
