"""Perceived skin tone from pixels: skin detection, Individual Typology Angle, Monk swatches.

Every function here takes **RGB** arrays.  Published audit code has fed OpenCV's
default BGR order into Lab conversions, which swaps the sign of b* for most skin
and turns a light face into a "dark" one; the conversions below name the order
explicitly (``COLOR_RGB2Lab``, ``COLOR_RGB2YCrCb``) and the tests round-trip the
Monk swatches themselves to keep it that way.

ITA (Chardon et al., 1991) = arctan((L* - 50) / b*) * 180 / pi, with L* and b*
in CIELAB under D65.  It falls as skin darkens: > 55 very light, < -30 dark.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Monk Skin Tone scale (Ellis Monk, 2019), swatches 1..10 as published (sRGB hex).
# The audits keep their own copy so they depend on no other stage; a test checks
# it against the generator's.
MONK_SWATCHES_HEX: tuple[str, ...] = (
    "#f6ede4", "#f3e7db", "#f7ead0", "#eadaba", "#d7bd96",
    "#a07e56", "#825c43", "#604134", "#3a312a", "#292420",
)

# Bumped whenever a change here can change a measurement, so cached audit results are redone.
INSTRUMENT_VERSION = "skin-tone-2"

# YCrCb skin box.  The textbook box (Chai & Ngan 1999: Cr 133..173, Cb 77..127)
# misses Monk 10 (Cr 131) and sits on the edge for Monk 1 and 9: a detector that
# cannot see the darkest skin would bias the very audit it serves.  The floor
# Cr >= 130 still rejects neutral greys and blacks (Cr = 128), and Cb <= 130
# rejects the purples and blues of the generator's backgrounds.
CR_RANGE = (130, 180)
CB_RANGE = (70, 130)
Y_MIN = 20  # below this, sensor noise and shadow, not skin


def hex_to_rgb(value: str) -> tuple[int, int, int]:
    value = value.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def monk_rgb() -> np.ndarray:
    """The 10 Monk swatches as a (10, 3) uint8 RGB array."""
    return np.array([hex_to_rgb(h) for h in MONK_SWATCHES_HEX], dtype=np.uint8)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of uint8 sRGB pixels, any leading shape (..., 3) -> (..., 3) float32."""
    rgb = np.asarray(rgb)
    if rgb.shape[-1] != 3:
        raise ValueError(f"expected (..., 3) RGB pixels, got {rgb.shape}")
    flat = rgb.reshape(1, -1, 3).astype(np.float32) / 255.0
    lab = cv2.cvtColor(flat, cv2.COLOR_RGB2Lab)  # float input: L in 0..100, a/b unscaled
    return lab.reshape(rgb.shape).astype(np.float32)


def ita_degrees(lab: np.ndarray) -> np.ndarray:
    """Individual Typology Angle of Lab pixels (..., 3) -> (...) in degrees."""
    lab = np.asarray(lab, dtype=np.float64)
    # arctan2 equals arctan((L-50)/b) for b > 0 (all skin) and stays finite at b = 0.
    return np.degrees(np.arctan2(lab[..., 0] - 50.0, lab[..., 2]))


def monk_ita() -> np.ndarray:
    """ITA of each Monk swatch, (10,), strictly decreasing from swatch 1 to 10."""
    return ita_degrees(rgb_to_lab(monk_rgb()))


def ita_to_monk(ita: np.ndarray | float) -> np.ndarray:
    """The Monk swatch (1..10) whose own ITA is nearest; NaN stays NaN."""
    ita = np.asarray(ita, dtype=np.float64)
    ref = monk_ita()
    idx = np.abs(ita[..., None] - ref).argmin(axis=-1) + 1
    return np.where(np.isnan(ita), np.nan, idx)


def skin_mask(frame: np.ndarray) -> np.ndarray:
    """Candidate skin pixels of one RGB frame (H, W, 3) by a YCrCb box."""
    ycrcb = cv2.cvtColor(np.ascontiguousarray(frame, dtype=np.uint8), cv2.COLOR_RGB2YCrCb)
    y, cr, cb = ycrcb[..., 0], ycrcb[..., 1], ycrcb[..., 2]
    return (y >= Y_MIN) & (cr >= CR_RANGE[0]) & (cr <= CR_RANGE[1]) & (cb >= CB_RANGE[0]) & (cb <= CB_RANGE[1])


def colour_edges(frame: np.ndarray, delta_e: float) -> np.ndarray:
    """Pixels where the colour changes by more than ``delta_e`` (CIE76) to a neighbour."""
    lab = rgb_to_lab(frame).astype(np.float32)
    gx = np.abs(np.diff(lab, axis=1, append=lab[:, -1:]))
    gy = np.abs(np.diff(lab, axis=0, append=lab[-1:]))
    step = np.maximum(np.sqrt((gx**2).sum(-1)), np.sqrt((gy**2).sum(-1)))
    return step > delta_e


