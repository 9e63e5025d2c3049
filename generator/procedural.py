"""A generator that renders the procedural world's reading of the prompt.

It is the ground truth the DiT learns to imitate, and the fallback when no
trained weights are installed: deterministic per seed, and honest about what
it is through its model_version.
"""

from __future__ import annotations

import numpy as np

from .base import GeneratedVideo
from .world import parse, render_clip, scene_from_prompt


class ProceduralGenerator:
    model_version = "skyseal-procedural-1"

    def __init__(self, *, size: int = 256, fps: float = 8.0) -> None:
        self.size = size
        self.fps = fps

    def __call__(self, prompt: str, *, seed: int, num_frames: int = 16) -> GeneratedVideo:
        rng = np.random.default_rng(seed)
        scene = scene_from_prompt(parse(prompt), rng)
        frames = render_clip(scene, frames=num_frames, size=self.size)
        return GeneratedVideo(frames=frames, fps=self.fps, model_version=self.model_version, seed=seed,
                              details={"scene": scene.to_dict()})
