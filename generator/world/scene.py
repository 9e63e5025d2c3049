"""The vocabulary of the procedural world and the scene records built from it.

A scene is plain data: a background, some objects that move, and optionally a
person figure whose role sets the clothing and whose skin tone is one of the
10 Monk Skin Tone swatches.  The same records feed the renderer, the caption
writer and (later) the generator's evaluation, so every attribute a caption
names can be checked against the pixels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

# Saturated, well separated hues so a per-pixel judge can tell them apart.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "orange": (245, 140, 20),
    "yellow": (240, 220, 30),
    "green": (40, 180, 60),
    "cyan": (30, 200, 210),
    "blue": (40, 70, 220),
    "purple": (140, 50, 200),
    "pink": (240, 110, 180),
    "white": (245, 245, 245),
    "brown": (130, 80, 40),
}

SHAPES = ("circle", "square", "triangle", "diamond", "ring")

SIZES: dict[str, float] = {"small": 0.16, "medium": 0.24, "large": 0.34}

MOTIONS = ("left", "right", "up", "down", "diagonal", "bouncing", "static", "growing")

# Dark-ish backgrounds so every object colour (including white) stands out.
BACKGROUNDS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    # name: (top colour, bottom colour) of a vertical gradient
    "black": ((10, 10, 12), (10, 10, 12)),
    "grey": ((70, 70, 74), (60, 60, 64)),
    "night": ((8, 12, 48), (20, 30, 70)),
    "forest": ((16, 48, 24), (28, 64, 30)),
    "dusk": ((60, 24, 60), (20, 10, 40)),
}

# Monk Skin Tone scale (Ellis Monk, 2019), swatches 1..10 as published.
MONK_SKIN_TONES: tuple[str, ...] = (
    "#f6ede4", "#f3e7db", "#f7ead0", "#eadaba", "#d7bd96",
    "#a07e56", "#825c43", "#604134", "#3a312a", "#292420",
)


def hex_to_rgb(value: str) -> tuple[int, int, int]:
    value = value.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


# Role -> (top garment colour, trousers colour, headwear or None).
ROLES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int] | None]] = {
    "doctor": ((250, 250, 250), (60, 60, 120), None),
    "nurse": ((120, 200, 230), (120, 200, 230), None),
    "firefighter": ((200, 40, 30), (40, 40, 40), (250, 210, 30)),
    "teacher": ((150, 100, 60), (50, 50, 60), None),
    "chef": ((250, 250, 250), (30, 30, 30), (250, 250, 250)),
    "police officer": ((30, 40, 110), (30, 40, 110), (20, 25, 70)),
    "construction worker": ((250, 130, 20), (60, 80, 140), (250, 220, 30)),
    "farmer": ((60, 130, 60), (90, 70, 40), (200, 170, 90)),
}


@dataclass(frozen=True)
class SceneObject:
    shape: str
    colour: str
    size: str = "medium"
    motion: str = "static"

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"unknown shape {self.shape!r}")
        if self.colour not in COLOURS:
            raise ValueError(f"unknown colour {self.colour!r}")
        if self.size not in SIZES:
            raise ValueError(f"unknown size {self.size!r}")
        if self.motion not in MOTIONS:
            raise ValueError(f"unknown motion {self.motion!r}")


@dataclass(frozen=True)
class Person:
    role: str
    skin_tone: int  # Monk swatch, 1..10
    motion: str = "static"

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}")
        if not 1 <= self.skin_tone <= 10:
            raise ValueError("skin_tone is a Monk swatch number, 1..10")
        if self.motion not in ("static", "left", "right"):
            raise ValueError(f"a person walks left, right or stands: {self.motion!r}")


@dataclass(frozen=True)
class Scene:
    background: str = "black"
    objects: tuple[SceneObject, ...] = ()
    person: Person | None = None
    # Where a lone object travels across the frame (its cross-axis position).
    start: tuple[float, float] = (0.5, 0.5)

    def __post_init__(self) -> None:
        if self.background not in BACKGROUNDS:
            raise ValueError(f"unknown background {self.background!r}")

    def to_dict(self) -> dict:
        return asdict(self)
