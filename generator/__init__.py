"""Text-to-video generation: the bundled models and adapters, frames out."""

from .base import GeneratedVideo, VideoGenerator, upscale
from .procedural import ProceduralGenerator

__all__ = ["DiTGenerator", "DiffusersGenerator", "GeneratedVideo", "ProceduralGenerator", "VideoGenerator", "upscale"]


def __getattr__(name: str):
    # The neural generators pull in torch (and diffusers); import them only when asked for.
    if name == "DiTGenerator":
        from .dit_generator import DiTGenerator

        return DiTGenerator
    if name == "DiffusersGenerator":
        from .diffusers import DiffusersGenerator

        return DiffusersGenerator
    raise AttributeError(f"module 'generator' has no attribute {name!r}")
