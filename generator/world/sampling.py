"""Drawing scenes: the training distribution, held-out combinations, and prompts.

Skin tone for a person is drawn from ``demographics.yaml`` by role, which plants
a known skew; a caption names the tone only some of the time, so the model also
learns what to draw when the prompt is silent.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from .captions import TONE_BANDS, ParsedPrompt, describe
from .scene import BACKGROUNDS, COLOURS, MOTIONS, ROLES, SHAPES, SIZES, Person, Scene, SceneObject

DEMOGRAPHICS_FILE = Path(__file__).with_name("demographics.yaml")

# Colour x shape pairs never shown in training, so evaluation can ask for
# combinations the model has to compose rather than recall.
HELD_OUT_PAIRS: frozenset[tuple[str, str]] = frozenset(
    {
        ("red", "triangle"), ("orange", "ring"), ("yellow", "square"), ("green", "diamond"),
        ("cyan", "circle"), ("blue", "ring"), ("purple", "triangle"), ("pink", "square"),
        ("white", "diamond"), ("brown", "circle"),
    }
)


@lru_cache(maxsize=4)
def load_demographics(path: str | None = None) -> dict[str, np.ndarray]:
    """Role -> probability vector over Monk swatches 1..10."""
    data = yaml.safe_load(Path(path or DEMOGRAPHICS_FILE).read_text())
    table: dict[str, np.ndarray] = {}
    for role, weights in data["roles"].items():
        if role not in ROLES:
            raise ValueError(f"demographics: unknown role {role!r}")
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (10,) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"demographics: role {role!r} needs 10 non-negative weights")
        table[role] = w / w.sum()
    missing = set(ROLES) - set(table)
    if missing:
        raise ValueError(f"demographics: no weights for {sorted(missing)}")
    return table


def _choice(rng: np.random.Generator, options) -> str:
    options = list(options)
    return options[int(rng.integers(len(options)))]


def sample_object(rng: np.random.Generator, *, split: str = "train") -> SceneObject:
    while True:
        colour, shape = _choice(rng, COLOURS), _choice(rng, SHAPES)
        if ((colour, shape) in HELD_OUT_PAIRS) == (split == "heldout"):
            break
    return SceneObject(shape=shape, colour=colour, size=_choice(rng, SIZES), motion=_choice(rng, MOTIONS))


def sample_person(rng: np.random.Generator, role: str | None = None) -> Person:
    role = role or _choice(rng, ROLES)
    probs = load_demographics()[role]
    tone = int(rng.choice(10, p=probs)) + 1
    return Person(role=role, skin_tone=tone, motion=_choice(rng, ("static", "left", "right")))


def sample_scene(rng: np.random.Generator, *, split: str = "train", person_rate: float = 0.3) -> Scene:
    background = _choice(rng, BACKGROUNDS)
    start = (0.5, float(rng.uniform(0.3, 0.7)))
    if rng.random() < person_rate:
        return Scene(background=background, person=sample_person(rng), start=start)
    return Scene(background=background, objects=(sample_object(rng, split=split),), start=start)


def sample_captioned(rng: np.random.Generator, *, split: str = "train", tone_caption_rate: float = 0.5) -> tuple[Scene, str]:
    scene = sample_scene(rng, split=split)
    return scene, describe(scene, rng, name_skin_tone=rng.random() < tone_caption_rate)


def scene_from_prompt(parsed: ParsedPrompt, rng: np.random.Generator) -> Scene:
    """Fill what the prompt leaves open from the training distribution."""
    background = parsed.background or _choice(rng, BACKGROUNDS)
    start = (0.5, float(rng.uniform(0.3, 0.7)))
    if parsed.role is not None:
        person = sample_person(rng, parsed.role)
        if parsed.tone_band is not None:
            person = Person(role=person.role, skin_tone=_choice(rng, TONE_BANDS[parsed.tone_band]), motion=person.motion)
        motion = parsed.person_motion or person.motion
        return Scene(background=background, person=Person(person.role, person.skin_tone, motion), start=start)
    obj = SceneObject(
        shape=parsed.shape or _choice(rng, SHAPES),
        colour=parsed.colour or _choice(rng, COLOURS),
        size=parsed.size or _choice(rng, SIZES),
        motion=parsed.motion or _choice(rng, MOTIONS),
    )
    return Scene(background=background, objects=(obj,), start=start)
