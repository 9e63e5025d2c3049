"""Render a Scene to an RGB clip, vectorised over frames with numpy.

Coordinates are fractions of the frame (x right, y down), so one scene renders
identically at 32x32 for training and at 256x256 for delivery.  Edges are
anti-aliased by 2x2 supersampling.
"""

from __future__ import annotations

import numpy as np

from .scene import BACKGROUNDS, COLOURS, MONK_SKIN_TONES, ROLES, SIZES, Person, Scene, SceneObject, hex_to_rgb

SUPERSAMPLE = 2


def _trajectory(motion: str, t: np.ndarray, lane: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre x, centre y and scale per frame for a motion word; t in [0, 1]."""
    ones = np.ones_like(t)
    x, y, s = 0.5 * ones, lane * ones, ones
    if motion == "left":
        x = 0.78 - 0.56 * t
    elif motion == "right":
        x = 0.22 + 0.56 * t
    elif motion == "up":
        x, y = lane * ones, 0.78 - 0.56 * t
    elif motion == "down":
        x, y = lane * ones, 0.22 + 0.56 * t
    elif motion == "diagonal":
        x, y = 0.22 + 0.56 * t, 0.78 - 0.56 * t
    elif motion == "bouncing":
        x, y = lane * ones, 0.78 - 0.56 * np.abs(np.sin(2 * np.pi * t))
    elif motion == "growing":
        s = 0.55 + 0.9 * t
    return x, y, s


def _shape_mask(shape: str, dx: np.ndarray, dy: np.ndarray, r: np.ndarray) -> np.ndarray:
    if shape == "circle":
        return dx**2 + dy**2 <= r**2
    if shape == "square":
        return np.maximum(np.abs(dx), np.abs(dy)) <= 0.85 * r
    if shape == "triangle":
        return (dy >= -r) & (dy <= 0.8 * r) & (np.abs(dx) <= (dy + r) / 1.8)
    if shape == "diamond":
        return np.abs(dx) + np.abs(dy) <= r
    if shape == "ring":
        d2 = dx**2 + dy**2
        return (d2 <= r**2) & (d2 >= (0.55 * r) ** 2)
    raise ValueError(f"unknown shape {shape!r}")


def _paint(canvas: np.ndarray, mask: np.ndarray, rgb: tuple[int, int, int]) -> None:
    canvas[mask] = np.asarray(rgb, dtype=np.float32)


def _draw_object(canvas: np.ndarray, gx: np.ndarray, gy: np.ndarray, t: np.ndarray, obj: SceneObject, lane: float) -> None:
    cx, cy, s = _trajectory(obj.motion, t, lane)
    r = (SIZES[obj.size] / 2) * s
    dx = gx[None] - cx[:, None, None]
    dy = gy[None] - cy[:, None, None]
    mask = _shape_mask(obj.shape, dx, dy, r[:, None, None])
    _paint(canvas, mask, COLOURS[obj.colour])


def _draw_person(canvas: np.ndarray, gx: np.ndarray, gy: np.ndarray, t: np.ndarray, person: Person, x0: float) -> None:
    top, legs, hat = ROLES[person.role]
    skin = hex_to_rgb(MONK_SKIN_TONES[person.skin_tone - 1])
    if person.motion == "left":
        cx = x0 + 0.15 - 0.3 * t
    elif person.motion == "right":
        cx = x0 - 0.15 + 0.3 * t
    else:
        cx = x0 * np.ones_like(t)
    dx = gx[None] - cx[:, None, None]
    dy = np.broadcast_to(gy[None], dx.shape)
    # A walking gait: legs swing in antiphase while the figure moves.
    swing = 0.025 * np.sin(4 * np.pi * t)[:, None, None] * (person.motion != "static")
    leg_l = (np.abs(dx + 0.045 + swing) <= 0.03) & (dy >= 0.62) & (dy <= 0.88)
    leg_r = (np.abs(dx - 0.045 - swing) <= 0.03) & (dy >= 0.62) & (dy <= 0.88)
    _paint(canvas, leg_l | leg_r, legs)
    arms = (np.abs(dx) <= 0.13) & (np.abs(dx) >= 0.095) & (dy >= 0.38) & (dy <= 0.6)
    _paint(canvas, arms, top)
    hands = (np.abs(dx) <= 0.13) & (np.abs(dx) >= 0.095) & (dy > 0.6) & (dy <= 0.65)
    _paint(canvas, hands, skin)
    torso = (np.abs(dx) <= 0.09) & (dy >= 0.36) & (dy <= 0.64)
    _paint(canvas, torso, top)
    neck = (np.abs(dx) <= 0.025) & (dy >= 0.32) & (dy < 0.37)
    _paint(canvas, neck, skin)
    head = dx**2 + (dy - 0.24) ** 2 <= 0.085**2
    _paint(canvas, head, skin)
    if hat is not None:
        brim = (np.abs(dx) <= 0.1) & (dy >= 0.15) & (dy <= 0.175)
        crown = (np.abs(dx) <= 0.07) & (dy >= 0.09) & (dy < 0.15)
        _paint(canvas, brim | crown, hat)


def render_clip(scene: Scene, *, frames: int = 16, size: int = 32) -> np.ndarray:
    """Render ``scene`` to a uint8 array of shape (frames, size, size, 3)."""
    if frames < 1 or size < 8:
        raise ValueError("need at least 1 frame and 8 pixels a side")
    n = size * SUPERSAMPLE
    coords = (np.arange(n, dtype=np.float32) + 0.5) / n
    gx, gy = np.meshgrid(coords, coords)
    t = np.linspace(0.0, 1.0, frames, dtype=np.float32)

    top, bottom = (np.asarray(c, dtype=np.float32) for c in BACKGROUNDS[scene.background])
    ramp = gy[..., None]
    background = top * (1 - ramp) + bottom * ramp
    canvas = np.broadcast_to(background, (frames, n, n, 3)).copy()

    if scene.person is not None:
        x0 = 0.5 if not scene.objects else 0.3
        _draw_person(canvas, gx, gy, t, scene.person, x0)
    lanes = _lanes(len(scene.objects), scene.start, with_person=scene.person is not None)
    for obj, lane in zip(scene.objects, lanes):
        _draw_object(canvas, gx, gy, t, obj, lane)

    canvas = canvas.reshape(frames, size, SUPERSAMPLE, size, SUPERSAMPLE, 3).mean(axis=(2, 4))
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8)


def _lanes(count: int, start: tuple[float, float], *, with_person: bool) -> list[float]:
    """The cross-axis position of each object, spread so objects don't overlap."""
    if count == 0:
        return []
    if with_person:
        return [0.72] * count if count == 1 else list(np.linspace(0.62, 0.82, count))
    if count == 1:
        return [float(np.clip(start[1], 0.3, 0.7))]
    return list(np.linspace(0.3, 0.7, count))
