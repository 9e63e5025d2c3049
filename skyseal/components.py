"""Build the default component for each stage from its settings."""

from __future__ import annotations

from generator import ProceduralGenerator, VideoGenerator
from provenance import Watermarker, get_watermarker

from .config import GeneratorSettings, ProvenanceSettings


def build_generator(cfg: GeneratorSettings) -> VideoGenerator:
    if cfg.backend == "procedural":
        return ProceduralGenerator(size=cfg.delivery_size, fps=cfg.fps)
    if cfg.backend == "dit":
        from generator import DiTGenerator  # type: ignore[attr-defined]

        return DiTGenerator(weights=cfg.weights, size=cfg.delivery_size, fps=cfg.fps)
    raise ValueError(f"unknown generator backend {cfg.backend!r}")


def build_watermarker(cfg: ProvenanceSettings) -> Watermarker:
    return get_watermarker(cfg.watermark)