def _has_body_below(frame: np.ndarray, cy: int, cx: int, radius: float, *, delta_e: float = 10.0) -> bool:
    """Whether something other than background fills the space just under a candidate head.

    A round skin-coloured blob with nothing under it is a ball, not a head.
    The background of each row is read from the frame's left and right edges,
    which follows vertical gradients and stays away from a centred figure.
    """
    h, w = frame.shape[:2]
    top, bottom = int(cy + 1.3 * radius), int(cy + 3.0 * radius)
    left, right = max(0, int(cx - 0.8 * radius)), min(w, int(cx + 0.8 * radius) + 1)
    top, bottom = min(max(top, 0), h), min(bottom, h)
    if bottom - top < 2 or right - left < 2:
        return False
    region = rgb_to_lab(frame[top:bottom, left:right])
    edges = rgb_to_lab(np.stack([frame[top:bottom, 0], frame[top:bottom, -1]], axis=1))  # (rows, 2, 3)
    distance = np.linalg.norm(region[:, :, None, :] - edges[:, None, :, :], axis=-1).min(axis=-1)
    return float((distance > delta_e).mean()) >= 0.5


def head_mask(frame: np.ndarray, *, min_radius_frac: float = 0.03, bridge_frac: float = 0.1,
              edge_delta_e: float = 12.0) -> np.ndarray:
    """Skin pixels of the head: the core of the topmost round skin blob in the frame.

    Skin-coloured clothing (a brown jacket, a straw hat, khaki trousers) passes
    any colour test, so colour alone is not enough.  An opening of about
    ``bridge_frac`` of the frame first cuts thin bridges (a neck joining the
    head to a skin-coloured jacket, a hat brim, arms, hands).  A head is then a
    round blob: its area is close to that of the largest disc inscribed in it,
    where torsos, legs and hat crowns are not; the highest round blob wins.
    Only its inscribed core is returned, which keeps a hat fused to the top of
    the head and the anti-aliased rim out of the measurement.  All False when
    no head is found.
    """
    skin = skin_mask(frame)
    h, w = skin.shape
    # Cut the skin mask along strong colour edges first: where a face meets a
    # jacket of another skin-like colour, the two become separate blobs even at
    # low resolution, where the neck is too blurred to be opened away.
    mask = (skin & ~colour_edges(frame, edge_delta_e)).astype(np.uint8)
    k = max(3, int(round(bridge_frac * min(h, w))) | 1)
    opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
    dist = cv2.distanceTransform(opened, cv2.DIST_L2, 5)
    best: tuple[float, float, float, float] | None = None  # (centre y, centre x, radius)
    for i in range(1, count):
        inside = labels == i
        radius = float(dist[inside].max())
        if radius < min_radius_frac * min(h, w):
            continue
        roundness = stats[i][cv2.CC_STAT_AREA] / (np.pi * radius * radius)
        if not 0.7 <= roundness <= 1.8:
            continue
        flat = np.where(inside, dist, -1.0).argmax()
        cy, cx = divmod(int(flat), w)
        if not _has_body_below(frame, cy, cx, radius):
            continue
        if best is None or cy < best[0]:
            best = (cy, cx, radius)
    if best is None:
        return np.zeros((h, w), dtype=bool)
    cy, cx, radius = best
    yy, xx = np.ogrid[:h, :w]
    core = (yy - cy) ** 2 + (xx - cx) ** 2 <= (0.75 * radius) ** 2
    return core & skin


@dataclass(frozen=True)
class SkinToneMeasure:
    """Perceived skin tone of one clip; ``monk`` is None when no head was found."""

    monk: int | None
    ita: float | None
    lightness: float | None  # median L*
    yellowness: float | None  # median b*
    skin_pixels: int
    frames_with_head: int

    def to_dict(self) -> dict:
        return {"monk": self.monk, "ita": self.ita, "L": self.lightness, "b": self.yellowness,
                "skin_pixels": self.skin_pixels, "frames_with_head": self.frames_with_head}


def measure_skin_tone(frames: np.ndarray, *, max_frames: int = 4) -> SkinToneMeasure:
    """Median ITA over head pixels of up to ``max_frames`` evenly spaced RGB frames (T, H, W, 3)."""
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected RGB frames T x H x W x 3, got {frames.shape}")
    picks = np.unique(np.linspace(0, len(frames) - 1, min(max_frames, len(frames))).round().astype(int))
    pixels, with_head = [], 0
    for i in picks:
        m = head_mask(frames[i])
        if m.any():
            with_head += 1
            pixels.append(frames[i][m])
    if not pixels:
        return SkinToneMeasure(None, None, None, None, 0, 0)
    lab = rgb_to_lab(np.concatenate(pixels))
    ita = float(np.median(ita_degrees(lab)))
    return SkinToneMeasure(int(ita_to_monk(ita)), ita, float(np.median(lab[:, 0])), float(np.median(lab[:, 2])),
                           int(sum(len(p) for p in pixels)), with_head)


__all__ = [
    "MONK_SWATCHES_HEX", "SkinToneMeasure", "head_mask", "ita_degrees", "ita_to_monk", "measure_skin_tone",
    "monk_ita", "monk_rgb", "rgb_to_lab", "skin_mask",
]
