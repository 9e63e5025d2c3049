"""Real text-to-video models behind the same VideoGenerator protocol, through diffusers.

Point it at a local diffusers folder (a Wan 2.x or CogVideoX checkpoint saved
with ``save_pretrained``, or downloaded beforehand): nothing is fetched at run
time.  Frames come back as uint8 T x H x W x 3 in a GeneratedVideo, with the
pipeline class, steps and guidance recorded in ``details``.

    gen = DiffusersGenerator("/models/Wan2.1-T2V-1.3B-Diffusers", height=480, width=832)
    video = gen("a red ball bouncing", seed=7, num_frames=17)

Needs ``diffusers`` (and ``accelerate``, which diffusers' loaders use for Wan).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import GeneratedVideo

# Frame-count rules of the supported families: Wan and CogVideoX compress time
# by 4 in their VAEs, so they make 4k + 1 frames.
_TEMPORAL_STRIDE = {"WanPipeline": 4, "CogVideoXPipeline": 4}


def _to_uint8(frames) -> np.ndarray:
    """Pipeline output (np float in [0, 1], or PIL images) -> T x H x W x 3 uint8."""
    if isinstance(frames, list):
        frames = np.stack([np.asarray(f) for f in frames])
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        frames = np.clip(np.rint(frames * 255.0), 0, 255).astype(np.uint8)
    return frames


class DiffusersGenerator:
    def __init__(self, model_dir: str | Path, *, height: int = 256, width: int = 256, steps: int = 30,
                 guidance: float = 5.0, fps: float = 8.0, negative_prompt: str | None = None,
                 device: str = "cpu", dtype=None, max_sequence_length: int | None = None, pipeline=None) -> None:
        import torch

        if pipeline is None:
            from diffusers import DiffusionPipeline

            model_dir = Path(model_dir)
            if not (model_dir / "model_index.json").exists():
                raise FileNotFoundError(f"{model_dir} is not a diffusers pipeline folder (no model_index.json)")
            pipeline = DiffusionPipeline.from_pretrained(str(model_dir), dtype=dtype or torch.float32,
                                                         local_files_only=True)
        self.pipe = pipeline.to(device)
        self.pipe.set_progress_bar_config(disable=True)
        self.kind = type(self.pipe).__name__
        if self.kind not in _TEMPORAL_STRIDE:
            raise ValueError(f"{self.kind} is not a supported text-to-video pipeline ({sorted(_TEMPORAL_STRIDE)})")
        self.device = device
        self.height, self.width = height, width
        self.steps, self.guidance, self.fps = steps, guidance, fps
        self.negative_prompt = negative_prompt
        self.max_sequence_length = max_sequence_length  # None: the pipeline's own default
        self.model_version = f"diffusers-{self.kind}-{Path(str(model_dir)).name}"

    def native_frames(self, num_frames: int) -> int:
        """The smallest count the pipeline can make that is at least ``num_frames``."""
        stride = _TEMPORAL_STRIDE[self.kind]
        return ((max(num_frames, 1) - 1 + stride - 1) // stride) * stride + 1

    def __call__(self, prompt: str, *, seed: int, num_frames: int = 16) -> GeneratedVideo:
        import torch

        native = self.native_frames(num_frames)
        generator = torch.Generator(device="cpu").manual_seed(int(seed))
        kwargs = dict(prompt=prompt, height=self.height, width=self.width, num_frames=native,
                      num_inference_steps=self.steps, guidance_scale=self.guidance, generator=generator,
                      output_type="np")
        if self.negative_prompt is not None:
            kwargs["negative_prompt"] = self.negative_prompt
        if self.max_sequence_length is not None:
            kwargs["max_sequence_length"] = self.max_sequence_length
        if self.kind == "CogVideoXPipeline":
            kwargs["use_dynamic_cfg"] = False
        frames = _to_uint8(self.pipe(**kwargs).frames[0])[:num_frames]
        return GeneratedVideo(frames=frames, fps=self.fps, model_version=self.model_version, seed=seed,
                              details={"pipeline": self.kind, "steps": self.steps, "guidance": self.guidance,
                                       "native_frames": native, "height": self.height, "width": self.width})
