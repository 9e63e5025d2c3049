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
    if cfg.watermark == "skyseal" and cfg.watermark_key is not None:
        return get_watermarker(cfg.watermark, key=cfg.watermark_key.get_secret_value())
    return get_watermarker(cfg.watermark)


def build_prompt_filter(settings: Settings):
    """The prompt filter under the configured policy (Pipeline.from_settings and the toolkit share it)."""
    from safety import PromptFilter, load_policy

    return PromptFilter(load_policy(settings.safety.policy), semantic=settings.safety.semantic)


def build_output_classifier(settings: Settings):
    from safety import build_output_classifier, load_policy

    s = settings.safety  # NudeNet + faces, and CLIP concepts only when weights are configured
    return build_output_classifier(load_policy(s.policy), sample_rate=s.output_sample_rate, nudity=s.nudity, faces=s.faces,
                                   clip_model=s.clip_model, clip_pretrained=s.clip_pretrained, clip_cache_dir=s.clip_cache_dir)
