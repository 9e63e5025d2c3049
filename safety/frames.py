"""Which frames the output classifiers look at."""

from __future__ import annotations

import numpy as np


def sample_frame_indices(num_frames: int, fps: float, rate: float = 2.0) -> np.ndarray:
    """Indices at ``rate`` frames per second of video, always with the first and last."""
    if num_frames <= 0:
        return np.zeros(0, dtype=int)
    step = max(1, int(round(fps / rate))) if rate > 0 and fps > 0 else 1
    idx = set(range(0, num_frames, step)) | {0, num_frames - 1}
    return np.array(sorted(idx), dtype=int)
