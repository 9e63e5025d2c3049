"""Build the default component for each stage from its settings."""

from __future__ import annotations

from generator import ProceduralGenerator, VideoGenerator
from provenance import Watermarker, get_watermarker

from .config import GeneratorSettings, ProvenanceSettings, Settings


def build_generator(cfg: GeneratorSettings) -> VideoGenerator:
    if cfg.backend == "procedural":
        return ProceduralGenerator(size=cfg.delivery_size, fps=cfg.fps)
    if cfg.backend == "dit":
        from generator import DiTGenerator  # type: ignore[attr-defined]

        return DiTGenerator(weights=cfg.weights, size=cfg.delivery_size, fps=cfg.fps)
    raise ValueError(f"unknown generator backend {cfg.backend!r}")


def build_watermarker(cfg: ProvenanceSettings) -> Watermarker:
    return get_watermarker(cfg.watermark)


def build_prompt_filter(settings: Settings):
    """The prompt filter under the configured policy (Pipeline.from_settings and the toolkit share it)."""
    from safety import PromptFilter, load_policy

    return PromptFilter(load_policy(settings.safety.policy))


def build_output_classifier(settings: Settings):
    from safety import OutputClassifier, load_policy

    return OutputClassifier(load_policy(settings.safety.policy), sample_rate=settings.safety.output_sample_rate)
