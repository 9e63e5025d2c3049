"""Natural, varied captions for scenes, and the reverse: reading a scene from text.

``describe`` writes one of many phrasings for a scene (training captions are
not one template).  ``parse`` reads the attributes a prompt names; whatever the
prompt leaves open is drawn by the caller, which is how an unspecified "a
doctor walking" inherits the skin-tone frequencies of the training world.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .scene import BACKGROUNDS, COLOURS, MOTIONS, ROLES, Scene, SceneObject

SHAPE_WORDS: dict[str, tuple[str, ...]] = {
    "circle": ("circle", "ball", "disc", "dot"),
    "square": ("square", "box", "block", "cube"),
    "triangle": ("triangle", "pyramid", "wedge"),
    "diamond": ("diamond", "rhombus", "lozenge"),
    "ring": ("ring", "donut", "hoop", "doughnut"),
}
SIZE_WORDS: dict[str, tuple[str, ...]] = {
    "small": ("small", "tiny", "little"),
    "medium": ("medium", "medium-sized", "mid-sized"),
    "large": ("large", "big", "huge"),
}
MOTION_PHRASES: dict[str, tuple[str, ...]] = {
    "left": ("moving left", "sliding to the left", "drifting leftward", "travelling from right to left", "heading left"),
    "right": ("moving right", "sliding to the right", "drifting rightward", "travelling from left to right", "heading right"),
    "up": ("rising", "moving up", "floating upward", "climbing upwards"),
    "down": ("falling", "moving down", "sinking", "dropping downward"),
    "diagonal": ("moving diagonally", "crossing the frame diagonally", "gliding diagonally up to the right"),
    "bouncing": ("bouncing", "hopping up and down", "bouncing along the floor"),
    "static": ("sitting still", "resting in place", "staying still", "motionless"),
    "growing": ("growing", "getting bigger", "expanding", "swelling in size"),
}
BACKGROUND_PHRASES: dict[str, tuple[str, ...]] = {
    "black": ("on a black background", "against a dark void", "in darkness"),
    "grey": ("on a grey background", "against a grey backdrop", "in a grey room"),
    "night": ("under a night sky", "on a dark blue background", "at night"),
    "forest": ("in a forest", "on a dark green background", "among the trees"),
    "dusk": ("at dusk", "on a purple background", "in the evening twilight"),
}
PERSON_MOTION_PHRASES: dict[str, tuple[str, ...]] = {
    "static": ("standing", "standing still", "waiting"),
    "left": ("walking left", "walking to the left", "strolling leftward"),
    "right": ("walking right", "walking to the right", "strolling rightward"),
}
# Captions name skin tone in three plain-language bands of the Monk scale.
TONE_BANDS: dict[str, tuple[int, ...]] = {"light": (1, 2, 3), "medium": (4, 5, 6, 7), "dark": (8, 9, 10)}
TONE_WORDS: dict[str, tuple[str, ...]] = {
    "light": ("light-skinned", "fair-skinned", "pale"),
    "medium": ("medium-skinned", "olive-skinned", "tan"),
    "dark": ("dark-skinned", "deep-skinned", "dark-complexioned"),
}


def tone_band(swatch: int) -> str:
    return next(band for band, members in TONE_BANDS.items() if swatch in members)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _object_phrase(obj: SceneObject, rng: np.random.Generator) -> str:
    shape = SHAPE_WORDS[obj.shape][int(rng.integers(len(SHAPE_WORDS[obj.shape])))]
    words = [obj.colour, shape]
    if obj.size != "medium" or rng.random() < 0.3:
        words.insert(0, SIZE_WORDS[obj.size][int(rng.integers(len(SIZE_WORDS[obj.size])))])
    noun = " ".join(words)
    return f"{_article(noun)} {noun}"


def _pick(options: tuple[str, ...], rng: np.random.Generator) -> str:
    return options[int(rng.integers(len(options)))]


def describe(scene: Scene, rng: np.random.Generator, *, name_skin_tone: bool = True) -> str:
    """One natural-language caption for ``scene``, phrasing drawn from ``rng``."""
    parts: list[str] = []
    if scene.person is not None:
        p = scene.person
        tone = f"{_pick(TONE_WORDS[tone_band(p.skin_tone)], rng)} " if name_skin_tone else ""
        subject = f"{tone}{p.role}"
        parts.append(f"{_article(subject)} {subject} {_pick(PERSON_MOTION_PHRASES[p.motion], rng)}")
    for obj in scene.objects:
        parts.append(f"{_object_phrase(obj, rng)} {_pick(MOTION_PHRASES[obj.motion], rng)}")
    body = " and ".join(parts) if parts else "an empty scene"
    background = _pick(BACKGROUND_PHRASES[scene.background], rng)
    form = int(rng.integers(4))
    if form == 0:
        text = f"{body} {background}"
    elif form == 1:
        text = f"{background}, {body}"
    elif form == 2:
        text = f"a video of {body} {background}"
    else:
        text = f"{body}, {background}"
    return text[0].upper() + text[1:] + "."


@dataclass(frozen=True)
class ParsedPrompt:
    """What a prompt says about a scene; None where it says nothing."""

    colour: str | None = None
    shape: str | None = None
    size: str | None = None
    motion: str | None = None
    background: str | None = None
    role: str | None = None
    tone_band: str | None = None
    person_motion: str | None = None


def _find(text: str, table: dict[str, tuple[str, ...]]) -> tuple[str, tuple[int, int]] | None:
    """The key of the earliest phrase found in ``text``, with the phrase's span."""
    best: tuple[str, tuple[int, int]] | None = None
    for key, phrases in table.items():
        for phrase in phrases:
            m = re.search(rf"\b{re.escape(phrase)}\b", text)
            if m and (best is None or m.start() < best[1][0]):
                best = (key, m.span())
    return best


def _first_match(text: str, table: dict[str, tuple[str, ...]]) -> str | None:
    found = _find(text, table)
    return found[0] if found else None


def _merge(*tables: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    merged: dict[str, tuple[str, ...]] = {}
    for table in tables:
        for key, phrases in table.items():
            merged[key] = merged.get(key, ()) + tuple(phrases)
    return merged


def parse(prompt: str) -> ParsedPrompt:
    text = " ".join(prompt.lower().split())
    # The background is read first and cut out, so "a purple background" never
    # lends its colour to the object.
    bg = _find(text, _merge(BACKGROUND_PHRASES, {b: (b + " background",) for b in BACKGROUNDS}))
    if bg is not None:
        text = text[: bg[1][0]] + " " + text[bg[1][1]:]
    role = _first_match(text, {r: (r, r + "s") for r in ROLES})
    colour = _first_match(text, {c: (c,) for c in COLOURS} | {"grey": ("gray",)})
    colour = None if colour == "grey" else colour
    motion_table = _merge(MOTION_PHRASES, {m: (m,) for m in MOTIONS}, {"left": ("leftward",), "right": ("rightward",)})
    person_motion = None
    if role is not None:
        person_motion = _first_match(text, _merge(PERSON_MOTION_PHRASES, {"left": ("left",), "right": ("right",)}))
    return ParsedPrompt(
        colour=colour,
        shape=_first_match(text, SHAPE_WORDS),
        size=_first_match(text, SIZE_WORDS),
        motion=_first_match(text, motion_table),
        background=bg[0] if bg else None,
        role=role,
        tone_band=_first_match(text, _merge(TONE_WORDS, {b: (b + " skin",) for b in TONE_BANDS})),
        person_motion=person_motion,
    )


