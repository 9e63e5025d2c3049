"""The bundled text-to-video generator: the trained video DiT behind the VideoGenerator protocol.

It samples at the model's resolution (16 x 32 x 32) and brings the clip to
delivery size with ``upscale``.  Same prompt and seed, same frames: the
starting noise is drawn from a generator seeded by ``seed`` alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .base import GeneratedVideo, upscale
from .dit import DiTConfig, VideoDiT
from .sampler import SamplerConfig, sample, to_uint8_frames

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "dit-s.safetensors"


def load_weights(path: str | Path) -> tuple[VideoDiT, int]:
    """Model (in eval mode, float32) and training step from an exported safetensors file."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"no DiT weights at {path}: train with `python -m generator.train --config generator/configs/dit-s.yaml` "
            "and export with `--export`, or use ProceduralGenerator")
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    cfg = DiTConfig.from_dict(json.loads(meta["config"]))
    model = VideoDiT(cfg)
    model.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()})
    return model.eval().requires_grad_(False), int(meta.get("step", 0))


def load_checkpoint(path: str | Path, *, ema: bool = True) -> tuple[VideoDiT, int]:
    """The EMA (or raw) model from a training checkpoint, for judging a run in progress."""
    state = torch.load(path, weights_only=False)
    model = VideoDiT(DiTConfig.from_dict(state["config"]["model"]))
    model.load_state_dict(state["ema" if ema else "model"])
    return model.eval().requires_grad_(False), int(state["step"])


class DiTGenerator:
    def __init__(self, weights: str | Path | None = None, *, model: VideoDiT | None = None, step: int = 0,
                 size: int = 256, fps: float = 8.0, sampler: SamplerConfig = SamplerConfig()) -> None:
        if model is None:
            model, step = load_weights(weights or DEFAULT_WEIGHTS)
        self.model = model
        self.size = size
        self.fps = fps
        self.sampler = sampler
        self.model_version = f"skyseal-dit-{model.cfg.name}-{step}"

    def generate_batch(self, prompts: list[str], seeds: list[int]) -> np.ndarray:
        """Clips at model resolution, (B, T, h, w, 3) uint8; batching does not change a clip beyond float rounding."""
        from .text_encoder import get_text_encoder

        encoder = get_text_encoder()
        clips = sample(self.model, encoder.encode(prompts), encoder.null(1), seeds, self.sampler)
        return np.stack([to_uint8_frames(c) for c in clips])

    def __call__(self, prompt: str, *, seed: int, num_frames: int = 16) -> GeneratedVideo:
        if num_frames < 1:
            raise ValueError("num_frames must be at least 1")
        frames = self.generate_batch([prompt], [seed])[0]
        native = frames.shape[0]
        if num_frames != native:
            # The model's clip spans the whole motion; other lengths resample it in time.
            frames = frames[np.round(np.linspace(0, native - 1, num_frames)).astype(int)]
        frames = upscale(frames, self.size)
        details = {"steps": self.sampler.steps, "guidance": self.sampler.guidance, "shift": self.sampler.shift,
                   "model_frames": native, "model_size": self.model.cfg.size}
        return GeneratedVideo(frames=frames, fps=self.fps, model_version=self.model_version, seed=seed, details=details)
