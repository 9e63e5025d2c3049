"""Face detection for the likeness and minors rules: OpenCV's bundled Haar cascade (works offline)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .errors import ClassifierLoadError


@lru_cache(maxsize=2)
def _cascade(name: str):
    import cv2

    path = cv2.data.haarcascades + name
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise ClassifierLoadError(f"cannot load Haar cascade {path}")
    return cascade


class FaceDetector:
    """Frontal faces per frame (scikit-learn-like: ``predict`` = faces present, ``detect`` = boxes).

    Faces smaller than ``min_size_frac`` of the shorter frame side are ignored: at that size the
    cascade mostly finds texture, and nobody is recognisable anyway.
    """

    source = "faces:haar-frontalface-default"

    def __init__(self, cascade: str = "haarcascade_frontalface_default.xml", min_size_frac: float = 0.08,
                 min_neighbors: int = 5) -> None:
        self.cascade_name = cascade
        self.min_size_frac = min_size_frac
        self.min_neighbors = min_neighbors

    def detect(self, frames: np.ndarray) -> list[np.ndarray]:
        """Per frame, an (n, 4) array of x, y, w, h boxes."""
        import cv2

        cascade = _cascade(self.cascade_name)
        out = []
        for frame in np.asarray(frames):
            gray = cv2.equalizeHist(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY))
            side = max(16, int(min(gray.shape) * self.min_size_frac))
            boxes = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=self.min_neighbors, minSize=(side, side))
            out.append(np.asarray(boxes, dtype=int).reshape(-1, 4))
        return out

    def predict(self, frames: np.ndarray) -> np.ndarray:
        """Per frame: True where at least one face is found."""
        return np.array([len(b) > 0 for b in self.detect(frames)], dtype=bool)
