"""Text-to-video generation: the bundled models and adapters, frames out."""

from .base import GeneratedVideo, VideoGenerator, upscale
from .procedural import ProceduralGenerator

__all__ = ["GeneratedVideo", "ProceduralGenerator", "VideoGenerator", "upscale"]
