"""A procedural world of captioned clips: the bundled generator's training data."""

from .captions import ParsedPrompt, describe, parse, tone_band
from .render import render_clip
from .sampling import HELD_OUT_PAIRS, load_demographics, sample_captioned, sample_scene, scene_from_prompt
from .scene import BACKGROUNDS, COLOURS, MONK_SKIN_TONES, MOTIONS, ROLES, SHAPES, SIZES, Person, Scene, SceneObject

__all__ = [
    "BACKGROUNDS", "COLOURS", "HELD_OUT_PAIRS", "MONK_SKIN_TONES", "MOTIONS", "ROLES", "SHAPES", "SIZES",
    "ParsedPrompt", "Person", "Scene", "SceneObject", "describe", "load_demographics", "parse",
    "render_clip", "sample_captioned", "sample_scene", "scene_from_prompt", "tone_band",
]
